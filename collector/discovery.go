package collector

import (
	"maps"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Discovery owns the metrics of the node list: whether one was loaded,
// how many nodes it has, which of them are leaving, and discovery errors.
// It exists from the start, before the first node list, so that an
// exporter waiting for the Kubernetes API says so on /metrics. The
// source_zone label comes from that list: until it arrives these series
// carry source alone (for a node without a zone they never change).
type Discovery struct {
	source string

	mu       sync.Mutex
	zone     string
	loaded   bool
	nodes    int
	errors   float64
	rejected bool
	leaving  map[string]string // node -> reason
}

// NewDiscovery returns the node list's metrics of node source.
func NewDiscovery(source string) *Discovery {
	return &Discovery{source: source}
}

// SetZone sets this node's zone, the source_zone label, once the first
// node list says it.
func (d *Discovery) SetZone(zone string) {
	d.mu.Lock()
	d.zone = zone
	d.mu.Unlock()
}

// SetNodes records the number of nodes of the list in force: a list is
// loaded from then on (plan.Reporter).
func (d *Discovery) SetNodes(n int) {
	d.mu.Lock()
	d.nodes, d.loaded = n, true
	d.mu.Unlock()
}

// DiscoveryError counts a node list that could not be loaded
// (plan.Reporter).
func (d *Discovery) DiscoveryError() {
	d.mu.Lock()
	d.errors++
	d.mu.Unlock()
}

// SetDiscoveryRejected records whether the latest node list was rejected
// (plan.Reporter). The error counter alone cannot say: a bad node file is
// counted once and may stay bad for days.
func (d *Discovery) SetDiscoveryRejected(rejected bool) {
	d.mu.Lock()
	d.rejected = rejected
	d.mu.Unlock()
}

// SetLeaving records the nodes of the list in force that are leaving the
// cluster, with the reason of each (nodes.Leaving...).
func (d *Discovery) SetLeaving(leaving map[string]string) {
	d.mu.Lock()
	d.leaving = maps.Clone(leaving)
	d.mu.Unlock()
}

// discoveryDescs are the descriptors of Discovery's metrics.
type discoveryDescs struct {
	loaded, errors, rejected, nodes, leaving *prometheus.Desc
}

// descsLocked are the descriptors with the labels of now: source, and
// source_zone once known.
func (d *Discovery) descsLocked() discoveryDescs {
	labels := prometheus.Labels{"source": d.source}
	if d.zone != "" {
		labels["source_zone"] = d.zone
	}
	desc := func(name, help string, variable ...string) *prometheus.Desc {
		return prometheus.NewDesc(namespace+"_"+name, help, variable, labels)
	}
	return discoveryDescs{
		loaded: desc("node_list_loaded",
			"1 once a node list is loaded (from the node file or the Kubernetes API), 0 while this exporter waits for the first one and probes nothing."),
		errors: desc("discovery_errors_total",
			"Node lists that could not be loaded; the last good list stayed in force."),
		rejected: desc("discovery_rejected",
			"1 while the latest node list was rejected (a node file that does not parse or validate, an invalid Kubernetes node list, a list without this node) and the last good list is in force; 0 once a good list is loaded."),
		nodes: desc("nodes",
			"Nodes currently known, this one included, leaving ones too."),
		leaving: desc("peer_leaving",
			"1 for each node of the list that is leaving the cluster, by reason (cordoned, autoscaler, out-of-service, deleting); such a node is not probed, so that its departure pages no one.",
			"peer", "reason"),
	}
}

// Describe sends the descriptors with the labels of the time it is
// called. The zone changes them once, when the first node list of a
// daemon that started without one arrives: the registry checks
// descriptors at registration only (and pedantic registries, which tests
// use, at every scrape, after the zone is set).
func (d *Discovery) Describe(ch chan<- *prometheus.Desc) {
	d.mu.Lock()
	ds := d.descsLocked()
	d.mu.Unlock()
	for _, desc := range []*prometheus.Desc{ds.loaded, ds.errors, ds.rejected, ds.nodes, ds.leaving} {
		ch <- desc
	}
}

// Collect sends connectivity_node_list_loaded and the discovery error
// metrics always, and once a list is loaded connectivity_nodes and
// connectivity_peer_leaving.
func (d *Discovery) Collect(ch chan<- prometheus.Metric) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ds := d.descsLocked()
	ch <- prometheus.MustNewConstMetric(ds.loaded, prometheus.GaugeValue, boolValue(d.loaded))
	ch <- prometheus.MustNewConstMetric(ds.errors, prometheus.CounterValue, d.errors)
	ch <- prometheus.MustNewConstMetric(ds.rejected, prometheus.GaugeValue, boolValue(d.rejected))
	if !d.loaded {
		return // no node count before a list: 0 would read as an empty cluster
	}
	ch <- prometheus.MustNewConstMetric(ds.nodes, prometheus.GaugeValue, float64(d.nodes))
	for _, peer := range slices.Sorted(maps.Keys(d.leaving)) {
		ch <- prometheus.MustNewConstMetric(ds.leaving, prometheus.GaugeValue, 1, peer, d.leaving[peer])
	}
}

func boolValue(v bool) float64 {
	if v {
		return 1
	}
	return 0
}
