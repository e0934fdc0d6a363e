package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/connectivity-exporter/connectivity_exporter/collector"
	"github.com/connectivity-exporter/connectivity_exporter/daemon"
	"github.com/connectivity-exporter/connectivity_exporter/exitcode"
	"github.com/connectivity-exporter/connectivity_exporter/healthep"
	"github.com/connectivity-exporter/connectivity_exporter/nodes"
	"github.com/connectivity-exporter/connectivity_exporter/nodes/kubernetes"
	"github.com/connectivity-exporter/connectivity_exporter/prober"
	"github.com/connectivity-exporter/connectivity_exporter/routemtu"
)

// daemonFlags are the daemon command's flags: a daemon.Config, and the
// values that validate turns into its fields.
type daemonFlags struct {
	daemon.Config
	healthIPs []string // --health-endpoint.ip, parsed into HealthIP and DualStackHealthIP
	perPeer   string
	mtuEvery  string // --probe.mtu.every, parsed into MTUEvery
	// healthPods is --nodes.kubernetes.health-pods, turned into
	// Kube.NoHealthPods; healthPodFlags are the flags that only mean
	// something with health pods, and whether each was given.
	healthPods     bool
	healthPodFlags []givenFlag
}

// givenFlag is a flag's name and whether the user gave it.
type givenFlag struct {
	name  string
	given *bool
}

// healthPodFlag registers flag's IsSetByUser with f.healthPodFlags and
// returns it.
func (f *daemonFlags) healthPodFlag(flag *kingpin.FlagClause) *kingpin.FlagClause {
	g := givenFlag{name: flag.Model().Name, given: new(bool)}
	f.healthPodFlags = append(f.healthPodFlags, g)
	return flag.IsSetByUser(g.given)
}

// Bounds of --probe.mtu and --probe.mtu.endpoint: IPv6's minimum MTU, and
// the largest IP packet.
const (
	minMTUFlag = 1280
	maxMTUFlag = 65535
)

type daemonCommand struct {
	cmd     *kingpin.CmdClause
	flags   daemonFlags
	renamed renamedFlags
}

func addDaemonCommand(app *kingpin.Application) *daemonCommand {
	d := &daemonCommand{}
	f := &d.flags
	c := app.Command("daemon", "Run the exporter: probe every node and serve /metrics and /hello (the default command).").Default()
	d.cmd = c
	hostname, _ := os.Hostname()
	c.Flag("node.name", "This node's name; must match an entry of the node list.").Default(hostname).StringVar(&f.NodeName)
	c.Flag("nodes.file", "YAML node list, reloaded when it changes.").PlaceHolder("FILE").StringVar(&f.NodesFile)
	c.Flag("nodes.file.poll-interval", "How often the node list file is checked for changes.").Default(nodes.DefaultPollInterval.String()).DurationVar(&f.NodesFilePoll)
	c.Flag("nodes.kubernetes", "Discover nodes from the Kubernetes API (the cluster's Node objects, watched for changes).").BoolVar(&f.Kubernetes)
	kubeconfig := c.Flag("nodes.kubernetes.kubeconfig", "Kubeconfig file for --nodes.kubernetes (default: the pod's service account, in-cluster).").PlaceHolder("FILE")
	kubeconfig.StringVar(&f.Kube.Kubeconfig)
	renamed(&d.renamed, c, kubeconfig, "kubeconfig", &f.Kube.Kubeconfig, (*kingpin.FlagClause).StringVar)
	c.Flag("nodes.kubernetes.address-type", "Node address probed on the host paths: InternalIP or ExternalIP.").Default("InternalIP").EnumVar(&f.Kube.AddressType, "InternalIP", "ExternalIP")
	c.Flag("nodes.kubernetes.ip-family", "Address families probed: dual (every family a node and its health pod have: both on dual-stack nodes, the one family elsewhere), ipv4 or ipv6 (that family only).").Default(kubernetes.IPFamilyDual).EnumVar(&f.Kube.IPFamily, kubernetes.IPFamilyDual, kubernetes.IPFamilyIPv4, kubernetes.IPFamilyIPv6)
	c.Flag("nodes.kubernetes.health-ip-annotation", "Node annotation that holds a node's health IP; where set, it overrides the node's health pod.").Default(kubernetes.DefaultHealthIPAnnotation).StringVar(&f.Kube.HealthIPAnnotation)
	c.Flag("nodes.kubernetes.health-pods", "With --nodes.kubernetes: each node's health endpoint is its health pod (the health DaemonSet's). --no-nodes.kubernetes.health-pods says there are none: no pods are watched, nodes are probed on the host paths only (or on a health IP annotation), and connectivity_health_endpoint_up is absent.").Default("true").BoolVar(&f.healthPods)
	f.healthPodFlag(c.Flag("nodes.kubernetes.health-pods.namespace", "Namespace of the health pods, whose IPs are the nodes' health IPs (default: the kubeconfig context's namespace; in a pod, its own).").PlaceHolder("NAMESPACE")).StringVar(&f.Kube.HealthPodNamespace)
	f.healthPodFlag(c.Flag("nodes.kubernetes.health-pods.selector", "Label selector of the health pods (one per node, as the health DaemonSet runs them).").Default(kubernetes.DefaultHealthPodSelector)).StringVar(&f.Kube.HealthPodSelector)
	c.Flag("nodes.kubernetes.not-ready", "Nodes whose Ready condition is not True: include (probe them) or exclude.").Default(kubernetes.Include).EnumVar(&f.Kube.NotReady, kubernetes.Include, kubernetes.Exclude)
	c.Flag("nodes.kubernetes.cordoned", "Cordoned (unschedulable) nodes: exclude (listed as leaving, not probed: drains page no one) or include (probed as any node). This node is always probed.").Default(kubernetes.Exclude).EnumVar(&f.Kube.Cordoned, kubernetes.Include, kubernetes.Exclude)
	f.healthPodFlag(c.Flag("nodes.kubernetes.health-pods.grace", "With --nodes.kubernetes: how long after start a missing or silent health pod on this node is not yet reported (connectivity_health_endpoint_up stays absent), while a new node's pod is scheduled.").Default("2m")).DurationVar(&f.HealthPodGrace)
	c.Flag("probe.interval", "Each path of each peer is probed once per interval, spread evenly over it.").Default("15s").DurationVar(&f.ProbeInterval)
	c.Flag("probe.timeout", "One probe's deadline.").Default("2s").DurationVar(&f.ProbeTimeout)
	c.Flag("probe.failure-threshold", "Consecutive failures before a path is reported unreachable.").Default("3").IntVar(&f.FailureThreshold)
	c.Flag("probe.max-in-flight", "Most probes running at once.").Default("1024").IntVar(&f.MaxInFlight)
	c.Flag("probe.icmp.privileged", "Send ICMP through raw sockets (needs CAP_NET_RAW); --no-probe.icmp.privileged uses unprivileged ICMP sockets (needs net.ipv4.ping_group_range).").Default("true").BoolVar(&f.ICMPPrivileged)
	c.Flag("probe.icmp.engine", "How ICMP echoes are sent: shared (one socket per address family for all probes) or pro-bing (a socket per probe; costs about three times the CPU, see BENCHMARKS.md).").Default("shared").EnumVar(&f.ICMPEngine, "shared", "pro-bing")
	c.Flag("probe.http.client", "How /hello is fetched: minimal (a strict HTTP/1.1 GET on a fresh connection) or net-http (Go's net/http client, about 1.5 times the CPU per probe, see BENCHMARKS.md).").Default("minimal").EnumVar(&f.HTTPClient, "minimal", "net-http")
	c.Flag("probe.peers", "Probe only this many peers (plus this node), chosen by consistent hashing so that every node is probed by about as many others; 0 probes every node. For very large clusters.").Default("0").IntVar(&f.ProbePeers)
	c.Flag("probe.mtu", "MTU that full-size probes are sized for (bytes of the IP packet); 0 reads it per peer from the route towards it (the route's MTU, else its interface's).").Default("0").IntVar(&f.MTU)
	c.Flag("probe.mtu.endpoint", "MTU of the full-size probes of endpoint paths, which may cross an overlay; 0 is --probe.mtu if set, else the route towards the health IP.").Default("0").IntVar(&f.EndpointMTU)
	c.Flag("probe.flows", "Probe each path over this many sticky flows (fixed TCP source ports from 60000-60999 and IPv6 flow labels), one flow per interval in rotation, so that a bad member of an equal-cost group shows as a partial path; 1 probes as before, over the kernel's choice. At most 32.").Default("8").IntVar(&f.Flows)
	c.Flag("probe.mtu.every", "How far apart a path's full-size probes are, each together with its small probe of that interval: a duration (rounded down to whole probe intervals, at least one), or a number of probe intervals as before; a lost one is confirmed at once, so an MTU black hole is found within this and two probe timeouts. 0 disables full-size probes.").Default(defaultMTUEvery).StringVar(&f.mtuEvery)
	c.Flag("probe.mtu.refresh", "How long an MTU read from the routing table is used before it is read again.").Default(routemtu.DefaultRefresh.String()).DurationVar(&f.MTURefresh)
	c.Flag("hello.listen-address", "Address of the host /hello responder; its port is also the port probed on peers.").Default(defaultHelloAddress()).StringVar(&f.HelloAddress)
	healthIP := c.Flag("health-endpoint.ip", "Create the health endpoint with this IP (default: with --nodes.file, the local node's health_ip or health_ips; none without either). Repeat it, or give a comma-separated list, for an address of each family (dual stack).").PlaceHolder("IP")
	healthIP.StringsVar(&f.healthIPs)
	renamed(&d.renamed, c, healthIP, "healthep.ip", &f.healthIPs, (*kingpin.FlagClause).StringsVar)
	healthNetns := c.Flag("health-endpoint.netns", "Name of the health network namespace (as in ip netns list).").Default(healthep.DefaultNetns)
	healthNetns.StringVar(&f.HealthNetns)
	renamed(&d.renamed, c, healthNetns, "healthep.netns", &f.HealthNetns, (*kingpin.FlagClause).StringVar)
	healthInterface := c.Flag("health-endpoint.interface", "Host-side name of the veth pair to the health namespace.").Default(healthep.DefaultHostInterface)
	healthInterface.StringVar(&f.HealthInterface)
	renamed(&d.renamed, c, healthInterface, "healthep.interface", &f.HealthInterface, (*kingpin.FlagClause).StringVar)
	healthCheck := c.Flag("health-endpoint.check-interval", "How often the health endpoint is checked and rebuilt if broken.").Default(healthep.DefaultCheckInterval.String())
	healthCheck.DurationVar(&f.HealthCheckInterval)
	renamed(&d.renamed, c, healthCheck, "healthep.check-interval", &f.HealthCheckInterval, (*kingpin.FlagClause).DurationVar)
	c.Flag("admin.socket", "Unix socket of the admin API used by the status, ping and get commands.").Default(defaultAdminSocket).StringVar(&f.AdminSocket)
	passive := c.Flag("probe.passive", "Do not probe: only answer /hello (and keep the health endpoint).")
	passive.BoolVar(&f.Passive)
	renamed(&d.renamed, c, passive, "passive", &f.Passive, (*kingpin.FlagClause).BoolVar)
	c.Flag("metrics.per-peer", "Which peers get per-peer series: all, failing, none, or auto (all up to --metrics.per-peer.auto-max-nodes nodes, failing above).").Default("auto").EnumVar(&f.perPeer, "auto", "all", "failing", "none")
	c.Flag("metrics.per-peer.auto-max-nodes", "Largest node count for which auto keeps per-peer series of every peer.").Default("100").IntVar(&f.PerPeerAutoMax)
	c.Flag("metrics.classic-buckets", "Export classic histogram buckets next to the native ones (--no-metrics.classic-buckets for native only).").Default("true").BoolVar(&f.ClassicBuckets)
	c.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").StringVar(&f.TelemetryPath)
	f.Web = kingpinflag.AddFlags(c, ":9240")
	return d
}

// run runs the daemon until SIGTERM or SIGINT and returns the exit code.
func (d *daemonCommand) run(logger log.Logger) int {
	oldNames, err := d.check()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: error: %v\n", appName, err)
		return exitcode.Usage
	}
	for _, old := range oldNames {
		level.Warn(logger).Log("msg", "a renamed flag is used by its old name, which a later release drops", "flag", old)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := daemon.Serve(ctx, d.flags.Config, logger, daemon.RealDeps()); err != nil {
		level.Error(logger).Log("msg", "exporter failed", "err", err)
		return exitcode.Failure
	}
	level.Info(logger).Log("msg", "stopped")
	return exitcode.OK
}

// check applies the old flag names given, then validates; it returns the
// old names used.
func (d *daemonCommand) check() ([]string, error) {
	oldNames, err := d.renamed.resolve()
	if err != nil {
		return nil, err
	}
	return oldNames, d.flags.validate()
}

// validate checks what kingpin cannot, with errors that name the flag, and
// sets the Config fields that are parsed from flags.
func (f *daemonFlags) validate() error {
	switch {
	case f.NodeName == "":
		return fmt.Errorf("--node.name is empty and the hostname is unknown")
	case f.NodesFile == "" && !f.Kubernetes && !f.Passive:
		return fmt.Errorf("--nodes.file or --nodes.kubernetes is required (or --probe.passive to only answer /hello)")
	case f.NodesFile != "" && f.Kubernetes:
		return fmt.Errorf("--nodes.file and --nodes.kubernetes exclude each other")
	case f.NodesFilePoll <= 0:
		return fmt.Errorf("--nodes.file.poll-interval must be positive, got %s", f.NodesFilePoll)
	case f.FailureThreshold < 1:
		return fmt.Errorf("--probe.failure-threshold must be at least 1, got %d", f.FailureThreshold)
	case f.ProbePeers < 0:
		return fmt.Errorf("--probe.peers must not be negative, got %d", f.ProbePeers)
	case f.Flows < 1 || f.Flows > prober.MaxFlows:
		return fmt.Errorf("--probe.flows must be from 1 (no flows) to %d, got %d", prober.MaxFlows, f.Flows)
	case f.MTU != 0 && (f.MTU < minMTUFlag || f.MTU > maxMTUFlag):
		return fmt.Errorf("--probe.mtu must be 0 (from the route) or from %d to %d, got %d", minMTUFlag, maxMTUFlag, f.MTU)
	case f.EndpointMTU != 0 && (f.EndpointMTU < minMTUFlag || f.EndpointMTU > maxMTUFlag):
		return fmt.Errorf("--probe.mtu.endpoint must be 0 or from %d to %d, got %d", minMTUFlag, maxMTUFlag, f.EndpointMTU)
	case f.MTURefresh <= 0:
		return fmt.Errorf("--probe.mtu.refresh must be positive, got %s", f.MTURefresh)
	case f.HealthCheckInterval <= 0:
		return fmt.Errorf("--health-endpoint.check-interval must be positive, got %s", f.HealthCheckInterval)
	case f.HealthPodGrace < 0:
		return fmt.Errorf("--nodes.kubernetes.health-pods.grace must not be negative, got %s", f.HealthPodGrace)
	case f.PerPeerAutoMax < 0:
		return fmt.Errorf("--metrics.per-peer.auto-max-nodes must not be negative, got %d", f.PerPeerAutoMax)
	case f.TelemetryPath == "" || f.TelemetryPath[0] != '/':
		return fmt.Errorf("--web.telemetry-path must start with /, got %q", f.TelemetryPath)
	case f.AdminSocket == "":
		return fmt.Errorf("--admin.socket is empty")
	}
	if f.ProbeInterval > 0 {
		var err error
		if f.MTUEvery, err = parseMTUEvery(f.mtuEvery, f.ProbeInterval); err != nil {
			return err
		}
	}
	if err := f.SchedulerConfig().Validate(); err != nil {
		return flagError(err)
	}
	var err error
	if f.HelloPort, err = helloListenPort(f.HelloAddress); err != nil {
		return err
	}
	if err := f.checkHealthPods(); err != nil {
		return err
	}
	if f.Kubernetes {
		if err := f.Kube.Validate(); err != nil {
			return fmt.Errorf("--nodes.kubernetes: %w", err)
		}
	}
	f.PerPeer = collector.PerPeerMode(f.perPeer)
	return f.parseHealthIPs()
}

// checkHealthPods sets Kube.NoHealthPods from --nodes.kubernetes.health-pods
// and refuses the health pods' own flags without health pods: a
// namespace or selector given there would silently do nothing.
func (f *daemonFlags) checkHealthPods() error {
	f.Kube.NoHealthPods = !f.healthPods
	if f.healthPods {
		return nil
	}
	for _, g := range f.healthPodFlags {
		if *g.given {
			return fmt.Errorf("--%s has no effect with --no-nodes.kubernetes.health-pods (there are no health pods): give one of them", g.name)
		}
	}
	return nil
}

// parseHealthIPs sets HealthIP and DualStackHealthIP from --health-endpoint.ip:
// repeated, or a comma-separated list, with at most one address of each
// family.
func (f *daemonFlags) parseHealthIPs() error {
	var ips []netip.Addr
	for _, value := range f.healthIPs {
		for text := range strings.SplitSeq(value, ",") {
			ip, err := netip.ParseAddr(strings.TrimSpace(text))
			if err != nil {
				return fmt.Errorf("--health-endpoint.ip %q is not an IP address", text)
			}
			ips = append(ips, ip)
		}
	}
	if len(ips) == 0 {
		return nil
	}
	first, second, ok := nodes.DualStack(ips)
	if !ok {
		return fmt.Errorf("--health-endpoint.ip: %s given, want one address or one of each family (IPv4 and IPv6)", nodes.JoinAddrs(ips))
	}
	f.HealthIP, f.DualStackHealthIP = first, second
	return nil
}

// flagError names the flag of a prober.ConfigError: prober.Config.Validate
// checks those values, once, and the message names what the user typed.
func flagError(err error) error {
	var ce *prober.ConfigError
	if !errors.As(err, &ce) {
		return err
	}
	switch ce.Field {
	case "Interval":
		return fmt.Errorf("--probe.interval %s", ce.Problem)
	case "Timeout":
		return fmt.Errorf("--probe.timeout %s", ce.Problem)
	case "MaxInFlight":
		return fmt.Errorf("--probe.max-in-flight %s", ce.Problem)
	case "MTUProbeEvery":
		return fmt.Errorf("--probe.mtu.every %s", ce.Problem)
	case "Flows":
		return fmt.Errorf("--probe.flows %s", ce.Problem)
	}
	return err
}
