package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

const converge = 20 * time.Second

func TestHealthyLabAllPathsReachable(t *testing.T) {
	l := startLab(t, 3)
	for peer := 1; peer <= 3; peer++ {
		l.expectPaths(peer, allPaths, 1, converge)
	}
	mfs, text, err := l.metrics(1)
	if err != nil {
		t.Fatal(err)
	}
	// The local node is probed like any peer.
	for _, p := range allPaths {
		if v, _ := l.reachability(1, "node-1", p, ""); v != 1 {
			t.Errorf("node-1 reports itself %s/%s = %v, want 1", p.path, p.protocol, v)
		}
		for peer := 1; peer <= 3; peer++ {
			n, ok := mfs.Value("connectivity_peer_rtt_seconds", map[string]string{"peer": fmt.Sprintf("node-%d", peer), "path": p.path, "protocol": p.protocol})
			if !ok || n < 1 {
				t.Errorf("node-1's RTT histogram for node-%d %s/%s has %v samples, want some", peer, p.path, p.protocol, n)
			}
		}
	}
	if v, _ := mfs.Value("connectivity_nodes", nil); v != 3 {
		t.Errorf("connectivity_nodes = %v, want 3", v)
	}
	if v, _ := mfs.Value("connectivity_health_endpoint_up", nil); v != 1 {
		t.Errorf("connectivity_health_endpoint_up = %v, want 1", v)
	}
	for _, s := range mfs.Find("connectivity_peers", map[string]string{"status": "reachable"}) {
		if s.Value != 3 {
			t.Errorf("connectivity_peers%v = %v, want 3", s.Labels, s.Value)
		}
	}
	promtoolCheckMetrics(t, text)
}

// promtoolCheckMetrics runs the real promtool over a /metrics body.
func promtoolCheckMetrics(t *testing.T, text string) {
	t.Helper()
	cmd := exec.Command(testbin.NeedTool(t, "promtool", testbin.BuildPrometheus), "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

func TestStoppedExporterIsRefusedWhileICMPStaysUp(t *testing.T) {
	l := startLab(t, 3)
	l.expectPaths(3, allPaths, 1, converge)
	l.mustRun("fault", "stop", "3")
	l.expectPaths(3, []path{{"host", "http"}}, 0, converge)
	l.expectPaths(3, []path{{"host", "icmp"}}, 1, time.Second)
	mfs, _, err := l.metrics(1)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := mfs.Value("connectivity_peer_probes_total", map[string]string{"peer": "node-3", "path": "host", "protocol": "http", "result": "refused"}); v < 2 {
		t.Errorf("refused host/http probes to node-3 = %v, want at least 2", v)
	}
	l.mustRun("clear", "start", "3")
	l.expectPaths(3, allPaths, 1, converge)
}

func TestRemovedPeerLeavesMetrics(t *testing.T) {
	l := startLab(t, 3)
	l.expectPaths(3, allPaths, 1, converge)
	l.writeNodes(nodeList(2, nil))
	testbin.Eventually(t, converge, "node-3 gone from node-1's /metrics", func() error {
		mfs, text, err := l.metrics(1)
		if err != nil {
			return err
		}
		n, _ := mfs.Value("connectivity_nodes", nil)
		return testbin.Holds(!strings.Contains(text, `peer="node-3"`) && n == 2, fmt.Sprintf("connectivity_nodes=%v, node-3 present=%v", n, strings.Contains(text, `peer="node-3"`)))
	})
}

func TestGarbageNodeFileKeepsTheLastGoodList(t *testing.T) {
	l := startLab(t, 3)
	l.expectPaths(2, allPaths, 1, converge)
	if err := os.WriteFile(filepath.Join(l.dir, "nodes.yaml"), []byte("nodes:\n  - name: node-1\n    hostip: [garbage\n\x00\x01"), 0o644); err != nil {
		t.Fatal(err)
	}
	testbin.Eventually(t, converge, "the discovery error counted", func() error {
		mfs, _, err := l.metrics(1)
		if err != nil {
			return err
		}
		v, _ := mfs.Value("connectivity_discovery_errors_total", nil)
		return testbin.Holds(v >= 1, fmt.Sprintf("connectivity_discovery_errors_total=%v", v))
	})
	mfs, _, err := l.metrics(1)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := mfs.Value("connectivity_nodes", nil); v != 3 {
		t.Fatalf("connectivity_nodes = %v after a bad reload, want the last good 3", v)
	}
	if v, ok := mfs.Value("connectivity_discovery_rejected", nil); !ok || v != 1 {
		t.Fatalf("connectivity_discovery_rejected = %v (present %v) with a bad node file, want 1", v, ok)
	}
	// Probing goes on with the last good list: the counters keep moving.
	before, _ := mfs.Value("connectivity_peer_probes_total", map[string]string{"peer": "node-2", "path": "host", "protocol": "icmp", "result": "success"})
	testbin.Eventually(t, converge, "node-2 still probed", func() error {
		mfs, _, err := l.metrics(1)
		if err != nil {
			return err
		}
		now, _ := mfs.Value("connectivity_peer_probes_total", map[string]string{"peer": "node-2", "path": "host", "protocol": "icmp", "result": "success"})
		return testbin.Holds(now > before, fmt.Sprintf("successes %v -> %v", before, now))
	})
	l.expectPaths(2, allPaths, 1, time.Second)

	// A good file again, the same list as before: the mark clears.
	l.writeNodes(nodeList(3, nil))
	testbin.Eventually(t, converge, "the rejection cleared", func() error {
		mfs, _, err := l.metrics(1)
		if err != nil {
			return err
		}
		v, ok := mfs.Value("connectivity_discovery_rejected", nil)
		return testbin.Holds(ok && v == 0, fmt.Sprintf("connectivity_discovery_rejected=%v (present %v)", v, ok))
	})
}
