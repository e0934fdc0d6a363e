package prober

import (
	"net/netip"
	"testing"

	"github.com/connectivity-exporter/connectivity_exporter/nodes"
)

func TestTargetsFor(t *testing.T) {
	list := []nodes.Node{
		{Name: "node-2", HostIP: netip.MustParseAddr("198.18.0.2")},
		{Name: "node-1", HostIP: netip.MustParseAddr("198.18.0.1"), HealthIP: netip.MustParseAddr("198.19.0.1")},
	}
	got := TargetsFor(list)
	want := []Target{
		{"node-1", PathHost, ProtocolICMP, netip.MustParseAddr("198.18.0.1")},
		{"node-1", PathHost, ProtocolHTTP, netip.MustParseAddr("198.18.0.1")},
		{"node-1", PathEndpoint, ProtocolICMP, netip.MustParseAddr("198.19.0.1")},
		{"node-1", PathEndpoint, ProtocolHTTP, netip.MustParseAddr("198.19.0.1")},
		{"node-2", PathHost, ProtocolICMP, netip.MustParseAddr("198.18.0.2")},
		{"node-2", PathHost, ProtocolHTTP, netip.MustParseAddr("198.18.0.2")},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d targets, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("target %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}
