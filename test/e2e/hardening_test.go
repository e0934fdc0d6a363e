package e2e

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Restarts, crashes and churn against the real binary in the lab.

// pid is node i's exporter process, as lab.sh recorded it.
func (l *lab) pid(i int) int {
	l.t.Helper()
	b, err := os.ReadFile(filepath.Join(l.dir, fmt.Sprintf("node-%d", i), "pid"))
	if err != nil {
		l.t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		l.t.Fatal(err)
	}
	return pid
}

// runWithArgs runs lab.sh with other exporter flags than the lab's.
func (l *lab) runWithArgs(exporterArgs string, args ...string) string {
	l.t.Helper()
	out, err := l.runEnv([]string{"LAB_ARGS=" + exporterArgs}, args...)
	if err != nil {
		l.t.Fatalf("lab.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func fdCount(pid int) (int, error) {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(fds), err
}

// exited tells whether pid is gone or a zombie: lab exporters are children
// of whoever adopted them, not of the test.
func exited(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state follows the command name, which is in parentheses.
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] == 'Z'
}

// routesTo lists the routes to ip/32 in every table of netns ns.
func routesTo(t *testing.T, ns, ip string) []string {
	t.Helper()
	out, err := exec.Command("ip", "-n", ns, "-4", "route", "show", "table", "all").CombinedOutput()
	if err != nil {
		t.Fatalf("ip route: %v\n%s", err, out)
	}
	var routes []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && (f[0] == ip || f[0] == ip+"/32") {
			routes = append(routes, line)
		}
	}
	return routes
}

// links returns the indexes of the links named name in netns ns.
func links(t *testing.T, ns, name string) []string {
	t.Helper()
	out, err := exec.Command("ip", "-n", ns, "-o", "link", "show").CombinedOutput()
	if err != nil {
		t.Fatalf("ip link: %v\n%s", err, out)
	}
	var idx []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && strings.SplitN(strings.TrimSuffix(f[1], ":"), "@", 2)[0] == name {
			idx = append(idx, strings.TrimSuffix(f[0], ":"))
		}
	}
	return idx
}

func netnsCount(name string) int {
	out, _ := exec.Command("ip", "netns", "list").Output()
	n := 0
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == name {
			n++
		}
	}
	return n
}

// After a SIGKILL, nothing is cleaned up: a new daemon with the same flags
// must remove the stale netns, veth and route, build a fresh endpoint and
// add no second route, however often it happens.
func TestKilledExporterRestartsClean(t *testing.T) {
	l := startLab(t, 3)
	l.expectPaths(2, allPaths, 1, converge)
	node, health, healthIP := l.prefix+"-n2", l.prefix+"-h2", "198.19.0.2"
	sock := filepath.Join(l.dir, "node-2", "admin.sock")
	if r := routesTo(t, node, healthIP); len(r) != 1 {
		t.Fatalf("before any kill, routes to %s: %q", healthIP, r)
	}
	const rounds = 3
	for round := 1; round <= rounds; round++ {
		veth := links(t, node, "cx_health")
		l.mustRun("fault", "kill", "2")
		// What a crash leaves behind; without it the test proves nothing.
		if !netnsExists(health) || len(veth) != 1 || len(routesTo(t, node, healthIP)) != 1 {
			t.Fatalf("round %d: after SIGKILL expected the stale endpoint: netns=%v veth=%v routes=%q",
				round, netnsExists(health), veth, routesTo(t, node, healthIP))
		}
		if _, err := os.Lstat(sock); err != nil {
			t.Fatalf("round %d: the admin socket should be left behind: %v", round, err)
		}
		l.mustRun("clear", "start", "2")
		eventually(t, converge, fmt.Sprintf("round %d: node-2 rebuilt its endpoint once", round), func() (bool, string) {
			mfs, _, err := l.metrics(2)
			if err != nil {
				return false, err.Error()
			}
			up, _ := value(mfs, "connectivity_health_endpoint_up", nil)
			now := links(t, node, "cx_health")
			routes := routesTo(t, node, healthIP)
			fresh := len(now) == 1 && !slices.Equal(now, veth)
			return up == 1 && fresh && len(routes) == 1 && netnsCount(health) == 1,
				fmt.Sprintf("up=%v veth %v -> %v routes=%q netns=%d", up, veth, now, routes, netnsCount(health))
		})
		l.expectPaths(2, endpointPaths, 1, converge)
		if out, err := exec.Command(binary, "ping", "--admin.socket="+sock).CombinedOutput(); err != nil {
			t.Fatalf("round %d: ping after restart: %v\n%s", round, err, out)
		}
	}
	out, _ := exec.Command("ip", "-n", node, "route", "show").CombinedOutput()
	t.Logf("after %d kills and restarts, node-2's routes:\n%s", rounds, out)
}

// SIGTERM must end the daemon promptly even while probes to a cut-off node
// wait out a long timeout and a status --probe waits for them.
func TestSIGTERMWithProbesInFlight(t *testing.T) {
	l := startLab(t, 3)
	l.expectPaths(3, allPaths, 1, converge)
	// Restart node-1 with probes that take 10s to time out (the health
	// check timeout is the probe timeout, and may not exceed its interval).
	l.mustRun("fault", "stop", "1")
	l.runWithArgs("--probe.interval=1s --probe.timeout=10s --probe.failure-threshold=2 --health-endpoint.check-interval=10s --log.level=debug", "clear", "start", "1")
	pid := l.pid(1)
	l.mustRun("fault", "cut", "3")

	sock := filepath.Join(l.dir, "node-1", "admin.sock")
	probe := exec.Command(binary, "status", "--probe", "--admin.socket="+sock)
	var probeOut bytes.Buffer
	probe.Stdout, probe.Stderr = &probeOut, &probeOut
	if err := probe.Start(); err != nil {
		t.Fatal(err)
	}
	probeDone := make(chan error, 1)
	go func() { probeDone <- probe.Wait() }()
	t.Cleanup(func() { _ = probe.Process.Kill() })
	// Three cycles: a dozen probes to node-3 are now waiting out 10s each.
	time.Sleep(3 * time.Second)
	select {
	case err := <-probeDone:
		t.Fatalf("status --probe ended before SIGTERM (%v): the test needs it in flight\n%s", err, probeOut.String())
	default:
	}

	start := time.Now()
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for !exited(pid) {
		if time.Since(start) > 15*time.Second {
			t.Fatalf("node-1 still runs 15s after SIGTERM")
		}
		time.Sleep(10 * time.Millisecond)
	}
	took := time.Since(start)
	os.Remove(filepath.Join(l.dir, "node-1", "pid")) // stopped: nothing for lab.sh down to signal
	select {
	case err := <-probeDone:
		t.Logf("status --probe ended %s after SIGTERM: %v: %s", time.Since(start).Round(time.Millisecond), err, strings.TrimSpace(probeOut.String()))
		if err == nil {
			t.Error("status --probe succeeded although the daemon stopped in the middle of it")
		}
	case <-time.After(5 * time.Second):
		t.Errorf("status --probe still waits 5s after the daemon stopped")
	}
	t.Logf("SIGTERM to exit with probes in flight to a cut-off node (timeout 10s): %s", took.Round(time.Millisecond))
	if took > 5*time.Second {
		t.Errorf("SIGTERM took %s, want under 5s", took)
	}
	logText, _ := os.ReadFile(filepath.Join(l.dir, "node-1", "log"))
	if !strings.Contains(string(logText), `msg=stopped`) {
		t.Errorf("node-1 did not stop cleanly; log tail:\n%s", tail(string(logText), 20))
	}
	if netnsExists(l.prefix + "-h1") {
		t.Error("node-1's health namespace survived SIGTERM")
	}
}

// seriesIDs lists the series of a scrape as name{labels}, values left out.
func seriesIDs(body string) ([]string, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	var out []string
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, lp := range m.GetLabel() {
				ls = append(ls, lp.GetName()+"="+lp.GetValue())
			}
			sort.Strings(ls)
			out = append(out, name+"{"+strings.Join(ls, ",")+"}")
		}
	}
	sort.Strings(out)
	return out, nil
}

// writeNodes replaces the lab's node list atomically, as a config
// management tool or a ConfigMap update does.
func (l *lab) writeNodes(content string) {
	l.t.Helper()
	path := filepath.Join(l.dir, "nodes.yaml")
	if err := os.WriteFile(path+".tmp", []byte(content), 0o644); err != nil {
		l.t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		l.t.Fatal(err)
	}
}

func nodeList(n int, extra []int) string {
	var b strings.Builder
	b.WriteString("nodes:\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "  - name: node-%d\n    host_ip: 198.18.0.%d\n    health_ip: 198.19.0.%d\n", i, i, i)
	}
	for _, k := range extra {
		// Nobody answers on these lab addresses: their probes time out.
		fmt.Fprintf(&b, "  - name: churn-%d\n    host_ip: 198.18.0.%d\n    health_ip: 198.19.0.%d\n", k, 100+k, 100+k)
	}
	return b.String()
}

// A node list rewritten hundreds of times (now and then broken) must leave
// node-1's /metrics with the series it had and its process with the file
// descriptors it had, once the list is back.
func TestNodeFileChurnLeavesNoTrace(t *testing.T) {
	t.Setenv("LAB_POLL", "100ms") // the lab passes it to every exporter
	l := startLab(t, 3)
	for peer := 1; peer <= 3; peer++ {
		l.expectPaths(peer, allPaths, 1, converge)
	}
	pid := l.pid(1)
	type sample struct {
		series     []string
		fds        int
		goroutines float64
	}
	take := func() (sample, error) {
		mfs, body, err := l.metrics(1)
		if err != nil {
			return sample{}, err
		}
		ids, err := seriesIDs(body)
		if err != nil {
			return sample{}, err
		}
		fds, err := fdCount(pid)
		g, _ := value(mfs, "go_goroutines", nil)
		return sample{ids, fds, g}, err
	}
	// The least of a few samples: a probe in flight holds a socket.
	var base sample
	for i := range 5 {
		s, err := take()
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 || s.fds < base.fds {
			base.fds = s.fds
		}
		if i == 0 || s.goroutines < base.goroutines {
			base.goroutines = s.goroutines
		}
		base.series = s.series
		time.Sleep(200 * time.Millisecond)
	}
	errsBefore, _ := func() (float64, bool) {
		mfs, _, _ := l.metrics(1)
		return value(mfs, "connectivity_discovery_errors_total", nil)
	}()

	const rewrites = 300
	rng := rand.New(rand.NewPCG(7, 7))
	broken, peak, withChurnSeries := 0, 0, 0
	for i := range rewrites {
		if i%50 == 25 {
			l.writeNodes("nodes:\n  - name: node-1\n    host_ip: [not, an, ip]\n")
			broken++
			time.Sleep(300 * time.Millisecond) // long enough for the poll to see it
			continue
		}
		extra := rng.Perm(20)[:rng.IntN(6)]
		l.writeNodes(nodeList(3, extra))
		if i%30 != 15 || len(extra) == 0 {
			time.Sleep(40 * time.Millisecond)
			continue
		}
		// Now and then a list stays long enough for its newcomers to be
		// probed (they time out after 500ms) and get series, so that
		// removing them is exercised too.
		time.Sleep(2500 * time.Millisecond)
		if s, err := take(); err == nil {
			peak = max(peak, len(s.series))
			if slices.ContainsFunc(s.series, func(id string) bool {
				return strings.Contains(id, `peer="churn-`) || strings.Contains(id, "peer=churn-")
			}) {
				withChurnSeries++
			}
		}
	}
	if withChurnSeries == 0 {
		t.Error("no churned peer ever got series: their removal was not exercised")
	}
	l.writeNodes(nodeList(3, nil))

	var last sample
	eventually(t, converge, "node-1's series and fds back to their baseline", func() (bool, string) {
		s, err := take()
		if err != nil {
			return false, err.Error()
		}
		last = s
		var extra, missing []string
		for _, id := range s.series {
			if _, ok := slices.BinarySearch(base.series, id); !ok {
				extra = append(extra, id)
			}
		}
		for _, id := range base.series {
			if _, ok := slices.BinarySearch(s.series, id); !ok {
				missing = append(missing, id)
			}
		}
		// New counter series (e.g. discovery errors, probe results seen
		// for the first time) may appear; nothing of the churned peers may.
		leaked := slices.ContainsFunc(extra, func(id string) bool { return strings.Contains(id, "churn-") })
		// The final list must have been applied too: series of churned
		// peers that were never probed would not show a stale list.
		mfs, _, err := l.metrics(1)
		if err != nil {
			return false, err.Error()
		}
		known, _ := value(mfs, "connectivity_nodes", nil)
		ok := known == 3 && !leaked && len(missing) == 0 && s.fds <= base.fds+1 && s.goroutines <= base.goroutines+5
		return ok, fmt.Sprintf("nodes %v; series %d (base %d) extra %q missing %q; fds %d (base %d); goroutines %v (base %v)",
			known, len(s.series), len(base.series), extra, missing, s.fds, base.fds, s.goroutines, base.goroutines)
	})
	mfs, _, err := l.metrics(1)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := value(mfs, "connectivity_nodes", nil); n != 3 {
		t.Errorf("connectivity_nodes = %v, want 3", n)
	}
	if errs, _ := value(mfs, "connectivity_discovery_errors_total", nil); errs-errsBefore < 1 {
		t.Errorf("%d broken lists written, discovery errors went %v -> %v", broken, errsBefore, errs)
	}
	t.Logf("%d rewrites (%d broken, %d held until churned peers had series): series %d -> peak %d -> %d; fds %d -> %d; goroutines %v -> %v",
		rewrites, broken, withChurnSeries, len(base.series), peak, len(last.series), base.fds, last.fds, base.goroutines, last.goroutines)
}
