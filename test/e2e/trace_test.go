package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
	"github.com/connectivity-exporter/connectivity_exporter/exitcode"
	"github.com/connectivity-exporter/connectivity_exporter/hello"
	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// The trace command against a real daemon in an ECMP lab: the daemon runs
// in the lab's client, the server (a /hello responder) sits behind a
// 4-way equal-cost group whose router hashes the 5-tuple (and the IPv6
// flow label). `trace server --flows 8` shows the flows fanning out over
// the members and reaching the server; once one member drops everything it
// forwards, the flows hashed onto it end at that member (the last hop that
// answers) and every other flow still reaches the server.

func TestTraceCommandInECMPLab(t *testing.T) {
	requireRoot(t)
	lab := testbin.NewECMPLab(t, testbin.ECMPConfig{
		Hash4: testbin.HashPolicy{Policy: 3, Fields: testbin.HashFiveTuple},
		Hash6: testbin.HashPolicy{Policy: 3, Fields: testbin.HashFiveTuple | testbin.HashFlowLabel},
	})
	// The routers keep Linux's ICMP rate limits (an IPv4 destination gets
	// a burst of 6 errors, then 1 a second): the router sees 9 IPv4
	// flows at TTL 1, each member at most 4 at TTL 2 (the hash of these
	// ports is fixed), and the checks below read TTL 2 and the end.
	lab.ServeHello(t, hello.DefaultPort)

	sock := startECMPClientDaemon(t, lab)
	client := admin.NewClient(sock)
	testbin.Eventually(t, 20*time.Second, "the daemon's admin API answers", func() error {
		return client.Ping(context.Background())
	})

	// An unknown node is a usage error, said plainly.
	if _, stderr, code := runTrace(t, sock, "nosuch"); code != exitcode.Usage || !strings.Contains(stderr, `unknown node "nosuch"`) {
		t.Errorf("trace nosuch: exit %d, %q", code, stderr)
	}

	healthy, code := traceJSON(t, sock)
	if code != exitcode.OK {
		t.Fatalf("healthy lab: exit %d, want %d", code, exitcode.OK)
	}
	// Per path: 1 trace for IPv4 ICMP, 8 for the others, every one
	// reaching the server at TTL 3 through the router and a member;
	// TCP flows and labelled IPv6 echoes spread over the members.
	via := map[string]string{} // trace key -> member address at TTL 2
	spread := map[string]map[string]bool{}
	for _, ft := range healthy.Traces {
		if !ft.Reached || ft.LastHopTTL != 3 || len(ft.Hops) != 3 || ft.Hops[1].Kind != "time_exceeded" {
			t.Fatalf("healthy trace %+v: want the server reached at TTL 3 through a member", ft)
		}
		via[traceKey(ft)] = ft.Hops[1].Addr
		pk := ft.Protocol + "/" + ft.Family
		if spread[pk] == nil {
			spread[pk] = map[string]bool{}
		}
		spread[pk][ft.Hops[1].Addr] = true
	}
	if len(healthy.Traces) != 1+3*8 {
		t.Fatalf("%d traces, want 25 (8 flows of 3 paths, 1 of IPv4 ICMP)", len(healthy.Traces))
	}
	for _, pk := range []string{"http/ipv4", "http/ipv6", "icmp/ipv6"} {
		if len(spread[pk]) < 2 {
			t.Errorf("%s: 8 flows crossed members %v only: no fan-out", pk, spread[pk])
		}
	}
	t.Logf("healthy: 25 traces in %s", healthy.Duration)

	// The member of IPv4 HTTP flow 0 drops everything it forwards.
	var bad4 string
	for _, ft := range healthy.Traces {
		if ft.Protocol == "http" && ft.Family == "ipv4" && ft.Flow == 0 {
			bad4 = ft.Hops[1].Addr
		}
	}
	bad := -1
	for i := range lab.Members {
		if fmt.Sprintf("198.18.1.%d", 4*i+2) == bad4 {
			bad = i
		}
	}
	if bad < 0 {
		t.Fatalf("TTL 2 of flow 0 answered from %s, no member", bad4)
	}
	bad6 := fmt.Sprintf("2001:db8:1:%x::2", bad)
	if err := lab.SetFault(bad, testbin.Fault{Kind: testbin.FaultDropAll}); err != nil {
		t.Fatal(err)
	}
	faulty, code := traceJSON(t, sock)
	if code != exitcode.Unhealthy {
		t.Errorf("with member %d dropping: exit %d, want %d", bad, code, exitcode.Unhealthy)
	}
	dark := 0
	for _, ft := range faulty.Traces {
		member := via[traceKey(ft)]
		if member == bad4 || member == bad6 {
			dark++
			if ft.Reached || ft.LastHop != member || ft.LastHopTTL != 2 || ft.FirstSilentTTL != 3 {
				t.Errorf("flow %s on the dropping member: %+v, want it as the last hop, TTL 3 silent", traceKey(ft), ft)
			}
		} else if !ft.Reached {
			t.Errorf("flow %s on healthy member %s: %+v, want the server reached", traceKey(ft), member, ft)
		}
	}
	if dark == 0 {
		t.Fatal("no flow crossed the dropping member")
	}
	t.Logf("member %d dropping: %d of %d flows end there; traced in %s", bad, dark, len(faulty.Traces), faulty.Duration)

	// The text names the member as where the dark flows end.
	out, _, code := runTrace(t, sock, "server", "--flows=8")
	if want := fmt.Sprintf("last hop %s at TTL 2, silent from TTL 3", bad4); code != exitcode.Unhealthy || !strings.Contains(out, want) {
		t.Errorf("trace server: exit %d, want a line with %q:\n%s", code, want, out)
	}
	t.Logf("trace server --flows=8:\n%s", out)

	// The daemon (--probe.flows=8) traces the failing flows by itself:
	// each HTTP flow on the dropping member, in the metrics and status,
	// with the member as its last hop.
	want := map[string]string{} // flow index -> the member's address, per family
	for _, ft := range healthy.Traces {
		if ft.Protocol == "http" && (ft.Hops[1].Addr == bad4 || ft.Hops[1].Addr == bad6) {
			want[ft.Family+"/"+fmt.Sprint(ft.Flow)] = ft.Hops[1].Addr
		}
	}
	scrape := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		return testbin.DialIn(ctx, lab.Client, network, addr)
	}}}
	traced := func() (map[string]string, error) {
		m, _, err := testbin.ScrapeMetrics(scrape, "http://127.0.0.1:9100/metrics")
		if err != nil {
			return nil, err
		}
		got := map[string]string{}
		for _, s := range m.Find("connectivity_path_trace_info", map[string]string{"protocol": "http"}) {
			got[s.Labels["family"]+"/"+s.Labels["flow"]] = s.Labels["last_hop"]
		}
		return got, nil
	}
	// A path with half its flows dark may turn unreachable for a while,
	// which clears its flows' failures when it answers again (the flows'
	// state is the scheduler's): the series come and go with the flows
	// failing, so what the scrapes saw is gathered, and every flow seen
	// must be on the member and name it.
	seen := map[string]string{}
	took := testbin.Eventually(t, 90*time.Second, "connectivity_path_trace_info names the member for HTTP flows on it, both families", func() error {
		got, err := traced()
		if err != nil {
			return err
		}
		for k, hop := range got {
			if hop != want[k] {
				return fmt.Errorf("flow %s traced to last hop %q, want %q (flows on the member: %v)", k, hop, want[k], want)
			}
			seen[k] = hop
		}
		families := map[string]bool{}
		for k := range seen {
			families[strings.Split(k, "/")[0]] = true
		}
		if len(families) < 2 {
			return fmt.Errorf("traced flows so far (family/flow: last hop) %v, want both families' of %v; status: %s", seen, want, flowsInStatus(client))
		}
		return nil
	})
	t.Logf("the daemon traced HTTP flows %v on member %d (%s after the trace command ended)", seen, bad, took.Round(time.Second))
	testbin.Eventually(t, 30*time.Second, "status shows a failing flow's trace ending at the member", func() error {
		out, err := exec.Command(binary, "status", "--admin.socket="+sock).CombinedOutput()
		if !strings.Contains(string(out), "HTTP trace:      flow") || !strings.Contains(string(out), " at "+bad4+" (TTL 2), silent from TTL 3") {
			return fmt.Errorf("status (exit: %w) shows no trace ending at %s:\n%s", err, bad4, out)
		}
		return nil
	})

	// Healed: the flows answer again, and their traces go.
	if err := lab.SetFault(bad, testbin.Fault{}); err != nil {
		t.Fatal(err)
	}
	took = testbin.Eventually(t, 90*time.Second, "connectivity_path_trace_info gone once the member forwards again", func() error {
		got, err := traced()
		if err != nil {
			return err
		}
		if len(got) > 0 {
			return fmt.Errorf("still traced: %v", got)
		}
		return nil
	})
	t.Logf("healed: the traces went within %s", took.Round(time.Second))

	// From detection to the member named: another member drops; status
	// is read every 200 ms for when each flow first shows failing past
	// the threshold, and when its trace first names the member.
	second, most := -1, 0
	for i := range lab.Members {
		n := 0
		for _, ft := range healthy.Traces {
			if ft.Protocol == "http" && (ft.Hops[1].Addr == fmt.Sprintf("198.18.1.%d", 4*i+2) || ft.Hops[1].Addr == fmt.Sprintf("2001:db8:1:%x::2", i)) {
				n++
			}
		}
		if i != bad && n > most {
			second, most = i, n
		}
	}
	if second < 0 {
		t.Fatalf("every HTTP flow crossed member %d", bad)
	}
	if err := lab.SetFault(second, testbin.Fault{Kind: testbin.FaultDropAll}); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lab.SetFault(second, testbin.Fault{}) }()
	members := map[string]bool{fmt.Sprintf("198.18.1.%d", 4*second+2): true, fmt.Sprintf("2001:db8:1:%x::2", second): true}
	// A flow counts once it has been failing past the threshold for 5 s
	// (lastFailing): the scheduler may clear a flow's failures sooner
	// (see above), before any trace could end.
	detected, lastFailing, named := map[string]time.Time{}, map[string]time.Time{}, map[string]time.Time{}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) && len(named) < 3 {
		rep, err := client.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		for _, n := range rep.Nodes {
			for _, p := range n.HostPaths() {
				if p.HTTP.Flows != nil {
					for _, f := range p.HTTP.Flows.Failing {
						key := p.IP + "/" + fmt.Sprint(f.Index)
						if _, ok := detected[key]; !ok {
							detected[key] = now
						}
						lastFailing[key] = now
					}
				}
				for _, ft := range p.HTTP.FlowTraces {
					key := p.IP + "/" + fmt.Sprint(ft.Flow)
					if _, ok := named[key]; !ok && members[ft.LastHop] && ft.LastHopTTL == 2 {
						named[key] = now
					}
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	var worst time.Duration
	counted := 0
	for k, d := range detected {
		n, ok := named[k]
		switch {
		case ok && n.Sub(d) <= lastFailing[k].Sub(d):
			worst = max(worst, n.Sub(d))
			counted++
		case lastFailing[k].Sub(d) >= 5*time.Second:
			t.Errorf("flow %s failing from %s to %s, its trace named the member at %v", k, d.Format(time.StampMilli), lastFailing[k].Format(time.StampMilli), n)
		}
	}
	if counted == 0 {
		t.Fatalf("member %d dropping: flows failing %v, traces naming it %v", second, detected, named)
	}
	t.Logf("member %d dropping: %d HTTP flows failing, each named by its trace within %s of detection (status read every 200 ms)", second, counted, worst.Round(100*time.Millisecond))
	if worst > 5*time.Second {
		t.Errorf("a flow's trace named the member %s after its detection, want within 5s", worst.Round(100*time.Millisecond))
	}
}

// flowsInStatus says which HTTP flows status has failing and traced.
func flowsInStatus(client *admin.Client) string {
	rep, err := client.Status(context.Background())
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, n := range rep.Nodes {
		for _, p := range n.HostPaths() {
			fmt.Fprintf(&b, "%s %s:", p.IP, p.HTTP.Status)
			if p.HTTP.Flows != nil {
				for _, f := range p.HTTP.Flows.Failing {
					fmt.Fprintf(&b, " failing %d (%d)", f.Index, f.ConsecutiveFailures)
				}
			}
			for _, ft := range p.HTTP.FlowTraces {
				fmt.Fprintf(&b, " traced %d to %q %s", ft.Flow, ft.LastHop, ft.Error)
			}
			b.WriteString("; ")
		}
	}
	return b.String()
}

// traceKey names one flow of one path.
func traceKey(ft admin.FlowTrace) string {
	return fmt.Sprintf("%s/%s/%s/%d", ft.Path, ft.Protocol, ft.Family, ft.Flow)
}

func traceJSON(t *testing.T, sock string) (admin.TraceReport, int) {
	t.Helper()
	out, stderr, code := runTrace(t, sock, "server", "--flows=8", "-o", "json")
	var rep admin.TraceReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("trace -o json: exit %d, %v\n%s\n%s", code, err, out, stderr)
	}
	return rep, code
}

// runTrace runs the trace command from the host (the admin socket is a
// file: no need to enter the client's namespace).
func runTrace(t *testing.T, sock string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(binary, append([]string{"trace", "--admin.socket=" + sock}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

// startECMPClientDaemon runs the exporter in lab's client as node
// "client", probing the server (both families) at 1 s with threshold 2,
// /metrics on 127.0.0.1:9100 inside the client; extra adds flags. It
// returns the admin socket; the daemon is killed when the test ends (its
// log printed if the test failed).
func startECMPClientDaemon(t *testing.T, lab *testbin.ECMPLab, extra ...string) string {
	t.Helper()
	dir := t.TempDir()
	list := filepath.Join(dir, "nodes.yaml")
	if err := os.WriteFile(list, []byte(`nodes:
  - name: client
    host_ips: [198.18.0.2, "2001:db8::2"]
  - name: server
    host_ips: [198.19.0.1, "2001:db8:ffff::1"]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "admin.sock")
	var logs testbin.Buffer
	args := append([]string{"netns", "exec", lab.Client, binary,
		"--node.name=client", "--nodes.file=" + list, "--admin.socket=" + sock,
		"--web.listen-address=127.0.0.1:9100", "--probe.interval=1s", "--probe.timeout=500ms", "--probe.failure-threshold=2",
		"--log.level=debug"}, extra...)
	daemon := exec.Command("ip", args...)
	daemon.Stdout, daemon.Stderr = &logs, &logs
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = daemon.Process.Kill()
		_ = daemon.Wait()
		if t.Failed() {
			t.Logf("daemon log (tail):\n%s", tail(logs.String(), 40))
		}
	})
	return sock
}
