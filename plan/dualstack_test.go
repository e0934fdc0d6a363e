package plan

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/connectivity-exporter/connectivity_exporter/nodes"
	"github.com/connectivity-exporter/connectivity_exporter/prober"
)

// TestDualStackTargets checks that a node's targets are every path ×
// protocol × family it has, host and endpoint independently, in the
// store's order (path, protocol, then IPv4 before IPv6).
func TestDualStackTargets(t *testing.T) {
	ip := netip.MustParseAddr
	list := []nodes.Node{
		{Name: "node-1", HostIP: ip("198.18.0.1"), DualStackHostIP: ip("2001:db8::1"), HealthIP: ip("2001:db8:1::1")},
		{Name: "node-2", HostIP: ip("2001:db8::2")},
	}
	p, err := New(Config{Local: "node-2"}, list)
	if err != nil {
		t.Fatal(err)
	}
	target := func(peer string, path prober.Path, protocol prober.Protocol, addr string) prober.Target {
		return prober.Target{Peer: peer, Path: path, Protocol: protocol, IP: ip(addr)}
	}
	want := []prober.Target{
		target("node-1", prober.PathHost, prober.ProtocolICMP, "198.18.0.1"),
		target("node-1", prober.PathHost, prober.ProtocolICMP, "2001:db8::1"),
		target("node-1", prober.PathHost, prober.ProtocolHTTP, "198.18.0.1"),
		target("node-1", prober.PathHost, prober.ProtocolHTTP, "2001:db8::1"),
		target("node-1", prober.PathEndpoint, prober.ProtocolICMP, "2001:db8:1::1"),
		target("node-1", prober.PathEndpoint, prober.ProtocolHTTP, "2001:db8:1::1"),
		target("node-2", prober.PathHost, prober.ProtocolICMP, "2001:db8::2"),
		target("node-2", prober.PathHost, prober.ProtocolHTTP, "2001:db8::2"),
	}
	if !slices.Equal(p.Targets(), want) {
		t.Errorf("Targets:\n got %+v\nwant %+v", p.Targets(), want)
	}
	// The store sorts its snapshot the same way.
	store := prober.NewStore(1)
	store.Retain(want)
	var snap []prober.Target
	for _, st := range store.Snapshot() {
		snap = append(snap, st.Target)
	}
	if !slices.Equal(snap, want) {
		t.Errorf("store order:\n got %+v\nwant %+v", snap, want)
	}
}

func TestFamilies(t *testing.T) {
	ip := netip.MustParseAddr
	tests := []struct {
		name string
		list []nodes.Node
		want []prober.Family
	}{
		{"IPv4 only", []nodes.Node{{Name: "a", HostIP: ip("198.18.0.1")}}, []prober.Family{prober.FamilyIPv4}},
		{"IPv6 only", []nodes.Node{{Name: "a", HostIP: ip("2001:db8::1")}}, []prober.Family{prober.FamilyIPv6}},
		{"IPv6 endpoint only", []nodes.Node{{Name: "a", HostIP: ip("198.18.0.1"), HealthIP: ip("2001:db8::1")}},
			[]prober.Family{prober.FamilyIPv4, prober.FamilyIPv6}},
		{"mixed nodes", []nodes.Node{{Name: "a", HostIP: ip("2001:db8::1")}, {Name: "b", HostIP: ip("198.18.0.2")}},
			[]prober.Family{prober.FamilyIPv4, prober.FamilyIPv6}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(Config{Local: "a"}, tt.list)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Families(); !slices.Equal(got, tt.want) {
				t.Errorf("Families = %v, want %v", got, tt.want)
			}
		})
	}
	if got := Empty(Config{Local: "a"}).Families(); len(got) != 0 {
		t.Errorf("Families of the empty plan = %v, want none", got)
	}
}
