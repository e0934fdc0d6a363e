package testbin

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// PrometheusAPI reads a real Prometheus server's HTTP API (/api/v1) at URL.
// Client nil is a client with a 10 s timeout.
type PrometheusAPI struct {
	URL    string
	Client *http.Client
}

// PromAlert is an alert as Prometheus holds it: State is pending or firing.
type PromAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
}

// RuleGroup is one group of /api/v1/rules, with its rules' health.
type RuleGroup struct {
	Name  string `json:"name"`
	File  string `json:"file"`
	Rules []struct {
		Name           string    `json:"name"`
		Type           string    `json:"type"`
		Health         string    `json:"health"`
		LastError      string    `json:"lastError"`
		LastEvaluation time.Time `json:"lastEvaluation"`
	} `json:"rules"`
}

// queryResult is what /api/v1/query and /api/v1/query_range answer.
type queryResult struct {
	Status   string   `json:"status"`
	Error    string   `json:"error"`
	Warnings []string `json:"warnings"`
	Data     struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
}

// instantPoint is one series of an instant vector: Value is [time,
// "number"], or Histogram [time, {"count": "number", ...}] for a native
// histogram.
type instantPoint struct {
	Metric    map[string]string `json:"metric"`
	Value     [2]any            `json:"value"`
	Histogram *[2]any           `json:"histogram"`
}

// number is pt's value; a native histogram's is its count.
func (pt instantPoint) number() (float64, error) {
	v := pt.Value[1]
	if pt.Histogram != nil {
		h, _ := pt.Histogram[1].(map[string]any)
		v = h["count"]
	}
	s, ok := v.(string)
	if !ok {
		return 0, fmt.Errorf("value %v is no number in a string", v)
	}
	return strconv.ParseFloat(s, 64)
}

// Query evaluates the PromQL expr now and returns its series (an instant
// vector; a scalar comes back as one series without labels). A query that
// Prometheus refuses, or a range or string result, is an error.
func (p PrometheusAPI) Query(expr string) ([]Sample, error) {
	var out queryResult
	if err := p.get("/api/v1/query?query="+url.QueryEscape(expr), &out); err != nil {
		return nil, err
	}
	if out.Status != "success" {
		return nil, fmt.Errorf("query %s: %s", expr, out.Error)
	}
	var points []instantPoint
	switch out.Data.ResultType {
	case "vector":
		if err := json.Unmarshal(out.Data.Result, &points); err != nil {
			return nil, fmt.Errorf("query %s: decoding the vector: %w", expr, err)
		}
	case "scalar":
		pt := instantPoint{Metric: map[string]string{}}
		if err := json.Unmarshal(out.Data.Result, &pt.Value); err != nil {
			return nil, fmt.Errorf("query %s: decoding the scalar: %w", expr, err)
		}
		points = append(points, pt)
	default:
		return nil, fmt.Errorf("query %s: a %s, not an instant vector", expr, out.Data.ResultType)
	}
	samples := make([]Sample, 0, len(points))
	for _, pt := range points {
		v, err := pt.number()
		if err != nil {
			return nil, fmt.Errorf("query %s: %w", expr, err)
		}
		samples = append(samples, Sample{Labels: pt.Metric, Value: v})
	}
	return samples, nil
}

// Evaluate runs expr as Grafana does: over the last window at step when
// window is positive (a range query), else as an instant query. It
// returns the number of series and Prometheus's warnings; a query that
// Prometheus refuses is an error.
func (p PrometheusAPI) Evaluate(expr string, window, step time.Duration) (int, []string, error) {
	params := url.Values{"query": {expr}}
	endpoint := "/api/v1/query"
	if window > 0 {
		now := time.Now()
		endpoint = "/api/v1/query_range"
		params.Set("start", strconv.FormatInt(now.Add(-window).Unix(), 10))
		params.Set("end", strconv.FormatInt(now.Unix(), 10))
		params.Set("step", strconv.FormatFloat(step.Seconds(), 'f', -1, 64))
	}
	var out queryResult
	if err := p.get(endpoint+"?"+params.Encode(), &out); err != nil {
		return 0, nil, err
	}
	if out.Status != "success" {
		return 0, nil, fmt.Errorf("query %s: %s", expr, out.Error)
	}
	if t := out.Data.ResultType; t != "vector" && t != "matrix" {
		return 1, out.Warnings, nil // a scalar or a string: one value
	}
	var series []json.RawMessage
	if err := json.Unmarshal(out.Data.Result, &series); err != nil {
		return 0, nil, fmt.Errorf("query %s: decoding the %s: %w", expr, out.Data.ResultType, err)
	}
	return len(series), out.Warnings, nil
}

// Alerts are Prometheus's active alerts, pending and firing.
func (p PrometheusAPI) Alerts() ([]PromAlert, error) {
	var out struct {
		Data struct {
			Alerts []PromAlert `json:"alerts"`
		} `json:"data"`
	}
	err := p.get("/api/v1/alerts", &out)
	return out.Data.Alerts, err
}

// Firing are Prometheus's firing alerts.
func (p PrometheusAPI) Firing() ([]PromAlert, error) {
	all, err := p.Alerts()
	var firing []PromAlert
	for _, a := range all {
		if a.State == "firing" {
			firing = append(firing, a)
		}
	}
	return firing, err
}

// RuleGroups is /api/v1/rules: every group with its rules' health.
func (p PrometheusAPI) RuleGroups() ([]RuleGroup, error) {
	var out struct {
		Data struct {
			Groups []RuleGroup `json:"groups"`
		} `json:"data"`
	}
	err := p.get("/api/v1/rules", &out)
	return out.Data.Groups, err
}

func (p PrometheusAPI) get(path string, v any) error {
	return GetJSON(p.Client, p.URL+path, v)
}

// AlertmanagerAPI reads a real Alertmanager's HTTP API (/api/v2) at URL.
// Client nil is a client with a 10 s timeout.
type AlertmanagerAPI struct {
	URL    string
	Client *http.Client
}

// AlertmanagerAlert is an alert as Alertmanager holds it: State is
// active, suppressed (inhibited or silenced) or unprocessed.
type AlertmanagerAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	Status      struct {
		State       string   `json:"state"`
		InhibitedBy []string `json:"inhibitedBy"`
	} `json:"status"`
}

// Alerts are the alerts Alertmanager holds now, inhibited ones included.
func (a AlertmanagerAPI) Alerts() ([]AlertmanagerAlert, error) {
	var out []AlertmanagerAlert
	err := GetJSON(a.Client, a.URL+"/api/v2/alerts", &out)
	return out, err
}

// GetJSON GETs u with client (nil: one with a 10 s timeout) and decodes
// the JSON body into v. A status other than 200 is an error that quotes
// the body.
func GetJSON(client *http.Client, u string, v any) error {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := client.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", u, resp.Status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	return nil
}
