package kubeapi

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
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
	tl := testbin.NewLab(t)
	l := &lab{t: t, prefix: fmt.Sprintf("kx%d-", os.Getpid()%100000), nodes: nodes}
	fabric := l.prefix + "fab"
	tl.Netns(fabric)
	tl.Bridge(fabric, "br0")
	for i := 1; i <= nodes; i++ {
		node, pod := l.node(i), l.pod(i)
		tl.Netns(node)
		tl.Netns(pod)
		tl.Veth(testbin.End{Netns: fabric, Dev: "n" + strconv.Itoa(i), Master: "br0"},
			testbin.End{Netns: node, Dev: "eth0", Addrs: []string{l.hostIP(i) + "/24"}})
		tl.Sysctl(node, "net.ipv4.ip_forward=1")
		tl.Veth(testbin.End{Netns: node, Dev: "pod0", Addrs: []string{fmt.Sprintf("198.19.%d.1/24", i)}},
			testbin.End{Netns: pod, Dev: "eth0", Addrs: []string{l.podIP(i, 2) + "/24"}})
		testbin.IP(t, "-n", pod, "route", "add", "default", "via", fmt.Sprintf("198.19.%d.1", i))
	}
	for i := 1; i <= nodes; i++ {
		for j := 1; j <= nodes; j++ {
			if i != j {
				testbin.IP(t, "-n", l.node(i), "route", "add", fmt.Sprintf("198.19.%d.0/24", j), "via", l.hostIP(j))
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
	testbin.IP(l.t, "-n", l.pod(i), "addr", "del", l.podIP(i, from)+"/24", "dev", "eth0")
	testbin.IP(l.t, "-n", l.pod(i), "addr", "add", l.podIP(i, to)+"/24", "dev", "eth0")
	testbin.IP(l.t, "-n", l.pod(i), "route", "replace", "default", "via", fmt.Sprintf("198.19.%d.1", i))
}

// proc is a process of the lab, stopped when the test ends.
type proc struct {
	cmd    *exec.Cmd
	output *testbin.Buffer
	done   chan struct{}
	err    error // of Wait, once done is closed
}

// start runs the exporter binary with args in the named network namespace,
// with env added to the test's environment.
func start(t *testing.T, netns string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{output: &testbin.Buffer{}, done: make(chan struct{})}
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
