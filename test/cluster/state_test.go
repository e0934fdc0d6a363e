package cluster

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func TestSweepOrphans(t *testing.T) {
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	for _, tc := range []struct {
		name  string
		owner int
		stays bool
	}{
		{"orphan", dead.Process.Pid, false},
		{"owner alive", os.Getpid(), true},
		{"persistent", 0, true},
	} {
		dir := filepath.Join(base, tc.name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		// Names no namespace or cgroup exists under: nothing to kill.
		s := &state{ID: "sweeptest", Dir: dir, Started: time.Now(), Owner: tc.owner,
			Netns: []string{netnsName("sweeptest", "cp")}, Cgroup: "connectivity-cluster-sweeptest", CNINetwork: "cx-sweeptest"}
		if err := s.save(); err != nil {
			t.Fatal(err)
		}
	}
	// Not a cluster's directory: left alone.
	if err := os.Mkdir(filepath.Join(base, "other"), 0o755); err != nil {
		t.Fatal(err)
	}
	removed, err := SweepOrphans(base)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || removed[0] != filepath.Join(base, "orphan") {
		t.Errorf("removed %v, want only the orphan", removed)
	}
	for _, name := range []string{"owner alive", "persistent", "other"} {
		if _, err := os.Stat(filepath.Join(base, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(base, "orphan")); !os.IsNotExist(err) {
		t.Errorf("the orphan's directory is left: %v", err)
	}
	if removed, err := SweepOrphans(filepath.Join(base, "none")); err != nil || removed != nil {
		t.Errorf("a missing base: %v, %v", removed, err)
	}
}
