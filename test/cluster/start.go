package cluster

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// Start brings a cluster up for test t (see Up) and tears it down when t
// ends, first logging the end of every daemon's log if t failed. It skips
// (fails under CX_TEST_STRICT=1 or CI=true) without root, nsenter, ip or
// runc, and in -short mode.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	testbin.SkipShort(t, "builds and runs a Kubernetes cluster")
	testbin.NeedRoot(t, "builds network namespaces and runs kubelets")
	testbin.NeedTool(t, "nsenter", "apt-get install -y util-linux")
	testbin.NeedTool(t, "ip", "apt-get install -y iproute2")
	if opts.Runc == "" {
		opts.Runc = testbin.NeedTool(t, "runc", "apt-get install -y runc")
	}
	if opts.Logf == nil {
		opts.Logf = t.Logf
	}
	// Clusters of killed test runs would hold memory and addresses. Under
	// the build lock: tests started side by side would otherwise tear the
	// same orphan down at once, and all but one fail.
	var removed []string
	err := withBuildLock(func() error {
		var err error
		removed, err = SweepOrphans(DefaultBaseDir)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range removed {
		t.Logf("removed the orphaned cluster in %s", dir)
	}
	c, err := Up(opts)
	if err != nil {
		t.Fatalf("cluster: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := filepath.Glob(filepath.Join(c.Dir, "logs", "*.log"))
			for _, l := range logs {
				t.Logf("--- %s:\n%s", filepath.Base(l), LogTail(l, 15))
			}
		}
		if err := c.Close(); err != nil {
			t.Errorf("cluster teardown: %v", err)
		}
		if _, err := os.Stat(c.Dir); err == nil {
			t.Errorf("cluster directory %s is left", c.Dir)
		}
	})
	return c
}
