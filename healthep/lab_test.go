package healthep

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"

	"github.com/connectivity-exporter/connectivity_exporter/hello"
)

// The lab: every "host" is a network namespace named cxt-hep-*, every address
// is in 198.18.0.0/15. The controller under test runs in a child process
// started inside a node netns, so its "daemon netns" is that node, never the
// machine's own.

const (
	labInterval = 300 * time.Millisecond
	labWait     = 15 * time.Second // generous: 2 shared cores and -race
	hostIf      = "cx_health"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces")
	}
	if testing.Short() {
		t.Skip("builds network namespaces; skipped in -short mode")
	}
}

func sh(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func mustSh(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := sh(name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// addNetns creates a lab netns (removing a leftover of an aborted run first)
// and deletes it when the test ends.
func addNetns(t *testing.T, name string) {
	t.Helper()
	if !strings.HasPrefix(name, "cxt-hep-") {
		t.Fatalf("lab netns %q must be prefixed cxt-hep-", name)
	}
	_, _ = sh("ip", "netns", "delete", name)
	mustSh(t, "ip", "netns", "add", name)
	t.Cleanup(func() { _, _ = sh("ip", "netns", "delete", name) })
	mustSh(t, "ip", "-n", name, "link", "set", "lo", "up")
}

// addNode creates a node netns with a "fabric" address, the source address
// the node uses towards its health endpoint. A veth pair looped inside the
// node carries it: veth is needed anyway, dummy may not be built.
func addNode(t *testing.T, name, fabricCIDR string) {
	t.Helper()
	addNetns(t, name)
	mustSh(t, "ip", "-n", name, "link", "add", "fab0", "type", "veth", "peer", "name", "fab1")
	mustSh(t, "ip", "-n", name, "addr", "add", fabricCIDR, "dev", "fab0")
	mustSh(t, "ip", "-n", name, "link", "set", "fab0", "up")
	mustSh(t, "ip", "-n", name, "link", "set", "fab1", "up")
}

// forgetNetns makes sure a health netns name from an aborted run is gone
// before and after the test.
func forgetNetns(t *testing.T, name string) {
	t.Helper()
	_, _ = sh("ip", "netns", "delete", name)
	t.Cleanup(func() { _, _ = sh("ip", "netns", "delete", name) })
}

func netnsListed(t *testing.T, name string) bool {
	t.Helper()
	for _, line := range strings.Split(mustSh(t, "ip", "netns", "list"), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == name {
			return true
		}
	}
	return false
}

// inNamedNetns runs fn on a thread switched into the named netns.
func inNamedNetns(name string, fn func() error) error {
	h, err := netns.GetFromName(name)
	if err != nil {
		return err
	}
	defer h.Close()
	return inNetns(h, fn)
}

// helloFrom GETs /hello on ip from inside the named netns.
func helloFrom(nsName string, ip netip.Addr, timeout time.Duration) error {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var conn net.Conn
		err := inNamedNetns(nsName, func() error {
			var err error
			conn, err = (&net.Dialer{}).DialContext(ctx, network, addr)
			return err
		})
		return conn, err
	}
	client := &http.Client{
		Timeout:   timeout,
		Transport: &http.Transport{Proxy: nil, DialContext: dial, DisableKeepAlives: true},
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return getHello(ctx, client, helloURL(ip, hello.DefaultPort))
}

// pingFrom sends one ICMP echo to ip from inside the named netns and waits for
// the matching reply (ping -c1 -W1, without needing the ping binary).
func pingFrom(nsName string, ip netip.Addr) error {
	var conn *icmp.PacketConn
	err := inNamedNetns(nsName, func() error {
		var err error
		conn, err = icmp.ListenPacket("ip4:icmp", "0.0.0.0")
		return err
	})
	if err != nil {
		return err
	}
	defer conn.Close()
	id, seq := rand.IntN(1<<16), rand.IntN(1<<16)
	req := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte("cxt-hep")}}
	b, err := req.Marshal(nil)
	if err != nil {
		return err
	}
	if _, err := conn.WriteTo(b, &net.IPAddr{IP: ip.AsSlice()}); err != nil {
		return err
	}
	_ = conn.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 1500)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			return fmt.Errorf("ping %s from %s: %w", ip, nsName, err)
		}
		msg, err := icmp.ParseMessage(ipv4.ICMPTypeEcho.Protocol(), buf[:n])
		if err != nil || msg.Type != ipv4.ICMPTypeEchoReply {
			continue
		}
		echo, ok := msg.Body.(*icmp.Echo)
		if ok && echo.ID == id && echo.Seq == seq && from.String() == ip.String() {
			return nil
		}
	}
}

// eventually retries fn until it succeeds or labWait passes.
func eventually(t *testing.T, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(labWait)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// helperState is what the parent learnt from the child's Reporter calls.
type helperState struct {
	Up       bool // value of the last SetHealthEndpointUp
	Downs    int  // SetHealthEndpointUp(false) calls
	Restarts int  // HealthEndpointRestarted calls
	Exited   bool
	ExitMsg  string
}

// helper is a controller running in a child process inside a node netns.
type helper struct {
	t    *testing.T
	cmd  *exec.Cmd
	logs *syncBuffer
	done chan struct{} // closed when the child is reaped and its events read

	mu      sync.Mutex
	state   helperState
	changed chan struct{} // closed and replaced on every event
}

func startHelper(t *testing.T, nodeNs string, spec helperSpec) *helper {
	t.Helper()
	raw, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	h := &helper{t: t, logs: &syncBuffer{}, done: make(chan struct{}), changed: make(chan struct{})}
	h.cmd = exec.Command(exe, "-test.run=^TestHelperProcess$", "-test.timeout=5m")
	h.cmd.Env = append(os.Environ(), helperEnv+"="+string(raw))
	h.cmd.ExtraFiles = []*os.File{w}
	h.cmd.Stdout, h.cmd.Stderr = h.logs, h.logs
	// If the test binary dies, the child still removes what it built.
	h.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	// A child forked from a thread inside nodeNs lives in nodeNs entirely,
	// yet shares our mount namespace, so its /run/netns mounts are ours
	// (`ip netns exec` would give it a private mount namespace).
	err = inNamedNetns(nodeNs, h.cmd.Start)
	_ = w.Close()
	if err != nil {
		_ = r.Close()
		t.Fatalf("start helper in %s: %v", nodeNs, err)
	}
	go h.readEvents(r)
	t.Cleanup(func() {
		select {
		case <-h.done:
		default:
			_ = h.cmd.Process.Kill()
			<-h.done
		}
		if t.Failed() || testing.Verbose() {
			t.Logf("helper in %s logged:\n%s", nodeNs, h.logs.String())
		}
	})
	return h
}

func (h *helper) readEvents(r *os.File) {
	defer close(h.done)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		h.apply(sc.Text())
	}
	_ = r.Close()
	_ = h.cmd.Wait()
}

func (h *helper) apply(line string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case line == "up true":
		h.state.Up = true
	case line == "up false":
		h.state.Up = false
		h.state.Downs++
	case line == "restarted":
		h.state.Restarts++
	case strings.HasPrefix(line, "exit "):
		h.state.Exited = true
		h.state.ExitMsg = strings.TrimPrefix(line, "exit ")
	}
	close(h.changed)
	h.changed = make(chan struct{})
}

func (h *helper) snapshot() helperState {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.state
}

// waitFor blocks until cond holds for the child's state.
func (h *helper) waitFor(what string, cond func(helperState) bool) helperState {
	h.t.Helper()
	timer := time.NewTimer(labWait)
	defer timer.Stop()
	for {
		h.mu.Lock()
		st, changed := h.state, h.changed
		h.mu.Unlock()
		if cond(st) {
			return st
		}
		select {
		case <-changed:
		case <-h.done:
			if st := h.snapshot(); cond(st) {
				return st
			}
			h.t.Fatalf("helper exited while waiting for %s: state %+v, %v", what, h.snapshot(), h.cmd.ProcessState)
		case <-timer.C:
			h.t.Fatalf("timed out waiting for %s: state %+v", what, h.snapshot())
		}
	}
}

// stop sends SIGTERM and requires a clean exit.
func (h *helper) stop() {
	h.t.Helper()
	_ = h.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-h.done:
	case <-time.After(labWait):
		h.t.Fatal("helper did not exit after SIGTERM")
	}
	h.requireCleanExit()
}

func (h *helper) requireCleanExit() {
	h.t.Helper()
	st := h.snapshot()
	if !st.Exited || st.ExitMsg != "" || !h.cmd.ProcessState.Success() {
		h.t.Fatalf("helper did not exit cleanly: state %+v, %v", st, h.cmd.ProcessState)
	}
}

// kill simulates a crash: no cleanup runs in the child.
func (h *helper) kill() {
	h.t.Helper()
	_ = h.cmd.Process.Kill()
	<-h.done
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// requireGone asserts that nothing of the endpoint is left in the node.
func requireGone(t *testing.T, nodeNs, healthNs string, ip netip.Addr) {
	t.Helper()
	if netnsListed(t, healthNs) {
		t.Errorf("netns %s is still listed", healthNs)
	}
	if _, err := os.Lstat(netnsPath(healthNs)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s still exists (err %v)", netnsPath(healthNs), err)
	}
	if links := mustSh(t, "ip", "-n", nodeNs, "-o", "link", "show"); strings.Contains(links, hostIf) {
		t.Errorf("link %s is still in %s:\n%s", hostIf, nodeNs, links)
	}
	if routes := mustSh(t, "ip", "-n", nodeNs, "route", "show", "table", "all"); strings.Contains(routes, ip.String()) {
		t.Errorf("a route to %s is still in %s:\n%s", ip, nodeNs, routes)
	}
}

func requireReachable(t *testing.T, fromNs string, ip netip.Addr) {
	t.Helper()
	if err := pingFrom(fromNs, ip); err != nil {
		t.Errorf("ICMP from %s: %v", fromNs, err)
	}
	if err := helloFrom(fromNs, ip, 2*time.Second); err != nil {
		t.Errorf("/hello from %s: %v", fromNs, err)
	}
}
