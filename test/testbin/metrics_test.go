package testbin

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
)

const metricsText = `# TYPE connectivity_peer_reachable gauge
connectivity_peer_reachable{path="host",peer="b",protocol="icmp"} 1
connectivity_peer_reachable{path="host",peer="c",protocol="icmp"} 0
# TYPE connectivity_probes_total counter
connectivity_probes_total{result="success"} 7
# TYPE connectivity_rtt_seconds histogram
connectivity_rtt_seconds_bucket{le="+Inf"} 3
connectivity_rtt_seconds_sum 0.1
connectivity_rtt_seconds_count 3
`

func TestMetricsQueries(t *testing.T) {
	m, err := ParseMetrics(metricsText)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		family string
		match  map[string]string
		found  int
		value  float64
		single bool
	}{
		{"one of two", "connectivity_peer_reachable", map[string]string{"peer": "c"}, 1, 0, true},
		{"both", "connectivity_peer_reachable", map[string]string{"path": "host"}, 2, 0, false},
		{"none", "connectivity_peer_reachable", map[string]string{"peer": "z"}, 0, 0, false},
		{"absent family", "connectivity_nodes", nil, 0, 0, false},
		{"counter", "connectivity_probes_total", nil, 1, 7, true},
		{"histogram: its count", "connectivity_rtt_seconds", nil, 1, 3, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := m.Find(tc.family, tc.match); len(got) != tc.found {
				t.Errorf("Find = %v, want %d series", got, tc.found)
			}
			v, ok := m.Value(tc.family, tc.match)
			if ok != tc.single || v != tc.value {
				t.Errorf("Value = %v, %v; want %v, %v", v, ok, tc.value, tc.single)
			}
		})
	}
	want := []string{
		"connectivity_peer_reachable{path=host,peer=b,protocol=icmp}",
		"connectivity_peer_reachable{path=host,peer=c,protocol=icmp}",
		"connectivity_probes_total{result=success}",
		"connectivity_rtt_seconds{}",
	}
	if got := m.SeriesIDs(); !slices.Equal(got, want) {
		t.Errorf("SeriesIDs = %q, want %q", got, want)
	}
}

func TestParseMetricsRejectsABrokenBody(t *testing.T) {
	if _, err := ParseMetrics("# TYPE x gauge\nx{a=\"1\" 1\n"); err == nil {
		t.Error("an unclosed label set parsed")
	}
}

func TestScrapeMetrics(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.Error(w, "no", http.StatusNotFound)
			return
		}
		fmt.Fprint(w, metricsText)
	}))
	defer srv.Close()
	m, body, err := ScrapeMetrics(srv.Client(), srv.URL+"/metrics")
	if err != nil || body != metricsText || len(m) != 3 {
		t.Errorf("scrape: %d families, err %v, body %q", len(m), err, body)
	}
	if _, _, err := ScrapeMetrics(srv.Client(), srv.URL+"/other"); err == nil {
		t.Error("a 404 scraped without error")
	}
}
