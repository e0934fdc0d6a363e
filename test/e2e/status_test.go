package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// status runs the real `connectivity_exporter status` against node i's daemon.
func (l *lab) status(i int, args ...string) (admin.Report, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sock := filepath.Join(l.dir, fmt.Sprintf("node-%d", i), "admin.sock")
	cmd := exec.CommandContext(ctx, binary, append([]string{"status", "-o", "json", "--admin.socket=" + sock}, args...)...)
	out, err := cmd.Output()
	var r admin.Report
	if jerr := json.Unmarshal(out, &r); jerr != nil {
		return r, string(out), fmt.Errorf("status output is not a report: %w (exit: %v)", jerr, err) //nolint:errorlint // err is nil when status exited 0 but printed no report
	}
	return r, string(out), nil
}

// statusText runs the real `connectivity_exporter status` against node i's
// daemon and returns its text and exit code.
func (l *lab) statusText(i int, args ...string) (string, int) {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sock := filepath.Join(l.dir, fmt.Sprintf("node-%d", i), "admin.sock")
	out, err := exec.CommandContext(ctx, binary, append([]string{"status", "--admin.socket=" + sock}, args...)...).CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &exit):
		return string(out), exit.ExitCode()
	}
	l.t.Fatalf("status: %v\n%s", err, out)
	return "", -1
}

// expectDiagnosis waits until node src's status diagnoses node peer with a
// line containing want.
func (l *lab) expectDiagnosis(src, peer int, want string) {
	l.t.Helper()
	name := fmt.Sprintf("node-%d", peer)
	testbin.Eventually(l.t, converge, fmt.Sprintf("node-%d diagnosing %s with %q", src, name, want), func() error {
		r, out, err := l.status(src)
		if err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
		for _, n := range r.Nodes {
			if n.Name == name {
				return testbin.Holds(strings.Contains(n.Diagnosis, want), fmt.Sprintf("diagnosis %q", n.Diagnosis))
			}
		}
		return testbin.Holds(false, name+" not in the report")
	})
}

func TestStatusDiagnosesEachFault(t *testing.T) {
	l := startLab(t, 3)
	for peer := 1; peer <= 3; peer++ {
		l.expectPaths(peer, allPaths, 1, converge)
	}
	r, _, err := l.status(1)
	if err != nil {
		t.Fatal(err)
	}
	// The lab's daemons serve and probe /hello on the default port; the
	// report says so, and diagnoses name it.
	if len(r.Nodes) != 3 || r.LocalNode != "node-1" || !r.Nodes[0].Local || r.HelloPort != 4240 {
		t.Fatalf("healthy report: %+v", r)
	}
	for _, n := range r.Nodes {
		if n.Diagnosis != "" {
			t.Errorf("healthy %s diagnosed %q", n.Name, n.Diagnosis)
		}
	}

	steps := []struct {
		fault, clear []string
		peer         int
		want         string
	}{
		{[]string{"forward-drop", "2"}, []string{"forward-drop", "2"}, 2, "traffic is dropped inside node-2 before it reaches endpoints"},
		{[]string{"icmp-drop"}, []string{"icmp-drop"}, 3, "ICMP is filtered on the path to node-3; TCP works"},
		{[]string{"stop", "3"}, []string{"start", "3"}, 3, "the exporter is not running on node-3 (ICMP answers, HTTP /hello refused)"},
		{[]string{"cut", "2"}, []string{"cut", "2"}, 2, "node-2 is down or cut off"},
	}
	for _, s := range steps {
		l.mustRun(append([]string{"fault"}, s.fault...)...)
		l.expectDiagnosis(1, s.peer, s.want)
		l.mustRun(append([]string{"clear"}, s.clear...)...)
		l.expectPaths(s.peer, allPaths, 1, converge)
	}

	// Cut node-1 itself: from there, every peer is gone.
	l.mustRun("fault", "cut", "1")
	l.expectDiagnosis(1, 1, "this node is isolated: 2/2 peers unreachable from here")
}

func TestStatusProbeWithANodeCutOffReturnsWithinTheTimeout(t *testing.T) {
	l := startLab(t, 3)
	l.expectPaths(3, allPaths, 1, converge)
	l.mustRun("fault", "cut", "3")
	start := time.Now()
	r, out, err := l.status(1, "--probe")
	took := time.Since(start)
	t.Logf("status --probe with node-3 cut off took %s (probe timeout 500ms)", took)
	if err != nil {
		t.Fatalf("status --probe: %v\n%s", err, out)
	}
	// One probe timeout is 500ms in the lab; allow process start and
	// scheduling noise, but not a sequential sweep of timeouts.
	if took > 5*time.Second {
		t.Errorf("status --probe took %s with a node cut off (probe timeout 500ms)", took)
	}
	for _, n := range r.Nodes {
		if n.Name == "node-3" && (n.Host.ICMP.Result != "timeout" || n.Host.HTTP.Result != "timeout") {
			t.Errorf("node-3 after --probe: %+v", n.Host)
		}
	}

	// The text of a fresh probe, right after the cut (the lab's failure
	// threshold is 2, so the gauges may not say it yet): node-3 is down.
	l.mustRun("clear", "cut", "3")
	l.expectPaths(3, allPaths, 1, converge)
	l.mustRun("fault", "cut", "3")
	text, code := l.statusText(1, "--probe")
	if code != 1 || !strings.Contains(text, "Diagnosis: node-3 is down or cut off") || !strings.Contains(text, "Cluster health:   2/3 reachable") {
		t.Errorf("status --probe right after node-3 was cut: exit %d (want 1):\n%s", code, text)
	}
}

// With --probe.peers=2 on 5 nodes, each node probes 2 peers: the others are
// not broken, so status exits 0 and says nothing of "not probed yet".
func TestStatusWithProbePeers(t *testing.T) {
	l := startLabWith(t, 5, labArgs+" --probe.peers=2")
	var text string
	testbin.Eventually(t, converge, "status on node-1 exiting 0", func() error {
		var code int
		text, code = l.statusText(1)
		return testbin.Holds(code == 0, fmt.Sprintf("exit %d:\n%s", code, text))
	})
	if strings.Contains(text, "not probed yet") || strings.Contains(text, "Not probed yet") {
		t.Errorf("status shows nodes outside the peers as not probed yet:\n%s", text)
	}
	if !strings.Contains(text, "Cluster health:   3/3 reachable (the 3 nodes this node probes: --probe.peers=2; 2 more not probed from here)") {
		t.Errorf("Cluster health line:\n%s", text)
	}
	verbose, code := l.statusText(1, "--verbose")
	if code != 0 || strings.Count(verbose, "Not probed from this node: outside its 2 peers") != 2 {
		t.Errorf("status --verbose: exit %d:\n%s", code, verbose)
	}
}
