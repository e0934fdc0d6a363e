package admin

import "time"

// Report is the answer to GET /v1/status and POST /v1/status/probe: what this
// node knows about every path of every node.
type Report struct {
	// ProbeTime is when the newest result in the report was taken; zero
	// when nothing has been probed yet.
	ProbeTime time.Time `json:"probe_time,omitzero"`
	// Interval is the daemon's probe interval: results are at most about
	// this old.
	Interval Duration `json:"interval"`
	// HelloPort is the TCP port probed for /hello on every node; 0 from a
	// daemon that does not say, which probes the default, 4240.
	HelloPort int `json:"hello_port,omitempty"`
	// Fresh marks the answer to a probe made now (status --probe): a path
	// whose fresh probe failed is unreachable at once. Otherwise a path
	// turns unreachable after FailureThreshold failures in a row, as the
	// connectivity_peer_reachable metric does.
	Fresh bool `json:"fresh,omitempty"`
	// FailureThreshold is the daemon's --probe.failure-threshold; 0 from a
	// daemon that does not say.
	FailureThreshold int `json:"failure_threshold,omitempty"`
	// ProbePeers is the daemon's --probe.peers: each node probes only that
	// many peers; 0 when it probes every node.
	ProbePeers int    `json:"probe_peers,omitempty"`
	LocalNode  string `json:"local_node"`
	// NoNodeList is true while the daemon waits for its first node list
	// (the Kubernetes API is unreachable or has not answered yet): it
	// serves, but knows no node and probes nothing.
	NoNodeList bool         `json:"no_node_list,omitempty"`
	Nodes      []NodeReport `json:"nodes"`
}

// NodeReport is one node's paths as seen from the local node.
type NodeReport struct {
	Name  string `json:"name"`
	Local bool   `json:"local"`
	// NotProbed says why the local node does not probe this node (outside
	// its --probe.peers choice, or a passive daemon); empty when it does.
	// Such a node is neither healthy nor unhealthy from here.
	NotProbed string `json:"not_probed,omitempty"`
	// Leaving says why the node is leaving the cluster (cordoned,
	// autoscaler, out-of-service, deleting); empty while it is not. A
	// leaving node other than the local one is not probed.
	Leaving string `json:"leaving,omitempty"`
	// NotReady is true while Kubernetes reports the node not Ready, since
	// NotReadySince (zero when unknown). Such a node is still probed.
	NotReady      bool      `json:"not_ready,omitempty"`
	NotReadySince time.Time `json:"not_ready_since,omitzero"`
	// Host is nil for a node that is not probed (NotProbed), and in
	// reports that were not built by daemon.BuildReport. On dual stack it is the
	// IPv4 address, and DualStackHost the IPv6 one: a single-stack report
	// reads as it did before dual stack.
	Host          *PathReport `json:"host,omitempty"`
	DualStackHost *PathReport `json:"dual_stack_host,omitempty"`
	// Endpoint is nil when the node has no health IP or is not probed;
	// DualStackEndpoint is its IPv6 address on dual stack.
	Endpoint          *PathReport `json:"endpoint,omitempty"`
	DualStackEndpoint *PathReport `json:"dual_stack_endpoint,omitempty"`
	// Diagnosis is a one-line reading of the node's paths; the daemon
	// leaves it empty and the CLI fills it (status.WithDiagnosis).
	Diagnosis string `json:"diagnosis,omitempty"`
}

// HostPaths are the node's host addresses, IPv4 first; none when it is
// not probed.
func (n NodeReport) HostPaths() []*PathReport { return nonNil(n.Host, n.DualStackHost) }

// EndpointPaths are the node's health endpoint addresses, IPv4 first.
func (n NodeReport) EndpointPaths() []*PathReport { return nonNil(n.Endpoint, n.DualStackEndpoint) }

func nonNil(first, second *PathReport) []*PathReport {
	out := make([]*PathReport, 0, 2)
	for _, p := range []*PathReport{first, second} {
		if p != nil {
			out = append(out, p)
		}
	}
	return out
}

// PathReport is one address of a node, probed with ICMP and HTTP.
type PathReport struct {
	IP   string      `json:"ip"`
	ICMP ProbeReport `json:"icmp"`
	HTTP ProbeReport `json:"http"`
}

// ProbeReport is the latest state of one path and protocol.
type ProbeReport struct {
	// Status is reachable, unreachable or unknown (after the failure
	// threshold, like the connectivity_peer_reachable metric).
	Status string `json:"status"`
	// Result classifies the latest probe: success, timeout, refused or
	// error; empty before the first probe.
	Result string `json:"result,omitempty"`
	// Latency is the round-trip time of the latest probe if it succeeded.
	Latency             Duration  `json:"latency"`
	LastProbed          time.Time `json:"last_probed,omitzero"`
	Error               string    `json:"error,omitempty"`
	ConsecutiveFailures int       `json:"consecutive_failures"`
	// MTU is what the path's full-size probes found; nil before the first
	// one, from a daemon without full-size probes, and from older daemons.
	MTU *MTUReport `json:"mtu,omitempty"`
	// Flows is what the path's flows found (--probe.flows); nil for a path
	// probed without flows and from older daemons.
	Flows *FlowsReport `json:"flows,omitempty"`
	// FlowTraces are the latest traces of the path's flows that fail past
	// the failure threshold (Flows.Failing, by index); none while every
	// flow answers.
	FlowTraces []FlowTrace `json:"flow_traces,omitempty"`
}

// StatusPartial is the Status of a path some of whose flows fail past the
// threshold while others answer: a member of an equal-cost group drops,
// not the node. It is neither reachable nor unreachable.
const StatusPartial = "partial"

// FlowsReport is the state of one path's flows.
type FlowsReport struct {
	// Count is how many flows the path is probed over, one per interval
	// in rotation; Probed how many of them were probed so far.
	Count  int `json:"count"`
	Probed int `json:"probed"`
	// Failing are the flows that failed failure-threshold times in a row.
	Failing []FlowReport `json:"failing,omitempty"`
}

// FlowReport is one flow of a path: its identity, what an ECMP fabric
// hashes besides the addresses, and its latest probe. An ICMP flow has a
// flow label only (IPv6): no fabric hashes an echo's identifier.
type FlowReport struct {
	Index               int       `json:"index"`
	SourcePort          uint16    `json:"source_port,omitempty"`
	FlowLabel           uint32    `json:"flow_label,omitempty"`
	Result              string    `json:"result"`
	Error               string    `json:"error,omitempty"`
	LastProbed          time.Time `json:"last_probed,omitzero"`
	ConsecutiveFailures int       `json:"consecutive_failures"`
}

// MTUReport is the latest state of one path's full-size probes.
type MTUReport struct {
	// Status is ok, blackhole, reduced or unknown, like the
	// connectivity_peer_mtu_status metric.
	Status string `json:"status"`
	// Expected is the MTU the probes are sized for (bytes of the IP
	// packet); PathMTU the path MTU found: Expected when full-size
	// packets get through, the smaller learned one when reduced, 0 when
	// unknown.
	Expected int `json:"expected"`
	PathMTU  int `json:"path_mtu,omitempty"`
	// Result classifies the latest full-size probe: ok, lost, too_big or
	// error.
	Result            string    `json:"result"`
	LastProbed        time.Time `json:"last_probed,omitzero"`
	Error             string    `json:"error,omitempty"`
	ConsecutiveLosses int       `json:"consecutive_losses,omitempty"`
	// BlackholeFlows counts the flows of a path probed over flows whose
	// full-size probes are lost twice in a row while their small probes
	// answer: the flows that cross a member dropping large packets, or
	// every flow probed at full size since a black hole of the whole path
	// opened. 0 on a path without flows.
	BlackholeFlows int `json:"blackhole_flows,omitempty"`
}

// Info is the answer to GET /v1/info.
type Info struct {
	Version  string    `json:"version"`
	Revision string    `json:"revision"`
	Started  time.Time `json:"started"`
	// Uptime is set by the server from Started when it answers.
	Uptime         Duration           `json:"uptime"`
	Nodes          int                `json:"nodes"`
	LocalNode      string             `json:"local_node"`
	HealthEndpoint HealthEndpointInfo `json:"health_endpoint"`
	LastCycle      CycleInfo          `json:"last_cycle"`
}

// HealthEndpointInfo describes this node's health endpoint.
type HealthEndpointInfo struct {
	Enabled bool   `json:"enabled"`
	IP      string `json:"ip,omitempty"`
	// DualStackIP is the IPv6 address beside an IPv4 IP (dual stack).
	DualStackIP string `json:"dual_stack_ip,omitempty"`
	Netns       string `json:"netns,omitempty"`
	Up          bool   `json:"up"`
	Restarts    int    `json:"restarts"`
	// LastError says why the latest check or build failed; empty when it
	// succeeded.
	LastError string `json:"last_error,omitempty"`
}

// CycleInfo describes the latest finished probe sweep; zero before the first.
type CycleInfo struct {
	Start    time.Time `json:"start,omitzero"`
	Duration Duration  `json:"duration"`
	Targets  int       `json:"targets"`
}
