package privileges

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-kit/log"
	"kernel.org/pub/linux/libs/security/libcap/cap"

	"github.com/connectivity-exporter/connectivity_exporter/healthep"
	"github.com/connectivity-exporter/connectivity_exporter/hello"
	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

func TestNeedsCaps(t *testing.T) {
	tests := []struct {
		name  string
		needs Needs
		want  []cap.Value
	}{
		{"passive, no health endpoint", Needs{}, nil},
		{"Kubernetes default: raw ICMP, no health namespace, high ports", Needs{RawICMP: true}, []cap.Value{cap.NET_RAW}},
		{"Kubernetes, raw ICMP, /hello on port 80", Needs{RawICMP: true, LowPort: true}, []cap.Value{cap.NET_BIND_SERVICE, cap.NET_RAW}},
		{"health endpoint, unprivileged ICMP", Needs{HealthEndpoint: true}, []cap.Value{cap.NET_ADMIN, cap.SYS_ADMIN}},
		{"full daemon", Needs{HealthEndpoint: true, RawICMP: true}, []cap.Value{cap.NET_ADMIN, cap.NET_RAW, cap.SYS_ADMIN}},
		{"ICMP engine opened at start, /hello on port 80", Needs{HealthEndpoint: true, LowPort: true}, []cap.Value{cap.NET_BIND_SERVICE, cap.NET_ADMIN, cap.SYS_ADMIN}},
		{"everything", Needs{true, true, true}, []cap.Value{cap.NET_BIND_SERVICE, cap.NET_ADMIN, cap.NET_RAW, cap.SYS_ADMIN}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.needs.Caps(); !slices.Equal(got, tc.want) {
				t.Fatalf("Caps() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestAnyLowPort(t *testing.T) {
	tests := []struct {
		addrs []string
		want  bool
	}{
		{[]string{":4240", ":9240"}, false},
		{[]string{":4240", "127.0.0.1:80"}, true},
		{[]string{"[::1]:443"}, true},
		{[]string{":0"}, false}, // any free port: never a low one
		{[]string{"no-port"}, true},
		{nil, false},
	}
	for _, tc := range tests {
		if got := AnyLowPort(tc.addrs...); got != tc.want {
			t.Errorf("AnyLowPort(%q) = %v, want %v", tc.addrs, got, tc.want)
		}
	}
}

// The dropping itself is irreversible, so it runs in a child: the test
// binary re-executed inside a node network namespace (cxh-priv-*), as the
// daemon runs inside a lab node.

const helperEnv = "CXH_PRIVILEGES_HELPER"

type helperSpec struct {
	Needs       Needs
	Controller  bool   // then run a health endpoint controller after dropping
	HealthNetns string // its netns name
}

// threadCaps is one thread's line of /proc/self/task/*/status.
type threadCaps struct {
	TID                               int
	Inh, Prm, Eff, Bnd, Amb, NoNewPrv string
}

type helperReport struct {
	Result     string
	Threads    []threadCaps
	RawICMPErr string // empty: a raw ICMP socket could be opened
	ChownErr   string // empty: a file could be given away (CAP_CHOWN)
}

// TestPrivilegesHelper is the child side.
func TestPrivilegesHelper(t *testing.T) {
	raw := os.Getenv(helperEnv)
	if raw == "" {
		t.Skip("helper of TestDrop; runs only when re-executed by it")
	}
	var spec helperSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		t.Fatal(err)
	}
	events := os.NewFile(3, "events")
	var mu sync.Mutex
	emit := func(kind string, v any) {
		b, _ := json.Marshal(v)
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(events, "%s %s\n", kind, b)
	}

	// Park a few goroutines on threads of their own, so that "every
	// thread" means more than the runtime's usual handful.
	release := make(chan struct{})
	var parked sync.WaitGroup
	for range 4 {
		parked.Add(1)
		go func() {
			runtime.LockOSThread()
			parked.Done()
			<-release
			runtime.UnlockOSThread()
		}()
	}
	parked.Wait()

	r, err := Drop(spec.Needs.Caps()...)
	if err != nil {
		emit("exit", err.Error())
		return
	}
	rep := helperReport{Result: r.String(), Threads: readThreadCaps(t)}
	if fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW, syscall.IPPROTO_ICMP); err != nil {
		rep.RawICMPErr = err.Error()
	} else {
		syscall.Close(fd)
	}
	f := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(f, 65534, 65534); err != nil {
		rep.ChownErr = err.Error()
	}
	close(release)
	emit("report", rep)

	if spec.Controller {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
		defer stop()
		c, err := healthep.NewController(healthep.Config{
			IP: netip.MustParseAddr("198.19.250.1"), Netns: spec.HealthNetns, HostInterface: "cxh_hep",
			HelloPort: hello.DefaultPort, CheckInterval: 300 * time.Millisecond, CheckTimeout: 300 * time.Millisecond,
		}, reporter(emit), log.NewLogfmtLogger(os.Stderr))
		if err == nil {
			err = c.Run(ctx)
		}
		if err != nil {
			emit("exit", err.Error())
			return
		}
	}
	emit("exit", "")
}

type reporter func(string, any)

func (r reporter) SetHealthEndpointUp(up bool) { r("up", up) }
func (r reporter) HealthEndpointRestarted()    { r("restarted", true) }

func readThreadCaps(t *testing.T) []threadCaps {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	var out []threadCaps
	for _, task := range tasks {
		b, err := os.ReadFile(filepath.Join("/proc/self/task", task.Name(), "status"))
		if err != nil {
			continue // the thread ended
		}
		tc := threadCaps{}
		tc.TID, _ = strconv.Atoi(task.Name())
		for _, line := range strings.Split(string(b), "\n") {
			k, v, _ := strings.Cut(line, ":")
			v = strings.TrimSpace(v)
			switch k {
			case "CapInh":
				tc.Inh = v
			case "CapPrm":
				tc.Prm = v
			case "CapEff":
				tc.Eff = v
			case "CapBnd":
				tc.Bnd = v
			case "CapAmb":
				tc.Amb = v
			case "NoNewPrivs":
				tc.NoNewPrv = v
			}
		}
		out = append(out, tc)
	}
	return out
}

func mask(vs []cap.Value) string {
	var m uint64
	for _, v := range vs {
		m |= 1 << uint(v)
	}
	return fmt.Sprintf("%016x", m)
}

// child is a running helper and its event stream.
type child struct {
	cmd    *exec.Cmd
	events chan [2]string
}

func startChild(t *testing.T, nodeNetns string, spec helperSpec) *child {
	t.Helper()
	raw, _ := json.Marshal(spec)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", nodeNetns, os.Args[0], "-test.run=^TestPrivilegesHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+string(raw))
	cmd.ExtraFiles = []*os.File{w}
	cmd.Stderr = &testWriter{t: t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	c := &child{cmd: cmd, events: make(chan [2]string, 100)}
	go func() {
		defer close(c.events)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			kind, v, _ := strings.Cut(sc.Text(), " ")
			c.events <- [2]string{kind, v}
		}
		r.Close()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return c
}

// next waits for the next event of kind, skipping others.
func (c *child) next(t *testing.T, kind string, within time.Duration) string {
	t.Helper()
	timeout := time.After(within)
	for {
		select {
		case ev, ok := <-c.events:
			if !ok {
				t.Fatalf("the child ended before sending %q", kind)
			}
			if ev[0] == "exit" && kind != "exit" {
				t.Fatalf("the child ended early: %s", ev[1])
			}
			if ev[0] == kind {
				return ev[1]
			}
		case <-timeout:
			t.Fatalf("no %q from the child within %s", kind, within)
		}
	}
}

type testWriter struct{ t *testing.T }

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Logf("child: %s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func TestDrop(t *testing.T) {
	testbin.SkipShort(t, "creates network namespaces")
	testbin.NeedRoot(t, "drops capabilities root has, in a child inside a network namespace")
	tests := []struct {
		name       string
		spec       helperSpec
		rawICMP    bool
		controller bool
	}{
		{"passive daemon keeps nothing", helperSpec{}, false, false},
		{"Kubernetes daemon: raw ICMP only, no health namespace", helperSpec{Needs: Needs{RawICMP: true}}, true, false},
		{"daemon with raw ICMP and a health endpoint rebuilt at runtime", helperSpec{Needs: Needs{HealthEndpoint: true, RawICMP: true}, Controller: true}, true, true},
		{"health endpoint, ICMP engine already open", helperSpec{Needs: Needs{HealthEndpoint: true}}, false, false},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			node := fmt.Sprintf("cxh-priv-n%d", i)
			health := fmt.Sprintf("cxh-priv-h%d", i)
			lab := testbin.NewLab(t)
			lab.Forget(health)
			lab.Netns(node)
			// The node's own address, the source towards its endpoint.
			lab.Veth(testbin.End{Netns: node, Dev: "fab0", Addrs: []string{"198.18.250.1/24"}}, testbin.End{Netns: node, Dev: "fab1"})

			tc.spec.HealthNetns = health
			c := startChild(t, node, tc.spec)
			var rep helperReport
			if err := json.Unmarshal([]byte(c.next(t, "report", 30*time.Second)), &rep); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s; %d threads", rep.Result, len(rep.Threads))
			want := mask(tc.spec.Needs.Caps())
			if len(rep.Threads) < 5 {
				t.Errorf("only %d threads: the all-threads check proves little", len(rep.Threads))
			}
			for _, th := range rep.Threads {
				exp := threadCaps{TID: th.TID, Inh: mask(nil), Prm: want, Eff: want, Bnd: want, Amb: mask(nil), NoNewPrv: "1"}
				if th != exp {
					t.Errorf("thread %d: %+v, want %+v", th.TID, th, exp)
				}
			}
			if (rep.RawICMPErr == "") != tc.rawICMP {
				t.Errorf("raw ICMP socket: err %q, want allowed=%v", rep.RawICMPErr, tc.rawICMP)
			}
			if !strings.Contains(rep.ChownErr, "operation not permitted") {
				t.Errorf("chown to another user: err %q, want EPERM (CAP_CHOWN dropped)", rep.ChownErr)
			}
			if tc.controller {
				// With only the kept capabilities, the endpoint comes up,
				// is rebuilt after its netns is deleted, and is removed
				// on SIGTERM.
				for c.next(t, "up", 30*time.Second) != "true" {
				}
				testbin.IP(t, "netns", "delete", health)
				c.next(t, "restarted", 30*time.Second)
				for c.next(t, "up", 30*time.Second) != "true" {
				}
				if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
					t.Fatal(err)
				}
			}
			if msg := c.next(t, "exit", 30*time.Second); msg != `""` {
				t.Fatalf("child: %s", msg)
			}
			if tc.controller {
				if _, err := os.Stat("/run/netns/" + health); !os.IsNotExist(err) {
					t.Errorf("the health netns survived SIGTERM: %v", err)
				}
			}
		})
	}
}
