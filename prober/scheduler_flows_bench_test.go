package prober

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/go-kit/log"
)

// BenchmarkProbeFlowBookkeeping is what probing over flows adds to a
// probe besides the probe itself: picking the flow and recording its
// outcome, against recording a probe without flows.
func BenchmarkProbeFlowBookkeeping(b *testing.B) {
	ok := func(context.Context, netip.Addr) Outcome {
		return Outcome{Result: ResultSuccess, RTT: time.Millisecond}
	}
	okFlow := func(context.Context, netip.Addr, Flow) Outcome {
		return Outcome{Result: ResultSuccess, RTT: time.Millisecond}
	}
	for _, flows := range []int{1, 8} {
		b.Run(map[int]string{1: "one flow", 8: "8 flows"}[flows], func(b *testing.B) {
			cfg := Config{Interval: time.Second, Timeout: time.Second, MaxInFlight: 1}
			cfg.FlowConfig = FlowConfig{Flows: flows, FlowProbes: map[Protocol]FlowProbeFunc{ProtocolHTTP: okFlow}, FlowKey: "node-0"}
			store := NewStore(3)
			s, err := NewScheduler(cfg, map[Protocol]ProbeFunc{ProtocolICMP: ok, ProtocolHTTP: ok}, store, nopObserver{}, log.NewNopLogger())
			if err != nil {
				b.Fatal(err)
			}
			ts := peers(1000)
			s.SetTargets(ts)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				s.probeOne(ctx, ts[i%len(ts)])
			}
		})
	}
}

type nopObserver struct{}

func (nopObserver) ProbeDone(PathState, Outcome)       {}
func (nopObserver) CycleDone(time.Duration)            {}
func (nopObserver) TargetsRemoved([]Target)            {}
func (nopObserver) MTUProbeDone(PathState, MTUOutcome) {}
