package status_test

import (
	"maps"
	"testing"

	"github.com/connectivity-exporter/connectivity_exporter/status"
)

// TestDiagnoseDualStack: a dual-stack node is read one family at a time,
// and the diagnosis names the family when only one is broken.
func TestDiagnoseDualStack(t *testing.T) {
	const ipv6ForwardDrop = "IPv6 traffic is dropped inside node-2 before it reaches endpoints: check IPv6 forwarding and firewall there (e.g. an ip6tables or nft ip6 FORWARD chain with policy DROP, or IPv6 forwarding off), and the health endpoint's IPv6 address"
	for _, tc := range []struct {
		name string
		rows []row
		want map[string]string
	}{
		{"both healthy", []row{{"node-1", "RRRR/RRRR"}, {"node-2", "RRRR/RRRR"}}, map[string]string{}},
		{"IPv6 endpoints dropped", []row{{"node-1", "RRRR/RRRR"}, {"node-2", "RRRR/RRTT"}}, map[string]string{"node-2": ipv6ForwardDrop}},
		{"IPv6 endpoints dropped, one unknown", []row{{"node-1", "RRRR/RRRR"}, {"node-2", "RRRR/RRT?"}}, map[string]string{"node-2": ipv6ForwardDrop}},
		{
			"IPv4 endpoints dropped",
			[]row{{"node-1", "RRRR/RRRR"}, {"node-2", "RRTT/RRRR"}},
			map[string]string{"node-2": "IPv4 traffic is dropped inside node-2 before it reaches endpoints: check IPv4 forwarding and firewall there (e.g. an iptables or nft ip FORWARD chain with policy DROP), and the health endpoint's IPv4 address"},
		},
		{
			"both families dropped alike: no family named",
			[]row{{"node-1", "RRRR/RRRR"}, {"node-2", "RRTT/RRTT"}},
			map[string]string{"node-2": forwardDrop},
		},
		{
			"IPv6 silent, IPv4 fine",
			[]row{{"node-1", "RRRR/RRRR"}, {"node-2", "RRRR/TTTT"}},
			map[string]string{"node-2": "node-2 does not answer over IPv6: none of its 4 IPv6 paths answers; check its IPv6 addresses, routes and firewall on the way"},
		},
		{"down on both", []row{{"node-1", "RRRR/RRRR"}, {"node-2", "TTTT/TTTT"}}, map[string]string{"node-2": "node-2 is down or cut off: none of its 8 probed paths answers"}},
		{
			"IPv6 port blocked",
			[]row{{"node-1", "RRRR/RRRR"}, {"node-2", "RRRR/RTRT"}},
			map[string]string{"node-2": "over IPv6, TCP port 4240 blocked or the exporter hangs on node-2"},
		},
		{
			"different faults per family",
			[]row{{"node-1", "RRRR/RRRR"}, {"node-2", "TRTR/RRTT"}},
			map[string]string{"node-2": "IPv4: ICMP is filtered on the path to node-2; TCP works; IPv6: traffic is dropped inside node-2 before it reaches endpoints: check forwarding and firewall there (e.g. a FORWARD chain with policy DROP), and the health endpoint"},
		},
		{
			"IPv6 host only, no IPv6 endpoint",
			[]row{{"node-1", "RRRR/RR"}, {"node-2", "RRRR/TT"}},
			map[string]string{"node-2": "node-2 does not answer over IPv6: none of its 2 IPv6 paths answers; check its IPv6 addresses, routes and firewall on the way"},
		},
		{"IPv6 not probed yet", []row{{"node-1", "RRRR/RRRR"}, {"node-2", "RRRR/????"}}, map[string]string{"node-2": "not probed yet over IPv6"}},
		{
			"IPv6 first failures",
			[]row{{"node-1", "RRRR/RRRR"}, {"node-2", "RRRR/RRff"}},
			map[string]string{"node-2": "first failures, below the failure threshold so far: " + ipv6ForwardDrop},
		},
		{
			"isolated needs every host path of every family",
			[]row{{"node-1", "RRRR/RRRR"}, {"node-2", "TTTT/RRRR"}, {"node-3", "TTTT/RRRR"}},
			map[string]string{
				"node-2": "node-2 does not answer over IPv4: none of its 4 IPv4 paths answers; check its IPv4 addresses, routes and firewall on the way",
				"node-3": "node-3 does not answer over IPv4: none of its 4 IPv4 paths answers; check its IPv4 addresses, routes and firewall on the way",
			},
		},
		{
			"isolated on both families",
			[]row{{"node-1", "RRRR/RRRR"}, {"node-2", "TTTT/TTTT"}, {"node-3", "TTTT/TTTT"}},
			map[string]string{
				"node-1": "this node is isolated: 2/2 peers unreachable from here; check this node's uplink, routes and firewall",
				"node-2": isolatedPeer, "node-3": isolatedPeer,
			},
		},
		{
			"fallback names the family of each path",
			[]row{{"node-1", "RRRR/RRRR"}, {"node-2", "TRRT/TRRT"}},
			map[string]string{"node-2": "unreachable on IPv4 host ICMP (timed out), IPv6 host ICMP (timed out), IPv4 endpoint HTTP (timed out), IPv6 endpoint HTTP (timed out)"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := status.Diagnose(scenario(tc.rows...))
			if !maps.Equal(got, tc.want) {
				t.Errorf("Diagnose:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}
