package testbin

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Metrics is one /metrics body, parsed: the families by name.
type Metrics map[string]*dto.MetricFamily

// Sample is one series of a family: its labels and its value (a
// histogram's or summary's sample count).
type Sample struct {
	Labels map[string]string
	Value  float64
}

// ParseMetrics parses the Prometheus text format; a body that does not
// parse (a half-deleted family, a duplicate series) is an error.
func ParseMetrics(text string) (Metrics, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		return nil, fmt.Errorf("/metrics does not parse: %w", err)
	}
	return mfs, nil
}

// ScrapeMetrics GETs url with client and parses the body, which it also
// returns as text. A status other than 200 is an error.
func ScrapeMetrics(client *http.Client, url string) (Metrics, string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, "", err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, string(body), fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
	}
	m, err := ParseMetrics(string(body))
	return m, string(body), err
}

// Find returns the series of family name whose labels include every pair
// of match.
func (m Metrics) Find(name string, match map[string]string) []Sample {
	var out []Sample
next:
	for _, metric := range m[name].GetMetric() {
		labels := map[string]string{}
		for _, lp := range metric.GetLabel() {
			labels[lp.GetName()] = lp.GetValue()
		}
		for k, v := range match {
			if labels[k] != v {
				continue next
			}
		}
		out = append(out, Sample{Labels: labels, Value: value(metric)})
	}
	return out
}

// Value returns the value of the one series that Find matches, or false
// when there is none or more than one.
func (m Metrics) Value(name string, match map[string]string) (float64, bool) {
	s := m.Find(name, match)
	if len(s) != 1 {
		return 0, false
	}
	return s[0].Value, true
}

// SeriesIDs lists every series as name{label=value,...}, labels sorted,
// values left out: what a test compares to see series come and go.
func (m Metrics) SeriesIDs() []string {
	var out []string
	for name, mf := range m {
		for _, metric := range mf.GetMetric() {
			var ls []string
			for _, lp := range metric.GetLabel() {
				ls = append(ls, lp.GetName()+"="+lp.GetValue())
			}
			sort.Strings(ls)
			out = append(out, name+"{"+strings.Join(ls, ",")+"}")
		}
	}
	sort.Strings(out)
	return out
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Untyped != nil:
		return m.GetUntyped().GetValue()
	case m.Histogram != nil:
		return float64(m.GetHistogram().GetSampleCount())
	case m.Summary != nil:
		return float64(m.GetSummary().GetSampleCount())
	}
	return 0
}
