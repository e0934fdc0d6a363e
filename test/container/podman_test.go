package container

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// podman runs the podman command with settings that work in a sandbox
// like CI's (shared/recipes/container-runtime.md): runc, because crun
// refuses a mixed cgroup v1/v2 layout, and rlimits no higher than this
// process's own hard limits, because raising them needs CAP_SYS_RESOURCE.
type podman struct {
	t   *testing.T
	env []string
}

func newPodman(t *testing.T) *podman {
	t.Helper()
	var nofile, nproc unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &nofile); err != nil {
		t.Fatal(err)
	}
	if err := unix.Getrlimit(unix.RLIMIT_NPROC, &nproc); err != nil {
		t.Fatal(err)
	}
	// podman lowers its own NPROC hard limit to 32768 before it starts the
	// container; podman's default nofile is 1048576.
	n, p := min(nofile.Max, 1048576), min(nproc.Max, 32768)
	conf := filepath.Join(t.TempDir(), "containers.conf")
	content := fmt.Sprintf("[containers]\ndefault_ulimits = [\"nofile=%d:%d\", \"nproc=%d:%d\"]\n[engine]\nruntime = \"runc\"\n", n, n, p, p)
	if err := os.WriteFile(conf, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return &podman{t: t, env: append(os.Environ(), "CONTAINERS_CONF="+conf)}
}

// run runs podman with args and returns its standard output, trimmed; the
// error carries standard error.
func (p *podman) run(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "podman", args...)
	cmd.Env = p.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("podman %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(stdout.String()), nil
}

func (p *podman) mustRun(timeout time.Duration, args ...string) string {
	p.t.Helper()
	out, err := p.run(timeout, args...)
	if err != nil {
		p.t.Fatal(err)
	}
	return out
}

// build builds the repository's Dockerfile on context (which holds what it
// copies) as tag, and removes the image when the test ends.
func (p *podman) build(dockerfile, context, base, tag string) {
	p.t.Helper()
	p.mustRun(2*time.Minute, "build", "--quiet", "--file", dockerfile, "--build-arg", "BASE="+base, "--tag", tag, context)
	p.t.Cleanup(func() {
		if _, err := p.run(30*time.Second, "rmi", "--force", tag); err != nil {
			p.t.Errorf("removing the test image: %v", err)
		}
	})
}

// start runs a container in the background and returns its id. The
// container is removed when the test ends; if the test failed, its log is
// shown first.
func (p *podman) start(name string, args ...string) string {
	p.t.Helper()
	began := time.Now()
	id := p.mustRun(time.Minute, append([]string{"run", "--detach"}, args...)...)
	p.t.Logf("%s container started in %s", name, time.Since(began).Round(time.Millisecond))
	p.t.Cleanup(func() {
		if p.t.Failed() {
			logs, err := p.combined(10*time.Second, "logs", "--tail", "40", id)
			p.t.Logf("%s container log (tail, err=%v):\n%s", name, err, logs)
		}
		if _, err := p.run(30*time.Second, "rm", "--force", "--time", "2", id); err != nil {
			p.t.Errorf("removing the %s container: %v", name, err)
		}
	})
	return id
}

// combined runs podman and returns standard output and error together
// (podman logs writes the container's stderr to its own).
func (p *podman) combined(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "podman", args...)
	cmd.Env = p.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}
