package healthep

import (
	"bufio"
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

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/connectivity-exporter/connectivity_exporter/hello"
	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
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

// addNode creates a node netns with a "fabric" address, the source address
// the node uses towards its health endpoint. A veth pair looped inside the
// node carries it: veth is needed anyway, dummy may not be built.
func addNode(lab *testbin.Lab, name, fabricCIDR string) {
	lab.Netns(name)
	lab.Veth(testbin.End{Netns: name, Dev: "fab0", Addrs: []string{fabricCIDR}}, testbin.End{Netns: name, Dev: "fab1"})
}

// helloFrom GETs /hello on ip from inside the named netns.
func helloFrom(nsName string, ip netip.Addr, timeout time.Duration) error {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var conn net.Conn
		err := testbin.InNetns(nsName, func() error {
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
// the matching reply (ping -c1 -W1, without needing the ping binary); IPv4
// or IPv6 as ip is.
func pingFrom(nsName string, ip netip.Addr) error {
	network, listen, protocol := "ip4:icmp", "0.0.0.0", ipv4.ICMPTypeEcho.Protocol()
	var echoType, replyType icmp.Type = ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply
	if ip.Is6() {
		network, listen, protocol = "ip6:ipv6-icmp", "::", ipv6.ICMPTypeEchoRequest.Protocol()
		echoType, replyType = ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply
	}
	var conn *icmp.PacketConn
	err := testbin.InNetns(nsName, func() error {
		var err error
		conn, err = icmp.ListenPacket(network, listen)
		return err
	})
	if err != nil {
		return err
	}
	defer conn.Close()
	id, seq := rand.IntN(1<<16), rand.IntN(1<<16)
	req := icmp.Message{Type: echoType, Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte("cxt-hep")}}
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
		msg, err := icmp.ParseMessage(protocol, buf[:n])
		if err != nil || msg.Type != replyType {
			continue
		}
		echo, ok := msg.Body.(*icmp.Echo)
		if ok && echo.ID == id && echo.Seq == seq && from.String() == ip.String() {
			return nil
		}
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
	logs *testbin.Buffer
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
	h := &helper{t: t, logs: &testbin.Buffer{}, done: make(chan struct{}), changed: make(chan struct{})}
	h.cmd = exec.Command(exe, "-test.run=^TestHelperProcess$", "-test.timeout=5m")
	h.cmd.Env = append(os.Environ(), helperEnv+"="+string(raw))
	h.cmd.ExtraFiles = []*os.File{w}
	h.cmd.Stdout, h.cmd.Stderr = h.logs, h.logs
	// If the test binary dies, the child still removes what it built.
	h.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	// A child forked from a thread inside nodeNs lives in nodeNs entirely,
	// yet shares our mount namespace, so its /run/netns mounts are ours
	// (`ip netns exec` would give it a private mount namespace).
	err = testbin.InNetns(nodeNs, h.cmd.Start)
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

// requireGone asserts that nothing of the endpoint is left in the node.
func requireGone(t *testing.T, nodeNs, healthNs string, ip netip.Addr) {
	t.Helper()
	if testbin.NetnsExists(healthNs) {
		t.Errorf("netns %s is still listed", healthNs)
	}
	if _, err := os.Lstat(netnsPath(healthNs)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s still exists (err %v)", netnsPath(healthNs), err)
	}
	if links := testbin.IP(t, "-n", nodeNs, "-o", "link", "show"); strings.Contains(links, hostIf) {
		t.Errorf("link %s is still in %s:\n%s", hostIf, nodeNs, links)
	}
	if routes := testbin.IP(t, "-n", nodeNs, "route", "show", "table", "all"); strings.Contains(routes, ip.String()) {
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
