package kubeapi

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// lab is a cluster of network namespaces, all in 198.18.0.0/15: a fabric
// (a bridge) joining the nodes, node i at 198.18.0.i, and on each node a
// "pod" at 198.19.i.2, routed like a host-gw CNI does it: the node holds
// 198.19.i.1 on a veth to its pod and forwards, and every node routes
// 198.19.j.0/24 via node j.
type lab struct {
	t      *testing.T
	prefix string // of every namespace name, unique per run
	nodes  int
}

func newLab(t *testing.T, nodes int) *lab {
	t.Helper()
	l := &lab{t: t, prefix: fmt.Sprintf("kx%d-", os.Getpid()%100000), nodes: nodes}
	fabric := l.prefix + "fab"
	addNetns(t, fabric)
	sh(t, "ip", "-n", fabric, "link", "add", "br0", "type", "bridge")
	sh(t, "ip", "-n", fabric, "link", "set", "br0", "up")
	for i := 1; i <= nodes; i++ {
		node, pod := l.node(i), l.pod(i)
		addNetns(t, node)
		addNetns(t, pod)
		port := "n" + strconv.Itoa(i)
		sh(t, "ip", "-n", fabric, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", node)
		sh(t, "ip", "-n", fabric, "link", "set", port, "master", "br0", "up")
		sh(t, "ip", "-n", node, "addr", "add", l.hostIP(i)+"/24", "dev", "eth0")
		sh(t, "ip", "-n", node, "link", "set", "eth0", "up")
		sh(t, "ip", "netns", "exec", node, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward")

		sh(t, "ip", "-n", node, "link", "add", "pod0", "type", "veth", "peer", "name", "eth0", "netns", pod)
		sh(t, "ip", "-n", node, "addr", "add", fmt.Sprintf("198.19.%d.1/24", i), "dev", "pod0")
		sh(t, "ip", "-n", node, "link", "set", "pod0", "up")
		sh(t, "ip", "-n", pod, "addr", "add", l.podIP(i, 2)+"/24", "dev", "eth0")
		sh(t, "ip", "-n", pod, "link", "set", "eth0", "up")
		sh(t, "ip", "-n", pod, "route", "add", "default", "via", fmt.Sprintf("198.19.%d.1", i))
	}
	for i := 1; i <= nodes; i++ {
		for j := 1; j <= nodes; j++ {
			if i != j {
				sh(t, "ip", "-n", l.node(i), "route", "add", fmt.Sprintf("198.19.%d.0/24", j), "via", l.hostIP(j))
			}
		}
	}
	return l
}

func (l *lab) node(i int) string   { return l.prefix + "n" + strconv.Itoa(i) }
func (l *lab) pod(i int) string    { return l.prefix + "p" + strconv.Itoa(i) }
func (l *lab) hostIP(i int) string { return "198.18.0." + strconv.Itoa(i) }

// podIP is address host of node i's pod network.
func (l *lab) podIP(i, host int) string { return fmt.Sprintf("198.19.%d.%d", i, host) }

// movePodIP gives node i's pod the address to instead of from, as a new
// pod replacing an old one would have.
func (l *lab) movePodIP(i, from, to int) {
	l.t.Helper()
	// Deleting the subnet's first address takes the others and the
	// default route with it: add the new one after.
	sh(l.t, "ip", "-n", l.pod(i), "addr", "del", l.podIP(i, from)+"/24", "dev", "eth0")
	sh(l.t, "ip", "-n", l.pod(i), "addr", "add", l.podIP(i, to)+"/24", "dev", "eth0")
	sh(l.t, "ip", "-n", l.pod(i), "route", "replace", "default", "via", fmt.Sprintf("198.19.%d.1", i))
}

// proc is a process of the lab, stopped when the test ends.
type proc struct {
	cmd    *exec.Cmd
	output *syncBuffer
	done   chan struct{}
	err    error // of Wait, once done is closed
}

// start runs the exporter binary with args in the named network namespace,
// with env added to the test's environment.
func start(t *testing.T, netns string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{output: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command("ip", append([]string{"netns", "exec", netns, exporterBin}, args...)...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.output, p.output
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.stop(t) })
	return p
}

// stop ends the process with SIGTERM, or SIGKILL after 10 s.
func (p *proc) stop(t *testing.T) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Errorf("%s did not stop on SIGTERM within 10 s", p.cmd.Args)
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// syncBuffer is a bytes.Buffer that a process writes while a test reads.
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
