package collector

import (
	"fmt"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/connectivity-exporter/connectivity_exporter/prober"
)

// meshStates is every path of n peers with a health endpoint, failing ones
// (1 in failEvery) unreachable.
func meshStates(n, failEvery int) fixedStates {
	out := make(fixedStates, 0, 4*n)
	for i := range n {
		host := netip.AddrFrom4([4]byte{198, 18, 128 + byte(i>>8&0x3f), byte(i)})
		health := netip.AddrFrom4([4]byte{198, 18, 192 + byte(i>>8&0x3f), byte(i)})
		peer := fmt.Sprintf("node-%04d", i)
		for _, path := range []prober.Path{prober.PathHost, prober.PathEndpoint} {
			ip := host
			if path == prober.PathEndpoint {
				ip = health
			}
			for _, proto := range []prober.Protocol{prober.ProtocolICMP, prober.ProtocolHTTP} {
				s := st(peer, path, proto, ip, prober.StatusReachable, 0)
				if failEvery > 0 && i%failEvery == 0 {
					s.Status, s.ConsecutiveFailures, s.LastResult = prober.StatusUnreachable, 3, prober.ResultTimeout
				}
				out = append(out, s)
			}
		}
	}
	return out
}

func outcomeOf(s prober.PathState) prober.Outcome {
	if s.Failing() {
		return prober.Outcome{Result: prober.ResultTimeout}
	}
	return prober.Outcome{Result: prober.ResultSuccess, RTT: 150 * time.Microsecond}
}

func newMesh(b *testing.B, opts Options, states fixedStates, nodes int) (*prometheus.Registry, *Metrics) {
	reg := prometheus.NewRegistry()
	m, err := New(reg, opts, states, BuildInfo{Version: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	m.SetNodes(nodes)
	m.SetFamilies([]prober.Family{prober.FamilyIPv4})
	for _, s := range states {
		m.ProbeDone(s, outcomeOf(s))
	}
	return reg, m
}

func BenchmarkProbeDone(b *testing.B) {
	states := meshStates(5000, 100)
	for _, mode := range []PerPeerMode{PerPeerAuto, PerPeerAll, PerPeerNone} {
		b.Run(string(mode), func(b *testing.B) {
			_, m := newMesh(b, baseOptions(mode), states, 5000)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				s := states[i%len(states)]
				m.ProbeDone(s, outcomeOf(s))
				i++
			}
		})
	}
}

// BenchmarkGather5000 is one scrape of /metrics at 5,000 peers with a
// health endpoint each (20,000 paths, 1% of peers failing), encoded as text.
func BenchmarkGather5000(b *testing.B) {
	states := meshStates(5000, 100)
	for _, mode := range []PerPeerMode{PerPeerAuto, PerPeerNone} {
		b.Run(string(mode), func(b *testing.B) {
			reg, _ := newMesh(b, baseOptions(mode), states, 5000)
			b.ReportAllocs()
			for b.Loop() {
				mfs, err := reg.Gather()
				if err != nil {
					b.Fatal(err)
				}
				enc := expfmt.NewEncoder(io.Discard, expfmt.NewFormat(expfmt.TypeTextPlain))
				for _, mf := range mfs {
					enc.Encode(mf)
				}
			}
		})
	}
}
