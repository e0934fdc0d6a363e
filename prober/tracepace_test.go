package prober

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"
)

// Many traces at once (every path of a node that went down, say) share
// one Tracer's rate: however many run, the k-th probe of all of them goes
// out no sooner than k-1 gaps (1/Rate) after the first could. Each trace
// here finds a router at TTL 1 and silence from TTL 2, as a black hole.
func TestTracerPacesConcurrentTraces(t *testing.T) {
	for _, tc := range []struct {
		name   string
		traces int
		rate   float64
	}{
		{"one trace", 1, 200},
		{"16 traces at once", 16, 200},
		{"64 traces at once, a faster rate", 64, 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := NewTracer(TraceConfig{Rate: tc.rate, HopTimeout: time.Millisecond, MaxSilent: 2, Timeout: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			var sent []time.Time
			tr.open = func(Protocol, netip.Addr, Flow, TraceConfig) (hopProber, error) {
				return &fakeHops{script: map[int][]hopAnswer{1: {te(router1)}}, onProbe: func(int) {
					mu.Lock()
					sent = append(sent, time.Now())
					mu.Unlock()
				}}, nil
			}
			start := time.Now()
			var wg sync.WaitGroup
			for i := range tc.traces {
				wg.Go(func() {
					dst := netip.AddrFrom4([4]byte{198, 19, byte(i / 250), byte(1 + i%250)})
					r := tr.Trace(context.Background(), ProtocolICMP, dst, Flow{})
					if r.LastHop != router1 || r.Reached || r.Err != "" {
						t.Errorf("trace to %s: %+v, want it to end at %s", dst, r, router1)
					}
				})
			}
			wg.Wait()
			// TTL 1 answers, TTLs 2 and 3 silent: 3 probes a trace.
			if want := 3 * tc.traces; len(sent) != want {
				t.Fatalf("%d probes sent, want %d", len(sent), want)
			}
			slices.SortFunc(sent, func(a, b time.Time) int { return a.Compare(b) })
			gap := time.Duration(float64(time.Second) / tc.rate)
			for k, at := range sent {
				if earliest := start.Add(time.Duration(k) * gap); at.Before(earliest) {
					t.Fatalf("probe %d of %d sent %s after the start, before its slot %s: the rate %g/s is not kept over %d traces",
						k+1, len(sent), at.Sub(start), earliest.Sub(start), tc.rate, tc.traces)
				}
			}
			t.Logf("%d probes of %d traces in %s (at %g/s: at least %s)", len(sent), tc.traces,
				sent[len(sent)-1].Sub(start).Round(time.Millisecond), tc.rate, time.Duration(len(sent)-1)*gap)
		})
	}
}
