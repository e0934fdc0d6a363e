package e2e

import (
	"bytes"
	"fmt"
	"io"
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

// TestHelloCommand runs `connectivity_exporter hello` as the health-endpoint
// pod would, as root and as an unprivileged user: it answers /hello, holds
// no capability, and SIGTERM stops it with exit code 0.
func TestHelloCommand(t *testing.T) {
	testbin.NeedRoot(t, "runs the binary that TestMain builds as root, as root and as another user")
	// A copy that another user may run: TestMain's directory is 0700.
	dir, err := os.MkdirTemp("", "cx-e2e-hello")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "connectivity_exporter")
	if err := copyExecutable(binary, bin); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cred *syscall.Credential // nil: as root
	}{
		{"root", nil},
		{"nobody", &syscall.Credential{Uid: 65534, Gid: 65534}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := fmt.Sprintf("127.0.0.1:%d", testbin.FreeLoopbackPort(t))
			var out bytes.Buffer
			cmd := exec.Command(bin, "hello", "--hello.listen-address="+addr)
			cmd.Stdout, cmd.Stderr = &out, &out
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: tc.cred}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			stopped := false
			t.Cleanup(func() {
				if !stopped {
					cmd.Process.Kill()
					<-done
				}
				if t.Failed() {
					t.Logf("output:\n%s", tail(out.String(), 20))
				}
			})

			var body string
			testbin.Eventually(t, 10*time.Second, "/hello answered", func() error {
				select {
				case err := <-done:
					stopped = true
					t.Fatalf("exited before serving: %v", err)
				default:
				}
				resp, err := (&http.Client{Timeout: time.Second}).Get("http://" + addr + "/hello")
				if err != nil {
					return err
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				body = string(b)
				return testbin.Holds(resp.StatusCode == http.StatusOK, resp.Status)
			})
			if body != "hello\n" {
				t.Errorf("/hello body %q, want %q", body, "hello\n")
			}
			// Whatever it started with, it keeps no capability.
			status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
			if err != nil {
				t.Fatal(err)
			}
			for _, set := range []string{"CapPrm", "CapEff", "CapAmb"} {
				if !strings.Contains(string(status), set+":\t0000000000000000\n") {
					t.Errorf("%s is not empty:\n%s", set, status)
				}
			}

			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				stopped = true
				if err != nil {
					t.Fatalf("after SIGTERM: %v, want exit code 0", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("still running 10s after SIGTERM")
			}
			for _, want := range []string{`msg="serving /hello only" address=` + addr, `msg=stopped`} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("log lacks %s", want)
				}
			}
		})
	}
}

func copyExecutable(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o755)
}
