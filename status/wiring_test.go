package status_test

import (
	"bytes"
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
	"github.com/connectivity-exporter/connectivity_exporter/daemon"
	"github.com/connectivity-exporter/connectivity_exporter/exitcode"
	"github.com/connectivity-exporter/connectivity_exporter/nodes"
	"github.com/connectivity-exporter/connectivity_exporter/plan"
	"github.com/connectivity-exporter/connectivity_exporter/prober"
	"github.com/connectivity-exporter/connectivity_exporter/status"
)

type noObserver struct{}

func (noObserver) ProbeDone(prober.PathState, prober.Outcome)       {}
func (noObserver) CycleDone(time.Duration)                          {}
func (noObserver) TargetsRemoved([]prober.Target)                   {}
func (noObserver) MTUProbeDone(prober.PathState, prober.MTUOutcome) {}

// The daemon's wiring, as main.go does it, with probes that drop everything
// sent to node-2's health endpoint: `status --probe` must tell the FORWARD
// story.
func TestWiringWithScheduler(t *testing.T) {
	list := []nodes.Node{
		{Name: "node-1", HostIP: netip.MustParseAddr("198.18.0.1"), HealthIP: netip.MustParseAddr("198.19.0.1")},
		{Name: "node-2", HostIP: netip.MustParseAddr("198.18.0.2"), HealthIP: netip.MustParseAddr("198.19.0.2")},
	}
	fake := func(ctx context.Context, ip netip.Addr) prober.Outcome {
		if ip == netip.MustParseAddr("198.19.0.2") {
			<-ctx.Done()
			return prober.Outcome{Result: prober.ResultTimeout, Err: ctx.Err()}
		}
		return prober.Outcome{Result: prober.ResultSuccess, RTT: 100 * time.Microsecond}
	}
	store := prober.NewStore(1)
	cfg := prober.Config{Interval: time.Minute, Timeout: 50 * time.Millisecond, MaxInFlight: 4}
	sched, err := prober.NewScheduler(cfg,
		map[prober.Protocol]prober.ProbeFunc{prober.ProtocolICMP: fake, prober.ProtocolHTTP: fake},
		store, noObserver{}, log.NewNopLogger())
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.New(plan.Config{Local: "node-1"}, list)
	if err != nil {
		t.Fatal(err)
	}
	sched.SetTargets(p.Targets())

	started := time.Now()
	backend := admin.BackendFuncs{
		StatusFunc: func() admin.Report {
			states := store.Snapshot()
			return daemon.BuildReport(p, states, daemon.ReportOptions{ProbeTime: daemon.LatestProbe(states), Interval: cfg.Interval})
		},
		ProbeFunc: func(ctx context.Context) admin.Report {
			since := time.Now()
			states := sched.ProbeAll(ctx)
			return daemon.BuildReport(p, states, daemon.ReportOptions{ProbeTime: time.Now(), Interval: cfg.Interval, Fresh: true, FreshSince: since})
		},
		InfoFunc: func() admin.Info {
			return admin.Info{Version: "test", Started: started, Nodes: len(list), LocalNode: "node-1", LastCycle: daemon.NewCycleInfo(sched.LastCycle())}
		},
	}
	c := adminClient(t, backend)

	var out, errOut bytes.Buffer
	if code := status.Run(context.Background(), &out, &errOut, c, status.CLIOptions{}); code != exitcode.Unhealthy || !strings.Contains(out.String(), "Not probed yet") {
		t.Errorf("status before any probe = %d:\n%s%s", code, &out, &errOut)
	}
	out.Reset()
	if code := status.Run(context.Background(), &out, &errOut, c, status.CLIOptions{Probe: true}); code != exitcode.Unhealthy ||
		!strings.Contains(out.String(), "Diagnosis: traffic is dropped inside node-2 before it reaches endpoints") ||
		!strings.Contains(out.String(), "Cluster health:   1/2 reachable") {
		t.Errorf("status --probe = %d:\n%s%s", code, &out, &errOut)
	}
	out.Reset()
	if code := status.Get(context.Background(), &out, &errOut, c, "text"); code != 0 || !strings.Contains(out.String(), "Nodes known:      2") {
		t.Errorf("get = %d:\n%s%s", code, &out, &errOut)
	}
}
