package release

import (
	"fmt"
	"io"
	"net"
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

// The daemon serves /metrics on a socket handed over as systemd's socket
// activation hands it (examples/systemd/connectivity_exporter.socket):
// fd 3, LISTEN_FDS=1, LISTEN_PID its own pid, with --web.systemd-socket.
func TestSystemdSocketActivation(t *testing.T) {
	testbin.SkipShort(t, "builds and runs the exporter")
	dir := t.TempDir()
	bin := filepath.Join(dir, binary)
	if err := testbin.Build(bin); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	socket, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer socket.Close()
	helloPort := testbin.FreeLoopbackPort(t)

	// sh sets LISTEN_PID to its own pid, which exec hands to the exporter,
	// as systemd sets it after its fork.
	cmd := exec.Command("sh", "-c", `LISTEN_PID=$$ exec "$0" "$@"`, bin,
		"--web.systemd-socket", "--probe.passive", "--node.name=node-1",
		fmt.Sprintf("--hello.listen-address=127.0.0.1:%d", helloPort),
		"--admin.socket="+filepath.Join(dir, "admin.sock"))
	cmd.ExtraFiles = []*os.File{socket}
	cmd.Env = append(withoutEnv(os.Environ(), "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"), "LISTEN_FDS=1")
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})

	url := "http://" + ln.Addr().String() + "/metrics"
	client := &http.Client{Timeout: 2 * time.Second}
	// The build info series comes with the path metrics, once the (here
	// empty, passive) node list is in force: wait for it.
	testbin.Eventually(t, 30*time.Second, "connectivity_exporter_build_info on "+url, func() error {
		select {
		case err := <-exited:
			t.Fatalf("the exporter exited: %v\n%s", err, logs.String())
		default:
		}
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return testbin.Holds(resp.StatusCode == http.StatusOK && strings.Contains(string(body), "connectivity_exporter_build_info{"),
			fmt.Sprintf("%s:\n%.2000s", resp.Status, body))
	})
}
