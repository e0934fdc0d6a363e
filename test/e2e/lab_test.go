// Package e2e runs the real connectivity_exporter binary in a lab of network
// namespaces (test/lab/lab.sh) and checks what it reports through the real
// /metrics of other nodes. It needs root; without it every test skips.
package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// Fast probing so that faults show within seconds: unreachable after 2
// failed probes at 1 probe per second.
const labArgs = "--probe.interval=1s --probe.timeout=500ms --probe.failure-threshold=2 --health-endpoint.check-interval=1s --log.level=debug"

var binary string // built once by TestMain

func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		fmt.Println("e2e: skipping the lab tests: they need root (network namespaces, veth, nft)")
		os.Exit(m.Run()) // every test skips itself with the same reason
	}
	dir, err := os.MkdirTemp("", "cx-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "connectivity_exporter")
	if err := testbin.Build(binary); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// lab is one running lab; tests do not share labs.
type lab struct {
	t      *testing.T
	prefix string
	dir    string
	size   int
	args   string // exporter flags, labArgs unless the test says otherwise
	zones  int    // LAB_ZONES: 0 for one bridge, else a bridge per zone
}

func requireRoot(t *testing.T) {
	t.Helper()
	testbin.SkipShort(t, "lab test")
	testbin.NeedRoot(t, "builds network namespaces, veth pairs and nft rules")
}

// startLab brings up k nodes and tears them down when the test ends, also
// when it fails.
func startLab(t *testing.T, k int) *lab { return startLabWith(t, k, labArgs) }

// startLabWith is startLab with other exporter flags.
func startLabWith(t *testing.T, k int, args string) *lab { return startLabZones(t, k, 0, args) }

// startLabZones is startLabWith with the nodes in zones (lab.sh LAB_ZONES;
// 0 is the one-bridge lab).
func startLabZones(t *testing.T, k, zones int, args string) *lab {
	requireRoot(t)
	l := &lab{t: t, prefix: "cxe2e", dir: t.TempDir(), size: k, args: args, zones: zones}
	lockLabs(t)
	// With the lock held no other lab runs: one still up was left by a
	// test process that was killed before its cleanup (a timeout, ^C).
	if err := testbin.SweepPrefix(l.prefix + "-"); err != nil {
		t.Fatalf("sweeping a lab left by a killed test: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for i := 1; i <= k; i++ {
				if b, err := os.ReadFile(filepath.Join(l.dir, fmt.Sprintf("node-%d", i), "log")); err == nil {
					t.Logf("node-%d log (tail):\n%s", i, tail(string(b), 40))
				}
			}
		}
		if out, err := l.run("down"); err != nil {
			t.Errorf("lab.sh down: %v\n%s", err, out)
		}
	})
	if out, err := l.run("up", fmt.Sprint(k)); err != nil {
		ns, _ := exec.Command("ip", "netns", "list").CombinedOutput()
		links, _ := exec.Command("ip", "-br", "link").CombinedOutput()
		t.Fatalf("lab.sh up %d: %v\n%s\nnetns:\n%s\nlinks:\n%s", k, err, out, ns, links)
	}
	return l
}

func (l *lab) env() []string {
	env := append(os.Environ(), "LAB_PREFIX="+l.prefix, "LAB_DIR="+l.dir, "LAB_BIN="+binary, "LAB_ARGS="+l.args)
	if l.zones > 0 {
		env = append(env, fmt.Sprintf("LAB_ZONES=%d", l.zones))
	}
	return env
}

func (l *lab) run(args ...string) (string, error) {
	return l.runEnv(nil, args...)
}

// runEnv runs lab.sh with env added to the lab's environment (the last
// setting of a variable wins).
func (l *lab) runEnv(env []string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{filepath.Join(testbin.RepoRoot(), "test", "lab", "lab.sh")}, args...)...)
	cmd.Env = append(l.env(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (l *lab) mustRun(args ...string) string {
	l.t.Helper()
	out, err := l.run(args...)
	if err != nil {
		l.t.Fatalf("lab.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// lockLabs waits until no other test process runs a lab: all labs use the
// same addresses. The lock is released when the test ends.
func lockLabs(t *testing.T) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "connectivity-exporter-lab.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Minute)
	for syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		if time.Now().After(deadline) {
			t.Fatal("another test process has held the lab lock for 10 minutes")
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Cleanup(func() { f.Close() }) // closing releases the lock
}

func hostIP(i int) string { return fmt.Sprintf("198.18.0.%d", i) }

// metrics scrapes node i's /metrics.
func (l *lab) metrics(i int) (testbin.Metrics, string, error) {
	return testbin.ScrapeMetrics(&http.Client{Timeout: 3 * time.Second}, "http://"+hostIP(i)+":9240/metrics")
}

type path struct{ path, protocol string }

var allPaths = []path{{"host", "icmp"}, {"host", "http"}, {"endpoint", "icmp"}, {"endpoint", "http"}}

// reachability returns what node src reports for peer on p of family (""
// in a single-stack lab, where each path has one series): 1, 0 or -1
// (absent).
func (l *lab) reachability(src int, peer string, p path, family string) (float64, error) {
	mfs, _, err := l.metrics(src)
	if err != nil {
		return -1, err
	}
	match := map[string]string{"peer": peer, "path": p.path, "protocol": p.protocol}
	if family != "" {
		match["family"] = family
	}
	v, ok := mfs.Value("connectivity_peer_reachable", match)
	if !ok {
		return -1, nil
	}
	return v, nil
}

// expectPaths waits until every source other than the peer itself reports
// want (1 or 0) for each of the given paths to peer.
func (l *lab) expectPaths(peer int, paths []path, want float64, within time.Duration) {
	l.t.Helper()
	l.expectFamilyPaths(peer, "", paths, want, within)
}

// expectFamilyPaths is expectPaths for the paths of one address family
// (ipv4 or ipv6) of a dual-stack lab.
func (l *lab) expectFamilyPaths(peer int, family string, paths []path, want float64, within time.Duration) {
	l.t.Helper()
	name := fmt.Sprintf("node-%d", peer)
	testbin.Eventually(l.t, within, fmt.Sprintf("%s %v of %s = %v from every other node", family, paths, name, want), func() error {
		var seen []string
		ok := true
		for src := 1; src <= l.size; src++ {
			if src == peer {
				continue
			}
			for _, p := range paths {
				v, err := l.reachability(src, name, p, family)
				seen = append(seen, fmt.Sprintf("node-%d:%s/%s=%v", src, p.path, p.protocol, v))
				if err != nil || v != want {
					ok = false
				}
			}
		}
		return testbin.Holds(ok, strings.Join(seen, " "))
	})
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
