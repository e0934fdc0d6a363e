// Package churn adds and removes peers thousands of times through the
// scheduler and the collector, as a node list in flux does, and checks that
// nothing of the peers that left stays behind: no series, no state, no
// goroutine, no file descriptor.
package churn

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/connectivity-exporter/connectivity_exporter/collector"
	"github.com/connectivity-exporter/connectivity_exporter/nodes"
	"github.com/connectivity-exporter/connectivity_exporter/plan"
	"github.com/connectivity-exporter/connectivity_exporter/prober"
	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

const interval = 20 * time.Millisecond

// fakeProbe answers at once: addresses ending in an odd number fail, so
// that "failing" mode has series too.
func fakeProbe(_ context.Context, ip netip.Addr) prober.Outcome {
	if b := ip.As4(); b[3]%2 == 1 {
		return prober.Outcome{Result: prober.ResultTimeout, Err: fmt.Errorf("fake timeout")}
	}
	return prober.Outcome{Result: prober.ResultSuccess, RTT: 150 * time.Microsecond}
}

func node(name string, host, health int) nodes.Node {
	n := nodes.Node{Name: name, HostIP: netip.AddrFrom4([4]byte{198, 18, byte(host >> 8), byte(host)})}
	if health >= 0 {
		n.HealthIP = netip.AddrFrom4([4]byte{198, 19, byte(health >> 8), byte(health)})
	}
	return n
}

// seriesOf gathers reg and returns every connectivity_* series as
// "name{labels}" (values left out), sorted, and the peers they name.
func seriesOf(t *testing.T, reg prometheus.Gatherer) ([]string, map[string]bool) {
	t.Helper()
	out, peers, err := gatherSeries(reg)
	if err != nil {
		t.Fatal(err)
	}
	return out, peers
}

func gatherSeries(reg prometheus.Gatherer) ([]string, map[string]bool, error) {
	mfs, err := reg.Gather()
	if err != nil {
		return nil, nil, err
	}
	var out []string
	peers := map[string]bool{}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "connectivity_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, lp := range m.GetLabel() {
				ls = append(ls, lp.GetName()+"="+lp.GetValue())
				if lp.GetName() == "peer" {
					peers[lp.GetValue()] = true
				}
			}
			out = append(out, mf.GetName()+"{"+strings.Join(ls, ",")+"}")
		}
	}
	sort.Strings(out)
	return out, peers, nil
}

func TestChurnLeavesNothingBehind(t *testing.T) {
	base := []nodes.Node{node("node-1", 1, 1), node("node-2", 2, 2), node("node-3", 3, -1)}
	baseNames := map[string]bool{"node-1": true, "node-2": true, "node-3": true}
	tests := []struct {
		mode    collector.PerPeerMode
		autoMax int
	}{
		{collector.PerPeerAll, 0},
		{collector.PerPeerFailing, 0},
		{collector.PerPeerNone, 0},
		// Crosses its threshold back and forth: all <-> failing.
		{collector.PerPeerAuto, 5},
	}
	iterations := 3000
	if testing.Short() {
		iterations = 300
	}
	for _, tc := range tests {
		t.Run(string(tc.mode), func(t *testing.T) {
			before := testbin.MeasureUsage(t)
			reg := prometheus.NewRegistry()
			store := prober.NewStore(2)
			metrics, err := collector.New(reg, collector.Options{
				Source: "node-1", PerPeer: tc.mode, AutoMaxNodes: tc.autoMax, ClassicBuckets: true,
				HealthEndpoint: true, Interval: interval, Timeout: interval,
			}, store, collector.BuildInfo{Version: "test"})
			if err != nil {
				t.Fatal(err)
			}
			sched, err := prober.NewScheduler(prober.Config{Interval: interval, Timeout: interval, MaxInFlight: 64},
				map[prober.Protocol]prober.ProbeFunc{prober.ProtocolICMP: fakeProbe, prober.ProtocolHTTP: fakeProbe},
				store, metrics, log.NewNopLogger())
			if err != nil {
				t.Fatal(err)
			}
			first, err := plan.New(plan.Config{Local: "node-1"}, base)
			if err != nil {
				t.Fatal(err)
			}
			keeper := plan.NewKeeper(first, metrics, log.NewNopLogger()) // as the daemon has it
			keeper.OnChange(func(p *plan.Plan) { sched.SetTargets(p.Targets()) })
			apply := func(l []nodes.Node) {
				if err := keeper.Update(l); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); sched.Run(ctx) }()
			defer func() { cancel(); <-done }()
			web := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
			defer web.Close()

			apply(base)
			// Steady once every path has its verdict: the fake probes never
			// change their answers, so the series stay as they are then.
			testbin.Eventually(t, 10*time.Second, "every path of the base list probed to a verdict", func() error {
				return settled(store, len(first.Targets()))
			})
			want, _ := seriesOf(t, reg)
			steady := testbin.MeasureUsage(t)

			// Scrapes run all along, as Prometheus does; they also show that
			// the newcomers did get series, or the test would prove nothing.
			var transient atomic.Int64
			var scrapes sync.WaitGroup
			stopScrapes := make(chan struct{})
			scrapes.Add(1)
			go func() {
				defer scrapes.Done()
				for {
					select {
					case <-stopScrapes:
						return
					case <-time.After(5 * time.Millisecond):
						_, peers, err := gatherSeries(reg)
						if err != nil {
							t.Errorf("gather during churn: %v", err)
							return
						}
						for p := range peers {
							if !baseNames[p] {
								transient.Add(1)
							}
						}
					}
				}
			}()
			rng := rand.New(rand.NewPCG(1, uint64(len(tc.mode))))
			seen := map[string]bool{}
			for i := range iterations {
				list := slices.Clone(base)
				for j := range rng.IntN(8) {
					// Half come back under names seen before, half are new.
					name := fmt.Sprintf("churn-%d", rng.IntN(20))
					if j%2 == 1 {
						name = fmt.Sprintf("new-%d-%d", i, j)
					}
					if slices.ContainsFunc(list, func(n nodes.Node) bool { return n.Name == name }) {
						continue
					}
					health := -1
					if rng.IntN(2) == 0 {
						health = 10 + len(list)
					}
					list = append(list, node(name, 10+len(list)+rng.IntN(2), health))
					seen[name] = true
				}
				apply(list)
				if i%10 == 0 {
					time.Sleep(interval / 4) // let probes of the newcomers land
				}
			}
			close(stopScrapes)
			scrapes.Wait()
			apply(base)
			// Probes of the peers that left may still be in flight: wait
			// for the series of the base list, which then must stay.
			testbin.Eventually(t, 10*time.Second, "the series of the base list alone", func() error {
				if err := settled(store, len(first.Targets())); err != nil {
					return err
				}
				got, _, err := gatherSeries(reg)
				if err != nil {
					return err
				}
				return testbin.Holds(slices.Equal(got, want), fmt.Sprintf("%d series, want %d", len(got), len(want)))
			})

			if tc.mode != collector.PerPeerNone && transient.Load() == 0 {
				t.Error("no peer but the base ones ever had series: nothing was removed")
			}
			got, peers := seriesOf(t, reg)
			for p := range peers {
				if !baseNames[p] {
					t.Errorf("series of %q, which left, are still exported", p)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("series after churn differ from before:\n got %d: %v\nwant %d: %v", len(got), got, len(want), want)
			}
			if n, w := len(store.Snapshot()), len(first.Targets()); n != w {
				t.Errorf("the store tracks %d paths, want %d", n, w)
			}
			body := scrape(t, web.URL)
			for name := range seen {
				if strings.Contains(body, `peer="`+name+`"`) {
					t.Errorf("/metrics still names %s", name)
				}
			}
			// Probes in flight come and go while the scheduler runs.
			after := testbin.SettleUsage(t, steady, 4, 3*time.Second)
			cancel()
			<-done
			web.Close()
			final := testbin.SettleUsage(t, before, 0, 3*time.Second)
			t.Logf("%d node lists, %d peers came and went (seen with series %d times in scrapes); %d series before and after; goroutines %d (steady) -> %d (after churn), %d -> %d once stopped; fds %d -> %d",
				iterations, len(seen), transient.Load(), len(want), steady.Goroutines, after.Goroutines, before.Goroutines, final.Goroutines, steady.FDs, after.FDs)
		})
	}
}

// settled says what is still missing before the store holds n paths, each
// with a verdict.
func settled(store *prober.Store, n int) error {
	paths := store.Snapshot()
	unknown := 0
	for _, st := range paths {
		if st.Status == prober.StatusUnknown {
			unknown++
		}
	}
	return testbin.Holds(len(paths) == n && unknown == 0, fmt.Sprintf("%d paths (want %d), %d without a verdict", len(paths), n, unknown))
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	// No keep-alive: a pooled connection would count as a leak.
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	_, body, err := testbin.ScrapeMetrics(c, url)
	if err != nil {
		t.Fatal(err)
	}
	return body
}
