package daemon

import (
	"net/netip"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/nodes"
	"github.com/connectivity-exporter/connectivity_exporter/plan"
	"github.com/connectivity-exporter/connectivity_exporter/prober"
)

func TestHealthPodCheck(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	const grace = 2 * time.Minute
	withPod := []nodes.Node{
		{Name: "node-1", HostIP: netip.MustParseAddr("198.18.0.1"), HealthIP: netip.MustParseAddr("198.19.0.1")},
		{Name: "node-2", HostIP: netip.MustParseAddr("198.18.0.2"), HealthIP: netip.MustParseAddr("198.19.0.2")},
	}
	noPod := []nodes.Node{withPod[0], withPod[1]}
	noPod[0].HealthIP = netip.Addr{}
	podHTTP := prober.Target{Peer: "node-1", Path: prober.PathEndpoint, Protocol: prober.ProtocolHTTP, IP: withPod[0].HealthIP}

	// step is one check: the node list, the probe result of this node's
	// pod (0 none yet, +1 success, -1 failure) and what must be reported.
	type step struct {
		at     time.Duration
		list   []nodes.Node
		result int
		want   string // "" nothing reported, "up", "down"
	}
	for _, tc := range []struct {
		name             string
		failureThreshold int
		steps            []step
	}{
		{"new node: no pod yet, then it answers", 1, []step{
			{0, noPod, 0, ""},
			{time.Minute, withPod, 0, ""},
			{90 * time.Second, withPod, +1, "up"},
		}},
		{"no pod after the grace period", 1, []step{
			{time.Minute, noPod, 0, ""},
			{grace, noPod, 0, "down"},
		}},
		{"pod silent after the grace period", 1, []step{
			{time.Second, withPod, -1, ""},
			{3 * time.Minute, withPod, -1, "down"},
		}},
		{"pod up, then deleted: down at once", 1, []step{
			{time.Second, withPod, +1, "up"},
			{2 * time.Second, noPod, 0, "down"},
		}},
		{"pod up, then one lost probe below the threshold", 3, []step{
			{time.Second, withPod, +1, "up"},
			{2 * time.Second, withPod, -1, "up"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := prober.NewStore(tc.failureThreshold)
			var got []string
			c := &healthPodCheck{started: t0, grace: grace, report: func(up bool) {
				if up {
					got = append(got, "up")
				} else {
					got = append(got, "down")
				}
			}}
			for i, s := range tc.steps {
				p, err := plan.New(plan.Config{Local: "node-1"}, s.list)
				if err != nil {
					t.Fatal(err)
				}
				store.Retain(p.Targets())
				switch s.result {
				case +1:
					store.Record(podHTTP, prober.Outcome{Result: prober.ResultSuccess}, t0.Add(s.at))
				case -1:
					store.Record(podHTTP, prober.Outcome{Result: prober.ResultTimeout}, t0.Add(s.at))
				}
				before := len(got)
				c.check(t0.Add(s.at), p, store)
				reported := ""
				if len(got) > before {
					reported = got[len(got)-1]
				}
				if reported != s.want {
					t.Errorf("step %d (%v): reported %q; want %q", i, s.at, reported, s.want)
				}
			}
		})
	}
}

// A dual-stack health pod is up only when /hello answers on both of its
// addresses.
func TestHealthPodCheckDualStack(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	ip := netip.MustParseAddr
	list := []nodes.Node{{Name: "node-1", HostIP: ip("198.18.0.1"), HealthIP: ip("198.19.0.1"), DualStackHealthIP: ip("2001:db8:1::1")}}
	p, err := plan.New(plan.Config{Local: "node-1"}, list)
	if err != nil {
		t.Fatal(err)
	}
	v4 := prober.Target{Peer: "node-1", Path: prober.PathEndpoint, Protocol: prober.ProtocolHTTP, IP: ip("198.19.0.1")}
	v6 := prober.Target{Peer: "node-1", Path: prober.PathEndpoint, Protocol: prober.ProtocolHTTP, IP: ip("2001:db8:1::1")}
	for _, tc := range []struct {
		name   string
		v4, v6 prober.Result // "" not probed yet
		want   bool
	}{
		{"both answer", prober.ResultSuccess, prober.ResultSuccess, true},
		{"IPv6 silent", prober.ResultSuccess, prober.ResultTimeout, false},
		{"IPv4 silent", prober.ResultTimeout, prober.ResultSuccess, false},
		{"IPv6 not probed yet", prober.ResultSuccess, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := prober.NewStore(1)
			store.Retain(p.Targets())
			for target, r := range map[prober.Target]prober.Result{v4: tc.v4, v6: tc.v6} {
				if r != "" {
					store.Record(target, prober.Outcome{Result: r}, t0)
				}
			}
			var got []bool
			c := &healthPodCheck{started: t0, report: func(up bool) { got = append(got, up) }}
			c.check(t0, p, store)
			if len(got) != 1 || got[0] != tc.want {
				t.Errorf("reported %v, want [%v]", got, tc.want)
			}
		})
	}
}
