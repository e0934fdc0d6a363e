// Package plan owns what this node probes: the node list in force, which of
// its nodes this node probes (all, or the --probe.peers choice) and the
// targets of each. The scheduler, the collector and the admin API read a
// Plan; none of them derives it again.
package plan

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/connectivity-exporter/connectivity_exporter/nodes"
	"github.com/connectivity-exporter/connectivity_exporter/prober"
)

// Config says how a node list becomes a Plan.
type Config struct {
	// Local is this node's name (--node.name); it must be in every list.
	Local string
	// PeerLimit is --probe.peers: probe only this many peers besides the
	// local node; 0 probes every node.
	PeerLimit int
	// Passive daemons probe nothing (--probe.passive).
	Passive bool
}

// Entry is one node of the list in force and what this node probes of it.
type Entry struct {
	nodes.Node
	// Probed is false for nodes outside the --probe.peers choice and for
	// every node of a passive daemon.
	Probed bool
	// Targets are the node's paths, host before endpoint, ICMP before
	// HTTP; nil when the node is not probed.
	Targets []prober.Target
}

// Plan is one node list and what this node probes of it. It is immutable:
// a new node list makes a new Plan.
type Plan struct {
	cfg     Config
	entries []Entry         // every node, by name
	targets []prober.Target // of the probed entries, in entry order
	probed  int
}

// New checks that cfg.Local is in list and derives the plan. The list is
// assumed valid otherwise (nodes validates names and addresses).
func New(cfg Config, list []nodes.Node) (*Plan, error) {
	if _, ok := nodes.Find(list, cfg.Local); !ok {
		// The local node is probed like any peer, and a list without it
		// is most likely the wrong file.
		return nil, fmt.Errorf("this node %q (--node.name) is not in the node list", cfg.Local)
	}
	return build(cfg, list), nil
}

// Empty is the plan of a daemon that has no node list (--probe.passive without
// one): no node, nothing probed.
func Empty(cfg Config) *Plan { return build(cfg, nil) }

func build(cfg Config, list []nodes.Node) *Plan {
	probed := map[string]bool{}
	if !cfg.Passive {
		// A leaving node is not probed (but this node always is): its
		// departure must page no one, and --probe.peers picks among the
		// nodes that stay.
		staying := slices.DeleteFunc(slices.Clone(list), func(n nodes.Node) bool { return n.Leaving != "" && n.Name != cfg.Local })
		for _, n := range SelectPeers(cfg.Local, staying, cfg.PeerLimit) {
			probed[n.Name] = true
		}
	}
	sorted := slices.Clone(list)
	slices.SortFunc(sorted, func(a, b nodes.Node) int { return strings.Compare(a.Name, b.Name) })
	p := &Plan{cfg: cfg, entries: make([]Entry, len(sorted)), targets: make([]prober.Target, 0, 4*len(probed))}
	for i, n := range sorted {
		e := Entry{Node: n, Probed: probed[n.Name]}
		if e.Probed {
			start := len(p.targets)
			p.targets = appendTargets(p.targets, n)
			e.Targets = p.targets[start:len(p.targets):len(p.targets)]
			p.probed++
		}
		p.entries[i] = e
	}
	return p
}

// appendTargets adds n's paths: host ICMP and HTTP, then endpoint ICMP and
// HTTP when n has a health endpoint, each for every address family the
// host or the endpoint has (IPv4 first). The paths of a peer are adjacent,
// so that they are probed close in time and can be compared; with entries
// in name order this is also prober's target order.
func appendTargets(ts []prober.Target, n nodes.Node) []prober.Target {
	ts = appendPath(ts, n.Name, prober.PathHost, n.HostIPs())
	return appendPath(ts, n.Name, prober.PathEndpoint, n.HealthIPs())
}

func appendPath(ts []prober.Target, peer string, path prober.Path, ips []netip.Addr) []prober.Target {
	for _, protocol := range []prober.Protocol{prober.ProtocolICMP, prober.ProtocolHTTP} {
		for _, ip := range ips {
			ts = append(ts, prober.Target{Peer: peer, Path: path, Protocol: protocol, IP: ip})
		}
	}
	return ts
}

// Families are the address families of the targets this node probes, in
// prober.Families order: the collector keeps aggregates for these only,
// so that a single-stack cluster does not get empty series of the other.
func (p *Plan) Families() []prober.Family {
	var has [len(prober.Families)]bool
	for _, t := range p.targets {
		has[slices.Index(prober.Families[:], t.Family())] = true
	}
	var out []prober.Family
	for i, f := range prober.Families {
		if has[i] {
			out = append(out, f)
		}
	}
	return out
}

// Local is this node's name.
func (p *Plan) Local() string { return p.cfg.Local }

// LocalNode is this node's entry; the zero Node when the plan has no list.
func (p *Plan) LocalNode() nodes.Node {
	e, _ := p.Entry(p.cfg.Local)
	return e.Node
}

// Entry is the node called name and what this node probes of it.
func (p *Plan) Entry(name string) (Entry, bool) {
	if i, ok := slices.BinarySearchFunc(p.entries, name, func(e Entry, name string) int { return strings.Compare(e.Name, name) }); ok {
		return p.entries[i], true
	}
	return Entry{}, false
}

// Entries lists every node of the list in force, by name. Callers must not
// modify it.
func (p *Plan) Entries() []Entry { return p.entries }

// Len is the number of nodes in the list in force.
func (p *Plan) Len() int { return len(p.entries) }

// Probed is the number of nodes this node probes.
func (p *Plan) Probed() int { return p.probed }

// ProbedZones is the zone of every node this node probes, by name; ""
// for a node without one. The collector aggregates by these zones.
func (p *Plan) ProbedZones() map[string]string {
	zones := make(map[string]string, p.probed)
	for _, e := range p.entries {
		if e.Probed {
			zones[e.Name] = e.Zone
		}
	}
	return zones
}

// Leaving is the reason of every node of the list that is leaving the
// cluster, by name (nodes.Leaving...); nil when none is.
func (p *Plan) Leaving() map[string]string {
	var out map[string]string
	for _, e := range p.entries {
		if e.Leaving != "" {
			if out == nil {
				out = map[string]string{}
			}
			out[e.Name] = e.Leaving
		}
	}
	return out
}

// PeerLimit is --probe.peers (0: every node).
func (p *Plan) PeerLimit() int { return p.cfg.PeerLimit }

// Targets are every path this node probes, ordered by peer, path and
// protocol. Callers must not modify it.
func (p *Plan) Targets() []prober.Target { return p.targets }

// NotProbedReason says why this node does not probe a node of the list, in
// words for people; "" for the nodes it probes.
func (p *Plan) NotProbedReason(e Entry) string {
	switch {
	case e.Probed:
		return ""
	case p.cfg.Passive:
		return "this daemon is passive"
	case e.Leaving != "":
		return "leaving: " + nodes.LeavingText(e.Leaving)
	default:
		return fmt.Sprintf("outside its %d peers", p.cfg.PeerLimit)
	}
}
