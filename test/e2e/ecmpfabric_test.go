package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
	"github.com/connectivity-exporter/connectivity_exporter/hello"
	"github.com/connectivity-exporter/connectivity_exporter/prober"
	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// The proof of issue 18 in a lab: real daemons on hosts whose traffic
// crosses a 4-way equal-cost group (testbin.NewECMPLab), a real
// Prometheus scraping them with the shipped rules, and Alertmanager
// notifying a test receiver. Daemon "client" probes over 8 flows,
// "client-f1" (same host) over one, as versions without flows did;
// "server" (behind the group) answers both and probes the client back on
// the direct way, which crosses no member (until the last subtest routes
// the way back over the members).

const (
	fabricFlows     = 8
	fabricThreshold = 3
	fabricInterval  = time.Second
	fabricTimeout   = 500 * time.Millisecond
)

// fabricLab is the shared lab of TestECMPFabricProof.
type fabricLab struct {
	lab          *testbin.ECMPLab
	sock, sockF1 string                 // admin sockets of client and client-f1
	metrics      map[string]string      // daemon name -> its /metrics URL from the host
	am           string                 // Alertmanager URL
	prom         *promServer            //
	hooks        *testbin.AlertReceiver //
	icmp4Member  int                    // the member every IPv4 echo crosses
	client       *admin.Client          //
	clientF1     *admin.Client          //
	flowsByPath  map[string]map[int]int // protocol/family -> flow -> member
}

// memberAddr is member i's address on the router's side, as a trace
// names it.
func memberAddr(i int, family string) string {
	if family == "ipv6" {
		return netip.MustParseAddr(fmt.Sprintf("2001:db8:1:%x::2", i)).String()
	}
	return fmt.Sprintf("198.18.1.%d", 4*i+2)
}

func TestECMPFabricProof(t *testing.T) {
	requirePrometheus(t)
	started := time.Now()
	fl := startFabricLab(t)
	t.Logf("lab, 3 daemons, Prometheus and Alertmanager up, every flow mapped, in %s", time.Since(started).Round(100*time.Millisecond))

	bad := fl.pickBadMember(t)
	t.Run("member drops everything", func(t *testing.T) { fl.dropAll(t, bad) })
	t.Run("member repaired", func(t *testing.T) { fl.repair(t, bad) })
	t.Run("member drops large packets", func(t *testing.T) { fl.dropLarge(t) })
}

func startFabricLab(t *testing.T) *fabricLab {
	t.Helper()
	lab := testbin.NewECMPLab(t, testbin.ECMPConfig{
		Hash4: testbin.HashPolicy{Policy: 3, Fields: testbin.HashFiveTuple},
		Hash6: testbin.HashPolicy{Policy: 3, Fields: testbin.HashFiveTuple | testbin.HashFlowLabel},
	})
	// Linux routers answer 6 ICMP errors, then 1 a second, per
	// destination; a fabric's switches allow far more, the lab's too.
	for _, ns := range append([]string{lab.Router}, lab.Members...) {
		testbin.NetnsExec(t, ns, "sysctl", "-q", "-w", "net.ipv4.icmp_ratelimit=0", "net.ipv6.icmp.ratelimit=0")
	}
	// client-f1 shares the client's addresses and so probes the server's
	// responder on another port (its own listens on it in the client).
	lab.ServeHello(t, hello.DefaultPort+1)

	dir := t.TempDir()
	list := func(self string) string {
		p := filepath.Join(dir, self+".yaml")
		text := fmt.Sprintf("nodes:\n  - name: %s\n    host_ips: [198.18.0.2, \"2001:db8::2\"]\n  - name: server\n    host_ips: [198.19.0.1, \"2001:db8:ffff::1\"]\n", self)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fl := &fabricLab{lab: lab, sock: filepath.Join(dir, "client.sock"), sockF1: filepath.Join(dir, "client-f1.sock"), metrics: map[string]string{}}
	common := []string{"--probe.interval=" + fabricInterval.String(), "--probe.timeout=" + fabricTimeout.String(),
		fmt.Sprintf("--probe.failure-threshold=%d", fabricThreshold), "--probe.mtu.every=2", "--metrics.per-peer=all", "--log.level=debug"}
	var targets []string
	for _, d := range []struct {
		name, ns, sock, web, hello, list string
		flows                            int
	}{
		{"client", lab.Client, fl.sock, "127.0.0.1:9100", ":4240", list("client"), fabricFlows},
		{"client-f1", lab.Client, fl.sockF1, "127.0.0.1:9101", fmt.Sprintf(":%d", hello.DefaultPort+1), list("client-f1"), 1},
		{"server", lab.Server, filepath.Join(dir, "server.sock"), "127.0.0.1:9100", ":4240", list("client"), fabricFlows},
	} {
		args := append([]string{"--node.name=" + d.name, "--nodes.file=" + d.list, "--admin.socket=" + d.sock,
			"--web.listen-address=" + d.web, "--hello.listen-address=" + d.hello, fmt.Sprintf("--probe.flows=%d", d.flows)}, common...)
		startInNetns(t, d.ns, d.name, args...)
		addr := forwardInto(t, d.ns, d.web)
		fl.metrics[d.name] = "http://" + addr + "/metrics"
		targets = append(targets, addr)
	}

	fl.hooks = testbin.StartAlertReceiver(t)
	fl.am = startAlertmanagerPace(t, dir, fl.hooks.URL, "1s", "2s")
	// One for: for every alert, so the same pace serves the partial
	// path, its absence, the node-down alerts' absence and the MTU.
	rules := testbin.WriteRules(t, dir, testbin.RulePace{For: "6s"})
	fl.prom = startPrometheusTargets(t, dir, "fabric", rules, fl.am, true, targets)

	fl.client, fl.clientF1 = admin.NewClient(fl.sock), admin.NewClient(fl.sockF1)
	for _, c := range []*admin.Client{fl.client, fl.clientF1} {
		testbin.Eventually(t, 20*time.Second, "the daemons' admin API answers", func() error { return c.Ping(context.Background()) })
	}
	// Every flow of every path answers before any fault.
	testbin.Eventually(t, 60*time.Second, "every path reachable and every flow of client's probed and ok", func() error {
		m, err := fl.scrape("client")
		if err != nil {
			return err
		}
		rep, err := fl.client.Status(context.Background())
		if err != nil {
			return err
		}
		probed := 0
		for _, n := range rep.Nodes {
			for _, p := range n.HostPaths() {
				for _, pr := range []admin.ProbeReport{p.HTTP, p.ICMP} {
					if n.Name == "server" && pr.Flows != nil && pr.Flows.Count == fabricFlows && len(pr.Flows.Failing) == 0 {
						probed += pr.Flows.Probed
					}
				}
			}
		}
		if want := 3 * fabricFlows; probed != want {
			return fmt.Errorf("%d flows of server's paths probed and ok, want %d", probed, want)
		}
		if n := len(m.Find("connectivity_peer_reachable", map[string]string{"peer": "server"})); n != 4 {
			return fmt.Errorf("%d paths to server, want 4", n)
		}
		for _, s := range m.Find("connectivity_peer_reachable", map[string]string{"peer": "server"}) {
			if s.Value != 1 {
				return fmt.Errorf("%v unreachable", s.Labels)
			}
		}
		return nil
	})
	testbin.Eventually(t, 30*time.Second, "Prometheus scraping the three daemons", func() error {
		v, err := fl.prom.Query(`count(up{job="connectivity"} == 1)`)
		return testbin.Holds(err == nil && len(v) == 1 && v[0].Value == 3, fmt.Sprint(v, err))
	})

	// Which member each flow crosses: the trace command's TTL 2.
	rep, _ := traceJSON(t, fl.sock)
	fl.flowsByPath = map[string]map[int]int{}
	fl.icmp4Member = -1
	for _, ft := range rep.Traces {
		if !ft.Reached || len(ft.Hops) != 3 {
			t.Fatalf("healthy trace %+v: want the server reached at TTL 3 through a member", ft)
		}
		m := -1
		for i := range lab.Members {
			if memberAddr(i, ft.Family) == ft.Hops[1].Addr {
				m = i
			}
		}
		if m < 0 {
			t.Fatalf("flow %s crossed %s, no member", traceKey(ft), ft.Hops[1].Addr)
		}
		pf := ft.Protocol + "/" + ft.Family
		if fl.flowsByPath[pf] == nil {
			fl.flowsByPath[pf] = map[int]int{}
		}
		fl.flowsByPath[pf][ft.Flow] = m
		if pf == "icmp/ipv4" {
			fl.icmp4Member = m
		}
	}
	t.Logf("flows per member (protocol/family: flow -> member): %v", fl.flowsByPath)
	return fl
}

// pickBadMember picks the member to break: one that IPv4 echoes (which no
// flow can spread) do not cross, that carries flows of both families, and
// none of whose paths has threshold flows in a row on it (which would read
// as the peer down until a flow answers: README, Flows).
func (fl *fabricLab) pickBadMember(t *testing.T) int {
	t.Helper()
	best, bestScore := -1, 0
	for m := range fl.lab.Members {
		if m == fl.icmp4Member {
			continue
		}
		score := fabricFlows + 1
		for _, pf := range []string{"http/ipv4", "http/ipv6", "icmp/ipv6"} {
			on, run, longest := 0, 0, 0
			for i := range 2 * fabricFlows { // cyclic runs
				if fl.flowsByPath[pf][i%fabricFlows] == m {
					run++
					longest = max(longest, min(run, fabricFlows))
				} else {
					run = 0
				}
			}
			for _, mm := range fl.flowsByPath[pf] {
				if mm == m {
					on++
				}
			}
			if longest >= fabricThreshold {
				score = 0
			}
			if pf != "icmp/ipv6" {
				score = min(score, on)
			}
		}
		if score > bestScore {
			best, bestScore = m, score
		}
	}
	if best < 0 {
		t.Fatalf("no member carries HTTP flows of both families without %d in a row (flows %v): this kernel hashes the lab so that a partial path cannot be shown without the peer-down exception (README, Flows); change the node names", fabricThreshold, fl.flowsByPath)
	}
	return best
}

// onMember counts the flows of protocol/family that cross member m.
func (fl *fabricLab) onMember(pf string, m int) int {
	n := 0
	for _, mm := range fl.flowsByPath[pf] {
		if mm == m {
			n++
		}
	}
	return n
}

func (fl *fabricLab) scrape(daemon string) (testbin.Metrics, error) {
	m, _, err := testbin.ScrapeMetrics(http.DefaultClient, fl.metrics[daemon])
	return m, err
}

func (fl *fabricLab) dropAll(t *testing.T, bad int) {
	pfs := []string{"http/ipv4", "http/ipv6", "icmp/ipv6"}
	want := map[string]int{}
	for _, pf := range pfs {
		want[pf] = fl.onMember(pf, bad)
	}
	t.Logf("member %d drops everything: it carries %v of client's %d flows per path; IPv4 echoes cross member %d", bad, want, fabricFlows, fl.icmp4Member)
	f1Before, err := fl.scrape("client-f1")
	if err != nil {
		t.Fatal(err)
	}
	mark := fl.hooks.Mark()
	if err := fl.lab.SetFault(bad, testbin.Fault{Kind: testbin.FaultDropAll}); err != nil {
		t.Fatal(err)
	}
	fault := time.Now()

	// Scrape client and client-f1 every 200 ms: when each path turns
	// partial, when a trace first names the member, and whether either
	// daemon ever calls a path unreachable.
	partialAt, tracedAt := map[string]time.Time{}, map[string]time.Time{}
	downF8, downF1, partialF1, holeF8 := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	deadline := fault.Add(time.Duration(fabricFlows+fabricThreshold+15) * fabricInterval)
	for time.Now().Before(deadline) {
		m, err := fl.scrape("client")
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		for _, s := range m.Find("connectivity_peer_reachable", map[string]string{"peer": "server"}) {
			pf := s.Labels["protocol"] + "/" + s.Labels["family"]
			if s.Value == 0 {
				downF8[pf] = true
			}
			failing, _ := m.Value("connectivity_peer_flows_failing", map[string]string{"peer": "server", "protocol": s.Labels["protocol"], "family": s.Labels["family"]})
			if _, seen := partialAt[pf]; !seen && s.Value == 1 && failing > 0 {
				partialAt[pf] = now
			}
		}
		for _, s := range m.Find("connectivity_peer_mtu_status", map[string]string{"peer": "server", "status": "blackhole"}) {
			if s.Value == 1 {
				holeF8[s.Labels["protocol"]+"/"+s.Labels["family"]] = true
			}
		}
		for _, s := range m.Find("connectivity_path_trace_info", map[string]string{"peer": "server"}) {
			pf := s.Labels["protocol"] + "/" + s.Labels["family"]
			if _, seen := tracedAt[pf]; !seen && s.Labels["last_hop"] == memberAddr(bad, s.Labels["family"]) && s.Labels["last_hop_ttl"] == "2" && s.Labels["reached"] == "false" {
				tracedAt[pf] = now
			}
		}
		f1, err := fl.scrape("client-f1")
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range f1.Find("connectivity_peer_reachable", map[string]string{"peer": "server"}) {
			if s.Value == 0 {
				downF1[s.Labels["protocol"]+"/"+s.Labels["family"]] = true
			}
		}
		for _, s := range f1.Find("connectivity_peer_flows_failing", nil) {
			partialF1[s.Labels["protocol"]+"/"+s.Labels["family"]] = true
		}
		done := true
		for _, pf := range pfs {
			if want[pf] > 0 && (partialAt[pf].IsZero() || tracedAt[pf].IsZero()) {
				done = false
			}
		}
		if done {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}

	// 8 flows: each path with flows on the member partial within F
	// intervals plus the threshold, never unreachable, and each traced to
	// the member within 5 s of that.
	bound := time.Duration(fabricFlows+fabricThreshold)*fabricInterval + fabricInterval // +1: the fault lands mid-interval
	for _, pf := range pfs {
		if want[pf] == 0 {
			if !partialAt[pf].IsZero() {
				t.Errorf("%s: no flow on member %d, yet partial", pf, bad)
			}
			continue
		}
		if partialAt[pf].IsZero() {
			t.Errorf("%s: %d flows on member %d, never partial", pf, want[pf], bad)
			continue
		}
		took := partialAt[pf].Sub(fault)
		t.Logf("%s: partial %.1f intervals after the fault (bound %d + %d, +1 as the fault lands mid-interval)", pf, took.Seconds()/fabricInterval.Seconds(), fabricFlows, fabricThreshold)
		if took > bound {
			t.Errorf("%s: partial %s after the fault, want within %s", pf, took, bound)
		}
		if tracedAt[pf].IsZero() {
			t.Errorf("%s: no trace named member %d (%s)", pf, bad, memberAddr(bad, strings.Split(pf, "/")[1]))
			continue
		}
		lag := tracedAt[pf].Sub(partialAt[pf])
		t.Logf("%s: the trace named member %d %s after the partial path showed", pf, bad, lag.Round(100*time.Millisecond))
		if lag > 5*time.Second {
			t.Errorf("%s: the trace named the member %s after detection, want within 5s", pf, lag)
		}
	}
	for pf := range downF8 {
		if pf != "icmp/ipv4" {
			t.Errorf("client (8 flows): %s to server turned unreachable on a partial fault", pf)
		}
	}
	if downF8["icmp/ipv4"] {
		t.Errorf("client: icmp/ipv4 unreachable, though IPv4 echoes cross member %d, not %d", fl.icmp4Member, bad)
	}

	// status: the failing flows per path (JSON), each flow on the member
	// once it has failed past the threshold (the first one makes the path
	// partial, the others follow one interval or so apart), and the
	// diagnosis (text).
	testbin.Eventually(t, time.Duration(fabricFlows*fabricThreshold)*fabricInterval, "status names every flow crossing the member as failing", func() error {
		rep, err := fl.client.Status(context.Background())
		if err != nil {
			return err
		}
		for _, n := range rep.Nodes {
			if n.Name != "server" {
				continue
			}
			for _, p := range n.HostPaths() {
				fam := "ipv4"
				if strings.Contains(p.IP, ":") {
					fam = "ipv6"
				}
				for proto, pr := range map[string]admin.ProbeReport{"http": p.HTTP, "icmp": p.ICMP} {
					pf := proto + "/" + fam
					got := 0
					if pr.Flows != nil {
						got = len(pr.Flows.Failing)
					}
					if got != want[pf] {
						return fmt.Errorf("%s to server has %d failing flows, want %d (those crossing member %d)", pf, got, want[pf], bad)
					}
					if want[pf] > 0 && pr.Status != admin.StatusPartial {
						return fmt.Errorf("%s to server is %q, want %q", pf, pr.Status, admin.StatusPartial)
					}
				}
			}
		}
		return nil
	})
	t.Logf("status named every flow on the member by %.1f intervals after the fault", time.Since(fault).Seconds()/fabricInterval.Seconds())
	out, _ := exec.Command(binary, "status", "--admin.socket="+fl.sock).CombinedOutput()
	for _, pf := range []string{"http/ipv4", "http/ipv6"} {
		if want[pf] == 0 {
			continue
		}
		if s := fmt.Sprintf("%d of %d flows to server fail", want[pf], fabricFlows); !strings.Contains(string(out), s) {
			t.Errorf("status does not say %q (%s):\n%s", s, pf, out)
		}
	}
	for _, fam := range []string{"ipv4", "ipv6"} {
		if s := " at " + memberAddr(bad, fam) + " (TTL 2), silent from TTL 3"; want["http/"+fam] > 0 && !strings.Contains(string(out), s) {
			t.Errorf("status shows no trace ending%s:\n%s", s, out)
		}
	}
	if s := "one member of an equal-cost group drops"; !strings.Contains(string(out), s) {
		t.Errorf("status does not diagnose %q:\n%s", s, out)
	}
	t.Logf("status:\n%s", out)

	// Alertmanager: the partial path, per family with flows on the
	// member, and no node-down alert about the server or from client.
	testbin.Eventually(t, 60*time.Second, "ConnectivityPathPartial notified for each family", func() error {
		fams := map[string]bool{}
		for _, a := range fl.hooks.Firing(mark, "/warning") {
			if a["alertname"] == "ConnectivityPathPartial" && a["source"] == "client" && a["peer"] == "server" {
				fams[a["family"]] = true
			}
		}
		for _, fam := range []string{"ipv4", "ipv6"} {
			if want["http/"+fam]+want["icmp/"+fam] > 0 && !fams[fam] {
				return fmt.Errorf("families notified %v; received:\n%s", fams, fl.hooks.Summary(mark))
			}
		}
		return nil
	})
	// Nor is the member an MTU black hole: full-size probes carry no
	// flow's identity, and may cross it while small ones pass on others.
	m, err := fl.scrape("client")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range m.Find("connectivity_peer_mtu_status", map[string]string{"peer": "server", "status": "blackhole"}) {
		if s.Value == 1 {
			holeF8[s.Labels["protocol"]+"/"+s.Labels["family"]] = true
		}
	}
	if len(holeF8) > 0 {
		t.Errorf("a member dropping everything read as an MTU black hole on %v", holeF8)
	}
	nodeDown := map[string]bool{"ConnectivityMTUBlackHole": true, "ConnectivityNodeUnreachable": true, "ConnectivityPeerUnreachable": true, "ConnectivityHostUnreachable": true,
		"ConnectivityNodeIsolated": true, "ConnectivityNodeEndpointsCutOff": true}
	for _, path := range []string{"/critical", "/warning", "/default"} {
		for _, a := range fl.hooks.Firing(mark, path) {
			if nodeDown[a["alertname"]] && (a["source"] == "client" || a["peer"] == "server" && a["source"] == "") {
				t.Errorf("node-down (or MTU) alert notified on a partial fault: %s", testbin.LabelKey(a))
			}
			if a["alertname"] == "ConnectivityPathPartial" && a["source"] != "client" {
				t.Errorf("partial path alert from %s: %s", a["source"], testbin.LabelKey(a))
			}
		}
	}

	// One flow (client-f1, same host, same fault): never partial; what
	// it saw per path follows the hash. IPv4 echoes cross member
	// icmp4Member for every daemon (addresses only), so that path must
	// see nothing; the others are reported as they went.
	f1After, err := fl.scrape("client-f1")
	if err != nil {
		t.Fatal(err)
	}
	if len(partialF1) > 0 {
		t.Errorf("client-f1 (1 flow) exported flows failing: %v", partialF1)
	}
	for _, pf := range []string{"http/ipv4", "http/ipv6", "icmp/ipv4", "icmp/ipv6"} {
		proto, fam, _ := strings.Cut(pf, "/")
		failed := probesFailed(f1After, proto, fam) - probesFailed(f1Before, proto, fam)
		total := probesAll(f1After, proto, fam) - probesAll(f1Before, proto, fam)
		verdict := "missed (no probe failed)"
		switch {
		case downF1[pf]:
			verdict = "misread as unreachable"
		case failed > 0:
			verdict = "scattered failures, path up"
		}
		t.Logf("client-f1 %s: %v of %v probes failed: %s", pf, failed, total, verdict)
		if pf == "icmp/ipv4" && (failed > 0 || downF1[pf]) {
			t.Errorf("client-f1 icmp/ipv4: %v probes failed (unreachable %v), yet its echoes cross member %d, not %d", failed, downF1[pf], fl.icmp4Member, bad)
		}
		if downF1[pf] && failed < fabricThreshold {
			t.Errorf("client-f1 %s: unreachable after %v failures, threshold %d", pf, failed, fabricThreshold)
		}
	}
	f1Status, _ := exec.Command(binary, "status", "--admin.socket="+fl.sockF1).CombinedOutput()
	if strings.Contains(string(f1Status), "equal-cost") || strings.Contains(string(f1Status), "Partial") {
		t.Errorf("client-f1 (1 flow) status shows a partial path:\n%s", f1Status)
	}
	notified := map[string][]string{}
	for _, path := range []string{"/critical", "/warning", "/default"} {
		for _, a := range fl.hooks.Firing(mark, path) {
			notified[a["source"]] = append(notified[a["source"]], a["alertname"]+"{"+strings.TrimSpace(a["protocol"]+" "+a["family"])+"}")
		}
	}
	t.Logf("notified by source so far: %v", notified)
}

func probesFailed(m testbin.Metrics, proto, fam string) float64 {
	return probesAll(m, proto, fam) - probesWith(m, proto, fam, "success")
}

func probesAll(m testbin.Metrics, proto, fam string) float64 { return probesWith(m, proto, fam, "") }

func probesWith(m testbin.Metrics, proto, fam, result string) float64 {
	match := map[string]string{"peer": "server", "path": "host", "protocol": proto, "family": fam}
	if result != "" {
		match["result"] = result
	}
	sum := 0.0
	for _, s := range m.Find("connectivity_peer_probes_total", match) {
		sum += s.Value
	}
	return sum
}

func (fl *fabricLab) repair(t *testing.T, bad int) {
	mark := fl.hooks.Mark()
	if err := fl.lab.SetFault(bad, testbin.Fault{}); err != nil {
		t.Fatal(err)
	}
	repaired := time.Now()
	took := testbin.Eventually(t, 60*time.Second, "no flow failing, no partial path, no trace", func() error {
		m, err := fl.scrape("client")
		if err != nil {
			return err
		}
		for _, name := range []string{"connectivity_peer_flows_failing", "connectivity_partial_peers"} {
			for _, s := range m.Find(name, nil) {
				if s.Value != 0 {
					return fmt.Errorf("%s %v = %v", name, s.Labels, s.Value)
				}
			}
		}
		if tr := m.Find("connectivity_path_trace_info", nil); len(tr) > 0 {
			return fmt.Errorf("%d traces left", len(tr))
		}
		return nil
	})
	t.Logf("repaired: flows, partial path and traces cleared %s after the repair", took.Round(100*time.Millisecond))
	testbin.Eventually(t, 60*time.Second, "ConnectivityPathPartial resolved at Alertmanager", func() error {
		for _, a := range fl.hooks.Resolved(mark, "/warning") {
			if a["alertname"] == "ConnectivityPathPartial" {
				active, err := testbin.AlertmanagerAPI{URL: fl.am}.Alerts()
				if err != nil {
					return err
				}
				for _, b := range active {
					if b.Labels["alertname"] == "ConnectivityPathPartial" {
						return fmt.Errorf("resolved notified, but Alertmanager still holds %v", b.Labels)
					}
				}
				return nil
			}
		}
		return fmt.Errorf("received since the repair:\n%s", fl.hooks.Summary(mark))
	})
	t.Logf("the alert resolved %s after the repair", time.Since(repaired).Round(100*time.Millisecond))
}

// dropLarge: members drop IP packets over 1,400 bytes, in both
// directions: the way back is routed over the members first
// (RouteBackViaMembers), as a fabric's is, so that a server's full-size
// HTTP answers cross them too. The members broken: the one IPv4 echoes
// cross (whose paths then lose every full-size echo: a black hole of the
// whole path), and as few more as make every path with flows have a flow
// over a broken member, where only those flows lose their full-size
// probes. Small probes and every flow still answer, so nothing is partial;
// each of the four paths to server is an MTU black hole (per flow where it
// has flows: README, Full-size probes) within the bound of the full-size
// turns: every flow crossed by a turn within 2 groups of turns
// (fullSizeSpan: 15 intervals at --probe.mtu.every=2 and 8 flows), its
// loss confirmed at once.
func (fl *fabricLab) dropLarge(t *testing.T) {
	if err := fl.lab.RouteBackViaMembers(); err != nil {
		t.Fatal(err)
	}
	// The last subtest: the lab goes with the test, the way back with it.
	back := fl.learnWayBack(t)
	t.Logf("HTTP flows' way back (family: flow -> member): %v", back)
	over := map[string]map[int]int{
		"icmp/ipv6": fl.flowsByPath["icmp/ipv6"], // the way there
		"http/ipv4": back["ipv4"],
		"http/ipv6": back["ipv6"],
	}
	broken := map[int]bool{fl.icmp4Member: true}
	for _, pf := range []string{"http/ipv4", "http/ipv6", "icmp/ipv6"} {
		hit := false
		for _, m := range over[pf] {
			hit = hit || broken[m]
		}
		if !hit {
			broken[over[pf][0]] = true
		}
	}
	onBroken := map[string]int{}
	for pf, flows := range over {
		for _, m := range flows {
			if broken[m] {
				onBroken[pf]++
			}
		}
	}
	t.Logf("members dropping packets over 1,400 bytes: %v; flows over them: %v of %d", broken, onBroken, fabricFlows)
	// The echo replies' way back is the server kernel's choice, one member
	// for every label of a path: if it is broken, every ICMPv6 flow loses
	// its full-size echoes.
	onBroken["icmp/ipv6"] = fabricFlows
	faulted := time.Now()
	for m := range broken {
		if err := fl.lab.SetFault(m, testbin.Fault{Kind: testbin.FaultDropLarger, MaxBytes: 1400}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = fl.lab.SetFault(m, testbin.Fault{}) })
	}
	mark := fl.hooks.Mark()
	// Every flow crossed by a full-size turn within 2 groups of 15
	// intervals, plus the loss's confirmation (2 timeouts) and a scrape.
	bound := 2*(fabricFlows*2-1)*fabricInterval + 2*fabricTimeout + 2*fabricInterval
	found := map[string]time.Duration{}
	testbin.Eventually(t, bound+30*time.Second, "every path to server an MTU black hole", func() error {
		mm, err := fl.scrape("client")
		if err != nil {
			return err
		}
		for _, s := range mm.Find("connectivity_peer_mtu_status", map[string]string{"peer": "server", "status": "blackhole"}) {
			pf := s.Labels["protocol"] + "/" + s.Labels["family"]
			if _, ok := found[pf]; !ok && s.Value == 1 {
				found[pf] = time.Since(faulted)
			}
		}
		return testbin.Holds(len(found) == 4, fmt.Sprint(mm.Find("connectivity_peer_mtu_status", map[string]string{"peer": "server"})))
	})
	for pf, took := range found {
		intervals := float64(took) / float64(fabricInterval)
		t.Logf("%s an MTU black hole %s (%.1f intervals) after the fault (bound %s)", pf, took.Round(100*time.Millisecond), intervals, bound)
		if took > bound {
			t.Errorf("%s an MTU black hole after %s, over the bound of %s", pf, took.Round(100*time.Millisecond), bound)
		}
	}
	// Hold for another full sweep of the flows and more: nothing
	// partial, nothing failing, the small probes all up; the paths with
	// flows say how many of them are black holes.
	time.Sleep(time.Duration(fabricFlows+fabricThreshold) * fabricInterval)
	mm, err := fl.scrape("client")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range mm.Find("connectivity_peer_flows_failing", map[string]string{"peer": "server"}) {
		if s.Value != 0 {
			t.Errorf("large packets dropped: %v flows failing on %v, want none (small probes pass)", s.Value, s.Labels)
		}
	}
	for _, s := range mm.Find("connectivity_peer_reachable", map[string]string{"peer": "server"}) {
		if s.Value != 1 {
			t.Errorf("large packets dropped: %v unreachable", s.Labels)
		}
	}
	for _, s := range mm.Find("connectivity_peer_mtu_status", map[string]string{"peer": "server"}) {
		if s.Value == 1 && s.Labels["status"] != "blackhole" {
			t.Errorf("%s/%s full-size verdict %q, want blackhole", s.Labels["protocol"], s.Labels["family"], s.Labels["status"])
		}
	}
	for pf, n := range onBroken {
		p := strings.Split(pf, "/")
		s := mm.Find("connectivity_peer_mtu_blackhole_flows", map[string]string{"peer": "server", "protocol": p[0], "family": p[1]})
		if len(s) != 1 || s[0].Value < 1 || int(s[0].Value) > n {
			t.Errorf("%s: connectivity_peer_mtu_blackhole_flows %v, want 1 to %d (the flows over a broken member)", pf, s, n)
		} else {
			t.Logf("%s: %v of %d flows over a broken member black holes", pf, s[0].Value, n)
		}
	}
	out, _ := exec.Command(binary, "status", "--admin.socket="+fl.sock).CombinedOutput()
	if !strings.Contains(string(out), "an MTU black hole") || strings.Contains(string(out), "equal-cost group drops") {
		t.Errorf("status should diagnose an MTU black hole, not a partial path:\n%s", out)
	}
	testbin.Eventually(t, 60*time.Second, "ConnectivityMTUBlackHole notified, no partial path", func() error {
		for _, path := range []string{"/critical", "/warning", "/default"} {
			for _, a := range fl.hooks.Firing(mark, path) {
				if a["alertname"] == "ConnectivityPathPartial" {
					t.Errorf("partial path notified for large packets dropped: %s", testbin.LabelKey(a))
				}
				if a["alertname"] == "ConnectivityMTUBlackHole" && a["source"] == "client" && a["peer"] == "server" {
					return nil
				}
			}
		}
		return fmt.Errorf("received:\n%s", fl.hooks.Summary(mark))
	})
	t.Logf("status:\n%s", out)
}

// learnWayBack says which member each of client's HTTP flows to server
// comes back over, per family, once the way back crosses the members:
// the members' record of the client's ports on the way back, after every
// flow was probed again.
func (fl *fabricLab) learnWayBack(t *testing.T) map[string]map[int]int {
	t.Helper()
	ids := prober.FlowConfig{Flows: fabricFlows, FlowKey: "client"}.FlowIdentities(
		prober.Target{Peer: "server", Path: prober.PathHost, Protocol: prober.ProtocolHTTP, IP: testbin.ECMPServer4}, fabricFlows)
	port := map[uint32]int{}
	for i, f := range ids {
		port[uint32(f.SourcePort)] = i
	}
	out := map[string]map[int]int{}
	testbin.Eventually(t, time.Duration(3*fabricFlows)*fabricInterval+10*time.Second, "every HTTP flow of client seen on the way back, over one member", func() error {
		if err := fl.lab.Reset(); err != nil {
			return err
		}
		time.Sleep(time.Duration(fabricFlows+1) * fabricInterval)
		for fam, key := range map[string]string{"ipv4": testbin.SeenBackTCPDestPort4, "ipv6": testbin.SeenBackTCPDestPort6} {
			seen, err := fl.lab.Seen(key)
			if err != nil {
				return err
			}
			out[fam] = map[int]int{}
			for p, members := range seen {
				i, ok := port[p]
				if !ok {
					continue // client-f1's ports, and the server's own probes
				}
				if len(members) != 1 {
					return fmt.Errorf("%s flow %d came back over members %v, want one", fam, i, members)
				}
				out[fam][i] = members[0]
			}
			if len(out[fam]) != fabricFlows {
				return fmt.Errorf("%s: %d of %d flows seen on the way back", fam, len(out[fam]), fabricFlows)
			}
		}
		return nil
	})
	return out
}

// startInNetns runs the exporter in ns until the test ends.
func startInNetns(t *testing.T, ns, name string, args ...string) {
	t.Helper()
	var logs testbin.Buffer
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, binary}, args...)...)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s log (tail):\n%s", name, tail(logs.String(), 30))
		}
	})
}

// forwardInto listens on the host's loopback and forwards each connection
// to addr in ns (where Prometheus cannot go), until the test ends.
func forwardInto(t *testing.T, ns, addr string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				up, err := testbin.DialIn(ctx, ns, "tcp", addr)
				cancel()
				if err != nil {
					return
				}
				defer up.Close()
				go func() { _, _ = io.Copy(up, c); up.(*net.TCPConn).CloseWrite() }()
				_, _ = io.Copy(c, up)
			}()
		}
	}()
	return ln.Addr().String()
}

// All members healthy, probed fast: no flow ever fails past the threshold,
// so no path is partial, over 1,000+ probes of every flow. The client
// probes over the default 8 flows every 5 ms (no full-size probes); the
// server is a passive daemon (it only answers /hello). Bounded: it stops
// once every flow had its 1,000 probes, or after 3 minutes.
func TestECMPFabricHealthyNoPartialPath(t *testing.T) {
	requireRoot(t)
	testbin.SkipShort(t, "probes an ECMP lab for a minute")
	const (
		perFlow  = 1000
		interval = 5 * time.Millisecond
	)
	lab := testbin.NewECMPLab(t, testbin.ECMPConfig{
		Hash4: testbin.HashPolicy{Policy: 3, Fields: testbin.HashFiveTuple},
		Hash6: testbin.HashPolicy{Policy: 3, Fields: testbin.HashFiveTuple | testbin.HashFlowLabel},
	})
	dir := t.TempDir()
	list := filepath.Join(dir, "nodes.yaml")
	if err := os.WriteFile(list, []byte("nodes:\n  - name: client\n    host_ips: [198.18.0.2, \"2001:db8::2\"]\n  - name: server\n    host_ips: [198.19.0.1, \"2001:db8:ffff::1\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	startInNetns(t, lab.Server, "server", "--node.name=server", "--nodes.file="+list, "--admin.socket="+filepath.Join(dir, "server.sock"),
		"--web.listen-address=127.0.0.1:9100", "--probe.passive")
	startInNetns(t, lab.Client, "client", "--node.name=client", "--nodes.file="+list, "--admin.socket="+filepath.Join(dir, "client.sock"),
		"--web.listen-address=127.0.0.1:9100", "--probe.interval="+interval.String(), "--probe.timeout=1s",
		fmt.Sprintf("--probe.failure-threshold=%d", fabricThreshold), fmt.Sprintf("--probe.flows=%d", fabricFlows), "--probe.mtu.every=0")
	metricsURL := "http://" + forwardInto(t, lab.Client, "127.0.0.1:9100") + "/metrics"

	flowPaths := []string{"http/ipv4", "http/ipv6", "icmp/ipv6"}
	started := time.Now()
	deadline := started.Add(3 * time.Minute)
	partialSeen := map[string]bool{}
	polls := 0
	var m testbin.Metrics
	for {
		var err error
		m, _, err = testbin.ScrapeMetrics(http.DefaultClient, metricsURL)
		if err != nil {
			if time.Now().After(deadline) {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond)
			continue
		}
		polls++
		for _, s := range m.Find("connectivity_peer_flows_failing", map[string]string{"peer": "server"}) {
			if s.Value != 0 {
				partialSeen[s.Labels["protocol"]+"/"+s.Labels["family"]] = true
			}
		}
		for _, s := range m.Find("connectivity_partial_peers", nil) {
			if s.Value != 0 {
				partialSeen[s.Labels["protocol"]+"/"+s.Labels["family"]] = true
			}
		}
		done := true
		for _, pf := range flowPaths {
			proto, fam, _ := strings.Cut(pf, "/")
			if probesAll(m, proto, fam) < perFlow*fabricFlows {
				done = false
			}
		}
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	took := time.Since(started)
	for _, pf := range flowPaths {
		proto, fam, _ := strings.Cut(pf, "/")
		all, failed := probesAll(m, proto, fam), probesFailed(m, proto, fam)
		results := map[string]float64{}
		for _, s := range m.Find("connectivity_peer_probes_total", map[string]string{"peer": "server", "protocol": proto, "family": fam}) {
			if s.Value > 0 && s.Labels["result"] != "success" {
				results[s.Labels["result"]] += s.Value
			}
		}
		t.Logf("%s: %v probes (%.0f per flow), %v failed %v, in %s", pf, all, all/fabricFlows, failed, results, took.Round(time.Second))
		if all < perFlow*fabricFlows {
			t.Errorf("%s: %v probes in %s, want %d per flow (%d)", pf, all, took.Round(time.Second), perFlow, perFlow*fabricFlows)
		}
		if partialSeen[pf] {
			t.Errorf("%s: partial with every member healthy (%v of %v probes failed)", pf, failed, all)
		}
		if v, _ := m.Value("connectivity_flows", map[string]string{"protocol": proto, "family": fam, "status": "failing"}); v != 0 {
			t.Errorf("%s: %v flows failing at the end", pf, v)
		}
	}
	t.Logf("%d scrapes, none showed a failing flow", polls)
}
