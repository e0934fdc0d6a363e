package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
	"github.com/connectivity-exporter/connectivity_exporter/hello"
	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// The automatic trace of a path probed without flows, against a real
// daemon in the ECMP lab: the router in the middle drops IPv4 echo
// requests only (an nftables rule in its forward chain), so the IPv4 ICMP
// path to the server goes down while HTTP and ICMPv6 answer. The daemon
// traces the path by itself (IPv4 ICMP has no flows: no fabric hashes an
// echo) and names the router as the last hop that answers, on /metrics,
// in status and in the JSON, within a few seconds of the path going down;
// a real Prometheus with the shipped rules fires ConnectivityICMPBlocked
// with the router in its trace annotation; once the rule is gone, the
// trace goes.
func TestTraceICMPPathWithoutFlows(t *testing.T) {
	requireRoot(t)
	testbin.NeedTool(t, "nft", "apt-get install nftables")
	lab := testbin.NewECMPLab(t, testbin.ECMPConfig{
		Hash4: testbin.HashPolicy{Policy: 3, Fields: testbin.HashFiveTuple},
		Hash6: testbin.HashPolicy{Policy: 3, Fields: testbin.HashFiveTuple | testbin.HashFlowLabel},
	})
	const router = "198.18.0.1" // the router's address on the client's link
	lab.ServeHello(t, hello.DefaultPort)

	sock := startECMPClientDaemon(t, lab, "--probe.mtu.every=0")
	dir := t.TempDir()
	// A real Prometheus with the shipped rules (every for: 4s) scrapes
	// the daemon, for the alerts' trace annotation; no Alertmanager
	// listens where it sends.
	rules := testbin.WriteRules(t, dir, testbin.RulePace{For: "4s"})
	prom := startPrometheusTargets(t, dir, "traceui", rules, fmt.Sprintf("http://127.0.0.1:%d", testbin.FreeLoopbackPort(t)), true,
		[]string{forwardInto(t, lab.Client, "127.0.0.1:9100")})
	client := admin.NewClient(sock)
	scrape := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		return testbin.DialIn(ctx, lab.Client, network, addr)
	}}}
	metrics := func() (testbin.Metrics, error) {
		m, _, err := testbin.ScrapeMetrics(scrape, "http://127.0.0.1:9100/metrics")
		return m, err
	}
	icmp4 := map[string]string{"peer": "server", "path": "host", "protocol": "icmp", "family": "ipv4"}
	testbin.Eventually(t, 30*time.Second, "every path to the server reachable", func() error {
		m, err := metrics()
		if err != nil {
			return err
		}
		up := m.Find("connectivity_peer_reachable", map[string]string{"peer": "server"})
		for _, s := range up {
			if s.Value != 1 {
				return fmt.Errorf("%v not reachable", s.Labels)
			}
		}
		return testbin.Holds(len(up) == 4, fmt.Sprintf("%d paths reachable, want 4", len(up)))
	})

	// The router drops IPv4 echo requests it forwards: TTL 1 still
	// expires there (time exceeded comes before the forward hook), so the
	// router is the last hop that answers.
	nft := func(script string) {
		t.Helper()
		cmd := exec.Command("ip", "netns", "exec", lab.Router, "nft", "-f", "-")
		cmd.Stdin = strings.NewReader(script)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("nft in the router: %v\n%s", err, out)
		}
	}
	nft("add table ip cxtrace\n" +
		"add chain ip cxtrace echoes { type filter hook forward priority -10; }\n" +
		"add rule ip cxtrace echoes icmp type echo-request drop\n")
	dropping := true
	t.Cleanup(func() {
		if dropping {
			_ = exec.Command("ip", "netns", "exec", lab.Router, "nft", "delete", "table", "ip", "cxtrace").Run()
		}
	})

	// /metrics every 100 ms: when the path shows down, when its trace
	// names the router.
	var down, named time.Time
	var others []string
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) && named.IsZero() {
		m, err := metrics()
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		if v, ok := m.Value("connectivity_peer_reachable", icmp4); ok && v == 0 && down.IsZero() {
			down = now
		}
		for _, s := range m.Find("connectivity_path_trace_info", map[string]string{"peer": "server"}) {
			if s.Labels["protocol"] != "icmp" || s.Labels["family"] != "ipv4" {
				others = append(others, fmt.Sprint(s.Labels))
				continue
			}
			if s.Labels["last_hop"] == router && s.Labels["last_hop_ttl"] == "1" && s.Labels["reached"] == "false" && s.Labels["flow"] == "0" {
				named = now
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if down.IsZero() || named.IsZero() {
		t.Fatalf("IPv4 ICMP down at %v, its trace naming %s at %v; status: %s", down, router, named, icmpTraceInStatus(client))
	}
	took := named.Sub(down)
	t.Logf("IPv4 ICMP path down on /metrics; its trace named the router %s after (/metrics read every 100 ms)", took.Round(100*time.Millisecond))
	if took > 5*time.Second {
		t.Errorf("the trace named the router %s after the path went down, want within 5s", took.Round(100*time.Millisecond))
	}
	if len(others) > 0 {
		t.Errorf("traces of paths that answer: %v", others)
	}
	// The other paths answer: the rule is about IPv4 echoes alone.
	if m, err := metrics(); err != nil {
		t.Fatal(err)
	} else {
		for _, s := range m.Find("connectivity_peer_reachable", map[string]string{"peer": "server"}) {
			want := 1.0
			if s.Labels["protocol"] == "icmp" && s.Labels["family"] == "ipv4" {
				want = 0
			}
			if s.Value != want {
				t.Errorf("%v reachable %g, want %g", s.Labels, s.Value, want)
			}
		}
	}
	out, _ := exec.Command(binary, "status", "--admin.socket="+sock).CombinedOutput()
	if want := "ICMP trace:      the path fails; its trace ends at " + router + " (TTL 1), silent from TTL 2"; !strings.Contains(string(out), want) {
		t.Errorf("status lacks %q:\n%s", want, out)
	}
	if got := icmpTraceInStatus(client); got != "198.19.0.1: flow 0 last hop "+router+" at TTL 1, silent from 2; " {
		t.Errorf("status -o json: IPv4 ICMP traces %q, want the path's, ending at the router", got)
	}

	// At Prometheus: ConnectivityICMPBlocked for the path, its trace
	// annotation naming the router, read from connectivity_path_trace_info.
	want := "host icmp: last hop answering " + router + " at TTL 1 (1 traced)"
	took = testbin.Eventually(t, 60*time.Second, "ConnectivityICMPBlocked with the router in its trace annotation", func() error {
		alerts, err := prom.Alerts()
		if err != nil {
			return err
		}
		var seen []string
		for _, a := range alerts {
			if a.Labels["alertname"] != "ConnectivityICMPBlocked" {
				continue
			}
			seen = append(seen, fmt.Sprintf("%s %v: %s", a.State, a.Labels, a.Annotations["trace"]))
			if a.State == "firing" && a.Labels["peer"] == "server" && a.Labels["family"] == "ipv4" && strings.Contains(a.Annotations["trace"], want) {
				return nil
			}
		}
		return fmt.Errorf("no firing ConnectivityICMPBlocked for server/ipv4 whose trace annotation says %q: %v", want, seen)
	})
	t.Logf("ConnectivityICMPBlocked firing with the router in its trace annotation %s after the trace showed", took.Round(100*time.Millisecond))

	// The router forwards echoes again: the path answers, and its trace
	// goes from /metrics and status.
	nft("delete table ip cxtrace\n")
	dropping = false
	took = testbin.Eventually(t, 30*time.Second, "the trace gone once the path answers", func() error {
		m, err := metrics()
		if err != nil {
			return err
		}
		if s := m.Find("connectivity_path_trace_info", nil); len(s) > 0 {
			return fmt.Errorf("still traced: %v", s[0].Labels)
		}
		return nil
	})
	t.Logf("the router forwards echoes again: the trace went within %s", took.Round(100*time.Millisecond))
	if got := icmpTraceInStatus(client); got != "" {
		t.Errorf("status -o json still has IPv4 ICMP traces: %q", got)
	}
	if out, _ := exec.Command(binary, "status", "--admin.socket="+sock).CombinedOutput(); strings.Contains(string(out), "trace:") {
		t.Errorf("status still shows a trace:\n%s", out)
	}
}

// icmpTraceInStatus says what the JSON of status has of the IPv4 ICMP
// host paths' traces.
func icmpTraceInStatus(client *admin.Client) string {
	rep, err := client.Status(context.Background())
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, n := range rep.Nodes {
		for _, p := range n.HostPaths() {
			if !strings.Contains(p.IP, ".") {
				continue
			}
			for _, ft := range p.ICMP.FlowTraces {
				fmt.Fprintf(&b, "%s: flow %d last hop %s at TTL %d, silent from %d; ", p.IP, ft.Flow, ft.LastHop, ft.LastHopTTL, ft.FirstSilentTTL)
			}
		}
	}
	return b.String()
}
