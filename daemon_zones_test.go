package main

import (
	"fmt"
	"strings"
	"testing"
)

const zonedNodes = `nodes:
  - {name: node-1, host_ip: 198.18.0.1, health_ip: 198.19.0.1, zone: zone-a, region: region-1}
  - {name: node-2, host_ip: 198.18.0.2, health_ip: 198.19.0.2, zone: zone-a, region: region-1}
  - {name: node-3, host_ip: 198.18.0.3, health_ip: 198.19.0.3, zone: zone-b, region: region-1}
  - {name: node-4, host_ip: 198.18.0.4}
`

// A node file with zones: every series carries this node's zone, the zone
// aggregates count each zone's peers, and a zone leaves /metrics with its
// last peer. This node's own zone stays what it was at start.
func TestDaemonZoneSeries(t *testing.T) {
	td := startTestDaemon(t, zonedNodes, "--probe.interval=200ms", "--probe.failure-threshold=1")
	td.net.setDown("198.18.0.3", "198.19.0.3") // zone-b's only node
	zonePeers := func(path, proto, zone, status string) string {
		return fmt.Sprintf(`connectivity_zone_peers{path=%q,peer_zone=%q,protocol=%q,source="node-1",source_zone="zone-a",status=%q}`, path, zone, proto, status)
	}
	if why := eventually(func() string {
		m := td.metrics()
		for _, want := range []string{
			zonePeers("host", "icmp", "zone-a", "reachable") + " 2",
			zonePeers("endpoint", "http", "zone-a", "reachable") + " 2",
			zonePeers("host", "icmp", "zone-b", "unreachable") + " 1",
			zonePeers("host", "http", "", "reachable") + " 1",
			`connectivity_zone_rtt_seconds_count{path="host",peer_zone="zone-a",protocol="icmp",source="node-1",source_zone="zone-a"}`,
			`connectivity_zone_probes_total{path="host",peer_zone="zone-b",protocol="icmp",result="timeout",source="node-1",source_zone="zone-a"}`,
			`connectivity_probe_peers{source="node-1",source_zone="zone-a"} 0`,
		} {
			if !strings.Contains(m, want) {
				return fmt.Sprintf("/metrics lacks %s:\n%s", want, grep(m, "connectivity_zone_peers"))
			}
		}
		return ""
	}); why != "" {
		t.Fatal(why)
	}
	for _, line := range strings.Split(td.metrics(), "\n") {
		if strings.HasPrefix(line, "connectivity_") && !strings.Contains(line, `source_zone="zone-a"`) {
			t.Errorf("series without source_zone=\"zone-a\": %s", line)
		}
	}

	// node-3 leaves, and this node moves to zone-c: zone-b's series go,
	// zone-c's come, and source_zone stays zone-a until a restart.
	td.writeNodes(t, `nodes:
  - {name: node-1, host_ip: 198.18.0.1, health_ip: 198.19.0.1, zone: zone-c, region: region-1}
  - {name: node-2, host_ip: 198.18.0.2, health_ip: 198.19.0.2, zone: zone-a, region: region-1}
  - {name: node-4, host_ip: 198.18.0.4}
`)
	if why := eventually(func() string {
		m := td.metrics()
		if strings.Contains(m, `peer_zone="zone-b"`) {
			return "zone-b still in /metrics:\n" + grep(m, `peer_zone="zone-b"`)
		}
		if want := zonePeers("host", "icmp", "zone-c", "reachable") + " 1"; !strings.Contains(m, want) {
			return "/metrics lacks " + want + ":\n" + grep(m, "connectivity_zone_peers")
		}
		if want := `connectivity_nodes{source="node-1",source_zone="zone-a"} 3`; !strings.Contains(m, want) {
			return "/metrics lacks " + want + ":\n" + grep(m, "connectivity_nodes")
		}
		return ""
	}); why != "" {
		t.Fatal(why)
	}
}
