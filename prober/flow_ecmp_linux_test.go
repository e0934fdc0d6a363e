package prober

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/hello"
	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// ECMP lab tests of sticky flows: a 4-member equal-cost group whose router
// hashes the headers (policy 3: the 5-tuple, and for IPv6 the flow label
// too, as fabrics do), a /hello responder behind it.

var (
	fiveTuple = testbin.HashPolicy{Policy: 3, Fields: testbin.HashFiveTuple}
	withLabel = testbin.HashPolicy{Policy: 3, Fields: testbin.HashFiveTuple | testbin.HashFlowLabel}
)

// newFlowLab builds the lab with members members (none: 4).
func newFlowLab(t *testing.T, members ...int) *testbin.ECMPLab {
	t.Helper()
	testbin.SkipShort(t, "builds an ECMP lab")
	cfg := testbin.ECMPConfig{Hash4: fiveTuple, Hash6: withLabel}
	if len(members) > 0 {
		cfg.Members = members[0]
	}
	lab := testbin.NewECMPLab(t, cfg)
	lab.ServeHello(t, hello.DefaultPort)
	return lab
}

func labServer(family int) netip.Addr {
	if family == 6 {
		return testbin.ECMPServer6
	}
	return testbin.ECMPServer4
}

// probeFlows probes every flow once, at the same time, from the lab's
// client, and returns the outcomes in flow order.
func probeFlows(t *testing.T, lab *testbin.ECMPLab, probe FlowProbeFunc, ip netip.Addr, flows []Flow, timeout time.Duration) []Outcome {
	t.Helper()
	out := make([]Outcome, len(flows))
	var wg sync.WaitGroup
	for i, f := range flows {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			// The socket is made in the client's namespace.
			_ = lab.In(lab.Client, func() error { out[i] = probe(ctx, ip, f); return nil })
		})
	}
	wg.Wait()
	return out
}

// membersOf reads which member each flow's source port crossed; each must
// have crossed exactly one.
func membersOf(t *testing.T, lab *testbin.ECMPLab, flows []Flow) []int {
	t.Helper()
	seen, err := lab.Seen(testbin.SeenTCPSourcePort)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]int, len(flows))
	for i, f := range flows {
		ms := seen[uint32(f.SourcePort)]
		if len(ms) != 1 {
			t.Fatalf("flow %v crossed members %v, want exactly one", f, ms)
		}
		out[i] = ms[0]
	}
	return out
}

// TestFlowsStickInECMPLab: each flow's probes cross one member, 50
// connections in a row, and the flows spread over the members, with no
// TIME_WAIT left on either side; for IPv6 every packet carries the flow's
// label.
func TestFlowsStickInECMPLab(t *testing.T) {
	lab := newFlowLab(t)
	testbin.NeedTool(t, "ss", "apt-get install -y iproute2")
	probe := NewFlowHTTPProbe(HTTPConfig{Port: hello.DefaultPort, Path: hello.Path})
	for _, family := range []int{4, 6} {
		t.Run(fmt.Sprintf("ipv%d", family), func(t *testing.T) {
			if err := lab.Reset(); err != nil {
				t.Fatal(err)
			}
			flows, err := Flows(fmt.Sprintf("server/ipv%d", family), 8, DefaultFlowPorts)
			if err != nil {
				t.Fatal(err)
			}
			const rounds = 50
			for r := range rounds {
				for i, o := range probeFlows(t, lab, probe, labServer(family), flows, 5*time.Second) {
					if o.Result != ResultSuccess {
						t.Fatalf("round %d, flow %v: %+v", r, flows[i], o)
					}
				}
			}
			members := membersOf(t, lab, flows)
			if slices.Sort(members); len(slices.Compact(members)) < 2 {
				t.Errorf("8 flows all crossed member %v: no spread", members)
			}
			// 400 connections, and no socket waits out TIME_WAIT on
			// either side: each close is a reset.
			for _, ns := range []string{lab.Client, lab.Server} {
				out, err := exec.Command("ip", "netns", "exec", ns, "ss", "-Htan", "state", "time-wait").CombinedOutput()
				if err != nil {
					t.Fatalf("ss in %s: %v: %s", ns, err, out)
				}
				if n := bytes.Count(out, []byte("\n")); n > 0 {
					t.Errorf("%d sockets in TIME_WAIT in %s:\n%s", n, ns, out)
				}
			}
			if family == 4 {
				return
			}
			labels, err := lab.Seen(testbin.SeenFlowLabel)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range flows {
				if len(labels[f.FlowLabel]) != 1 {
					t.Errorf("flow %v: its label seen on members %v, want one", f, labels[f.FlowLabel])
				}
			}
			if len(labels) != len(flows) {
				t.Errorf("%d flow labels crossed the members, want the %d of the flows: %v", len(labels), len(flows), labels)
			}
		})
	}
}

// TestFlowsFindABadMember: a member that drops everything fails exactly
// the flows hashed onto it, every time; the others never fail.
func TestFlowsFindABadMember(t *testing.T) {
	lab := newFlowLab(t)
	probe := NewFlowHTTPProbe(HTTPConfig{Port: hello.DefaultPort, Path: hello.Path})
	for _, family := range []int{4, 6} {
		t.Run(fmt.Sprintf("ipv%d", family), func(t *testing.T) {
			if err := lab.Reset(); err != nil {
				t.Fatal(err)
			}
			flows, err := Flows(fmt.Sprintf("bad-member/ipv%d", family), 16, DefaultFlowPorts)
			if err != nil {
				t.Fatal(err)
			}
			for i, o := range probeFlows(t, lab, probe, labServer(family), flows, 5*time.Second) {
				if o.Result != ResultSuccess {
					t.Fatalf("flow %v before the fault: %+v", flows[i], o)
				}
			}
			members := membersOf(t, lab, flows)
			bad := members[0]
			if err := lab.SetFault(bad, testbin.Fault{Kind: testbin.FaultDropAll}); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = lab.SetFault(bad, testbin.Fault{}) }()
			failed := make([]int, len(flows))
			const rounds = 5
			for range rounds {
				for i, o := range probeFlows(t, lab, probe, labServer(family), flows, time.Second) {
					if o.Result != ResultSuccess {
						failed[i]++
					}
					if members[i] == bad && o.Result != ResultTimeout {
						t.Errorf("flow %v through the bad member: %+v, want a timeout", flows[i], o)
					}
				}
			}
			onBad := 0
			for i, f := range flows {
				want := 0
				if members[i] == bad {
					want, onBad = rounds, onBad+1
				}
				if failed[i] != want {
					t.Errorf("flow %v (member %d, bad %d): failed %d of %d, want %d", f, members[i], bad, failed[i], rounds, want)
				}
			}
			if onBad == len(flows) {
				t.Errorf("every flow crossed member %d: nothing tells a bad member from a dead server", bad)
			}
			t.Logf("member %d drops: %d of %d flows fail every time, the rest never", bad, onBad, len(flows))
		})
	}
}

// TestFlowsKeepTheirMemberOnSYNRetransmit: every member drops the first
// SYN of each source port, so each connection's SYN is sent again. A
// flow's retransmitted SYN takes the same member as its first (it is
// dropped once, then answered); a plain socket with a fixed port, whose
// kernel picks a new hash on retransmit (and with it, for IPv6, a new
// flow label; for IPv4 under policy 1, a new member), moves.
func TestFlowsKeepTheirMemberOnSYNRetransmit(t *testing.T) {
	lab := newFlowLab(t)
	for _, tc := range []struct {
		family int
		hash   testbin.HashPolicy
	}{
		{6, withLabel},
		{4, testbin.HashPolicy{Policy: 1}}, // the socket's hash decides: see docs/ecmp.md
	} {
		t.Run(fmt.Sprintf("ipv%d/%s", tc.family, tc.hash), func(t *testing.T) {
			if err := lab.SetHashPolicy(tc.family, tc.hash); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = lab.SetHashPolicy(4, fiveTuple) }()
			plain := func(ctx context.Context, ip netip.Addr, f Flow) Outcome {
				d := net.Dialer{LocalAddr: &net.TCPAddr{Port: int(f.SourcePort)}}
				c, err := d.DialContext(ctx, "tcp", netip.AddrPortFrom(ip, hello.DefaultPort).String())
				if err != nil {
					return classifyHTTPError(err, ctx.Err() != nil)
				}
				_ = c.(*net.TCPConn).SetLinger(0)
				_ = c.Close()
				return Outcome{Result: ResultSuccess}
			}
			sticky := NewFlowHTTPProbe(HTTPConfig{Port: hello.DefaultPort, Path: hello.Path})
			for _, dial := range []struct {
				name  string
				probe FlowProbeFunc
				moves bool
			}{{"sticky", sticky, false}, {"plain", plain, true}} {
				if err := lab.Reset(); err != nil {
					t.Fatal(err)
				}
				for i := range lab.Members {
					if err := lab.SetFault(i, testbin.Fault{Kind: testbin.FaultDropFirstSYN}); err != nil {
						t.Fatal(err)
					}
				}
				flows, err := Flows(fmt.Sprintf("syn/%s/ipv%d", dial.name, tc.family), 16, DefaultFlowPorts)
				if err != nil {
					t.Fatal(err)
				}
				for i, o := range probeFlows(t, lab, dial.probe, labServer(tc.family), flows, 20*time.Second) {
					if o.Result != ResultSuccess {
						t.Fatalf("%s flow %v: %+v", dial.name, flows[i], o)
					}
				}
				dropped, err := lab.Seen(testbin.SeenFirstSYN)
				if err != nil {
					t.Fatal(err)
				}
				seen, err := lab.Seen(testbin.SeenTCPSourcePort)
				if err != nil {
					t.Fatal(err)
				}
				moved := 0
				for _, f := range flows {
					p := uint32(f.SourcePort)
					if len(dropped[p]) == 0 {
						t.Fatalf("%s flow %v: no SYN dropped, so none sent again", dial.name, f)
					}
					if len(seen[p]) > 1 {
						moved++
					}
				}
				t.Logf("%s: %d of %d flows changed member on a SYN retransmit", dial.name, moved, len(flows))
				if dial.moves && moved == 0 {
					t.Errorf("%s: no flow moved: the lab does not show what SO_TXREHASH=0 prevents", dial.name)
				}
				if !dial.moves && moved > 0 {
					t.Errorf("%s: %d flows changed member on a SYN retransmit", dial.name, moved)
				}
			}
			for i := range lab.Members {
				_ = lab.SetFault(i, testbin.Fault{})
			}
		})
	}
}
