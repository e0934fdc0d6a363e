package status_test

import (
	"bytes"
	"maps"
	"testing"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
	"github.com/connectivity-exporter/connectivity_exporter/exitcode"
	"github.com/connectivity-exporter/connectivity_exporter/status"
)

// withMTU sets the full-size results of node's paths, one letter per path
// in the order of row.spec:
//
//	o  ok at 1500 bytes
//	b  black hole at 1500 bytes (lost twice in a row)
//	f  black hole at 1500 bytes on 2 flows of a path probed over flows
//	l  lost once: still ok, a near miss
//	r  reduced: path MTU 1400, expected 1500
//	-  not probed at full size yet
func withMTU(r admin.Report, node, spec string) admin.Report {
	for i := range r.Nodes {
		n := &r.Nodes[i]
		if n.Name != node {
			continue
		}
		var ps []*admin.ProbeReport
		for _, p := range []*admin.PathReport{n.Host, n.Endpoint} {
			if p != nil {
				ps = append(ps, &p.ICMP, &p.HTTP)
			}
		}
		for j, c := range []byte(spec) {
			m := &admin.MTUReport{Expected: 1500, LastProbed: t0}
			switch c {
			case 'o':
				m.Status, m.PathMTU, m.Result = "ok", 1500, "ok"
			case 'b':
				m.Status, m.Result, m.ConsecutiveLosses, m.Error = "blackhole", "lost", 2, "no echo reply before the timeout"
			case 'f':
				m.Status, m.Result, m.ConsecutiveLosses, m.BlackholeFlows = "blackhole", "lost", 2, 2
			case 'l':
				m.Status, m.PathMTU, m.Result, m.ConsecutiveLosses = "ok", 1500, "lost", 1
			case 'r':
				m.Status, m.PathMTU, m.Result = "reduced", 1400, "too_big"
			case '-':
				m = nil
			default:
				panic("unknown MTU letter " + string(c))
			}
			ps[j].MTU = m
		}
	}
	return r
}

const holeAdvice = "an MTU black hole; check the MTU of every hop and that ICMP 'fragmentation needed' is not dropped"

func TestDiagnoseMTU(t *testing.T) {
	healthy := []row{{"node-1", "RRRR"}, {"node-2", "RRRR"}}
	for _, tc := range []struct {
		name     string
		rows     []row
		mtu      string // node-2's full-size results
		want     map[string]string
		wantExit int
	}{
		{"all whole", healthy, "oooo", map[string]string{}, exitcode.OK},
		{"not probed at full size yet", healthy, "----", map[string]string{}, exitcode.OK},
		{"one lost full-size probe is a near miss", healthy, "oolo", map[string]string{}, exitcode.OK},
		{"black hole on the endpoint path", healthy, "oobb",
			map[string]string{"node-2": "packets of 1500 bytes to node-2 are lost on the endpoint path while small ones pass (full-size ICMP and HTTP): " + holeAdvice}, exitcode.Unhealthy},
		{"black hole on both paths, HTTP only", healthy, "ob-b",
			map[string]string{"node-2": "packets of 1500 bytes to node-2 are lost on the host and endpoint paths while small ones pass (full-size HTTP): " + holeAdvice}, exitcode.Unhealthy},
		// A member of an equal-cost group dropping large packets: a black
		// hole of some flows, no partial path.
		{"black hole on 2 flows of the host HTTP path", healthy, "ofoo",
			map[string]string{"node-2": "packets of 1500 bytes to node-2 are lost on the host path while small ones pass (full-size HTTP): " + holeAdvice}, exitcode.Unhealthy},
		{"reduced path MTU is information", healthy, "rroo",
			map[string]string{"node-2": "the path MTU to node-2 is 1400 (expected 1500) on the host path: PMTUD works"}, exitcode.OK},
		{"a black hole outweighs a reduced MTU", healthy, "rrbo",
			map[string]string{"node-2": "packets of 1500 bytes to node-2 are lost on the endpoint path while small ones pass (full-size ICMP): " + holeAdvice}, exitcode.Unhealthy},
		{"small probes failing: the usual diagnosis", []row{{"node-1", "RRRR"}, {"node-2", "RRTT"}}, "oobb",
			map[string]string{"node-2": forwardDrop}, exitcode.Unhealthy},
		{"no health IP", []row{{"node-1", "RRRR"}, {"node-2", "RR"}}, "bo",
			map[string]string{"node-2": "packets of 1500 bytes to node-2 are lost on the host path while small ones pass (full-size ICMP): " + holeAdvice}, exitcode.Unhealthy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := withMTU(scenario(tc.rows...), "node-2", tc.mtu)
			if got := status.Diagnose(r); !maps.Equal(got, tc.want) {
				t.Errorf("Diagnose:\n got %q\nwant %q", got, tc.want)
			}
			if got := status.ExitCode(r); got != tc.wantExit {
				t.Errorf("exit code %d, want %d", got, tc.wantExit)
			}
		})
	}
}

func TestRenderTextMTUGolden(t *testing.T) {
	rows := []row{{"node-1", "RRRR"}, {"node-2", "RRRR"}, {"node-3", "RRRR"}, {"node-4", "RRRR"}}
	for _, tc := range []struct {
		golden  string
		verbose bool
	}{
		{"mtu", false},
		{"mtu_verbose", true},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			r := scenario(rows...)
			r = withMTU(r, "node-1", "oooo")
			r = withMTU(r, "node-2", "oobb")
			r = withMTU(r, "node-3", "rroo")
			r = withMTU(r, "node-4", "ol--")
			var buf bytes.Buffer
			if err := status.RenderText(&buf, r, status.TextOptions{Verbose: tc.verbose}); err != nil {
				t.Fatal(err)
			}
			golden(t, "text_"+tc.golden, buf.Bytes())
		})
	}
}

// A black hole of some flows says how many in the path's line.
func TestRenderTextMTUBlackholeFlows(t *testing.T) {
	r := withMTU(scenario(row{"node-1", "RRRR"}, row{"node-2", "RRRR"}), "node-2", "ofoo")
	var buf bytes.Buffer
	if err := status.RenderText(&buf, r, status.TextOptions{Verbose: true}); err != nil {
		t.Fatal(err)
	}
	if want := "HTTP lost at 1500 bytes on 2 flows (MTU black hole)"; !bytes.Contains(buf.Bytes(), []byte(want)) {
		t.Errorf("no %q in:\n%s", want, buf.String())
	}
}
