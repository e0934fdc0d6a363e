package main

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
	"github.com/connectivity-exporter/connectivity_exporter/collector"
	"github.com/connectivity-exporter/connectivity_exporter/healthep"
	"github.com/connectivity-exporter/connectivity_exporter/hello"
	"github.com/connectivity-exporter/connectivity_exporter/nodes"
	"github.com/connectivity-exporter/connectivity_exporter/plan"
	"github.com/connectivity-exporter/connectivity_exporter/prober"
	"github.com/connectivity-exporter/connectivity_exporter/routemtu"
)

// daemonFlags are the daemon's settings, one field per flag.
type daemonFlags struct {
	nodeName         string
	nodesFile        string
	nodesFilePoll    time.Duration
	nodesKubernetes  bool
	kube             nodes.KubernetesConfig
	probeInterval    time.Duration
	probeTimeout     time.Duration
	failureThreshold int
	maxInFlight      int
	icmpPrivileged   bool
	icmpEngine       string
	httpClient       string
	probePeers       int
	mtu              int
	mtuEndpoint      int
	mtuEvery         int
	mtuRefresh       time.Duration
	helloAddress     string
	healthIPs        []string
	healthNetns      string
	healthInterface  string
	healthCheck      time.Duration
	healthPodGrace   time.Duration
	adminSocket      string
	passive          bool
	perPeer          string
	perPeerAutoMax   int
	classicBuckets   bool
	telemetryPath    string
	web              *web.FlagConfig

	// Set by validate from the flags above.
	helloPort      int        // port of helloAddress, which peers are probed on
	healthAddr     netip.Addr // the first of healthIPs parsed; invalid without --healthep.ip
	healthDualAddr netip.Addr // the IPv6 one beside an IPv4 healthAddr (dual stack)
}

type daemonCommand struct {
	cmd   *kingpin.CmdClause
	flags daemonFlags
}

func addDaemonCommand(app *kingpin.Application) *daemonCommand {
	d := &daemonCommand{}
	f := &d.flags
	c := app.Command("daemon", "Run the exporter: probe every node and serve /metrics and /hello (the default command).").Default()
	d.cmd = c
	hostname, _ := os.Hostname()
	c.Flag("node.name", "This node's name; must match an entry of the node list.").Default(hostname).StringVar(&f.nodeName)
	c.Flag("nodes.file", "YAML node list, reloaded when it changes.").PlaceHolder("FILE").StringVar(&f.nodesFile)
	c.Flag("nodes.file.poll-interval", "How often the node list file is checked for changes.").Default(nodes.DefaultPollInterval.String()).DurationVar(&f.nodesFilePoll)
	c.Flag("nodes.kubernetes", "Discover nodes from the Kubernetes API (the cluster's Node objects, watched for changes).").BoolVar(&f.nodesKubernetes)
	c.Flag("kubeconfig", "Kubeconfig file for --nodes.kubernetes (default: the pod's service account, in-cluster).").PlaceHolder("FILE").StringVar(&f.kube.Kubeconfig)
	c.Flag("nodes.kubernetes.address-type", "Node address probed on the host paths: InternalIP or ExternalIP.").Default("InternalIP").EnumVar(&f.kube.AddressType, "InternalIP", "ExternalIP")
	c.Flag("nodes.kubernetes.ip-family", "Address families probed: dual (every family a node and its health pod have: both on dual-stack nodes, the one family elsewhere), ipv4 or ipv6 (that family only).").Default(nodes.IPFamilyDual).EnumVar(&f.kube.IPFamily, nodes.IPFamilyDual, nodes.IPFamilyIPv4, nodes.IPFamilyIPv6)
	c.Flag("nodes.kubernetes.health-ip-annotation", "Node annotation that holds a node's health IP; where set, it overrides the node's health pod.").Default(nodes.DefaultHealthIPAnnotation).StringVar(&f.kube.HealthIPAnnotation)
	c.Flag("nodes.kubernetes.health-pods.namespace", "Namespace of the health pods, whose IPs are the nodes' health IPs (default: the kubeconfig context's namespace; in a pod, its own).").PlaceHolder("NAMESPACE").StringVar(&f.kube.HealthPodNamespace)
	c.Flag("nodes.kubernetes.health-pods.selector", "Label selector of the health pods (one per node, as the health DaemonSet runs them).").Default(nodes.DefaultHealthPodSelector).StringVar(&f.kube.HealthPodSelector)
	c.Flag("nodes.kubernetes.not-ready", "Nodes whose Ready condition is not True: include (probe them) or exclude.").Default(nodes.KubernetesInclude).EnumVar(&f.kube.NotReady, nodes.KubernetesInclude, nodes.KubernetesExclude)
	c.Flag("nodes.kubernetes.cordoned", "Cordoned (unschedulable) nodes: exclude (drains and scale-downs page no one) or include. This node is always kept.").Default(nodes.KubernetesExclude).EnumVar(&f.kube.Cordoned, nodes.KubernetesInclude, nodes.KubernetesExclude)
	c.Flag("nodes.kubernetes.health-pods.grace", "With --nodes.kubernetes: how long after start a missing or silent health pod on this node is not yet reported (connectivity_health_endpoint_up stays absent), while a new node's pod is scheduled.").Default("2m").DurationVar(&f.healthPodGrace)
	c.Flag("probe.interval", "Each path of each peer is probed once per interval, spread evenly over it.").Default("15s").DurationVar(&f.probeInterval)
	c.Flag("probe.timeout", "One probe's deadline.").Default("2s").DurationVar(&f.probeTimeout)
	c.Flag("probe.failure-threshold", "Consecutive failures before a path is reported unreachable.").Default("3").IntVar(&f.failureThreshold)
	c.Flag("probe.max-in-flight", "Most probes running at once.").Default("1024").IntVar(&f.maxInFlight)
	c.Flag("probe.icmp.privileged", "Send ICMP through raw sockets (needs CAP_NET_RAW); --no-probe.icmp.privileged uses unprivileged ICMP sockets (needs net.ipv4.ping_group_range).").Default("true").BoolVar(&f.icmpPrivileged)
	c.Flag("probe.icmp.engine", "How ICMP echoes are sent: shared (one socket per address family for all probes) or pro-bing (a socket per probe; costs about three times the CPU, see BENCHMARKS.md).").Default("shared").EnumVar(&f.icmpEngine, "shared", "pro-bing")
	c.Flag("probe.http.client", "How /hello is fetched: minimal (a strict HTTP/1.1 GET on a fresh connection) or net-http (Go's net/http client, about 1.5 times the CPU per probe, see BENCHMARKS.md).").Default("minimal").EnumVar(&f.httpClient, "minimal", "net-http")
	c.Flag("probe.peers", "Probe only this many peers (plus this node), chosen by consistent hashing so that every node is probed by about as many others; 0 probes every node. For very large clusters.").Default("0").IntVar(&f.probePeers)
	c.Flag("probe.mtu", "MTU that full-size probes are sized for (bytes of the IP packet); 0 reads it per peer from the route towards it (the route's MTU, else its interface's).").Default("0").IntVar(&f.mtu)
	c.Flag("probe.mtu.endpoint", "MTU of the full-size probes of endpoint paths, which may cross an overlay; 0 is --probe.mtu if set, else the route towards the health IP.").Default("0").IntVar(&f.mtuEndpoint)
	c.Flag("probe.mtu.every", "Each path gets a full-size probe once every this many probe intervals, right after its small probe; 0 disables full-size probes.").Default("4").IntVar(&f.mtuEvery)
	c.Flag("probe.mtu.refresh", "How long an MTU read from the routing table is used before it is read again.").Default(routemtu.DefaultRefresh.String()).DurationVar(&f.mtuRefresh)
	c.Flag("hello.listen-address", "Address of the host /hello responder; its port is also the port probed on peers.").Default(defaultHelloAddress()).StringVar(&f.helloAddress)
	c.Flag("healthep.ip", "Create the health endpoint with this IP (default: with --nodes.file, the local node's health_ip or health_ips; none without either). Repeat it, or give a comma-separated list, for an address of each family (dual stack).").PlaceHolder("IP").StringsVar(&f.healthIPs)
	c.Flag("healthep.netns", "Name of the health network namespace (as in ip netns list).").Default(healthep.DefaultNetns).StringVar(&f.healthNetns)
	c.Flag("healthep.interface", "Host-side name of the veth pair to the health namespace.").Default(healthep.DefaultHostInterface).StringVar(&f.healthInterface)
	c.Flag("healthep.check-interval", "How often the health endpoint is checked and rebuilt if broken.").Default(healthep.DefaultCheckInterval.String()).DurationVar(&f.healthCheck)
	c.Flag("admin.socket", "Unix socket of the admin API used by the status, ping and get commands.").Default(defaultAdminSocket).StringVar(&f.adminSocket)
	c.Flag("passive", "Only answer /hello (and keep the health endpoint); do not probe.").BoolVar(&f.passive)
	c.Flag("metrics.per-peer", "Which peers get per-peer series: all, failing, none, or auto (all up to --metrics.per-peer.auto-max-nodes nodes, failing above).").Default("auto").EnumVar(&f.perPeer, "auto", "all", "failing", "none")
	c.Flag("metrics.per-peer.auto-max-nodes", "Largest node count for which auto keeps per-peer series of every peer.").Default("100").IntVar(&f.perPeerAutoMax)
	c.Flag("metrics.classic-buckets", "Export classic histogram buckets next to the native ones (--no-metrics.classic-buckets for native only).").Default("true").BoolVar(&f.classicBuckets)
	c.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").StringVar(&f.telemetryPath)
	f.web = kingpinflag.AddFlags(c, ":9240")
	return d
}

// validate checks what kingpin cannot, with errors that name the flag, and
// sets helloPort and healthAddr.
func (f *daemonFlags) validate() error {
	switch {
	case f.nodeName == "":
		return fmt.Errorf("--node.name is empty and the hostname is unknown")
	case f.nodesFile == "" && !f.nodesKubernetes && !f.passive:
		return fmt.Errorf("--nodes.file or --nodes.kubernetes is required (or --passive to only answer /hello)")
	case f.nodesFile != "" && f.nodesKubernetes:
		return fmt.Errorf("--nodes.file and --nodes.kubernetes exclude each other")
	case f.nodesFilePoll <= 0:
		return fmt.Errorf("--nodes.file.poll-interval must be positive, got %s", f.nodesFilePoll)
	case f.probeInterval <= 0:
		return fmt.Errorf("--probe.interval must be positive, got %s", f.probeInterval)
	case f.probeTimeout <= 0:
		return fmt.Errorf("--probe.timeout must be positive, got %s", f.probeTimeout)
	case f.failureThreshold < 1:
		return fmt.Errorf("--probe.failure-threshold must be at least 1, got %d", f.failureThreshold)
	case f.probePeers < 0:
		return fmt.Errorf("--probe.peers must not be negative, got %d", f.probePeers)
	case f.maxInFlight < 1:
		return fmt.Errorf("--probe.max-in-flight must be at least 1, got %d", f.maxInFlight)
	case f.mtu != 0 && (f.mtu < minMTUFlag || f.mtu > maxMTUFlag):
		return fmt.Errorf("--probe.mtu must be 0 (from the route) or from %d to %d, got %d", minMTUFlag, maxMTUFlag, f.mtu)
	case f.mtuEndpoint != 0 && (f.mtuEndpoint < minMTUFlag || f.mtuEndpoint > maxMTUFlag):
		return fmt.Errorf("--probe.mtu.endpoint must be 0 or from %d to %d, got %d", minMTUFlag, maxMTUFlag, f.mtuEndpoint)
	case f.mtuEvery < 0:
		return fmt.Errorf("--probe.mtu.every must not be negative, got %d", f.mtuEvery)
	case f.mtuRefresh <= 0:
		return fmt.Errorf("--probe.mtu.refresh must be positive, got %s", f.mtuRefresh)
	case f.healthCheck <= 0:
		return fmt.Errorf("--healthep.check-interval must be positive, got %s", f.healthCheck)
	case f.healthPodGrace < 0:
		return fmt.Errorf("--nodes.kubernetes.health-pods.grace must not be negative, got %s", f.healthPodGrace)
	case f.perPeerAutoMax < 0:
		return fmt.Errorf("--metrics.per-peer.auto-max-nodes must not be negative, got %d", f.perPeerAutoMax)
	case f.telemetryPath == "" || f.telemetryPath[0] != '/':
		return fmt.Errorf("--web.telemetry-path must start with /, got %q", f.telemetryPath)
	case f.adminSocket == "":
		return fmt.Errorf("--admin.socket is empty")
	}
	var err error
	if f.helloPort, err = helloListenPort(f.helloAddress); err != nil {
		return err
	}
	if f.nodesKubernetes {
		if err := f.kube.Validate(); err != nil {
			return fmt.Errorf("--nodes.kubernetes: %w", err)
		}
	}
	return f.parseHealthIPs()
}

// collectorOptions are the metrics' options; zone is this node's, from
// the first node list.
func (f *daemonFlags) collectorOptions(healthEndpoint bool, zone string) collector.Options {
	return collector.Options{
		HealthEndpoint: healthEndpoint,
		Source:         f.nodeName,
		Zone:           zone,
		PeerLimit:      f.probePeers,
		PerPeer:        collector.PerPeerMode(f.perPeer),
		AutoMaxNodes:   f.perPeerAutoMax,
		ClassicBuckets: f.classicBuckets,
		Interval:       f.probeInterval,
		Timeout:        f.probeTimeout,
		MTUEvery:       f.fullSizeEvery(),
	}
}

// healthPod: the health endpoint is this node's pod of the health
// DaemonSet, made by the cluster, not a namespace this daemon builds; it is
// known from this node's own endpoint paths.
func (f *daemonFlags) healthPod() bool {
	return f.nodesKubernetes && !f.healthAddr.IsValid() && !f.passive
}

func (f *daemonFlags) planConfig() plan.Config {
	return plan.Config{Local: f.nodeName, PeerLimit: f.probePeers, Passive: f.passive}
}

// listen opens the host /hello listener and the admin socket.
func (f *daemonFlags) listen() (hello, adminLn net.Listener, err error) {
	hello, err = net.Listen("tcp", f.helloAddress)
	if err != nil {
		return nil, nil, fmt.Errorf("--hello.listen-address: %w", err)
	}
	adminLn, err = admin.Listen(f.adminSocket)
	if err != nil {
		hello.Close()
		return nil, nil, fmt.Errorf("--admin.socket: %w", err)
	}
	return hello, adminLn, nil
}

// probes builds the probe of each protocol as the flags ask, and what
// closes them.
func (f *daemonFlags) probes() (map[prober.Protocol]prober.ProbeFunc, func(), error) {
	icmp, closeICMP, err := f.icmpProbe()
	if err != nil {
		return nil, nil, err
	}
	return map[prober.Protocol]prober.ProbeFunc{
		prober.ProtocolICMP: icmp,
		prober.ProtocolHTTP: prober.NewHTTPProbe(prober.HTTPConfig{Port: f.helloPort, Path: hello.Path, NetHTTP: f.httpClient == "net-http"}),
	}, closeICMP, nil
}

// icmpProbe builds the ICMP prober --probe.icmp.engine asks for, and what
// closes it. The shared engine opens its socket now, so that a missing
// CAP_NET_RAW is a clear start error.
func (f *daemonFlags) icmpProbe() (prober.ProbeFunc, func(), error) {
	cfg := prober.ICMPConfig{Privileged: f.icmpPrivileged}
	if f.icmpEngine == "pro-bing" {
		return prober.NewICMPProbe(cfg), func() {}, nil
	}
	e, err := prober.NewICMPEngine(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("ICMP engine: %w", err)
	}
	return e.Probe, func() { e.Close() }, nil
}

// parseHealthIPs sets healthAddr and healthDualAddr from --healthep.ip:
// repeated, or a comma-separated list, with at most one address of each
// family.
func (f *daemonFlags) parseHealthIPs() error {
	var ips []netip.Addr
	for _, value := range f.healthIPs {
		for text := range strings.SplitSeq(value, ",") {
			ip, err := netip.ParseAddr(strings.TrimSpace(text))
			if err != nil {
				return fmt.Errorf("--healthep.ip %q is not an IP address", text)
			}
			ips = append(ips, ip)
		}
	}
	if len(ips) == 0 {
		return nil
	}
	first, second, ok := nodes.DualStack(ips)
	if !ok {
		return fmt.Errorf("--healthep.ip: %s given, want one address or one of each family (IPv4 and IPv6)", joinAddrs(ips))
	}
	f.healthAddr, f.healthDualAddr = first, second
	return nil
}
