package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
	"github.com/connectivity-exporter/connectivity_exporter/hello"
	"github.com/connectivity-exporter/connectivity_exporter/prober"
	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// The "Done when" target of issue 18 in a lab: node-to-node traffic
// crosses an 8-way equal-cost group (the router hashing the 5-tuple, and
// the flow label for IPv6) and one member drops everything it forwards.
// Four client nodes, each a namespace behind the client side, run two real
// daemons each: "cN" with the default 8 flows, "cN-f1" with one; four
// server nodes are addresses of the server behind the group, answering
// /hello (no daemon: their probes back would cross no member). So 16
// pairs cross the group; the 12 pairs among the clients cross nothing.
// Ground truth is the members' nftables sets: which member each flow's
// packets crossed while all were healthy.

const (
	ecmp8Members   = 8
	ecmp8Clients   = 4
	ecmp8Servers   = 4
	ecmp8Flows     = 8
	ecmp8Threshold = 3
	ecmp8Interval  = time.Second
	ecmp8Timeout   = 500 * time.Millisecond
	// ecmp8Bad is the member that breaks: a fixed one, so that the
	// coverage figures are not chosen.
	ecmp8Bad = 3
)

// ecmp8Path names one path of one pair: client, server, protocol/family.
type ecmp8Path struct {
	client, server, pf string
}

func (p ecmp8Path) String() string { return p.client + "->" + p.server + " " + p.pf }

func TestECMP8WayProof(t *testing.T) {
	requireRoot(t)
	started := time.Now()
	lab := testbin.NewECMPLab(t, testbin.ECMPConfig{
		Members: ecmp8Members, ClientHosts: ecmp8Clients, ServerAddrs: ecmp8Servers,
		Hash4: testbin.HashPolicy{Policy: 3, Fields: testbin.HashFiveTuple},
		Hash6: testbin.HashPolicy{Policy: 3, Fields: testbin.HashFiveTuple | testbin.HashFlowLabel},
	})
	// The servers' /hello: one responder for every address, on the port of
	// the 8-flow daemons and on the 1-flow daemons' (they share hosts).
	lab.ServeHello(t, hello.DefaultPort, hello.DefaultPort+1)

	dir := t.TempDir()
	servers := make([]string, ecmp8Servers)
	for j := range servers {
		servers[j] = fmt.Sprintf("s%d", j)
	}
	nodes := func(suffix string) string {
		var b strings.Builder
		b.WriteString("nodes:\n")
		for i := range ecmp8Clients {
			fmt.Fprintf(&b, "  - name: c%d%s\n    host_ips: [%s, %q]\n", i, suffix, testbin.ECMPClientHost4(i), testbin.ECMPClientHost6(i))
		}
		for j, s := range servers {
			fmt.Fprintf(&b, "  - name: %s\n    host_ips: [%s, %q]\n", s, testbin.ECMPServerAddr4(j), testbin.ECMPServerAddr6(j))
		}
		p := filepath.Join(dir, "nodes"+suffix+".yaml")
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	list8, list1 := nodes(""), nodes("-f1")
	common := []string{"--probe.interval=" + ecmp8Interval.String(), "--probe.timeout=" + ecmp8Timeout.String(),
		fmt.Sprintf("--probe.failure-threshold=%d", ecmp8Threshold), "--probe.mtu.every=0", "--metrics.per-peer=all"}
	type daemon struct {
		name, ns string
		scrape   *http.Client
		admin    *admin.Client
		web      string
	}
	var f8, f1 []daemon
	for i, ns := range lab.ClientHosts {
		for _, d := range []struct {
			suffix, list, web string
			port, flows       int
		}{
			{"", list8, "127.0.0.1:9100", hello.DefaultPort, ecmp8Flows},
			{"-f1", list1, "127.0.0.1:9101", hello.DefaultPort + 1, 1},
		} {
			name := fmt.Sprintf("c%d%s", i, d.suffix)
			sock := filepath.Join(dir, name+".sock")
			startInNetns(t, ns, name, append([]string{"--node.name=" + name, "--nodes.file=" + d.list, "--admin.socket=" + sock,
				"--web.listen-address=" + d.web, fmt.Sprintf("--hello.listen-address=:%d", d.port),
				fmt.Sprintf("--probe.flows=%d", d.flows)}, common...)...)
			dm := daemon{name: name, ns: ns, admin: admin.NewClient(sock), web: d.web, scrape: &http.Client{
				Timeout: 5 * time.Second,
				Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
					return testbin.DialIn(ctx, ns, network, addr)
				}},
			}}
			if d.flows == 1 {
				f1 = append(f1, dm)
			} else {
				f8 = append(f8, dm)
			}
		}
	}
	metricsOf := func(d daemon) (testbin.Metrics, error) {
		m, _, err := testbin.ScrapeMetrics(d.scrape, "http://"+d.web+"/metrics")
		return m, err
	}

	// Healthy first: every flow of every path to every server probed
	// and ok, then the members' sets say where each flow goes.
	testbin.Eventually(t, 60*time.Second, "every 8-flow daemon has probed every flow to every server, all ok", func() error {
		for _, d := range append(slices.Clone(f8), f1...) {
			rep, err := d.admin.Status(context.Background())
			if err != nil {
				return fmt.Errorf("%s: %w", d.name, err)
			}
			reachable := 0
			for _, n := range rep.Nodes {
				for _, p := range n.HostPaths() {
					for _, pr := range []admin.ProbeReport{p.HTTP, p.ICMP} {
						if pr.Status != "reachable" {
							continue
						}
						reachable++
						if pr.Flows != nil && strings.HasPrefix(n.Name, "s") && (pr.Flows.Probed != ecmp8Flows || len(pr.Flows.Failing) > 0) {
							return fmt.Errorf("%s: %s %s: %d of %d flows probed, %d failing", d.name, n.Name, p.IP, pr.Flows.Probed, ecmp8Flows, len(pr.Flows.Failing))
						}
					}
				}
			}
			// 7 peers, 2 families, HTTP and ICMP.
			if want := (ecmp8Clients + ecmp8Servers - 1) * 4; reachable < want {
				return fmt.Errorf("%s: %d paths reachable, want %d", d.name, reachable, want)
			}
		}
		return nil
	})
	truth := ecmp8GroundTruth(t, lab, servers)
	t.Logf("lab (8 members, 4 client hosts, 4 server addresses), 8 daemons up, every flow mapped, in %s", time.Since(started).Round(100*time.Millisecond))

	// Which paths cross the bad member, and how many of their flows.
	onBad := map[ecmp8Path]int{}     // flows of the path on the bad member
	runs := map[ecmp8Path]bool{}     // threshold flows in a row on it: may read as down first (README, Flows)
	echo4Bad := map[ecmp8Path]bool{} // IPv4 echoes cross it (no flows: the addresses decide)
	pairsCrossing := map[string]bool{}
	for p, members := range truth {
		n, run, longest := 0, 0, 0
		for i := range 2 * len(members) {
			if members[i%len(members)] == ecmp8Bad {
				run++
				longest = max(longest, min(run, len(members)))
			} else {
				run = 0
			}
		}
		for _, m := range members {
			if m == ecmp8Bad {
				n++
			}
		}
		if p.pf == "icmp/ipv4" {
			echo4Bad[p] = n > 0
		} else {
			onBad[p] = n
			runs[p] = longest >= ecmp8Threshold
		}
		if n > 0 {
			pairsCrossing[p.client+"->"+p.server] = true
		}
	}
	flowPaths, crossing := 0, 0
	for _, n := range onBad {
		flowPaths++
		if n > 0 {
			crossing++
		}
	}
	t.Logf("member %d: %d of %d paths with flows have flows on it (%.0f %%; (7/8)^8 = 34 %% expected to miss), %d of 16 pairs cross it on some path", ecmp8Bad, crossing, flowPaths, 100*float64(crossing)/float64(flowPaths), len(pairsCrossing))

	before1 := map[string]testbin.Metrics{}
	for _, d := range f1 {
		m, err := metricsOf(d)
		if err != nil {
			t.Fatal(err)
		}
		before1[d.name] = m
	}
	if err := lab.SetFault(ecmp8Bad, testbin.Fault{Kind: testbin.FaultDropAll}); err != nil {
		t.Fatal(err)
	}
	fault := time.Now()

	// Scrape every daemon every 250 ms for F + threshold + 11 intervals:
	// when each path turns partial, and whether any turns unreachable.
	partialAt := map[ecmp8Path]time.Time{}
	down8, down1, partial1, partialOther := map[ecmp8Path]bool{}, map[ecmp8Path]bool{}, map[ecmp8Path]bool{}, map[ecmp8Path]bool{}
	deadline := fault.Add(time.Duration(ecmp8Flows+ecmp8Threshold+11) * ecmp8Interval)
	daemons := append(slices.Clone(f8), f1...)
	for time.Now().Before(deadline) {
		// All at once, so that a scrape's time is close to when it
		// was served, even on a loaded machine.
		scraped := make([]testbin.Metrics, len(daemons))
		errs := make([]error, len(daemons))
		at := make([]time.Time, len(daemons))
		var wg sync.WaitGroup
		for i, d := range daemons {
			wg.Go(func() {
				scraped[i], errs[i] = metricsOf(d)
				at[i] = time.Now()
			})
		}
		wg.Wait()
		for i, d := range daemons {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			m, now := scraped[i], at[i]
			client := strings.TrimSuffix(d.name, "-f1")
			for _, s := range m.Find("connectivity_peer_reachable", map[string]string{"path": "host"}) {
				peer := strings.TrimSuffix(s.Labels["peer"], "-f1")
				if peer == client {
					continue
				}
				p := ecmp8Path{client, peer, s.Labels["protocol"] + "/" + s.Labels["family"]}
				failing, _ := m.Value("connectivity_peer_flows_failing", map[string]string{"peer": s.Labels["peer"], "path": "host", "protocol": s.Labels["protocol"], "family": s.Labels["family"]})
				isF1 := d.name != client
				switch {
				case isF1 && s.Value == 0:
					down1[p] = true
				case isF1 && failing > 0:
					partial1[p] = true
				case s.Value == 0:
					down8[p] = true
				case failing > 0 && !strings.HasPrefix(peer, "s"):
					partialOther[p] = true
				case failing > 0:
					if _, ok := partialAt[p]; !ok {
						partialAt[p] = now
					}
				}
			}
		}
		time.Sleep(250 * time.Millisecond)
	}

	// 8 flows: every path with flows on the member partial within F
	// intervals plus the threshold, never unreachable; the others
	// neither. The worst case is F + threshold intervals plus the probe
	// timeout (a failure counts when its probe times out): a flow probed
	// just before the fault comes round again after F intervals, the
	// next flow is probed once, then the flow threshold-1 more times.
	// +3 intervals for the scrapes and a loaded machine: measured 11.8
	// intervals at worst while other tests ran, and make test runs other
	// packages beside this one.
	bound := time.Duration(ecmp8Flows+ecmp8Threshold+3)*ecmp8Interval + ecmp8Timeout
	var took []float64
	for p, n := range onBad {
		at, partial := partialAt[p]
		switch {
		case n == 0 && partial:
			t.Errorf("%s: no flow on member %d, yet partial", p, ecmp8Bad)
		case n > 0 && !partial:
			t.Errorf("%s: %d flows on member %d (%v), never partial", p, n, ecmp8Bad, truth[p])
		case n > 0 && !runs[p] && at.Sub(fault) > bound:
			t.Errorf("%s: partial %s after the fault, want within %s", p, at.Sub(fault).Round(100*time.Millisecond), bound)
		case n > 0:
			took = append(took, at.Sub(fault).Seconds()/ecmp8Interval.Seconds())
		}
		if down8[p] && !runs[p] {
			t.Errorf("%s: unreachable on a partial fault (%d flows on member %d: %v)", p, n, ecmp8Bad, truth[p])
		}
	}
	for p := range partialOther {
		t.Errorf("%s: partial between clients, which cross no member", p)
	}
	for p := range down8 {
		if p.pf == "icmp/ipv4" && !echo4Bad[p] {
			t.Errorf("%s: IPv4 echoes do not cross member %d, yet unreachable", p, ecmp8Bad)
		}
		if !strings.HasPrefix(p.server, "s") {
			t.Errorf("%s: unreachable between clients, which cross no member", p)
		}
	}
	slices.Sort(took)
	if len(took) > 0 {
		t.Logf("8 flows: %d paths partial, in %.1f to %.1f intervals after the fault (median %.1f; bound %d + %d + 3 + the timeout, %.1f)", len(took), took[0], took[len(took)-1], took[len(took)/2], ecmp8Flows, ecmp8Threshold, bound.Seconds()/ecmp8Interval.Seconds())
	}
	var misread []string
	withRuns := 0
	for p := range down8 {
		if p.pf != "icmp/ipv4" {
			misread = append(misread, p.String())
		}
	}
	for _, r := range runs {
		if r {
			withRuns++
		}
	}
	echo4Down := 0
	for p, bad := range echo4Bad {
		if bad {
			echo4Down++
			if !down8[p] {
				t.Errorf("%s: IPv4 echoes cross member %d, yet never unreachable", p, ecmp8Bad)
			}
		}
	}
	t.Logf("8 flows: %d paths have %d flows in a row on the member (the README's exception), of which %v read as down first; %d of 16 IPv4 ICMP paths unreachable (their echoes cross it: no flows there)", withRuns, ecmp8Threshold, misread, echo4Down)

	// status: each path's failing flows are exactly those on the member.
	testbin.Eventually(t, time.Duration(ecmp8Flows*(ecmp8Threshold+1))*ecmp8Interval, "status names every flow crossing the member, and no other, as failing", func() error {
		for _, d := range f8 {
			rep, err := d.admin.Status(context.Background())
			if err != nil {
				return err
			}
			for _, n := range rep.Nodes {
				if !strings.HasPrefix(n.Name, "s") {
					continue
				}
				for _, pth := range n.HostPaths() {
					fam := "ipv4"
					if strings.Contains(pth.IP, ":") {
						fam = "ipv6"
					}
					for proto, pr := range map[string]admin.ProbeReport{"http": pth.HTTP, "icmp": pth.ICMP} {
						p := ecmp8Path{d.name, n.Name, proto + "/" + fam}
						if p.pf == "icmp/ipv4" {
							continue
						}
						var got, want []int
						if pr.Flows != nil {
							for _, f := range pr.Flows.Failing {
								got = append(got, f.Index)
							}
						}
						for i, m := range truth[p] {
							if m == ecmp8Bad {
								want = append(want, i)
							}
						}
						if !slices.Equal(got, want) {
							return fmt.Errorf("%s: failing flows %v, want %v (on member %d)", p, got, want, ecmp8Bad)
						}
						if len(want) > 0 && pr.Status != admin.StatusPartial {
							return fmt.Errorf("%s is %q, want %q", p, pr.Status, admin.StatusPartial)
						}
					}
				}
			}
		}
		return nil
	})
	t.Logf("status named every flow on the member by %.1f intervals after the fault", time.Since(fault).Seconds()/ecmp8Interval.Seconds())

	// Repaired: every flow answers again when its turn comes, within F
	// intervals (+2 for the scrapes), and every path is reachable.
	if err := lab.SetFault(ecmp8Bad, testbin.Fault{}); err != nil {
		t.Fatal(err)
	}
	repaired := time.Now()
	testbin.Eventually(t, time.Duration(ecmp8Flows+2)*ecmp8Interval, "no flow failing and every path reachable once the member forwards again", func() error {
		for _, d := range f8 {
			m, err := metricsOf(d)
			if err != nil {
				return err
			}
			for _, s := range m.Find("connectivity_peer_flows_failing", nil) {
				if s.Value > 0 {
					return fmt.Errorf("%s: %v: %v flows failing", d.name, s.Labels, s.Value)
				}
			}
			for _, s := range m.Find("connectivity_peer_reachable", map[string]string{"path": "host"}) {
				if s.Value != 1 {
					return fmt.Errorf("%s: %v unreachable", d.name, s.Labels)
				}
			}
		}
		return nil
	})
	t.Logf("repaired: every flow answers again, every path reachable, %.1f intervals after", time.Since(repaired).Seconds()/ecmp8Interval.Seconds())

	// One flow (the -f1 daemons, same hosts, same fault): never partial;
	// per path what it saw.
	for p := range partial1 {
		t.Errorf("%s (1 flow): exported flows failing", p)
	}
	seen1, down1n, paths1 := 0, 0, 0
	byPF := map[string]*[3]int{} // protocol/family -> misread, scattered, nothing
	pairs1 := map[string]bool{}  // pairs with a failed probe on some path
	for _, d := range f1 {
		m, err := metricsOf(d)
		if err != nil {
			t.Fatal(err)
		}
		client := strings.TrimSuffix(d.name, "-f1")
		for _, s := range servers {
			for _, pf := range []string{"http/ipv4", "http/ipv6", "icmp/ipv6"} {
				proto, fam, _ := strings.Cut(pf, "/")
				match := map[string]string{"peer": s, "path": "host", "protocol": proto, "family": fam}
				all := sumSeries(m, match) - sumSeries(before1[d.name], match)
				match["result"] = "success"
				failed := all - (sumSeries(m, match) - sumSeries(before1[d.name], match))
				paths1++
				p := ecmp8Path{client, s, pf}
				if byPF[pf] == nil {
					byPF[pf] = &[3]int{}
				}
				switch {
				case down1[p]:
					down1n++
					byPF[pf][0]++
				case failed > 0:
					seen1++
					byPF[pf][1]++
				default:
					byPF[pf][2]++
				}
				if failed > 0 {
					pairs1[client+"->"+s] = true
				}
			}
		}
	}
	crossing8 := 0
	for p, n := range onBad {
		if n > 0 && !strings.HasPrefix(p.pf, "icmp/ipv4") {
			crossing8++
		}
	}
	t.Logf("1 flow, same fault, over %d paths with flows under 8: %d misread as unreachable, %d with scattered failures (path up), %d saw nothing; none partial. 8 flows: %d of %d partial, each naming its flows", paths1, down1n, seen1, paths1-down1n-seen1, crossing8, flowPaths)
	for _, pf := range []string{"http/ipv4", "http/ipv6", "icmp/ipv6"} {
		t.Logf("1 flow, %s: %d misread as unreachable, %d scattered failures, %d nothing (of 16)", pf, byPF[pf][0], byPF[pf][1], byPF[pf][2])
	}
	t.Logf("pairs: 8 flows find the member, as partial paths naming the flows, on %d of 16 pairs (every pair whose flows cross it); 1 flow has a failed probe on %d of 16 pairs, none partial", len(pairsCrossing), len(pairs1))
}

// ecmp8GroundTruth maps every flow of every path from each 8-flow client
// to each server to the member its packets crossed (the members' sets):
// per path, the member of flow 0, 1, ...; IPv4 ICMP paths have one entry.
func ecmp8GroundTruth(t *testing.T, lab *testbin.ECMPLab, servers []string) map[ecmp8Path][]int {
	t.Helper()
	sets := map[string]map[string][]int{}
	for _, k := range []string{testbin.SeenTCP4, testbin.SeenTCP6, testbin.SeenEcho4, testbin.SeenEcho6} {
		s, err := lab.SeenTuples(k)
		if err != nil {
			t.Fatal(err)
		}
		sets[k] = s
	}
	member := func(set, tuple string) int {
		m := sets[set][tuple]
		if len(m) != 1 {
			t.Fatalf("%s %q crossed members %v, want exactly one", set, tuple, m)
		}
		return m[0]
	}
	truth := map[ecmp8Path][]int{}
	for i := range ecmp8Clients {
		client := fmt.Sprintf("c%d", i)
		fc := prober.FlowConfig{Flows: ecmp8Flows, FlowKey: client}
		for j, server := range servers {
			for _, fam := range []struct {
				name      string
				src, dst  netip.Addr
				tcp, echo string
			}{
				{"ipv4", testbin.ECMPClientHost4(i), testbin.ECMPServerAddr4(j), testbin.SeenTCP4, testbin.SeenEcho4},
				{"ipv6", testbin.ECMPClientHost6(i), testbin.ECMPServerAddr6(j), testbin.SeenTCP6, testbin.SeenEcho6},
			} {
				http := prober.Target{Peer: server, Path: prober.PathHost, Protocol: prober.ProtocolHTTP, IP: fam.dst}
				for _, f := range fc.FlowIdentities(http, ecmp8Flows) {
					p := ecmp8Path{client, server, "http/" + fam.name}
					truth[p] = append(truth[p], member(fam.tcp, fmt.Sprintf("%s %s %d %d", fam.src, fam.dst, f.SourcePort, hello.DefaultPort)))
				}
				icmp := prober.Target{Peer: server, Path: prober.PathHost, Protocol: prober.ProtocolICMP, IP: fam.dst}
				p := ecmp8Path{client, server, "icmp/" + fam.name}
				for _, f := range fc.FlowIdentities(icmp, ecmp8Flows) {
					tuple := fmt.Sprintf("%s %s", fam.src, fam.dst)
					if fam.name == "ipv6" {
						tuple += fmt.Sprintf(" %d", f.FlowLabel)
					}
					truth[p] = append(truth[p], member(fam.echo, tuple))
				}
			}
		}
	}
	return truth
}

// sumSeries sums connectivity_peer_probes_total over the series matching.
func sumSeries(m testbin.Metrics, match map[string]string) float64 {
	sum := 0.0
	for _, s := range m.Find("connectivity_peer_probes_total", match) {
		sum += s.Value
	}
	return sum
}
