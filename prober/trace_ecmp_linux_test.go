package prober

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/hello"
	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// memberAddr is the address member i answers from towards the lab's
// client (its link to the router).
func memberAddr(family, i int) netip.Addr {
	if family == 6 {
		return netip.MustParseAddr(fmt.Sprintf("2001:db8:1:%x::2", i))
	}
	return netip.MustParseAddr(fmt.Sprintf("198.18.1.%d", 4*i+2))
}

func labRouter(family int) netip.Addr {
	if family == 6 {
		return netip.MustParseAddr("2001:db8::1")
	}
	return netip.MustParseAddr("198.18.0.1")
}

// memberOf is the member whose address a, or -1.
func memberOf(family, members int, a netip.Addr) int {
	for i := range members {
		if memberAddr(family, i) == a {
			return i
		}
	}
	return -1
}

// newTraceLab is newFlowLab with ping sockets allowed in the client, and
// no rate limit on the routers' ICMP errors: Linux sends an IPv4
// destination a burst of 6, then 1 a second (net.ipv4.icmp_ratelimit),
// and each subtest traces 8 flows through the router in about a second,
// which finds TTL 1 silent from the 7th on. (test/e2e's trace command
// test keeps the limits.)
func newTraceLab(t *testing.T) *testbin.ECMPLab {
	t.Helper()
	lab := newFlowLab(t)
	for _, ns := range append([]string{lab.Router}, lab.Members...) {
		if out, err := exec.Command("ip", "netns", "exec", ns, "sysctl", "-q", "-w",
			"net.ipv4.icmp_ratelimit=0", "net.ipv6.icmp.ratelimit=0").CombinedOutput(); err != nil {
			t.Fatalf("sysctl in %s: %v: %s", ns, err, out)
		}
	}
	if out, err := exec.Command("ip", "netns", "exec", lab.Client, "sysctl", "-q", "-w",
		"net.ipv4.ping_group_range=0 2147483647").CombinedOutput(); err != nil {
		t.Fatalf("sysctl in %s: %v: %s", lab.Client, err, out)
	}
	return lab
}

func traceIn(t *testing.T, lab *testbin.ECMPLab, tr *Tracer, proto Protocol, dst netip.Addr, f Flow) TraceResult {
	t.Helper()
	var r TraceResult
	if err := lab.In(lab.Client, func() error {
		r = tr.Trace(context.Background(), proto, dst, f)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if r.Err != "" {
		t.Fatalf("trace of %s %v over %v: %s", proto, dst, f, r.Err)
	}
	return r
}

// TestTraceNamesTheBadMember: a healthy flow's trace reaches the server
// through the router and one member, which is the member the flow's
// packets cross (the member's nftables set says so for TCP); once that
// member drops everything it forwards, the flow's trace ends with the
// member as the last hop that answers and the next TTL silent, while a
// flow on another member still reaches the server. TCP flows and ICMP
// flows (ping and raw sockets), both families.
func TestTraceNamesTheBadMember(t *testing.T) {
	lab := newTraceLab(t)
	members := len(lab.Members)
	for _, c := range []struct {
		proto      Protocol
		family     int
		privileged bool
	}{
		{ProtocolHTTP, 4, false}, {ProtocolHTTP, 6, false},
		{ProtocolICMP, 4, false}, {ProtocolICMP, 6, false},
		{ProtocolICMP, 4, true}, {ProtocolICMP, 6, true},
	} {
		name := fmt.Sprintf("%s/ipv%d", c.proto, c.family)
		if c.privileged {
			name += "/raw"
		}
		t.Run(name, func(t *testing.T) {
			tr, err := NewTracer(TraceConfig{Port: hello.DefaultPort, PrivilegedICMP: c.privileged})
			if err != nil {
				t.Fatal(err)
			}
			dst := labServer(c.family)
			flows, err := Flows("server/"+name, 8, DefaultFlowPorts)
			if err != nil {
				t.Fatal(err)
			}
			if err := lab.Reset(); err != nil {
				t.Fatal(err)
			}
			// Healthy: every trace reaches the server at TTL 3, through
			// the router (TTL 1) and a member (TTL 2).
			via := make([]int, len(flows))
			for i, f := range flows {
				r := traceIn(t, lab, tr, c.proto, dst, f)
				if !r.Reached || r.LastHop != dst || r.LastHopTTL != 3 || len(r.Hops) != 3 {
					t.Fatalf("healthy trace of flow %v: %+v, want the server reached at TTL 3", f, r)
				}
				if r.Hops[0].Addr != labRouter(c.family) || r.Hops[0].Kind != HopTimeExceeded {
					t.Fatalf("flow %v: TTL 1 answered by %v (%s), want the router %v", f, r.Hops[0].Addr, r.Hops[0].Kind, labRouter(c.family))
				}
				if via[i] = memberOf(c.family, members, r.Hops[1].Addr); via[i] < 0 || r.Hops[1].Kind != HopTimeExceeded {
					t.Fatalf("flow %v: TTL 2 answered by %v (%s), not a member", f, r.Hops[1].Addr, r.Hops[1].Kind)
				}
			}
			if c.proto == ProtocolHTTP {
				// The trace took the flow's own member: what the member
				// saw of the flow's source port.
				if got := membersOf(t, lab, flows); fmt.Sprint(got) != fmt.Sprint(via) {
					t.Fatalf("traces went through members %v, the flows' packets crossed %v", via, got)
				}
			}
			bad := via[0]
			other := -1
			for i := range flows {
				if via[i] != bad {
					other = i
					break
				}
			}
			if c.proto == ProtocolICMP && c.family == 4 {
				// An IPv4 echo has nothing a fabric hashes but the
				// addresses: every flow takes one member.
				if other >= 0 {
					t.Fatalf("IPv4 echoes of different flows took members %v", via)
				}
			} else if other < 0 {
				t.Fatalf("all 8 flows took member %d: no second member to compare with", bad)
			}
			if err := lab.SetFault(bad, testbin.Fault{Kind: testbin.FaultDropAll}); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = lab.SetFault(bad, testbin.Fault{}) })
			r := traceIn(t, lab, tr, c.proto, dst, flows[0])
			if r.Reached || r.LastHop != memberAddr(c.family, bad) || r.LastHopTTL != 2 || r.FirstSilentTTL() != 3 {
				t.Fatalf("trace of the flow on the dropping member %d: %+v, want it as the last hop (TTL 2), TTL 3 silent", bad, r)
			}
			if got, want := len(r.Hops), 2+tr.Config().MaxSilent; got != want {
				t.Errorf("the trace tried %d TTLs, want %d: it stops after MaxSilent silent ones", got, want)
			}
			t.Logf("flow %v on member %d: last hop %v at TTL %d, the trace took %s", flows[0], bad, r.LastHop, r.LastHopTTL, r.Duration.Round(time.Millisecond))
			if other >= 0 {
				r := traceIn(t, lab, tr, c.proto, dst, flows[other])
				if !r.Reached || r.LastHop != dst {
					t.Fatalf("trace of flow %v on healthy member %d: %+v, want the server reached", flows[other], via[other], r)
				}
			}
		})
	}
}
