// Package collector turns probe results into the connectivity_* metrics.
package collector

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

const namespace = "connectivity"

// PerPeerMode says which peers get per-peer series. A full mesh of per-peer
// histograms is N² series across a cluster, so large clusters keep only the
// failing peers.
type PerPeerMode string

const (
	// PerPeerAll exports per-peer series for every peer.
	PerPeerAll PerPeerMode = "all"
	// PerPeerFailing exports per-peer series only for paths that are
	// unreachable or whose latest probe failed.
	PerPeerFailing PerPeerMode = "failing"
	// PerPeerNone exports no per-peer series.
	PerPeerNone PerPeerMode = "none"
	// PerPeerAuto is "all" up to AutoMaxNodes nodes and "failing" above.
	PerPeerAuto PerPeerMode = "auto"
)

// Options configures the metrics of one exporter.
type Options struct {
	// Source is this node's name, the `source` label of every series.
	Source string
	// Zone is this node's zone, the `source_zone` label of every series;
	// "" leaves the label out (Prometheus reads an empty label as absent).
	Zone    string
	PerPeer PerPeerMode
	// AutoMaxNodes is where PerPeerAuto switches from all to failing.
	AutoMaxNodes int
	// ClassicBuckets adds classic buckets to the native histograms.
	ClassicBuckets bool
	// HealthEndpoint says this node has a health endpoint, whose state is
	// then exported.
	HealthEndpoint bool
	// PeerLimit is --probe.peers (0: every node), exported so that rules
	// know how many nodes probe a given node.
	PeerLimit int
	// MTUEvery is --probe.mtu.every (0: no full-size probes), exported so
	// that rules know how often full-size probes run.
	MTUEvery int
	// Flows is --probe.flows; above 1 the flows' series are exported.
	Flows int
	// Interval and Timeout are exported so that rules can compare the
	// probe cycle duration with them.
	Interval, Timeout time.Duration
	// Discovery holds the node list's metrics when the caller made them
	// before the first list (and registered them); nil: New makes and
	// registers them.
	Discovery *Discovery
}

// Validate says what is wrong with Options.
func (o Options) Validate() error {
	if o.Source == "" {
		return fmt.Errorf("source node name is empty")
	}
	switch o.PerPeer {
	case PerPeerAll, PerPeerFailing, PerPeerNone, PerPeerAuto:
	default:
		return fmt.Errorf("per-peer mode %q is not one of auto, all, failing, none", o.PerPeer)
	}
	if o.PerPeer == PerPeerAuto && o.AutoMaxNodes < 0 {
		return fmt.Errorf("auto per-peer node limit must not be negative, got %d", o.AutoMaxNodes)
	}
	return nil
}

// constLabels are the labels of every series: source, and source_zone
// when this node has a zone.
func (o Options) constLabels() prometheus.Labels {
	l := prometheus.Labels{"source": o.Source}
	if o.Zone != "" {
		l["source_zone"] = o.Zone
	}
	return l
}

// effective resolves PerPeerAuto for the current node count.
func (o Options) effective(nodes int) PerPeerMode {
	if o.PerPeer != PerPeerAuto {
		return o.PerPeer
	}
	if nodes <= o.AutoMaxNodes {
		return PerPeerAll
	}
	return PerPeerFailing
}
