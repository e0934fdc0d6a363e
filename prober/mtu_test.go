package prober

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

func TestFoldMTU(t *testing.T) {
	at := time.Unix(1000, 0)
	unknown := MTUState{Status: MTUStatusUnknown}
	okState := MTUState{Status: MTUStatusOK, Expected: 1500, PathMTU: 1500, LastResult: MTUResultOK}
	lostOnce := MTUState{Status: MTUStatusOK, Expected: 1500, PathMTU: 1500, LastResult: MTUResultLost, ConsecutiveLosses: 1}
	tests := []struct {
		name       string
		prev       MTUState
		o          MTUOutcome
		smallOK    bool
		wantStatus MTUStatus
		wantPMTU   int
		wantLosses int
	}{
		{"whole", unknown, MTUOutcome{Result: MTUResultOK, Expected: 1500}, true, MTUStatusOK, 1500, 0},
		{"one loss is a near miss", okState, MTUOutcome{Result: MTUResultLost, Expected: 1500}, true, MTUStatusOK, 1500, 1},
		{"first loss from unknown stays unknown", unknown, MTUOutcome{Result: MTUResultLost, Expected: 1500}, true, MTUStatusUnknown, 0, 1},
		{"second loss is a black hole", lostOnce, MTUOutcome{Result: MTUResultLost, Expected: 1500}, true, MTUStatusBlackhole, 0, 2},
		{"losses while small probes fail are no MTU fault", lostOnce, MTUOutcome{Result: MTUResultLost, Expected: 1500}, false, MTUStatusUnknown, 0, 2},
		{"refused with a learned path MTU is reduced", lostOnce, MTUOutcome{Result: MTUResultTooBig, Expected: 1500, PathMTU: 1400}, true, MTUStatusReduced, 1400, 0},
		{"whole with a learned path MTU is reduced", okState, MTUOutcome{Result: MTUResultOK, Expected: 1500, PathMTU: 1400}, true, MTUStatusReduced, 1400, 0},
		{"refused without a smaller MTU known", okState, MTUOutcome{Result: MTUResultTooBig, Expected: 1500}, true, MTUStatusUnknown, 0, 0},
		{"a learned MTU above the expected one is no reduction", unknown, MTUOutcome{Result: MTUResultOK, Expected: 1500, PathMTU: 9000}, true, MTUStatusOK, 1500, 0},
		{"other errors say nothing", okState, MTUOutcome{Result: MTUResultError, Expected: 1500, Err: errors.New("refused")}, true, MTUStatusUnknown, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := foldMTU(tc.prev, tc.o, tc.smallOK, true, at)
			if got.Status != tc.wantStatus || got.PathMTU != tc.wantPMTU || got.ConsecutiveLosses != tc.wantLosses {
				t.Errorf("got status %s, path MTU %d, losses %d; want %s, %d, %d", got.Status, got.PathMTU, got.ConsecutiveLosses, tc.wantStatus, tc.wantPMTU, tc.wantLosses)
			}
			if got.LastResult != tc.o.Result || !got.LastProbed.Equal(at) || got.Expected != tc.o.Expected {
				t.Errorf("latest probe not recorded: %+v", got)
			}
		})
	}
}

func TestStoreMTUBlackHoleNeedsWorkingSmallProbes(t *testing.T) {
	s := NewStore(2)
	tg := Target{Peer: "node-1", Path: PathEndpoint, Protocol: ProtocolICMP, IP: netip.MustParseAddr("198.18.1.1")}
	s.Retain([]Target{tg})
	now := time.Unix(1000, 0)
	lost := MTUOutcome{Result: MTUResultLost, Expected: 1500}
	if st, _ := s.State(tg); st.MTU.Status != MTUStatusUnknown {
		t.Fatalf("new target's MTU status %q, want unknown", st.MTU.Status)
	}
	// Before any small probe succeeded, losses are no MTU verdict.
	s.RecordMTU(tg, lost, now)
	if st, _ := s.RecordMTU(tg, lost, now); st.MTU.Status != MTUStatusUnknown {
		t.Fatalf("after losses with no working small probe: %q, want unknown", st.MTU.Status)
	}
	s.Record(tg, Outcome{Result: ResultSuccess, RTT: time.Millisecond}, now)
	if st, _ := s.RecordMTU(tg, lost, now); st.MTU.Status != MTUStatusBlackhole {
		t.Fatalf("third loss with small probes working: %q, want blackhole", st.MTU.Status)
	}
	// The whole path going down is no longer an MTU fault.
	s.Record(tg, Outcome{Result: ResultTimeout}, now)
	if st, _ := s.Record(tg, Outcome{Result: ResultTimeout}, now); st.Status != StatusUnreachable || st.MTU.Status != MTUStatusUnknown {
		t.Fatalf("path down: status %s, MTU %s; want unreachable, unknown", st.Status, st.MTU.Status)
	}
	if _, ok := s.RecordMTU(Target{Peer: "gone"}, lost, now); ok {
		t.Error("an outcome of an untracked target was recorded")
	}
}

// fakeRoutes is an MTUSource with fixed answers.
type fakeRoutes struct {
	expected, current int
	err               error
}

func (f fakeRoutes) Expected(netip.Addr) (int, error) { return f.expected, f.err }
func (f fakeRoutes) Current(netip.Addr) int           { return f.current }

func TestFullSizeProbeClassifies(t *testing.T) {
	emsgsize := os.NewSyscallError("sendto", syscall.EMSGSIZE)
	tests := []struct {
		name     string
		target   Target
		cfg      MTUProbeConfig
		small    Outcome // what the ICMP or HTTP probe returns
		want     MTUResult
		wantMTU  int // expected MTU
		wantPMTU int
		wantSize int // size asked of the probe
	}{
		{"icmp whole", icmpHost, MTUProbeConfig{Routes: fakeRoutes{expected: 1500, current: 1500}}, Outcome{Result: ResultSuccess}, MTUResultOK, 1500, 0, 1500},
		{"icmp refused locally", icmpHost, MTUProbeConfig{Routes: fakeRoutes{expected: 1500, current: 1400}}, Outcome{Result: ResultError, Err: emsgsize}, MTUResultTooBig, 1500, 1400, 1500},
		{"icmp frag-needed learned while waiting", icmpHost, MTUProbeConfig{Routes: fakeRoutes{expected: 1500, current: 1400}}, Outcome{Result: ResultTimeout}, MTUResultTooBig, 1500, 1400, 1500},
		{"icmp lost", icmpHost, MTUProbeConfig{Routes: fakeRoutes{expected: 1500, current: 1500}}, Outcome{Result: ResultTimeout}, MTUResultLost, 1500, 0, 1500},
		{"icmp other error", icmpHost, MTUProbeConfig{Routes: fakeRoutes{expected: 1500, current: 1500}}, Outcome{Result: ResultError, Err: errors.New("no route")}, MTUResultError, 1500, 0, 1500},
		{"host override", icmpHost, MTUProbeConfig{HostMTU: 9000, EndpointMTU: 1450, Routes: fakeRoutes{expected: 1500, current: 1500}}, Outcome{Result: ResultError, Err: emsgsize}, MTUResultTooBig, 9000, 1500, 9000},
		{"endpoint override", httpEndpoint, MTUProbeConfig{HostMTU: 9000, EndpointMTU: 1450}, Outcome{Result: ResultSuccess}, MTUResultOK, 1450, 0, 4 * 1450},
		{"http whole", httpEndpoint, MTUProbeConfig{Routes: fakeRoutes{expected: 1500, current: 1500}}, Outcome{Result: ResultSuccess}, MTUResultOK, 1500, 0, 6000},
		{"http whole after PMTUD", httpEndpoint, MTUProbeConfig{Routes: fakeRoutes{expected: 1500, current: 1400}}, Outcome{Result: ResultSuccess}, MTUResultOK, 1500, 1400, 6000},
		{"http stalls", httpEndpoint, MTUProbeConfig{Routes: fakeRoutes{expected: 1500, current: 1500}}, Outcome{Result: ResultTimeout}, MTUResultLost, 1500, 0, 6000},
		{"http refused", httpEndpoint, MTUProbeConfig{Routes: fakeRoutes{expected: 1500, current: 1500}}, Outcome{Result: ResultRefused}, MTUResultError, 1500, 0, 6000},
		{"loopback route is capped", httpEndpoint, MTUProbeConfig{Routes: fakeRoutes{expected: 65535, current: 65536}}, Outcome{Result: ResultSuccess}, MTUResultOK, 65535, 0, MaxFullSizeBody},
		{"route lookup fails", icmpHost, MTUProbeConfig{Routes: fakeRoutes{err: errors.New("no route")}}, Outcome{Result: ResultSuccess}, MTUResultError, 0, 0, 0},
		{"tiny MTU is not probed", icmpHost, MTUProbeConfig{Routes: fakeRoutes{expected: 576}}, Outcome{Result: ResultSuccess}, MTUResultError, 576, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			asked := 0
			probe := func(_ context.Context, _ netip.Addr, size int) Outcome { asked = size; return tc.small }
			tc.cfg.ICMP, tc.cfg.HTTP = probe, probe
			o := NewMTUProbe(tc.cfg)(context.Background(), tc.target)
			if o.Result != tc.want || o.Expected != tc.wantMTU || o.PathMTU != tc.wantPMTU || asked != tc.wantSize {
				t.Errorf("got %s, expected MTU %d, path MTU %d, size %d (err %v); want %s, %d, %d, %d",
					o.Result, o.Expected, o.PathMTU, asked, o.Err, tc.want, tc.wantMTU, tc.wantPMTU, tc.wantSize)
			}
		})
	}
}

var (
	icmpHost     = Target{Peer: "node-1", Path: PathHost, Protocol: ProtocolICMP, IP: netip.MustParseAddr("198.18.0.1")}
	httpEndpoint = Target{Peer: "node-1", Path: PathEndpoint, Protocol: ProtocolHTTP, IP: netip.MustParseAddr("2001:db8::1")}
)

func TestICMPMessageLen(t *testing.T) {
	tests := []struct {
		size int
		v6   bool
		want int
	}{
		{0, false, 0}, {36, false, 0}, {1500, false, 1480}, {1500, true, 1460}, {1280, true, 1240}, {70000, false, 65515},
	}
	for _, tc := range tests {
		if got := icmpMessageLen(tc.size, tc.v6); got != tc.want {
			t.Errorf("icmpMessageLen(%d, v6=%v) = %d, want %d", tc.size, tc.v6, got, tc.want)
		}
	}
}

func TestICMPEngineFullSizeLoopback(t *testing.T) {
	testbin.NeedRoot(t, "raw ICMP sockets")
	e, err := NewICMPEngine(ICMPConfig{Privileged: true, DontFragment: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	// lo's MTU is 65536: a packet of the largest size leaves whole, over
	// IPv4 and over IPv6 (whose sockets never fragment).
	for _, addr := range []string{"127.0.0.1", "::1"} {
		for _, size := range []int{1500, 9000, 65535} {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			o := e.ProbeSize(ctx, netip.MustParseAddr(addr), size)
			cancel()
			if o.Result != ResultSuccess {
				t.Fatalf("full-size echo of %d bytes to %s on lo: %+v", size, addr, o)
			}
		}
	}
	// Small probes through the same engine still work after big ones.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if o := e.Probe(ctx, netip.MustParseAddr("127.0.0.1")); o.Result != ResultSuccess {
		t.Fatalf("small echo after full-size ones: %+v", o)
	}
}

// A full-size probe carries no flow's identity: on a path with flows it
// may cross an equal-cost member that drops everything, before or after
// the flows on that member fail past the threshold (the ECMP lab's
// TestECMPFabricProof saw a member dropping everything read as an MTU
// black hole). Losses are a black hole only once every flow answered
// since they began, and never while the path is partial.
func TestStoreMTUBlackHoleWaitsForEveryFlow(t *testing.T) {
	const threshold = 2
	tg := Target{Peer: "node-1", Path: PathHost, Protocol: ProtocolICMP, IP: netip.MustParseAddr("2001:db8::1")}
	ids := func(Target) []Flow { return []Flow{{FlowLabel: 1}, {FlowLabel: 2}, {FlowLabel: 3}} }
	lost := MTUOutcome{Result: MTUResultLost, Expected: 1500}
	start := time.Unix(1000, 0)
	// interval probes one flow of tg at start+n seconds, flow bad (if
	// not -1) timing out; a full-size probe follows when full is set.
	type step struct {
		bad  int
		full bool
	}
	for _, tc := range []struct {
		name   string
		steps  []step
		onFlow bool // the full-size probes go over the flow just probed
		want   MTUStatus
	}{
		{"member dropping everything, its flow not probed yet", []step{{-1, false}, {-1, false}, {-1, false}, {2, true}, {2, true}}, false, MTUStatusOK},
		{"member dropping everything, its flow failing", []step{{-1, false}, {-1, false}, {-1, false}, {1, true}, {1, true}, {1, true}, {1, true}, {1, true}}, false, MTUStatusUnknown},
		{"large packets dropped, every flow answers", []step{{-1, false}, {-1, false}, {-1, false}, {-1, true}, {-1, true}, {-1, true}, {-1, true}}, false, MTUStatusBlackhole},
		{"two losses, the flows not all probed since", []step{{-1, false}, {-1, false}, {-1, true}, {-1, true}}, false, MTUStatusOK},
		// Over flows, each loss counts for its own flow (TestStoreMTUPerFlowVerdict):
		// one loss on each of two flows is two near misses.
		{"one loss on each of two flows whose small probes answered", []step{{-1, false}, {-1, false}, {-1, true}, {-1, true}}, true, MTUStatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewStore(threshold)
			s.Retain([]Target{tg})
			s.RecordMTU(tg, MTUOutcome{Result: MTUResultOK, Expected: 1500}, start)
			var st PathState
			for n, stp := range tc.steps {
				at := start.Add(time.Duration(n+1) * time.Second)
				_, i, _ := s.PickFlow(tg, ids)
				o := Outcome{Result: ResultSuccess, RTT: time.Millisecond}
				if i == stp.bad {
					o = Outcome{Result: ResultTimeout}
				}
				st, _, _ = s.RecordFlow(tg, i, o, at)
				if stp.full {
					o := lost
					o.OnFlow, o.Flow = tc.onFlow, i
					st, _ = s.RecordMTU(tg, o, at)
				}
			}
			if st.MTU.Status != tc.want {
				t.Errorf("MTU %q, want %q (flows %+v)", st.MTU.Status, tc.want, st.Flows)
			}
		})
	}
}

// Full-size probes over a flow are counted per flow: a flow whose
// full-size probes are lost MTULossThreshold times in a row while its
// small probes answer makes the path a black hole, whatever the other
// flows' full-size probes do (a member of an equal-cost group that drops
// only large packets); a flow that drops everything never does (a partial
// path); and the black hole goes when that flow answers at full size again
// or fails altogether.
func TestStoreMTUPerFlowVerdict(t *testing.T) {
	const threshold = 3
	tg := Target{Peer: "node-1", Path: PathHost, Protocol: ProtocolHTTP, IP: netip.MustParseAddr("2001:db8::1")}
	ids := func(Target) []Flow {
		return []Flow{{SourcePort: 60001}, {SourcePort: 60002}, {SourcePort: 60003}, {SourcePort: 60004}}
	}
	// A step probes flow `flow` small (lost: it times out) and, with
	// full set, at full size over the same flow.
	type step struct {
		flow      int
		smallLost bool
		full      MTUResult // "" for none
	}
	lostOn := func(f int) step { return step{flow: f, full: MTUResultLost} }
	okOn := func(f int) step { return step{flow: f, full: MTUResultOK} }
	deadOn := func(f int) step { return step{flow: f, smallLost: true, full: MTUResultLost} }
	smallDead := func(f int) step { return step{flow: f, smallLost: true} }
	for _, tc := range []struct {
		name            string
		steps           []step
		want            MTUStatus
		wantFlows       int
		wantUnconfirmed bool
	}{
		{"one flow loses twice in a row, the others get through in between", []step{okOn(0), lostOn(1), okOn(2), lostOn(1), okOn(3)}, MTUStatusBlackhole, 1, false},
		{"one loss awaits its confirmation", []step{okOn(0), lostOn(1)}, MTUStatusOK, 0, true},
		{"each flow's losses are near misses, an answer between them", []step{okOn(0), lostOn(1), okOn(1), lostOn(2), okOn(2), lostOn(1)}, MTUStatusOK, 0, true},
		{"a flow's own losses count in a row across other flows' turns", []step{lostOn(1), lostOn(2), okOn(3), lostOn(1)}, MTUStatusBlackhole, 1, false},
		{"two flows black-holed", []step{lostOn(1), lostOn(1), lostOn(2), lostOn(2), okOn(0)}, MTUStatusBlackhole, 2, false},
		{"a flow that drops everything is a partial path, no MTU fault", []step{okOn(0), deadOn(1), deadOn(1), deadOn(1), deadOn(1), okOn(2)}, MTUStatusOK, 0, false},
		{"the black-holed flow answers at full size again", []step{lostOn(1), lostOn(1), okOn(1)}, MTUStatusOK, 0, false},
		{"the black-holed flow then drops everything: partial, no longer an MTU fault", []step{okOn(0), lostOn(1), lostOn(1), smallDead(1), smallDead(1), smallDead(1)}, MTUStatusUnknown, 0, false},
		{"the black-holed flow misses one small probe: still a black hole", []step{lostOn(1), lostOn(1), smallDead(1)}, MTUStatusBlackhole, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewStore(threshold)
			s.Retain([]Target{tg})
			if _, _, ok := s.PickFlow(tg, ids); !ok {
				t.Fatal("no flows")
			}
			start := time.Unix(1000, 0)
			var st PathState
			for n, stp := range tc.steps {
				at := start.Add(time.Duration(n) * time.Second)
				o := Outcome{Result: ResultSuccess, RTT: time.Millisecond}
				if stp.smallLost {
					o = Outcome{Result: ResultTimeout}
				}
				st, _, _ = s.RecordFlow(tg, stp.flow, o, at)
				if stp.full != "" {
					st, _ = s.RecordMTU(tg, MTUOutcome{Result: stp.full, Expected: 1500, OnFlow: true, Flow: stp.flow}, at)
				}
			}
			if st.MTU.Status != tc.want || st.MTU.BlackholeFlows != tc.wantFlows || st.MTU.Unconfirmed != tc.wantUnconfirmed {
				t.Errorf("MTU %q, %d flows black-holed, unconfirmed %v; want %q, %d, %v (flows %+v)",
					st.MTU.Status, st.MTU.BlackholeFlows, st.MTU.Unconfirmed, tc.want, tc.wantFlows, tc.wantUnconfirmed, st.Flows)
			}
			if st.MTU.Status == MTUStatusBlackhole && st.Partial() {
				t.Errorf("a black hole and a partial path at once: %+v", st.Flows)
			}
		})
	}
}
