package status_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
	"github.com/connectivity-exporter/connectivity_exporter/status"
)

// A full-size result older than the latest small probe of its path, which
// failed, is not shown as current: never "OK at 1500 bytes" under
// "Connection timed out".
func TestMTUStaleBesideAFailingPath(t *testing.T) {
	t1 := t0.Add(time.Minute)
	for _, tc := range []struct {
		name    string
		small   admin.ProbeReport
		mtuAt   time.Time
		want    string
		notWant string
	}{
		{
			name:    "small probes fail after the full-size OK: unknown",
			small:   admin.ProbeReport{Status: "unreachable", Result: "timeout", LastProbed: t1, ConsecutiveFailures: 3},
			mtuAt:   t0,
			want:    "Full-size:       ICMP unknown since the small probes failed (before: OK at 1500 bytes)",
			notWant: "Full-size:       ICMP OK",
		},
		{
			name:  "small probes fail once, below the threshold, after the full-size OK: unknown too",
			small: admin.ProbeReport{Status: "reachable", Result: "timeout", LastProbed: t1, ConsecutiveFailures: 1},
			mtuAt: t0,
			want:  "ICMP unknown since the small probes failed",
		},
		{
			name:  "full-size probe after the failing small one: current",
			small: admin.ProbeReport{Status: "reachable", Result: "timeout", LastProbed: t0, ConsecutiveFailures: 1},
			mtuAt: t1,
			want:  "Full-size:       ICMP OK at 1500 bytes",
		},
		{
			name:  "small probes succeed: an older full-size result is current",
			small: admin.ProbeReport{Status: "reachable", Result: "success", LastProbed: t1, Latency: admin.Duration(time.Millisecond)},
			mtuAt: t0,
			want:  "Full-size:       ICMP OK at 1500 bytes",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := admin.Report{ProbeTime: t1, Interval: admin.Duration(15 * time.Second), LocalNode: "node-1", Nodes: []admin.NodeReport{{
				Name: "node-2",
				Host: &admin.PathReport{IP: "198.18.0.2",
					ICMP: tc.small,
					HTTP: admin.ProbeReport{Status: "reachable", Result: "success", LastProbed: t1, Latency: admin.Duration(time.Millisecond)},
				},
			}}}
			r.Nodes[0].Host.ICMP.MTU = &admin.MTUReport{Status: "ok", Expected: 1500, PathMTU: 1500, Result: "ok", LastProbed: tc.mtuAt}
			var out bytes.Buffer
			if err := status.RenderText(&out, r, status.TextOptions{Verbose: true}); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), tc.want) {
				t.Errorf("output lacks %q:\n%s", tc.want, out.String())
			}
			if tc.notWant != "" && strings.Contains(out.String(), tc.notWant) {
				t.Errorf("output has %q:\n%s", tc.notWant, out.String())
			}
		})
	}
}
