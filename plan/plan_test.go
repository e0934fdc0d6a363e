package plan

import (
	"errors"
	"maps"
	"net/netip"
	"slices"
	"testing"

	"github.com/go-kit/log"

	"github.com/connectivity-exporter/connectivity_exporter/nodes"
	"github.com/connectivity-exporter/connectivity_exporter/prober"
)

func node(name, host, health string) nodes.Node {
	n := nodes.Node{Name: name, HostIP: netip.MustParseAddr(host)}
	if health != "" {
		n.HealthIP = netip.MustParseAddr(health)
	}
	return n
}

func TestNewTargets(t *testing.T) {
	list := []nodes.Node{
		node("node-2", "198.18.0.2", ""),
		node("node-1", "198.18.0.1", "198.19.0.1"),
	}
	p, err := New(Config{Local: "node-2"}, list)
	if err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr
	want := []prober.Target{
		{Peer: "node-1", Path: prober.PathHost, Protocol: prober.ProtocolICMP, IP: ip("198.18.0.1")},
		{Peer: "node-1", Path: prober.PathHost, Protocol: prober.ProtocolHTTP, IP: ip("198.18.0.1")},
		{Peer: "node-1", Path: prober.PathEndpoint, Protocol: prober.ProtocolICMP, IP: ip("198.19.0.1")},
		{Peer: "node-1", Path: prober.PathEndpoint, Protocol: prober.ProtocolHTTP, IP: ip("198.19.0.1")},
		{Peer: "node-2", Path: prober.PathHost, Protocol: prober.ProtocolICMP, IP: ip("198.18.0.2")},
		{Peer: "node-2", Path: prober.PathHost, Protocol: prober.ProtocolHTTP, IP: ip("198.18.0.2")},
	}
	if !slices.Equal(p.Targets(), want) {
		t.Errorf("Targets:\n got %+v\nwant %+v", p.Targets(), want)
	}
	es := p.Entries()
	if len(es) != 2 || es[0].Name != "node-1" || !slices.Equal(es[0].Targets, want[:4]) || !slices.Equal(es[1].Targets, want[4:]) {
		t.Errorf("Entries = %+v; want node-1 with the first 4 targets, node-2 with the last 2", es)
	}
	// An entry's targets must not share spare capacity with the next.
	if cap(es[0].Targets) != 4 {
		t.Errorf("cap of node-1's targets = %d; want 4", cap(es[0].Targets))
	}
	if got := p.LocalNode(); got != list[0] {
		t.Errorf("LocalNode = %+v; want %+v", got, list[0])
	}
	if p.Len() != 2 || p.Probed() != 2 || p.Local() != "node-2" {
		t.Errorf("Len %d, Probed %d, Local %q; want 2, 2, node-2", p.Len(), p.Probed(), p.Local())
	}
}

func TestNewRejectsListWithoutLocal(t *testing.T) {
	_, err := New(Config{Local: "node-9"}, []nodes.Node{node("node-1", "198.18.0.1", "")})
	want := `this node "node-9" (--node.name) is not in the node list`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v; want %q", err, want)
	}
}

func TestPeerLimitAndPassive(t *testing.T) {
	list := cluster(5)
	tests := []struct {
		name       string
		cfg        Config
		wantProbed int
		reason     string // of the nodes not probed
	}{
		{"all", Config{Local: "node-1"}, 5, ""},
		{"two peers", Config{Local: "node-1", PeerLimit: 2}, 3, "outside its 2 peers"},
		{"limit above the peers", Config{Local: "node-1", PeerLimit: 9}, 5, ""},
		{"passive", Config{Local: "node-1", Passive: true}, 0, "this daemon is passive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := New(tc.cfg, list)
			if err != nil {
				t.Fatal(err)
			}
			chosen := names(SelectPeers("node-1", list, tc.cfg.PeerLimit))
			probed, targets := 0, 0
			for _, e := range p.Entries() {
				if tc.cfg.Passive {
					chosen[e.Name] = false
				}
				if e.Probed != chosen[e.Name] {
					t.Errorf("%s: Probed = %v; want %v (SelectPeers' choice)", e.Name, e.Probed, chosen[e.Name])
				}
				if e.Probed {
					probed++
					targets += len(e.Targets)
				} else if len(e.Targets) != 0 {
					t.Errorf("%s is not probed but has targets %v", e.Name, e.Targets)
				}
				want := ""
				if !e.Probed {
					want = tc.reason
				}
				if got := p.NotProbedReason(e); got != want {
					t.Errorf("%s: NotProbedReason = %q; want %q", e.Name, got, want)
				}
			}
			if probed != tc.wantProbed || p.Probed() != tc.wantProbed || len(p.Targets()) != targets {
				t.Errorf("probed %d (Probed() %d), %d targets (Targets() %d); want %d probed", probed, p.Probed(), targets, len(p.Targets()), tc.wantProbed)
			}
			if !p.Entries()[0].Probed && p.Entries()[0].Name == "node-1" {
				t.Error("the local node must be probed unless passive")
			}
		})
	}
}

func TestEmpty(t *testing.T) {
	p := Empty(Config{Local: "node-1", Passive: true})
	if p.Len() != 0 || len(p.Targets()) != 0 || p.LocalNode().HostIP.IsValid() {
		t.Errorf("Empty = %+v; want no node, no target, no local node", p)
	}
}

// reporter records what a Keeper reports.
type reporter struct {
	nodes    []int
	errors   int
	rejected []bool
	families [][]prober.Family
	zones    []map[string]string
}

func (r *reporter) SetNodes(n int)                    { r.nodes = append(r.nodes, n) }
func (r *reporter) DiscoveryError()                   { r.errors++ }
func (r *reporter) SetDiscoveryRejected(rej bool)     { r.rejected = append(r.rejected, rej) }
func (r *reporter) SetFamilies(fs []prober.Family)    { r.families = append(r.families, fs) }
func (r *reporter) SetPeerZones(zs map[string]string) { r.zones = append(r.zones, zs) }

// The reporter (the collector) learns of every plan's families and zones
// before any consumer (the scheduler) gets the plan, whatever the order in
// which consumers were added.
func TestKeeperReportsBeforeConsumers(t *testing.T) {
	first, err := New(Config{Local: "node-1"}, cluster(2))
	if err != nil {
		t.Fatal(err)
	}
	rep := &reporter{}
	k := NewKeeper(first, rep, log.NewNopLogger())
	var reportedAtConsume []int
	k.OnChange(func(p *Plan) {
		reportedAtConsume = append(reportedAtConsume, len(rep.families))
		if z := rep.zones[len(rep.zones)-1]; !maps.Equal(z, p.ProbedZones()) {
			t.Errorf("zones reported %v, want the consumed plan's %v", z, p.ProbedZones())
		}
	})
	v6 := node("node-3", "2001:db8::3", "")
	if err := k.Update(append(cluster(2), v6)); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(reportedAtConsume, []int{1, 2}) {
		t.Errorf("families reported before each consume: %v, want [1 2]", reportedAtConsume)
	}
	if got := rep.families[len(rep.families)-1]; !slices.Equal(got, []prober.Family{prober.FamilyIPv4, prober.FamilyIPv6}) {
		t.Errorf("families of the new plan %v, want ipv4 and ipv6", got)
	}
}

func TestKeeper(t *testing.T) {
	first, err := New(Config{Local: "node-1"}, cluster(3))
	if err != nil {
		t.Fatal(err)
	}
	rep := &reporter{}
	k := NewKeeper(first, rep, log.NewNopLogger())
	var seen []int
	k.OnChange(func(p *Plan) { seen = append(seen, p.Len()) })
	if !slices.Equal(seen, []int{3}) || k.Current() != first {
		t.Fatalf("OnChange saw %v, Current %p; want [3] at once and the first plan", seen, k.Current())
	}

	// A list without this node is rejected: the last good plan stays.
	c := cluster(3)
	if err := k.Update([]nodes.Node{c[0], c[2]}); err == nil {
		t.Fatal("Update without the local node: no error")
	}
	if k.Current() != first || len(seen) != 1 || rep.errors != 1 || rep.rejected[len(rep.rejected)-1] != true {
		t.Fatalf("after a rejected list: plan changed %v, consumers %v, errors %d, rejected %v", k.Current() != first, seen, rep.errors, rep.rejected)
	}

	// A good list replaces it, clears the mark and reaches the consumers.
	if err := k.Update(cluster(5)); err != nil {
		t.Fatal(err)
	}
	if k.Current().Len() != 5 || !slices.Equal(seen, []int{3, 5}) || rep.nodes[len(rep.nodes)-1] != 5 || rep.rejected[len(rep.rejected)-1] != false {
		t.Fatalf("after a good list: plan of %d, consumers %v, nodes %v, rejected %v", k.Current().Len(), seen, rep.nodes, rep.rejected)
	}
	if k.Current().PeerLimit() != 0 || k.Current().Local() != "node-1" {
		t.Error("a new list must keep the keeper's config")
	}

	// A transient error is counted but marks nothing rejected; another is.
	marks := len(rep.rejected)
	k.Fail(&nodes.TransientError{Err: errors.New("watch closed")})
	if rep.errors != 2 || len(rep.rejected) != marks {
		t.Errorf("transient error: errors %d, rejected %v; want 2 and no new mark", rep.errors, rep.rejected)
	}
	k.Fail(errors.New("bad file"))
	if rep.errors != 3 || rep.rejected[len(rep.rejected)-1] != true || k.Current().Len() != 5 {
		t.Errorf("bad list: errors %d, rejected %v, plan of %d; want 3, rejected, the last good plan", rep.errors, rep.rejected, k.Current().Len())
	}
}

func TestProbedZones(t *testing.T) {
	inZone := func(n nodes.Node, zone string) nodes.Node { n.Zone, n.Region = zone, "region-1"; return n }
	list := []nodes.Node{
		inZone(node("node-1", "198.18.0.1", ""), "zone-a"),
		inZone(node("node-2", "198.18.0.2", ""), "zone-b"),
		node("node-3", "198.18.0.3", ""),
		inZone(node("node-4", "198.18.0.4", ""), "zone-b"),
	}
	tests := []struct {
		name string
		cfg  Config
		want map[string]string
	}{
		{"every node, the local one and a node without a zone included", Config{Local: "node-1"},
			map[string]string{"node-1": "zone-a", "node-2": "zone-b", "node-3": "", "node-4": "zone-b"}},
		{"passive: nothing probed", Config{Local: "node-1", Passive: true}, map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(tt.cfg, list)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.ProbedZones(); !maps.Equal(got, tt.want) {
				t.Errorf("ProbedZones = %v, want %v", got, tt.want)
			}
		})
	}
	// With --probe.peers, only the chosen nodes are there.
	p, err := New(Config{Local: "node-1", PeerLimit: 1}, list)
	if err != nil {
		t.Fatal(err)
	}
	got := p.ProbedZones()
	if len(got) != p.Probed() || len(got) != 2 || got["node-1"] != "zone-a" {
		t.Errorf("ProbedZones with --probe.peers=1 = %v, want node-1 and one other (%d probed)", got, p.Probed())
	}
	for name := range got {
		if e, _ := p.Entry(name); !e.Probed {
			t.Errorf("ProbedZones has %s, which is not probed", name)
		}
	}
}
