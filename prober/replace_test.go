package prober

import (
	"context"
	"net/netip"
	"testing"
	"time"
)

// A target whose address changed (a health pod replaced with a new IP)
// keeps the old one's state until its own probes say otherwise: the path
// stays known, is not reported removed, and the old address's failures
// do not count towards the new one's threshold.
func TestStoreRetainCarriesStateToANewAddress(t *testing.T) {
	for _, tc := range []struct {
		name      string
		before    []Result // outcomes of the old address
		first     Result   // the new address's first outcome
		want      Status
		wantFails int
	}{
		{"reachable, new address answers", []Result{ResultSuccess}, ResultSuccess, StatusReachable, 0},
		{"reachable, new address fails once: below the threshold", []Result{ResultSuccess}, ResultTimeout, StatusReachable, 1},
		{"two failures of the old address do not count", []Result{ResultSuccess, ResultTimeout, ResultTimeout}, ResultTimeout, StatusReachable, 1},
		{"unreachable stays until the new address answers", []Result{ResultTimeout, ResultTimeout, ResultTimeout}, ResultSuccess, StatusReachable, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewStore(3)
			old := Target{Peer: "b", Path: PathEndpoint, Protocol: ProtocolICMP, IP: netip.MustParseAddr("198.19.0.2")}
			other := Target{Peer: "b", Path: PathHost, Protocol: ProtocolICMP, IP: netip.MustParseAddr("198.18.0.2")}
			s.Retain([]Target{other, old})
			for _, r := range tc.before {
				s.Record(old, Outcome{Result: r}, time.Now())
			}
			was, _ := s.State(old)
			moved := old
			moved.IP = netip.MustParseAddr("198.19.0.3")
			if removed := s.Retain([]Target{other, moved}); len(removed) != 0 {
				t.Fatalf("Retain removed %v: the path's series would leave", removed)
			}
			st, ok := s.State(moved)
			if !ok || st.Status != was.Status || st.LastResult != was.LastResult || st.Target != moved {
				t.Fatalf("state of the new address %+v, want the old one's %+v with the new target", st, was)
			}
			if _, ok := s.State(old); ok {
				t.Fatal("the old address is still tracked")
			}
			st, _ = s.Record(moved, Outcome{Result: tc.first}, time.Now())
			if st.Status != tc.want || st.ConsecutiveFailures != tc.wantFails {
				t.Errorf("after the first probe of the new address: %s with %d failures, want %s with %d", st.Status, st.ConsecutiveFailures, tc.want, tc.wantFails)
			}
		})
	}
}

// A removed target of another series is still removed, also when a new
// target comes in the same change.
func TestStoreRetainReplacesOnlyTheSameSeries(t *testing.T) {
	s := NewStore(1)
	a := Target{Peer: "a", Path: PathHost, Protocol: ProtocolICMP, IP: netip.MustParseAddr("198.18.0.1")}
	b := Target{Peer: "b", Path: PathHost, Protocol: ProtocolICMP, IP: netip.MustParseAddr("198.18.0.2")}
	s.Retain([]Target{a})
	s.Record(a, Outcome{Result: ResultSuccess}, time.Now())
	removed := s.Retain([]Target{b})
	if len(removed) != 1 || removed[0] != a {
		t.Fatalf("removed %v, want [a]", removed)
	}
	if st, _ := s.State(b); st.Status != StatusUnknown {
		t.Errorf("a new peer starts %s, want unknown", st.Status)
	}
}

// A target added while the scheduler runs is probed at once, not in its
// slot of a later cycle (here an hour away).
func TestSchedulerProbesNewTargetsAtOnce(t *testing.T) {
	probed := make(chan netip.Addr, 16)
	probe := func(_ context.Context, ip netip.Addr) Outcome {
		probed <- ip
		return Outcome{Result: ResultSuccess, RTT: time.Millisecond}
	}
	s, store := newTestScheduler(t, Config{Interval: time.Hour, Timeout: time.Second, MaxInFlight: 4}, probe, &recordingObserver{})
	first := peers(1)
	s.SetTargets(first)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	if ip := <-probed; ip != first[0].IP {
		t.Fatalf("first probe to %s, want %s", ip, first[0].IP)
	}
	added := peers(2)
	s.SetTargets(added)
	select {
	case ip := <-probed:
		if ip != added[1].IP {
			t.Fatalf("probe to %s, want the new target %s", ip, added[1].IP)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the new target was not probed before its slot an hour away")
	}
	// The state is recorded after the probe returns.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if st, _ := store.State(added[1]); st.Status == StatusReachable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the new target's probe was not recorded")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The kept target is not probed again before its slot.
	select {
	case ip := <-probed:
		t.Errorf("unexpected probe to %s", ip)
	case <-time.After(100 * time.Millisecond):
	}
}
