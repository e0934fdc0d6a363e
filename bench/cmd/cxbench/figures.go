package main

import (
	"bytes"
	"flag"
	"fmt"
	"hash/fnv"
	"net/netip"
	"os"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/connectivity-exporter/connectivity_exporter/collector"
	"github.com/connectivity-exporter/connectivity_exporter/nodes"
	"github.com/connectivity-exporter/connectivity_exporter/plan"
	"github.com/connectivity-exporter/connectivity_exporter/prober"
)

func figuresMain(args []string) error {
	fs := flag.NewFlagSet("figures", flag.ExitOnError)
	fs.Parse(args)
	var b bytes.Buffer
	writePeerFigures(&b, peerFigures())
	series, err := seriesFigures()
	if err != nil {
		return err
	}
	writeSeriesFigures(&b, series)
	_, err = os.Stdout.Write(b.Bytes())
	return err
}

type peerFigure struct {
	N, K                  int
	Min, Max              int
	Mean                  float64
	RendezvousMin         int // pure rendezvous hashing, for comparison
	RendezvousMax         int
	Changed               float64 // share of choices that change when 1% of the nodes leave
	MustChange            float64 // share of choices that pointed at a node that left
	PerCall               time.Duration
	RendezvousZeroWatched int
}

func benchCluster(n int) []nodes.Node {
	out := make([]nodes.Node, n)
	for i := range out {
		out[i] = nodes.Node{Name: fmt.Sprintf("node-%05d", i), HostIP: netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})}
	}
	return out
}

func peerFigures() []peerFigure {
	var out []peerFigure
	for _, n := range []int{1000, 5000} {
		all := benchCluster(n)
		for _, k := range []int{10, 50} {
			f := peerFigure{N: n, K: k, Min: 1 << 30}
			in := map[string]int{}
			before := map[string]map[string]bool{}
			start := time.Now()
			for _, node := range all {
				chosen := map[string]bool{}
				for _, p := range plan.SelectPeers(node.Name, all, k) {
					if p.Name != node.Name {
						in[p.Name]++
						chosen[p.Name] = true
					}
				}
				before[node.Name] = chosen
			}
			f.PerCall = time.Since(start) / time.Duration(n)
			sum := 0
			for _, node := range all {
				d := in[node.Name]
				f.Min, f.Max, sum = min(f.Min, d), max(f.Max, d), sum+d
			}
			f.Mean = float64(sum) / float64(n)

			rin := rendezvousInDegrees(all, k)
			f.RendezvousMin = 1 << 30
			for _, node := range all {
				d := rin[node.Name]
				f.RendezvousMin, f.RendezvousMax = min(f.RendezvousMin, d), max(f.RendezvousMax, d)
				if d == 0 {
					f.RendezvousZeroWatched++
				}
			}

			// 1% of the nodes leave (every hundredth).
			var left []nodes.Node
			gone := map[string]bool{}
			for i, node := range all {
				if i%100 == 37 {
					gone[node.Name] = true
				} else {
					left = append(left, node)
				}
			}
			changed, must, total := 0, 0, 0
			for _, node := range left {
				after := map[string]bool{}
				for _, p := range plan.SelectPeers(node.Name, left, k) {
					if p.Name != node.Name {
						after[p.Name] = true
					}
				}
				for p := range before[node.Name] {
					total++
					if !after[p] {
						changed++
					}
					if gone[p] {
						must++
					}
				}
			}
			f.Changed = float64(changed) / float64(total)
			f.MustChange = float64(must) / float64(total)
			out = append(out, f)
		}
	}
	return out
}

// rendezvousInDegrees is what pure rendezvous hashing (top k scores) would
// give, to show why SelectPeers takes half its peers from the ring.
func rendezvousInDegrees(all []nodes.Node, k int) map[string]int {
	h := func(s string) uint64 { f := fnv.New64a(); f.Write([]byte(s)); return mix(f.Sum64()) }
	hashes := make([]uint64, len(all))
	for i, n := range all {
		hashes[i] = h(n.Name)
	}
	in := map[string]int{}
	idx := make([]int, 0, len(all))
	scores := make([]uint64, len(all))
	for i := range all {
		idx = idx[:0]
		for j := range all {
			if j != i {
				scores[j] = mix(hashes[i]*0x9e3779b97f4a7c15 ^ hashes[j])
				idx = append(idx, j)
			}
		}
		sort.Slice(idx, func(a, b int) bool { return scores[idx[a]] > scores[idx[b]] })
		for _, j := range idx[:k] {
			in[all[j].Name]++
		}
	}
	return in
}

func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

type seriesFigure struct {
	Mode    string
	Classic bool
	Zones   int // the peers spread over this many zones; 0: no zones
	Lines   int // samples in the text exposition
	Bytes   int
	Gather  time.Duration
}

type meshSource []prober.PathState

func (m meshSource) Snapshot() []prober.PathState { return m }

// seriesFigures counts what /metrics holds at 5,000 peers with 4 paths each,
// 1% of the peers failing, in every per-peer mode.
func seriesFigures() ([]seriesFigure, error) {
	var states meshSource
	for i := range 5000 {
		for _, path := range []prober.Path{prober.PathHost, prober.PathEndpoint} {
			ip := peerIP(i)
			if path == prober.PathEndpoint {
				ip = healthIP(i)
			}
			for _, proto := range []prober.Protocol{prober.ProtocolICMP, prober.ProtocolHTTP} {
				s := prober.PathState{Target: prober.Target{Peer: fmt.Sprintf("peer-%04d", i), Path: path, Protocol: proto, IP: ip}, Status: prober.StatusReachable, LastResult: prober.ResultSuccess}
				if i%100 == 0 {
					s.Status, s.ConsecutiveFailures, s.LastResult = prober.StatusUnreachable, 3, prober.ResultTimeout
				}
				states = append(states, s)
			}
		}
	}
	var out []seriesFigure
	for _, mode := range []collector.PerPeerMode{collector.PerPeerAuto, collector.PerPeerFailing, collector.PerPeerNone, collector.PerPeerAll} {
		for _, classic := range []bool{true, false} {
			f, err := measureSeries(states, mode, classic, 0)
			if err != nil {
				return nil, err
			}
			out = append(out, f)
		}
	}
	for _, classic := range []bool{true, false} {
		f, err := measureSeries(states, collector.PerPeerAuto, classic, 3)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// measureSeries is one scrape of a collector that probed every path of
// states once. With zones > 0, the prober and its peers are spread over
// that many zones, as a plan gives them (zone aggregates, source_zone).
func measureSeries(states meshSource, mode collector.PerPeerMode, classic bool, zones int) (seriesFigure, error) {
	opts := collector.Options{Source: "cxb-prober", PerPeer: mode, AutoMaxNodes: 100, ClassicBuckets: classic, Interval: 15 * time.Second, Timeout: 2 * time.Second}
	peerZones := map[string]string{}
	if zones > 0 {
		opts.Zone = "zone-0"
		for i, s := range states {
			peerZones[s.Peer] = fmt.Sprintf("zone-%d", i/4%zones)
		}
	}
	reg := prometheus.NewRegistry()
	m, err := collector.New(reg, opts, states, collector.BuildInfo{Version: "cxbench"})
	if err != nil {
		return seriesFigure{}, err
	}
	m.SetNodes(5001)
	m.SetPeerZones(peerZones)
	for _, s := range states {
		o := prober.Outcome{Result: prober.ResultSuccess, RTT: 120 * time.Microsecond}
		if s.Failing() {
			o = prober.Outcome{Result: prober.ResultTimeout}
		}
		m.ProbeDone(s, o)
	}
	start := time.Now()
	mfs, err := reg.Gather()
	if err != nil {
		return seriesFigure{}, err
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return seriesFigure{}, err
		}
	}
	f := seriesFigure{Mode: string(mode), Classic: classic, Zones: zones, Bytes: buf.Len(), Gather: time.Since(start)}
	for _, l := range bytes.Split(buf.Bytes(), []byte("\n")) {
		if len(l) > 0 && l[0] != '#' {
			f.Lines++
		}
	}
	return f, nil
}
