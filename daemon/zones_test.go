package daemon

import (
	"bytes"
	"fmt"
	"maps"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/connectivity-exporter/connectivity_exporter/collector"
	"github.com/connectivity-exporter/connectivity_exporter/nodes"
	"github.com/connectivity-exporter/connectivity_exporter/plan"
	"github.com/connectivity-exporter/connectivity_exporter/prober"
	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
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
	td := startTestDaemon(t, zonedNodes, func(c *Config) { c.ProbeInterval, c.FailureThreshold = 200*time.Millisecond, 1 })
	td.net.setDown("198.18.0.3", "198.19.0.3") // zone-b's only node
	zonePeers := func(path, proto, zone, status string) string {
		return fmt.Sprintf(`connectivity_zone_peers{family="ipv4",path=%q,peer_zone=%q,protocol=%q,source="node-1",source_zone="zone-a",status=%q}`, path, zone, proto, status)
	}
	testbin.Eventually(t, 10*time.Second, "the state the test waits for", func() error {
		why := func() string {
			m := td.metrics()
			for _, want := range []string{
				zonePeers("host", "icmp", "zone-a", "reachable") + " 2",
				zonePeers("endpoint", "http", "zone-a", "reachable") + " 2",
				zonePeers("host", "icmp", "zone-b", "unreachable") + " 1",
				zonePeers("host", "http", "", "reachable") + " 1",
				`connectivity_zone_rtt_seconds_count{family="ipv4",path="host",peer_zone="zone-a",protocol="icmp",source="node-1",source_zone="zone-a"}`,
				`connectivity_zone_probes_total{family="ipv4",path="host",peer_zone="zone-b",protocol="icmp",result="timeout",source="node-1",source_zone="zone-a"}`,
				`connectivity_probe_peers{source="node-1",source_zone="zone-a"} 0`,
			} {
				if !strings.Contains(m, want) {
					return fmt.Sprintf("/metrics lacks %s:\n%s", want, grep(m, "connectivity_zone_peers"))
				}
			}
			return ""
		}()
		return testbin.Holds(why == "", why)
	})
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
	testbin.Eventually(t, 10*time.Second, "the state the test waits for", func() error {
		why := func() string {
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
		}()
		return testbin.Holds(why == "", why)
	})
}

// A change of this node's own zone is logged once per change; source_zone
// keeps the zone of the start, while the zone series follow the peers.
func TestOwnZoneChangeIsLoggedAndPeerZonesFollow(t *testing.T) {
	list := func(zone1, zone2 string) []nodes.Node {
		return []nodes.Node{
			{Name: "node-1", HostIP: netip.MustParseAddr("198.18.0.1"), Zone: zone1},
			{Name: "node-2", HostIP: netip.MustParseAddr("198.18.0.2"), Zone: zone2},
		}
	}
	first, err := plan.New(plan.Config{Local: "node-1"}, list("zone-a", "zone-b"))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	metrics, err := collector.New(reg, collector.Options{Source: "node-1", Zone: "zone-a", PerPeer: collector.PerPeerNone}, prober.NewStore(3), collector.BuildInfo{})
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	keeper := plan.NewKeeper(first, metrics, log.NewNopLogger())
	warnOnOwnZoneChange(keeper, "zone-a", log.NewLogfmtLogger(&logged))
	for _, step := range []struct {
		zone1, zone2 string
		wantLog      string // "" for none
	}{
		{"zone-a", "zone-c", ""}, // a peer moves: nothing to say
		{"zone-b", "zone-c", `level=warn msg="this node's zone changed in the node list; source_zone keeps its value until the exporter restarts" source_zone=zone-a zone=zone-b`},
		{"zone-b", "zone-a", ""}, // no new change
		{"zone-a", "zone-a", `source_zone=zone-a zone=zone-a`},
	} {
		logged.Reset()
		if err := keeper.Update(list(step.zone1, step.zone2)); err != nil {
			t.Fatal(err)
		}
		got := strings.TrimSpace(logged.String())
		if step.wantLog == "" && got != "" || step.wantLog != "" && !strings.Contains(got, step.wantLog) {
			t.Errorf("node-1 in %s: logged %q, want %q", step.zone1, got, step.wantLog)
		}
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		zones := map[string]bool{}
		for _, mf := range mfs {
			if mf.GetName() != "connectivity_zone_probes_total" {
				continue
			}
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "peer_zone" {
						zones[l.GetValue()] = true
					}
					if l.GetName() == "source_zone" && l.GetValue() != "zone-a" {
						t.Errorf("source_zone=%s after a change, want zone-a until a restart", l.GetValue())
					}
				}
			}
		}
		if want := map[string]bool{step.zone1: true, step.zone2: true}; !maps.Equal(zones, want) {
			t.Errorf("zone series of %v, want %s and %s", zones, step.zone1, step.zone2)
		}
	}
}
