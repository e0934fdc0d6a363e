package prober

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeHops answers each TTL as its script says (silent past its end) and
// records what was sent.
type fakeHops struct {
	script map[int][]hopAnswer // per TTL, one answer per probe sent (the last repeats)
	sent   []int
	closed bool
	// onProbe, if set, is called with each probe's TTL.
	onProbe func(ttl int)
}

func (f *fakeHops) probe(ctx context.Context, ttl, _ int) hopAnswer {
	n := 0
	for _, s := range f.sent {
		if s == ttl {
			n++
		}
	}
	f.sent = append(f.sent, ttl)
	if f.onProbe != nil {
		f.onProbe(ttl)
	}
	as := f.script[ttl]
	if len(as) == 0 {
		<-ctx.Done() // silent: waits out the hop timeout
		return hopAnswer{kind: HopSilent}
	}
	a := as[min(n, len(as)-1)]
	if a.kind == HopSilent {
		<-ctx.Done()
	}
	return a
}

func (f *fakeHops) close() { f.closed = true }

func newFakeTracer(t *testing.T, cfg TraceConfig, hops *fakeHops) *Tracer {
	t.Helper()
	cfg.HopTimeout = time.Millisecond
	cfg.Timeout = time.Minute // not MaxTTL hop timeouts: a local error waits errorRetryWait
	cfg.Rate = 1e6
	tr, err := NewTracer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tr.open = func(Protocol, netip.Addr, Flow, TraceConfig) (hopProber, error) { return hops, nil }
	tr.errBudget = 250 * time.Millisecond
	return tr
}

var (
	dstA    = netip.MustParseAddr("198.19.0.1")
	router1 = netip.MustParseAddr("198.18.0.1")
	member2 = netip.MustParseAddr("198.18.1.6")
)

func te(from netip.Addr) hopAnswer {
	return hopAnswer{kind: HopTimeExceeded, from: from, rtt: time.Millisecond}
}

func TestTraceSteps(t *testing.T) {
	silent := hopAnswer{kind: HopSilent}
	for _, c := range []struct {
		name     string
		cfg      TraceConfig
		script   map[int][]hopAnswer
		sent     []int
		kinds    []HopKind
		reached  bool
		lastHop  netip.Addr
		lastTTL  int
		silentAt int
		err      string
	}{
		{
			name:   "reaches the destination",
			script: map[int][]hopAnswer{1: {te(router1)}, 2: {te(member2)}, 3: {{kind: HopDestination, from: dstA}}},
			sent:   []int{1, 2, 3}, kinds: []HopKind{HopTimeExceeded, HopTimeExceeded, HopDestination},
			reached: true, lastHop: dstA, lastTTL: 3,
		},
		{
			name:   "black hole after the member: stops after MaxSilent silent TTLs",
			cfg:    TraceConfig{MaxSilent: 3},
			script: map[int][]hopAnswer{1: {te(router1)}, 2: {te(member2)}},
			sent:   []int{1, 2, 3, 4, 5}, kinds: []HopKind{HopTimeExceeded, HopTimeExceeded, HopSilent, HopSilent, HopSilent},
			lastHop: member2, lastTTL: 2, silentAt: 3,
		},
		{
			name:   "a silent hop in the middle is passed",
			cfg:    TraceConfig{MaxSilent: 2},
			script: map[int][]hopAnswer{1: {te(router1)}, 3: {{kind: HopDestination, from: dstA}}},
			sent:   []int{1, 2, 3}, kinds: []HopKind{HopTimeExceeded, HopSilent, HopDestination},
			reached: true, lastHop: dstA, lastTTL: 3,
		},
		{
			name:   "a second attempt answers a rate-limited TTL",
			cfg:    TraceConfig{Attempts: 2},
			script: map[int][]hopAnswer{1: {silent, te(router1)}, 2: {{kind: HopDestination, from: dstA}}},
			sent:   []int{1, 1, 2}, kinds: []HopKind{HopTimeExceeded, HopDestination},
			reached: true, lastHop: dstA, lastTTL: 2,
		},
		{
			name:   "a router's unreachable ends the trace",
			script: map[int][]hopAnswer{1: {te(router1)}, 2: {{kind: HopUnreachable, from: member2}}},
			sent:   []int{1, 2}, kinds: []HopKind{HopTimeExceeded, HopUnreachable},
			lastHop: member2, lastTTL: 2,
		},
		{
			name:   "an unreachable without a sender ends the trace, naming no hop",
			script: map[int][]hopAnswer{1: {te(router1)}, 2: {{kind: HopUnreachable, err: errors.New("no route to host")}}},
			sent:   []int{1, 2}, kinds: []HopKind{HopTimeExceeded, HopUnreachable},
			lastHop: router1, lastTTL: 1,
		},
		{
			name:   "MaxTTL bounds the trace",
			cfg:    TraceConfig{MaxTTL: 2},
			script: map[int][]hopAnswer{1: {te(router1)}, 2: {te(member2)}, 3: {{kind: HopDestination, from: dstA}}},
			sent:   []int{1, 2}, kinds: []HopKind{HopTimeExceeded, HopTimeExceeded},
			lastHop: member2, lastTTL: 2,
		},
		{
			name:   "a local error is retried at once (the flow's probe held its ports a moment)",
			script: map[int][]hopAnswer{1: {{kind: HopError, err: errors.New("address not available")}, te(router1)}, 2: {{kind: HopDestination, from: dstA}}},
			sent:   []int{1, 1, 2}, kinds: []HopKind{HopTimeExceeded, HopDestination},
			reached: true, lastHop: dstA, lastTTL: 2,
		},
		{
			name:    "a local error is retried, then ends the trace",
			script:  map[int][]hopAnswer{1: {te(router1)}, 2: {{kind: HopError, err: errors.New("port taken")}}},
			kinds:   []HopKind{HopTimeExceeded, HopError},
			lastHop: router1, lastTTL: 1, err: "port taken",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			hops := &fakeHops{script: c.script}
			tr := newFakeTracer(t, c.cfg, hops)
			r := tr.Trace(context.Background(), ProtocolHTTP, dstA, Flow{SourcePort: 60001})
			if c.sent == nil {
				// Retried for errBudget: more than once, a bounded number of times.
				if n := len(hops.sent); n < 3 || n > 10 {
					t.Errorf("sent TTLs %v: want TTL 2 retried a few times", hops.sent)
				}
			} else if got, want := fmt.Sprint(hops.sent), fmt.Sprint(c.sent); got != want {
				t.Errorf("sent TTLs %s, want %s", got, want)
			}
			var kinds []HopKind
			for i, h := range r.Hops {
				kinds = append(kinds, h.Kind)
				if h.TTL != i+1 {
					t.Errorf("hop %d has TTL %d", i, h.TTL)
				}
			}
			if fmt.Sprint(kinds) != fmt.Sprint(c.kinds) {
				t.Errorf("hops %v, want %v", kinds, c.kinds)
			}
			if r.Reached != c.reached || r.LastHop != c.lastHop || r.LastHopTTL != c.lastTTL || r.FirstSilentTTL() != c.silentAt {
				t.Errorf("reached %v, last hop %v at %d, first silent %d; want %v, %v at %d, %d",
					r.Reached, r.LastHop, r.LastHopTTL, r.FirstSilentTTL(), c.reached, c.lastHop, c.lastTTL, c.silentAt)
			}
			if !strings.Contains(r.Err, c.err) || (c.err == "") != (r.Err == "") {
				t.Errorf("error %q, want %q", r.Err, c.err)
			}
			if !hops.closed {
				t.Error("the hop prober was not closed")
			}
			if r.Duration <= 0 {
				t.Error("no duration")
			}
		})
	}
}

// TestTraceEndsWithItsContext: a trace whose context ends says so, and
// does not report the TTL it was waiting for as silent.
func TestTraceEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	hops := &fakeHops{script: map[int][]hopAnswer{1: {te(router1)}}, onProbe: func(ttl int) {
		if ttl == 2 {
			cancel()
		}
	}}
	tr := newFakeTracer(t, TraceConfig{}, hops)
	tr.cfg.HopTimeout = time.Hour
	r := tr.Trace(ctx, ProtocolICMP, dstA, Flow{})
	if !strings.Contains(r.Err, "ended early") || len(r.Hops) != 1 || r.LastHop != router1 {
		t.Fatalf("%+v: want an early end after TTL 1", r)
	}
}

func TestTraceConfigValidate(t *testing.T) {
	for _, c := range []struct {
		cfg  TraceConfig
		want string
	}{
		{TraceConfig{}, ""},
		{TraceConfig{MaxTTL: 65}, "max TTL"},
		{TraceConfig{MaxSilent: -1}, "silent"},
		{TraceConfig{Attempts: 11}, "attempts"},
		{TraceConfig{Rate: -1}, "rate"},
		{TraceConfig{HopTimeout: -time.Second}, "hop timeout"},
	} {
		err := c.cfg.Validate()
		if (err == nil) != (c.want == "") || err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.cfg, err, c.want)
		}
	}
}

func TestTraceRefusesBadInput(t *testing.T) {
	tr := newFakeTracer(t, TraceConfig{}, &fakeHops{})
	if r := tr.Trace(context.Background(), "udp", dstA, Flow{}); !strings.Contains(r.Err, "unknown protocol") {
		t.Errorf("protocol udp: %q", r.Err)
	}
	if r := tr.Trace(context.Background(), ProtocolICMP, netip.Addr{}, Flow{}); !strings.Contains(r.Err, "no destination") {
		t.Errorf("no address: %q", r.Err)
	}
}

// concurrentHops counts the traces in a probe at once, per destination.
type concurrentHops struct {
	mu        *sync.Mutex
	inProbe   map[netip.Addr]int
	most      map[netip.Addr]int
	dst       netip.Addr
	mostTotal *int
}

func (c *concurrentHops) probe(ctx context.Context, _, _ int) hopAnswer {
	c.mu.Lock()
	c.inProbe[c.dst]++
	c.most[c.dst] = max(c.most[c.dst], c.inProbe[c.dst])
	total := 0
	for _, n := range c.inProbe {
		total += n
	}
	*c.mostTotal = max(*c.mostTotal, total)
	c.mu.Unlock()
	time.Sleep(20 * time.Millisecond)
	c.mu.Lock()
	c.inProbe[c.dst]--
	c.mu.Unlock()
	return hopAnswer{kind: HopDestination, from: c.dst}
}

func (c *concurrentHops) close() {}

// TestTraceOneAtATimePerFlow: traces of one flow (the trace command's and
// the automatic one) take turns, since they would share a 4-tuple.
func TestTraceOneAtATimePerFlow(t *testing.T) {
	tr, err := NewTracer(TraceConfig{Rate: 1e6})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	in, most, mostTotal := map[netip.Addr]int{}, map[netip.Addr]int{}, 0
	tr.open = func(_ Protocol, dst netip.Addr, _ Flow, _ TraceConfig) (hopProber, error) {
		return &concurrentHops{mu: &mu, inProbe: in, most: most, dst: dst, mostTotal: &mostTotal}, nil
	}
	other := netip.MustParseAddr("198.19.0.2")
	var wg sync.WaitGroup
	for _, c := range []struct {
		tr  *Tracer
		dst netip.Addr
	}{{tr, dstA}, {tr.WithAttempts(2), dstA}, {tr, dstA}, {tr, other}} {
		wg.Go(func() {
			if r := c.tr.Trace(context.Background(), ProtocolHTTP, c.dst, Flow{SourcePort: 60001}); !r.Reached {
				t.Errorf("%+v", r)
			}
		})
	}
	wg.Wait()
	if most[dstA] != 1 || most[other] != 1 {
		t.Errorf("at most %d traces of one flow at once, want 1 (the other flow: %d)", most[dstA], most[other])
	}
}
