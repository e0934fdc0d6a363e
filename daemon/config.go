package daemon

import (
	"net/netip"
	"time"

	"github.com/prometheus/exporter-toolkit/web"

	"github.com/connectivity-exporter/connectivity_exporter/collector"
	"github.com/connectivity-exporter/connectivity_exporter/nodes/kubernetes"
	"github.com/connectivity-exporter/connectivity_exporter/plan"
	"github.com/connectivity-exporter/connectivity_exporter/prober"
)

// Name is the program's name, in the start log line and on the landing page.
const Name = "connectivity_exporter"

// Config is the daemon's settings, checked by the command that fills it
// (main's daemon command, from its flags).
type Config struct {
	NodeName      string
	NodesFile     string // the node list file; "" for none
	NodesFilePoll time.Duration
	// Kubernetes discovers nodes from the API, as Kube says.
	Kubernetes bool
	Kube       kubernetes.Config

	ProbeInterval    time.Duration
	ProbeTimeout     time.Duration
	FailureThreshold int
	MaxInFlight      int
	ICMPPrivileged   bool
	ICMPEngine       string // "shared" or "pro-bing"
	HTTPClient       string // "minimal" or "net-http"
	ProbePeers       int    // 0: every node
	// Flows is how many sticky flows each path is probed over, one per
	// interval in rotation (1: none, the kernel's port and label).
	Flows int
	// Passive only answers /hello (and keeps the health endpoint).
	Passive bool

	// MTU and EndpointMTU size the full-size probes (0: from the route);
	// MTUEvery is how many intervals apart a path's full-size probes are
	// (0: none); MTURefresh is how long a route's MTU is kept.
	MTU         int
	EndpointMTU int
	MTUEvery    int
	MTURefresh  time.Duration

	HelloAddress string
	HelloPort    int // the port of HelloAddress, which peers are probed on

	// HealthIP (with DualStackHealthIP, the IPv6 one beside an IPv4
	// HealthIP) overrides the local node's health IP; invalid for none.
	HealthIP            netip.Addr
	DualStackHealthIP   netip.Addr
	HealthNetns         string
	HealthInterface     string
	HealthCheckInterval time.Duration
	HealthPodGrace      time.Duration

	AdminSocket string

	PerPeer        collector.PerPeerMode
	PerPeerAutoMax int
	ClassicBuckets bool
	TelemetryPath  string
	Web            *web.FlagConfig
}

// UsesHealthPod says whether the health endpoint is this node's pod of the
// health DaemonSet, made by the cluster, not a namespace this daemon
// builds; it is known from this node's own endpoint paths. Without health
// pods (Kube.NoHealthPods) there is none to check, and
// connectivity_health_endpoint_up is absent.
func (c *Config) UsesHealthPod() bool {
	return c.Kubernetes && !c.Kube.NoHealthPods && !c.HealthIP.IsValid() && !c.Passive
}

// MTUProbeEvery is MTUEvery as the daemon runs it: 0 (off) for a passive
// daemon.
func (c *Config) MTUProbeEvery() int {
	if c.Passive {
		return 0
	}
	return c.MTUEvery
}

// SchedulerConfig is the prober's pace as c sets it (a passive daemon runs
// no scheduler); Serve adds the full-size probe. The flag checks validate
// it, so that each value is checked in one place (prober.Config.Validate).
func (c *Config) SchedulerConfig() prober.Config {
	return prober.Config{Interval: c.ProbeInterval, Timeout: c.ProbeTimeout, MaxInFlight: c.MaxInFlight, MTUProbeEvery: c.MTUEvery,
		FlowConfig: prober.FlowConfig{Flows: c.Flows, FlowKey: c.NodeName}}
}

func (c *Config) planConfig() plan.Config {
	return plan.Config{Local: c.NodeName, PeerLimit: c.ProbePeers, Passive: c.Passive}
}

// collectorOptions are the metrics' options; zone is this node's, from
// the first node list.
func (c *Config) collectorOptions(healthEndpoint bool, zone string) collector.Options {
	return collector.Options{
		HealthEndpoint: healthEndpoint,
		Source:         c.NodeName,
		Zone:           zone,
		PeerLimit:      c.ProbePeers,
		PerPeer:        c.PerPeer,
		AutoMaxNodes:   c.PerPeerAutoMax,
		ClassicBuckets: c.ClassicBuckets,
		Interval:       c.ProbeInterval,
		Timeout:        c.ProbeTimeout,
		MTUEvery:       c.MTUProbeEvery(),
		Flows:          c.Flows,
	}
}
