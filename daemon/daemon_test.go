package daemon

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/exporter-toolkit/web"
	"kernel.org/pub/linux/libs/security/libcap/cap"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
	"github.com/connectivity-exporter/connectivity_exporter/collector"
	"github.com/connectivity-exporter/connectivity_exporter/exitcode"
	"github.com/connectivity-exporter/connectivity_exporter/healthep"
	"github.com/connectivity-exporter/connectivity_exporter/privileges"
	"github.com/connectivity-exporter/connectivity_exporter/prober"
	"github.com/connectivity-exporter/connectivity_exporter/status"
	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// fakeNetwork answers probes without sending packets: every address answers
// but those marked down, which time out.
type fakeNetwork struct {
	mu    sync.Mutex
	slow  map[netip.Addr]time.Duration // answers take this long there
	down  map[netip.Addr]bool
	holes map[netip.Addr]bool // full-size probes are lost there
}

// setHoles makes ips MTU black holes: full-size probes to them are lost.
func (n *fakeNetwork) setHoles(ips ...string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.holes = map[netip.Addr]bool{}
	for _, ip := range ips {
		n.holes[netip.MustParseAddr(ip)] = true
	}
}

func (n *fakeNetwork) fullSize(ctx context.Context, t prober.Target) prober.MTUOutcome {
	n.mu.Lock()
	lost := n.holes[t.IP] || n.down[t.IP]
	n.mu.Unlock()
	if lost {
		<-ctx.Done()
		return prober.MTUOutcome{Result: prober.MTUResultLost, Expected: 1500, Err: ctx.Err()}
	}
	return prober.MTUOutcome{Result: prober.MTUResultOK, Expected: 1500, RTT: 200 * time.Microsecond}
}

// setSlow makes answers from ip take delay.
func (n *fakeNetwork) setSlow(ip string, delay time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.slow = map[netip.Addr]time.Duration{netip.MustParseAddr(ip): delay}
}

func (n *fakeNetwork) setDown(ips ...string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.down = map[netip.Addr]bool{}
	for _, ip := range ips {
		n.down[netip.MustParseAddr(ip)] = true
	}
}

func (n *fakeNetwork) probe(ctx context.Context, ip netip.Addr) prober.Outcome {
	n.mu.Lock()
	down, delay := n.down[ip], n.slow[ip]
	n.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return prober.Outcome{Result: prober.ResultTimeout, Err: ctx.Err()}
		}
	}
	if down {
		<-ctx.Done()
		return prober.Outcome{Result: prober.ResultTimeout, Err: ctx.Err()}
	}
	return prober.Outcome{Result: prober.ResultSuccess, RTT: 100 * time.Microsecond}
}

// testDaemon is the daemon's real composition (serve) with a fake network
// and no change to the test process's capabilities; it needs no root.
type testDaemon struct {
	socket     string
	metricsURL string
	nodesFile  string
	net        *fakeNetwork
}

// testConfig is the daemon's flag defaults, as far as a test daemon uses
// them, with the files and ports of td.
func testConfig(td *testDaemon, helloPort, webPort int) Config {
	return Config{
		NodeName: "node-1", NodesFile: td.nodesFile, NodesFilePoll: 50 * time.Millisecond,
		AdminSocket:  td.socket,
		HelloAddress: fmt.Sprintf("127.0.0.1:%d", helloPort), HelloPort: helloPort,
		Web:           &web.FlagConfig{WebListenAddresses: &[]string{fmt.Sprintf("127.0.0.1:%d", webPort)}, WebSystemdSocket: new(bool), WebConfigFile: new(string)},
		TelemetryPath: "/metrics",
		ProbeInterval: 15 * time.Second, ProbeTimeout: 100 * time.Millisecond, FailureThreshold: 3, MaxInFlight: 1024,
		MTUEvery: 4, MTURefresh: 5 * time.Minute,
		HealthNetns: healthep.DefaultNetns, HealthInterface: healthep.DefaultHostInterface,
		HealthCheckInterval: healthep.DefaultCheckInterval, HealthPodGrace: 2 * time.Minute,
		PerPeer: collector.PerPeerAuto, PerPeerAutoMax: 100, ClassicBuckets: true,
	}
}

// startTestDaemon starts a test daemon with testConfig as set changes it.
func startTestDaemon(t *testing.T, nodesYAML string, set func(*Config)) *testDaemon {
	t.Helper()
	return startTestDaemonWith(t, nodesYAML, set, func(*Deps) {})
}

// startTestDaemonWith is startTestDaemon with its Deps as setDeps changes
// them; an empty nodesYAML writes no node file.
func startTestDaemonWith(t *testing.T, nodesYAML string, set func(*Config), setDeps func(*Deps)) *testDaemon {
	t.Helper()
	dir := t.TempDir()
	td := &testDaemon{
		socket:    filepath.Join(dir, "admin.sock"),
		nodesFile: filepath.Join(dir, "nodes.yaml"),
		net:       &fakeNetwork{},
	}
	if nodesYAML != "" {
		td.writeNodes(t, nodesYAML)
	}
	webPort := testbin.FreeLoopbackPort(t)
	td.metricsURL = fmt.Sprintf("http://127.0.0.1:%d/metrics", webPort)
	cfg := testConfig(td, testbin.FreeLoopbackPort(t), webPort)
	set(&cfg)
	deps := Deps{
		Probes: func(*Config) (map[prober.Protocol]prober.ProbeFunc, func(), error) {
			return map[prober.Protocol]prober.ProbeFunc{prober.ProtocolICMP: td.net.probe, prober.ProtocolHTTP: td.net.probe}, func() {}, nil
		},
		MTUProbe: func(*Config) (prober.FullSizeProbes, func(), error) {
			return prober.FullSizeProbes{Probe: td.net.fullSize}, func() {}, nil
		},
		DropPrivileges: func(...cap.Value) (privileges.Result, error) { return privileges.Result{}, nil },
	}
	setDeps(&deps)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- Serve(ctx, cfg, log.NewNopLogger(), deps) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("serve did not return within 10 s of its context ending")
		}
	})
	return td
}

func (td *testDaemon) writeNodes(t *testing.T, yaml string) {
	t.Helper()
	tmp := td.nodesFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, td.nodesFile); err != nil {
		t.Fatal(err)
	}
}

// status runs the status command against the daemon.
func (td *testDaemon) status(t *testing.T, opts status.CLIOptions) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := status.Run(context.Background(), &out, &errOut, admin.NewClient(td.socket), opts)
	return code, out.String() + errOut.String()
}

// metrics scrapes the daemon; an error is the text, so that a wait
// retries until the web server is up.
func (td *testDaemon) metrics() string {
	resp, err := http.Get(td.metricsURL)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err.Error()
	}
	return string(body)
}

// waitHealthy waits for plain status to exit 0.
func (td *testDaemon) waitHealthy(t *testing.T) string {
	t.Helper()
	var out string
	testbin.Eventually(t, 10*time.Second, "the state the test waits for", func() error {
		why := func() string {
			var code int
			code, out = td.status(t, status.CLIOptions{})
			if code != exitcode.OK {
				return fmt.Sprintf("status exit %d", code)
			}
			return ""
		}()
		return testbin.Holds(why == "", why+":\n"+out)
	})
	return out
}

func nodesYAML(names ...int) string {
	var b strings.Builder
	b.WriteString("nodes:\n")
	for _, i := range names {
		fmt.Fprintf(&b, "  - name: node-%d\n    host_ip: 198.18.0.%d\n    health_ip: 198.19.0.%d\n", i, i, i)
	}
	return b.String()
}

// With --probe.peers, the nodes this node does not probe are not broken:
// status exits 0 and says why they are not probed, and /metrics has series
// of the probed peers only.
func TestDaemonProbePeersStatus(t *testing.T) {
	td := startTestDaemon(t, nodesYAML(1, 2, 3, 4, 5), func(c *Config) { c.ProbePeers, c.ProbeInterval = 2, 200*time.Millisecond })
	out := td.waitHealthy(t)
	for _, want := range []string{
		"Cluster health:   3/3 reachable (the 3 nodes this node probes: --probe.peers=2; 2 more not probed from here)",
		"2 nodes not probed from this node",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "not probed yet") {
		t.Errorf("status says \"not probed yet\" of nodes outside the peers:\n%s", out)
	}
	_, verbose := td.status(t, status.CLIOptions{Verbose: true})
	if n := strings.Count(verbose, "Not probed from this node: outside its 2 peers"); n != 2 {
		t.Errorf("verbose status names %d nodes outside the peers; want 2:\n%s", n, verbose)
	}

	m := td.metrics()
	peers := map[string]bool{}
	for _, line := range strings.Split(m, "\n") {
		if strings.HasPrefix(line, "connectivity_peer_reachable{") {
			_, rest, _ := strings.Cut(line, `peer="`)
			name, _, _ := strings.Cut(rest, `"`)
			peers[name] = true
		}
	}
	if len(peers) != 3 || !peers["node-1"] || !strings.Contains(m, "connectivity_nodes{source=\"node-1\"} 5") {
		t.Errorf("/metrics: per-peer series of %v, want node-1 and 2 peers; connectivity_nodes 5:\n%s", peers, grep(m, "connectivity_nodes"))
	}
}

// status --probe reports the probe it made, though the failure threshold
// (3) keeps the gauges and plain status from calling it yet.
func TestDaemonStatusProbeIsFresh(t *testing.T) {
	// A long interval: the scheduler probes each path at most once
	// during the test, so only status --probe is sure to have probed.
	td := startTestDaemon(t, nodesYAML(1, 2, 3), func(c *Config) { c.FailureThreshold, c.ProbeInterval = 3, time.Minute })
	testbin.Eventually(t, 10*time.Second, "the state the test waits for", func() error {
		why := func() string {
			if code, out := td.status(t, status.CLIOptions{Probe: true}); code != exitcode.OK {
				return fmt.Sprintf("status --probe exit %d:\n%s", code, out)
			}
			return ""
		}()
		return testbin.Holds(why == "", why)
	})
	td.net.setDown("198.18.0.3", "198.19.0.3") // node-3 cut off
	code, out := td.status(t, status.CLIOptions{Probe: true})
	for _, want := range []string{
		"View:         probed now (--probe)",
		"Diagnosis: node-3 is down or cut off: none of its 4 probed paths answers",
		"Cluster health:   2/3 reachable",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status --probe lacks %q:\n%s", want, out)
		}
	}
	if code != exitcode.Unhealthy {
		t.Errorf("status --probe exit %d; want %d", code, exitcode.Unhealthy)
	}
	// The threshold's view: one failure in a row is not yet an outage.
	code, out = td.status(t, status.CLIOptions{})
	if code != exitcode.OK || !strings.Contains(out, "failure in a row, below the failure threshold") || !strings.Contains(out, "after 3 failed probes in a row") {
		t.Errorf("plain status after one failure: exit %d:\n%s", code, out)
	}
}

// A node list without this node is rejected; the plan in force stays and
// /metrics says so until a good list comes.
func TestDaemonRejectsListWithoutLocalNode(t *testing.T) {
	td := startTestDaemon(t, nodesYAML(1, 2, 3), func(c *Config) { c.ProbeInterval = 200 * time.Millisecond })
	td.waitHealthy(t)
	td.writeNodes(t, nodesYAML(2, 3, 4))
	testbin.Eventually(t, 10*time.Second, "the state the test waits for", func() error {
		why := func() string {
			if m := td.metrics(); !strings.Contains(m, `connectivity_discovery_rejected{source="node-1"} 1`) {
				return "discovery_rejected not 1:\n" + grep(m, "connectivity_discovery")
			}
			return ""
		}()
		return testbin.Holds(why == "", why)
	})
	r, err := admin.NewClient(td.socket).Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Nodes) != 3 || r.Nodes[0].Name != "node-1" {
		t.Errorf("report after a rejected list: %+v; want the last good list", r.Nodes)
	}
	td.writeNodes(t, nodesYAML(1, 2))
	testbin.Eventually(t, 10*time.Second, "the state the test waits for", func() error {
		why := func() string {
			m := td.metrics()
			if !strings.Contains(m, `connectivity_discovery_rejected{source="node-1"} 0`) || !strings.Contains(m, `connectivity_nodes{source="node-1"} 2`) {
				return "good list not in force:\n" + grep(m, "connectivity_discovery", "connectivity_nodes")
			}
			return ""
		}()
		return testbin.Holds(why == "", why)
	})
}

// grep keeps the lines of text that contain any of words.
func grep(text string, words ...string) string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		for _, w := range words {
			if strings.Contains(line, w) {
				out = append(out, line)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}
