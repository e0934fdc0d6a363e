package prober

import (
	"context"
	"net/netip"
	"sync"
	"testing"

	"github.com/go-kit/log"
)

// flowProbeLog counts the probes of each flow and fails those of badPort.
type flowProbeLog struct {
	mu      sync.Mutex
	plain   int
	byFlow  map[Flow]int
	badPort uint16
}

func (l *flowProbeLog) probe(context.Context, netip.Addr) Outcome {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.plain++
	return Outcome{Result: ResultSuccess}
}

func (l *flowProbeLog) flowProbe(_ context.Context, _ netip.Addr, f Flow) Outcome {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.byFlow[f]++
	if f.SourcePort == l.badPort {
		return Outcome{Result: ResultTimeout}
	}
	return Outcome{Result: ResultSuccess}
}

func TestSchedulerProbesOneFlowPerPathPerRound(t *testing.T) {
	const flows, threshold, targets = 4, 3, 5
	for _, tc := range []struct {
		name      string
		flows     int
		wantPlain bool
	}{
		{"flows 1 probes as before", 1, true},
		{"flows 4 rotate", flows, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &flowProbeLog{byFlow: map[Flow]int{}}
			ts := peers(targets)
			cfg := Config{Interval: 1e9, Timeout: 1e9, MaxInFlight: 4}
			cfg.Flows = tc.flows
			cfg.FlowProbes = map[Protocol]FlowProbeFunc{ProtocolHTTP: l.flowProbe}
			cfg.FlowKey = "node-0"
			// The bad port is that of target 2's flow 1.
			l.badPort = (FlowConfig{Flows: flows, FlowProbes: cfg.FlowProbes, FlowKey: cfg.FlowKey}).flowIDs(ts[2])[1].SourcePort
			var told []FlowState
			cfg.OnFlowFailing = func(st PathState, f FlowState) {
				if st.Peer != ts[2].Peer {
					t.Errorf("hook told about %s", st.Peer)
				}
				told = append(told, f)
			}
			store := NewStore(threshold)
			s, err := NewScheduler(cfg, map[Protocol]ProbeFunc{ProtocolICMP: l.probe, ProtocolHTTP: l.probe}, store, &recordingObserver{}, log.NewNopLogger())
			if err != nil {
				t.Fatal(err)
			}
			s.SetTargets(ts)
			rounds := flows + threshold
			partialBy := 0
			for r := 1; r <= rounds; r++ {
				for _, st := range s.ProbeAll(context.Background()) {
					if st.Partial() && partialBy == 0 {
						partialBy = r
					}
				}
			}
			total := l.plain
			for _, n := range l.byFlow {
				total += n
			}
			if total != rounds*targets {
				t.Errorf("%d probes in %d rounds of %d paths: want one per path per round", total, rounds, targets)
			}
			if tc.wantPlain {
				if len(l.byFlow) != 0 || partialBy != 0 {
					t.Errorf("--probe.flows=1 probed flows %v (partial in round %d)", l.byFlow, partialBy)
				}
				return
			}
			if l.plain != 0 {
				t.Errorf("%d probes without flows", l.plain)
			}
			if len(l.byFlow) != flows*targets {
				t.Errorf("%d distinct flows probed, want %d", len(l.byFlow), flows*targets)
			}
			if partialBy == 0 || partialBy > flows+threshold {
				t.Errorf("partial first in round %d, want by %d", partialBy, flows+threshold)
			}
			st, _ := store.State(ts[2])
			if len(st.Flows.Failing) != 1 || st.Flows.Failing[0].Flow.SourcePort != l.badPort || st.Status != StatusReachable {
				t.Errorf("state %s, failing flows %+v: want reachable, the flow of port %d failing", st.Status, st.Flows.Failing, l.badPort)
			}
			if len(told) != 1 || told[0].Index != 1 {
				t.Errorf("hook told %+v, want flow 1 once", told)
			}
		})
	}
}
