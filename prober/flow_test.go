package prober

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/hello"
)

func TestFlows(t *testing.T) {
	for _, tc := range []struct {
		key   string
		n     int
		ports PortRange
	}{
		{"node-3/host/http", 1, DefaultFlowPorts},
		{"node-3/host/http", 8, DefaultFlowPorts},
		{"node-3/endpoint/http", 64, DefaultFlowPorts},
		{"tiny", 4, PortRange{40000, 40003}}, // every port of the range, by probing on
	} {
		flows, err := Flows(tc.key, tc.n, tc.ports)
		if err != nil {
			t.Fatalf("%s %d: %v", tc.key, tc.n, err)
		}
		again, _ := Flows(tc.key, tc.n, tc.ports)
		if len(flows) != tc.n {
			t.Fatalf("%s: %d flows, want %d", tc.key, len(flows), tc.n)
		}
		ports := map[uint16]bool{}
		for i, f := range flows {
			if f != again[i] {
				t.Errorf("%s flow %d: %v, then %v: not deterministic", tc.key, i, f, again[i])
			}
			if f.SourcePort < tc.ports.First || f.SourcePort > tc.ports.Last {
				t.Errorf("%s flow %d: port %d outside %v", tc.key, i, f.SourcePort, tc.ports)
			}
			if ports[f.SourcePort] {
				t.Errorf("%s flow %d: port %d used twice", tc.key, i, f.SourcePort)
			}
			ports[f.SourcePort] = true
			if f.FlowLabel == 0 || f.FlowLabel > maxFlowLabel {
				t.Errorf("%s flow %d: flow label %#x", tc.key, i, f.FlowLabel)
			}
		}
	}
	// A flow set is a prefix of a larger one: raising the count keeps
	// the flows that were there, and their paths.
	small, _ := Flows("node-3/host/http", 4, DefaultFlowPorts)
	large, _ := Flows("node-3/host/http", 16, DefaultFlowPorts)
	for i := range small {
		if small[i] != large[i] {
			t.Errorf("flow %d: %v among 4, %v among 16", i, small[i], large[i])
		}
	}
	other, _ := Flows("node-4/host/http", 4, DefaultFlowPorts)
	if other[0].SourcePort == small[0].SourcePort && other[1].SourcePort == small[1].SourcePort {
		t.Errorf("two paths got the same source ports: %v", other)
	}
	// Labels are per index: n labels for a whole node, all distinct.
	labels := map[uint32]bool{}
	for i := range small {
		if other[i].FlowLabel != small[i].FlowLabel || small[i].FlowLabel != FlowLabel(i) {
			t.Errorf("flow %d: labels %#x and %#x, want FlowLabel(%d) = %#x for every path", i, small[i].FlowLabel, other[i].FlowLabel, i, FlowLabel(i))
		}
		labels[small[i].FlowLabel] = true
	}
	if len(labels) != len(small) {
		t.Errorf("flow labels repeat: %v", small)
	}
}

func TestFlowsRefuse(t *testing.T) {
	for _, tc := range []struct {
		n     int
		ports PortRange
	}{
		{0, DefaultFlowPorts},
		{5, PortRange{40000, 40003}},
		{1, PortRange{0, 10}},
		{1, PortRange{50000, 40000}},
	} {
		if f, err := Flows("k", tc.n, tc.ports); err == nil {
			t.Errorf("%d flows in %v: %v, want an error", tc.n, tc.ports, f)
		}
	}
}

// TestFlowDialPortTaken: a port another socket holds (here a listener) is a
// local setup error, not a verdict on the path.
func TestFlowDialPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	_, err = Flow{SourcePort: port}.Dial(t.Context(), netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port))
	if !errors.Is(err, ErrFlowSetup) || !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("got %v, want ErrFlowSetup with EADDRINUSE", err)
	}
}

// TestFlowDialFourTupleBusy: while one connection of a flow is open, a
// second one to the same address (a trace of the flow during its probe)
// is a local setup error, not a failure of the path.
func TestFlowDialFourTupleBusy(t *testing.T) {
	for _, a := range []string{"127.0.0.1", "::1"} {
		ln, err := net.Listen("tcp", net.JoinHostPort(a, "0"))
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		dst := netip.AddrPortFrom(netip.MustParseAddr(a), uint16(ln.Addr().(*net.TCPAddr).Port))
		f := Flow{SourcePort: 60999}
		if dst.Addr().Is6() {
			f.FlowLabel = FlowLabel(0)
		}
		c, err := f.Dial(t.Context(), dst)
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.Dial(t.Context(), dst)
		if !errors.Is(err, ErrFlowSetup) || !errors.Is(err, syscall.EADDRNOTAVAIL) {
			t.Errorf("%s: second dial of a flow: %v, want ErrFlowSetup with EADDRNOTAVAIL", a, err)
		}
		c.Close()
		if c, err := f.Dial(t.Context(), dst); err != nil {
			t.Errorf("%s: dial once the first closed: %v", a, err)
		} else {
			c.Close()
		}
	}
}

func TestFlowDialRefusesABadLabel(t *testing.T) {
	_, err := Flow{SourcePort: 40000, FlowLabel: 0x80000}.Dial(t.Context(), netip.MustParseAddrPort("[::1]:9"))
	if !errors.Is(err, ErrFlowSetup) {
		t.Errorf("got %v, want ErrFlowSetup", err)
	}
}

// TestFlowHTTPProbe: a flow's probes come from its port every time, back
// to back (no TIME_WAIT in the way), and an old /hello responder answers
// them as it answers any probe.
func TestFlowHTTPProbe(t *testing.T) {
	for _, lo := range []string{"127.0.0.1", "::1"} {
		t.Run(lo, func(t *testing.T) {
			ln, err := net.Listen("tcp", net.JoinHostPort(lo, "0"))
			if err != nil {
				t.Skipf("no %s: %v", lo, err)
			}
			var mu sync.Mutex
			ports := map[string]int{}
			h := hello.Handler()
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, port, _ := net.SplitHostPort(r.RemoteAddr)
				mu.Lock()
				ports[port]++
				mu.Unlock()
				h.ServeHTTP(w, r)
			})}
			srv.SetKeepAlivesEnabled(false)
			go srv.Serve(ln)
			defer srv.Close()

			flows, err := Flows("loopback/"+lo, 2, DefaultFlowPorts)
			if err != nil {
				t.Fatal(err)
			}
			probe := NewFlowHTTPProbe(HTTPConfig{Port: ln.Addr().(*net.TCPAddr).Port, Path: hello.Path})
			const rounds = 20
			for range rounds {
				for _, f := range flows {
					ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
					o := probe(ctx, netip.MustParseAddr(lo), f)
					cancel()
					if o.Result != ResultSuccess {
						t.Fatalf("flow %v: %+v", f, o)
					}
				}
			}
			mu.Lock()
			defer mu.Unlock()
			for _, f := range flows {
				if n := ports[strconv.Itoa(int(f.SourcePort))]; n != rounds {
					t.Errorf("flow %v: %d requests from its port, want %d (all ports: %v)", f, n, rounds, ports)
				}
			}
		})
	}
}

func TestFlowLabel(t *testing.T) {
	seen := map[uint32]int{}
	for i := range 4096 {
		l := FlowLabel(i)
		if l == 0 || l > maxFlowLabel {
			t.Fatalf("FlowLabel(%d) = %#x, want 1 to %#x", i, l, maxFlowLabel)
		}
		if j, ok := seen[l]; ok {
			t.Fatalf("FlowLabel(%d) = FlowLabel(%d) = %#x", i, j, l)
		}
		seen[l] = i
	}
}
