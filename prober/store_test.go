package prober

import (
	"errors"
	"net/netip"
	"testing"
	"time"
)

func target(peer string, path Path, proto Protocol) Target {
	return Target{Peer: peer, Path: path, Protocol: proto, IP: netip.MustParseAddr("198.18.0.1")}
}

func TestStoreFailureThreshold(t *testing.T) {
	ok := Outcome{Result: ResultSuccess, RTT: time.Millisecond}
	lost := Outcome{Result: ResultTimeout, Err: errors.New("no echo reply")}
	refused := Outcome{Result: ResultRefused}
	tests := []struct {
		name      string
		threshold int
		outcomes  []Outcome
		want      Status
		failures  int
	}{
		{"new path is unknown", 3, nil, StatusUnknown, 0},
		{"one success", 3, []Outcome{ok}, StatusReachable, 0},
		{"one loss from unknown stays unknown", 3, []Outcome{lost}, StatusUnknown, 1},
		{"one loss does not flap a reachable path", 3, []Outcome{ok, lost}, StatusReachable, 1},
		{"two losses still reachable", 3, []Outcome{ok, lost, refused}, StatusReachable, 2},
		{"threshold reached", 3, []Outcome{ok, lost, lost, refused}, StatusUnreachable, 3},
		{"success resets", 3, []Outcome{lost, lost, lost, ok}, StatusReachable, 0},
		{"threshold one", 1, []Outcome{ok, lost}, StatusUnreachable, 1},
		{"threshold below one acts as one", 0, []Outcome{lost}, StatusUnreachable, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := NewStore(tc.threshold)
			tg := target("a", PathHost, ProtocolICMP)
			s.Retain([]Target{tg})
			for _, o := range tc.outcomes {
				if _, ok := s.Record(tg, o, time.Now()); !ok {
					t.Fatal("Record of a retained target returned ok=false")
				}
			}
			got := s.Snapshot()[0]
			if got.Status != tc.want || got.ConsecutiveFailures != tc.failures {
				t.Fatalf("status %s failures %d, want %s %d", got.Status, got.ConsecutiveFailures, tc.want, tc.failures)
			}
		})
	}
}

func TestStoreRecordKeepsLastOutcome(t *testing.T) {
	s := NewStore(3)
	tg := target("a", PathHost, ProtocolHTTP)
	s.Retain([]Target{tg})
	at := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	s.Record(tg, Outcome{Result: ResultSuccess, RTT: 3 * time.Millisecond}, at)
	st, _ := s.Record(tg, Outcome{Result: ResultRefused, Err: errors.New("connection refused")}, at.Add(time.Second))
	if st.LastResult != ResultRefused || st.LastError != "connection refused" || st.LastRTT != 0 || !st.LastProbed.Equal(at.Add(time.Second)) {
		t.Fatalf("unexpected state %+v", st)
	}
	st, _ = s.Record(tg, Outcome{Result: ResultSuccess, RTT: 2 * time.Millisecond}, at.Add(2*time.Second))
	if st.LastError != "" || st.LastRTT != 2*time.Millisecond {
		t.Fatalf("success did not clear the error: %+v", st)
	}
}

func TestStoreRetainDropsRemovedTargets(t *testing.T) {
	s := NewStore(3)
	a := target("a", PathHost, ProtocolICMP)
	b := target("b", PathHost, ProtocolICMP)
	c := target("c", PathEndpoint, ProtocolHTTP)
	if removed := s.Retain([]Target{a, b, c}); len(removed) != 0 {
		t.Fatalf("first Retain removed %v", removed)
	}
	s.Record(a, Outcome{Result: ResultSuccess}, time.Now())
	removed := s.Retain([]Target{a, c})
	if len(removed) != 1 || removed[0] != b {
		t.Fatalf("removed %v, want [b]", removed)
	}
	if _, ok := s.Record(b, Outcome{Result: ResultSuccess}, time.Now()); ok {
		t.Fatal("a late outcome of a removed target was recorded")
	}
	snap := s.Snapshot()
	if len(snap) != 2 || snap[0].Target != a || snap[0].Status != StatusReachable || snap[1].Target != c {
		t.Fatalf("snapshot %+v", snap)
	}
}

func TestSnapshotOrder(t *testing.T) {
	s := NewStore(1)
	in := []Target{
		target("b", PathEndpoint, ProtocolHTTP),
		target("a", PathEndpoint, ProtocolICMP),
		target("a", PathHost, ProtocolHTTP),
		target("a", PathHost, ProtocolICMP),
	}
	s.Retain(in)
	want := []Target{in[3], in[2], in[1], in[0]}
	for i, st := range s.Snapshot() {
		if st.Target != want[i] {
			t.Fatalf("position %d: %+v, want %+v", i, st.Target, want[i])
		}
	}
}
