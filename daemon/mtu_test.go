package daemon

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/collector"
	"github.com/connectivity-exporter/connectivity_exporter/exitcode"
	"github.com/connectivity-exporter/connectivity_exporter/status"
	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// An MTU black hole on node-2's endpoint path: small probes stay green,
// /metrics and status say black hole, and once the hole is gone both say
// so too.
func TestDaemonReportsMTUBlackHole(t *testing.T) {
	td := startTestDaemon(t, nodesYAML(1, 2), func(c *Config) {
		c.ProbeInterval, c.MTUEvery, c.PerPeer = 100*time.Millisecond, 2, collector.PerPeerFailing
	})
	td.net.setHoles("198.19.0.2")
	hole := `connectivity_peer_mtu_status{family="ipv4",path="endpoint",peer="node-2",protocol="icmp",source="node-1",status="blackhole"} 1`
	var out string
	testbin.Eventually(t, 10*time.Second, "the state the test waits for", func() error {
		why := func() string {
			m := td.metrics()
			if !strings.Contains(m, hole) || !strings.Contains(m, strings.Replace(hole, "icmp", "http", 1)) {
				return "no black hole series:\n" + grep(m, "mtu")
			}
			var code int
			code, out = td.status(t, status.CLIOptions{})
			if code != exitcode.Unhealthy || !strings.Contains(out, "an MTU black hole") {
				return fmt.Sprintf("status exit %d, want %d with an MTU diagnosis", code, exitcode.Unhealthy)
			}
			return ""
		}()
		return testbin.Holds(why == "", why+"\n"+out)
	})
	for _, want := range []string{
		"packets of 1500 bytes to node-2 are lost on the endpoint path while small ones pass (full-size ICMP and HTTP)",
		"Cluster health:   2/2 reachable",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	m := td.metrics()
	for _, want := range []string{
		`connectivity_mtu_peers{family="ipv4",path="endpoint",protocol="http",source="node-1",status="blackhole"} 1`,
		`connectivity_probe_mtu_every{source="node-1"} 2`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, grep(m, "mtu"))
		}
	}
	if strings.Contains(m, `connectivity_peer_reachable{`) {
		t.Errorf("small probes failed while only full-size ones were lost:\n%s", grep(m, "connectivity_peer_reachable"))
	}

	td.net.setHoles()
	td.waitHealthy(t)
	testbin.Eventually(t, 10*time.Second, "the state the test waits for", func() error {
		why := func() string {
			if m := td.metrics(); strings.Contains(m, `status="blackhole"} 1`) {
				return "black hole still reported:\n" + grep(m, "blackhole")
			}
			return ""
		}()
		return testbin.Holds(why == "", why)
	})
}

func TestMTUProbeEveryIsOffWhenPassive(t *testing.T) {
	c := Config{MTUEvery: 4, Passive: true}
	if c.MTUProbeEvery() != 0 {
		t.Error("a passive daemon would send full-size probes")
	}
	c.Passive = false
	if c.MTUProbeEvery() != 4 {
		t.Error("MTUEvery (--probe.mtu.every) is not honoured")
	}
}
