package collector

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestTraceInfo(t *testing.T) {
	var now []TraceInfo
	c := NewTraceInfoCollector(prometheus.Labels{"source": "node-1"}, func() []TraceInfo { return now })
	const head = `# HELP connectivity_path_trace_info 1 for each flow of a path that fails past the failure threshold (flow 0 for a path probed without flows that is unreachable while its peer answers on another path), labelled by its latest trace: the last hop that answered (last_hop, at TTL last_hop_ttl; empty if none) and whether the peer was reached. Absent while the flow answers.
# TYPE connectivity_path_trace_info gauge
`
	for _, tc := range []struct {
		name   string
		now    []TraceInfo
		want   string
		golden string // a file of testdata/ that holds want
	}{
		{"no failing flow: no series", nil, "", ""},
		{"two failing flows", []TraceInfo{
			{Peer: "node-3", Path: "host", Protocol: "http", Family: "ipv4", Flow: 2, LastHop: "198.18.1.6", LastHopTTL: 2},
			{Peer: "node-3", Path: "host", Protocol: "icmp", Family: "ipv6", Flow: 0, Reached: true, LastHop: "2001:db8:ffff::1", LastHopTTL: 3},
		}, head + `connectivity_path_trace_info{family="ipv4",flow="2",last_hop="198.18.1.6",last_hop_ttl="2",path="host",peer="node-3",protocol="http",reached="false",source="node-1"} 1
connectivity_path_trace_info{family="ipv6",flow="0",last_hop="2001:db8:ffff::1",last_hop_ttl="3",path="host",peer="node-3",protocol="icmp",reached="true",source="node-1"} 1
`, "trace-info.prom"},
		{"a flow that recovered leaves", []TraceInfo{
			{Peer: "node-3", Path: "host", Protocol: "http", Family: "ipv4", Flow: 2},
		}, head + `connectivity_path_trace_info{family="ipv4",flow="2",last_hop="",last_hop_ttl="0",path="host",peer="node-3",protocol="http",reached="false",source="node-1"} 1
`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now = tc.now
			if err := testutil.CollectAndCompare(c, strings.NewReader(tc.want), "connectivity_path_trace_info"); err != nil {
				t.Error(err)
			}
			if tc.golden == "" {
				return
			}
			// The golden file tells the dashboards' and rules' tests
			// (test/metricnames) that the series exists.
			path := filepath.Join("testdata", tc.golden)
			if *update {
				if err := os.WriteFile(path, []byte(tc.want), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatalf("%v (run go test ./collector -update to create it)", err)
			}
			defer f.Close()
			if err := testutil.CollectAndCompare(c, f, "connectivity_path_trace_info"); err != nil {
				t.Errorf("%s: %v (go test ./collector -update rewrites it)", path, err)
			}
		})
	}
}
