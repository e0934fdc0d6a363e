package cluster_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/test/cluster"
	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// crashDirEnv, when set, makes TestTeardownAfterACrash the child that
// builds a cluster there and is then killed.
const crashDirEnv = "CX_CLUSTER_CRASH_DIR"

// TestTeardownAfterACrash kills (SIGKILL) a process that has brought a
// cluster up with both DaemonSets running, as a crashed `make cluster-up`
// or a test killed by -timeout would, and checks that Teardown of its
// directory leaves nothing: no process, namespace, cgroup, mount or
// directory.
func TestTeardownAfterACrash(t *testing.T) {
	if dir := os.Getenv(crashDirEnv); dir != "" {
		c, err := cluster.Up(cluster.Options{Nodes: 2, Dir: dir, ID: filepath.Base(dir)})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.DeployExporter(3 * time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "up"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		select {} // until killed
	}
	// Its own cluster: runs beside the other cluster tests (make test gives
	// -parallel 3), which mostly wait on kubelets, probe intervals and alert timers.
	t.Parallel()
	testbin.SkipShort(t, "builds and runs a Kubernetes cluster")
	testbin.NeedRoot(t, "builds network namespaces and runs kubelets")
	id := "crash" + strings.ReplaceAll(time.Now().Format("150405.000"), ".", "")
	dir := filepath.Join(cluster.DefaultBaseDir, id)
	child := exec.Command(os.Args[0], "-test.run=^TestTeardownAfterACrash$", "-test.timeout=20m")
	child.Env = append(os.Environ(), crashDirEnv+"="+dir)
	out, err := os.Create(filepath.Join(t.TempDir(), "child.log"))
	if err != nil {
		t.Fatal(err)
	}
	child.Stdout, child.Stderr = out, out
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- child.Wait() }()
	t.Cleanup(func() { _ = cluster.Teardown(dir) }) // if the checks below fail early
	deadline := time.After(15 * time.Minute)
wait:
	for {
		select {
		case err := <-exited:
			t.Fatalf("the child exited before its cluster was up: %v\n%s", err, cluster.LogTail(out.Name(), 30))
		case <-deadline:
			t.Fatal("the child's cluster is not up after 15 minutes")
		case <-time.After(500 * time.Millisecond):
			if _, err := os.Stat(filepath.Join(dir, "up")); err == nil {
				break wait
			}
		}
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited

	if err := cluster.Teardown(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s is left: %v", dir, err)
	}
	if left, _ := filepath.Glob("/run/netns/cx-" + id + "-*"); len(left) > 0 {
		t.Errorf("namespaces left: %v", left)
	}
	if left, _ := filepath.Glob("/sys/fs/cgroup/*/connectivity-cluster-" + id); len(left) > 0 {
		t.Errorf("cgroups left: %v", left)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if cmdline, err := os.ReadFile(p); err == nil && strings.Contains(string(cmdline), dir) {
			t.Errorf("a process of the cluster is left: %s", strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mounts), dir) {
		t.Errorf("mounts under %s are left", dir)
	}
}
