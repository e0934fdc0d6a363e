package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// Full-size probes once every 2 intervals of 1s: a full-size round is 2s,
// and the exporter calls a path a black hole after 2 lost in a row.
const (
	mtuEvery     = 2
	mtuRound     = mtuEvery * time.Second
	mtuLabArgs   = labArgs + " --probe.mtu.every=2"
	blackholeMsg = "an MTU black hole"
)

// A bridge port in the middle of node-2's paths set to a smaller MTU drops
// larger frames silently (no ICMP error is possible at layer 2): node-2 is
// an MTU black hole on both its paths, over ICMP and HTTP, within a
// full-size round and two probe timeouts (a lost full-size probe is
// confirmed at once, over the same flow), while every small probe stays
// green. Restoring the MTU
// heals it.
func TestMTUBlackHoleOnABridgePort(t *testing.T) {
	l := startLabWith(t, 3, mtuLabArgs)
	// veth lets a GSO packet of any size past an MTU check; a NIC sends
	// wire-sized segments. One segment per packet out of node-2 makes its
	// TCP answers (and those it forwards from its health endpoint) meet the
	// bridge port as a NIC's would.
	if out, err := exec.Command("ip", "-n", l.prefix+"-n2", "link", "set", "eth0", "gso_max_segs", "1").CombinedOutput(); err != nil {
		t.Fatalf("ip link set eth0 gso_max_segs 1 in node-2: %v\n%s", err, out)
	}
	l.expectPaths(2, allPaths, 1, converge)
	l.expectMTU(1, "node-2", allPaths, "ok", converge)

	port := l.prefix + "-v2" // node-2's port on the bridge
	if out, err := exec.Command("ip", "link", "set", port, "mtu", "1400").CombinedOutput(); err != nil {
		t.Fatalf("ip link set %s mtu 1400: %v\n%s", port, err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "link", "set", port, "mtu", "1500").Run() })
	start := time.Now()
	// The next full-size turn of each path, within a round, lost after a
	// timeout and confirmed lost after another (prober.FullSizeDetectionBound),
	// and a second or two to read the verdicts of every path.
	within := mtuRound + 2*500*time.Millisecond + 2*time.Second
	testbin.Eventually(t, within, "node-2 a black hole on every path from node-1 and node-3, small probes green", func() error {
		var seen []string
		ok := true
		for _, src := range []int{1, 3} {
			mfs, _, err := l.metrics(src)
			if err != nil {
				return err
			}
			for _, p := range allPaths {
				m := map[string]string{"peer": "node-2", "path": p.path, "protocol": p.protocol}
				if r, _ := mfs.Value("connectivity_peer_reachable", m); r != 1 {
					t.Fatalf("node-%d: small %s/%s probes to node-2 failed (reachable %v): only full-size ones may", src, p.path, p.protocol, r)
				}
				st := mtuStatus(mfs, "node-2", p)
				seen = append(seen, fmt.Sprintf("node-%d:%s/%s=%s", src, p.path, p.protocol, st))
				ok = ok && st == "blackhole"
			}
		}
		return testbin.Holds(ok, strings.Join(seen, " "))
	})
	t.Logf("black hole reported after %s (%.1f full-size rounds)", time.Since(start).Round(100*time.Millisecond), time.Since(start).Seconds()/mtuRound.Seconds())
	text, code := l.statusText(1)
	if code != 1 || !strings.Contains(text, "packets of 1500 bytes to node-2 are lost on the host and endpoint paths while small ones pass (full-size ICMP and HTTP): "+blackholeMsg) {
		t.Errorf("status of node-1 (exit %d) does not diagnose the black hole:\n%s", code, text)
	}
	if strings.Contains(text, "node-3:") {
		t.Errorf("node-3 is diagnosed too, though its paths are whole:\n%s", text)
	}

	if out, err := exec.Command("ip", "link", "set", port, "mtu", "1500").CombinedOutput(); err != nil {
		t.Fatalf("ip link set %s mtu 1500: %v\n%s", port, err, out)
	}
	l.expectMTU(1, "node-2", allPaths, "ok", 4*mtuRound+2*time.Second)
}

// expectMTU waits until node src reports want as the MTU status of each of
// paths to peer.
func (l *lab) expectMTU(src int, peer string, paths []path, want string, within time.Duration) {
	l.t.Helper()
	testbin.Eventually(l.t, within, fmt.Sprintf("MTU status of %s %v from node-%d = %s", peer, paths, src, want), func() error {
		mfs, _, err := l.metrics(src)
		if err != nil {
			return err
		}
		var seen []string
		ok := true
		for _, p := range paths {
			st := mtuStatus(mfs, peer, p)
			seen = append(seen, fmt.Sprintf("%s/%s=%s", p.path, p.protocol, st))
			ok = ok && st == want
		}
		return testbin.Holds(ok, strings.Join(seen, " "))
	})
}

// mtuStatus is the status of the connectivity_peer_mtu_status series of
// peer's path, "" when there is none (unknown).
func mtuStatus(mfs testbin.Metrics, peer string, p path) string {
	s := mfs.Find("connectivity_peer_mtu_status", map[string]string{"peer": peer, "path": p.path, "protocol": p.protocol})
	if len(s) != 1 || s[0].Value != 1 {
		return ""
	}
	return s[0].Labels["status"]
}

// routerLab is a lab of its own: node-a (198.18.1.1) and node-b
// (198.18.2.1) on two links joined by a router namespace, whose link
// towards node-b has an MTU of 1400. node-a's route to node-b leaves by a
// 1500-byte link, so its full-size probes are 1500 bytes and the router
// must refuse them.
type routerLab struct {
	t      *testing.T
	dir    string
	prefix string
	pids   map[string]int
}

func (r *routerLab) ns(name string) string { return r.prefix + "-" + name }

func startRouterLab(t *testing.T) *routerLab {
	requireRoot(t)
	lockLabs(t)
	lab := testbin.NewLab(t)
	r := &routerLab{t: t, dir: t.TempDir(), prefix: "cxmtu", pids: map[string]int{}}
	t.Cleanup(r.stop) // before the namespaces go: cleanups run last first
	for _, n := range []string{"a", "r", "b"} {
		lab.Netns(r.ns(n))
	}
	// Both ends of the router's link to node-b have the smaller MTU: a
	// mismatch on one link would drop frames silently, not refuse them.
	lab.Veth(testbin.End{Netns: r.ns("a"), Dev: "a0", Addrs: []string{"198.18.1.1/24"}}, testbin.End{Netns: r.ns("r"), Dev: "r0", Addrs: []string{"198.18.1.254/24"}})
	lab.Veth(testbin.End{Netns: r.ns("b"), Dev: "b0", Addrs: []string{"198.18.2.1/24"}, MTU: 1400}, testbin.End{Netns: r.ns("r"), Dev: "r1", Addrs: []string{"198.18.2.254/24"}, MTU: 1400})
	testbin.IP(t, "-n", r.ns("a"), "route", "add", "default", "via", "198.18.1.254")
	testbin.IP(t, "-n", r.ns("b"), "route", "add", "default", "via", "198.18.2.254")
	lab.Sysctl(r.ns("r"), "net.ipv4.ip_forward=1")
	nodes := "nodes:\n  - name: node-a\n    host_ip: 198.18.1.1\n  - name: node-b\n    host_ip: 198.18.2.1\n"
	if err := os.WriteFile(filepath.Join(r.dir, "nodes.yaml"), []byte(nodes), 0o644); err != nil {
		t.Fatal(err)
	}
	return r
}

// start runs the exporter of node (a or b) in its namespace.
func (r *routerLab) start(node, ip string) {
	r.t.Helper()
	logf, err := os.Create(filepath.Join(r.dir, node+".log"))
	if err != nil {
		r.t.Fatal(err)
	}
	defer logf.Close()
	args := append([]string{"netns", "exec", r.ns(node), binary,
		"--node.name=node-" + node, "--nodes.file=" + filepath.Join(r.dir, "nodes.yaml"),
		"--web.listen-address=" + ip + ":9240", "--admin.socket=" + filepath.Join(r.dir, node+".sock"),
	}, strings.Fields(mtuLabArgs)...)
	cmd := exec.Command("ip", args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.pids[node] = cmd.Process.Pid
	go func() { _ = cmd.Wait() }()
}

// stop ends the exporters, SIGKILL after 10 s.
func (r *routerLab) stop() {
	for node, pid := range r.pids {
		_ = syscall.Kill(pid, syscall.SIGTERM)
		for i := 0; i < 100 && syscall.Kill(pid, 0) == nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
		_ = syscall.Kill(pid, syscall.SIGKILL)
		delete(r.pids, node)
		if r.t.Failed() {
			if b, err := os.ReadFile(filepath.Join(r.dir, node+".log")); err == nil {
				r.t.Logf("node-%s log (tail):\n%s", node, tail(string(b), 40))
			}
		}
	}
}

// report is node's status report (with diagnoses).
func (r *routerLab) report(node string) (admin.Report, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, binary, "status", "-o", "json", "--admin.socket="+filepath.Join(r.dir, node+".sock")).Output()
	var rep admin.Report
	if jerr := json.Unmarshal(out, &rep); jerr != nil {
		return rep, fmt.Errorf("status output is not a report: %w (exit: %v): %s", jerr, err, out) //nolint:errorlint // err is nil when status exited 0 but printed no report
	}
	return rep, nil
}

// metrics scrapes node's /metrics from inside its namespace.
func (r *routerLab) metrics(node, ip string) (testbin.Metrics, error) {
	out, err := testbin.Run("ip", "netns", "exec", r.ns(node), "curl", "-fsS", "--max-time", "3", "http://"+ip+":9240/metrics")
	if err != nil {
		return nil, err
	}
	return testbin.ParseMetrics(out)
}

// hostPathMTU is what node-a reports of node-b's host ICMP path: the status
// and path MTU of its full-size probes and whether small probes succeed.
func (r *routerLab) hostPathMTU() (status string, pathMTU float64, smallOK bool, diagnosis string, err error) {
	mfs, err := r.metrics("a", "198.18.1.1")
	if err != nil {
		return "", 0, false, "", err
	}
	p := path{"host", "icmp"}
	status = mtuStatus(mfs, "node-b", p)
	pathMTU, _ = mfs.Value("connectivity_peer_path_mtu_bytes", map[string]string{"peer": "node-b", "path": "host", "protocol": "icmp"})
	small, _ := mfs.Value("connectivity_peer_reachable", map[string]string{"peer": "node-b", "path": "host", "protocol": "icmp"})
	rep, err := r.report("a")
	if err != nil {
		return "", 0, false, "", err
	}
	for _, n := range rep.Nodes {
		if n.Name == "node-b" {
			diagnosis = n.Diagnosis
		}
	}
	return status, pathMTU, small == 1, diagnosis, nil
}

// A router whose egress MTU is smaller answers full-size probes with ICMP
// "fragmentation needed": a reduced path MTU (1400), reported as such and
// not as an outage. The same router dropping those ICMP errors is an MTU
// black hole.
func TestMTURouterFragNeededAndItsBlackHole(t *testing.T) {
	r := startRouterLab(t)
	// First the router drops its ICMP errors, before node-a could learn
	// the path MTU from one.
	dropICMP := "table inet cxmtu {\n chain output {\n  type filter hook output priority 0; policy accept;\n  icmp type destination-unreachable icmp code frag-needed drop\n }\n}\n"
	cmd := exec.Command("ip", "netns", "exec", r.ns("r"), "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(dropICMP)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft: %v\n%s", err, out)
	}
	r.start("a", "198.18.1.1")
	r.start("b", "198.18.2.1")
	within := converge + 4*mtuRound
	testbin.Eventually(t, within, "node-b's host ICMP path an MTU black hole from node-a, small probes green", func() error {
		st, pmtu, small, diag, err := r.hostPathMTU()
		if err != nil {
			return err
		}
		return testbin.Holds(st == "blackhole" && small && strings.Contains(diag, blackholeMsg), fmt.Sprintf("status=%q path_mtu=%v small_ok=%v diagnosis=%q", st, pmtu, small, diag))
	})

	testbin.NetnsExec(t, r.ns("r"), "nft", "delete", "table", "inet", "cxmtu")
	testbin.Eventually(t, 4*mtuRound+2*time.Second, "node-b's host ICMP path a reduced path MTU of 1400 from node-a", func() error {
		st, pmtu, small, diag, err := r.hostPathMTU()
		if err != nil {
			return err
		}
		if !small {
			t.Fatalf("small probes to node-b failed: a reduced MTU is not an outage")
		}
		return testbin.Holds(st == "reduced" && pmtu == 1400 && diag == "the path MTU to node-b is 1400 (expected 1500) on the host path: PMTUD works", fmt.Sprintf("status=%q path_mtu=%v diagnosis=%q", st, pmtu, diag))
	})
	// Not an outage: status exits 0.
	out, err := exec.Command(binary, "status", "--admin.socket="+filepath.Join(r.dir, "a.sock")).CombinedOutput()
	if err != nil {
		t.Errorf("status of node-a exits with %v on a reduced path MTU, want 0:\n%s", err, out)
	}
}
