package testbin

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// fakeAPI answers every GET with status and body, and records the last
// request's path and query.
func fakeAPI(t *testing.T, status int, body string, last *string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*last = r.URL.Path + "?" + r.URL.RawQuery
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestPrometheusAPIQuery(t *testing.T) {
	for _, tc := range []struct {
		name    string
		status  int
		body    string
		want    []Sample
		wantErr string
	}{
		{
			name:   "vector",
			status: 200,
			body:   `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"peer":"node-2"},"value":[1.5,"3"]},{"metric":{},"value":[1.5,"NaN"]}]}}`,
			want:   []Sample{{Labels: map[string]string{"peer": "node-2"}, Value: 3}, {Labels: map[string]string{}, Value: -1}},
		},
		{
			name:   "native histogram",
			status: 200,
			body:   `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"histogram":[1.5,{"count":"12","sum":"0.5","buckets":[]}]}]}}`,
			want:   []Sample{{Labels: map[string]string{}, Value: 12}},
		},
		{
			name:   "scalar",
			status: 200,
			body:   `{"status":"success","data":{"resultType":"scalar","result":[1.5,"0.25"]}}`,
			want:   []Sample{{Labels: map[string]string{}, Value: 0.25}},
		},
		{
			name:    "refused",
			status:  200,
			body:    `{"status":"error","error":"parse error at char 3"}`,
			wantErr: "query up{: parse error at char 3",
		},
		{
			name:    "a matrix is not an instant vector",
			status:  200,
			body:    `{"status":"success","data":{"resultType":"matrix","result":[]}}`,
			wantErr: "a matrix, not an instant vector",
		},
		{
			name:    "not 200",
			status:  503,
			body:    `not ready`,
			wantErr: "503 Service Unavailable: not ready",
		},
		{
			name:    "not JSON",
			status:  200,
			body:    `<html>`,
			wantErr: "invalid character",
		},
		{
			name:    "a value that is not in a string",
			status:  200,
			body:    `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1.5,3]}]}}`,
			wantErr: `value 3 is no number in a string`,
		},
		{
			name:    "a value that is no number",
			status:  200,
			body:    `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1.5,"three"]}]}}`,
			wantErr: `parsing "three"`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var last string
			api := PrometheusAPI{URL: fakeAPI(t, tc.status, tc.body, &last)}
			got, err := api.Query("up{")
			if last != "/api/v1/query?query=up%7B" {
				t.Errorf("asked %s", last)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i, s := range got {
				w := tc.want[i]
				nan := w.Value == -1 && s.Value != s.Value
				if LabelKey(s.Labels) != LabelKey(w.Labels) || (s.Value != w.Value && !nan) {
					t.Errorf("sample %d: got %v, want %v", i, s, w)
				}
			}
		})
	}
}

func TestPrometheusAPIEvaluate(t *testing.T) {
	var last string
	api := PrometheusAPI{URL: fakeAPI(t, 200, `{"status":"success","warnings":["w1"],"data":{"resultType":"matrix","result":[{},{}]}}`, &last)}
	n, warnings, err := api.Evaluate("up", time.Minute, 15*time.Second)
	if err != nil || n != 2 || len(warnings) != 1 || warnings[0] != "w1" {
		t.Fatalf("got %d series, warnings %v, error %v; want 2, [w1], none", n, warnings, err)
	}
	if !strings.HasPrefix(last, "/api/v1/query_range?") || !strings.Contains(last, "step=15") {
		t.Errorf("a range query asked %s", last)
	}
	if _, _, err := api.Evaluate("up", 0, 0); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(last, "/api/v1/query?") {
		t.Errorf("an instant query asked %s", last)
	}
}

func TestPrometheusAPIAlertsAndAlertmanager(t *testing.T) {
	var last string
	prom := PrometheusAPI{URL: fakeAPI(t, 200, `{"data":{"alerts":[{"labels":{"alertname":"A"},"state":"pending"},{"labels":{"alertname":"B"},"annotations":{"summary":"s"},"state":"firing"}]}}`, &last)}
	all, err := prom.Alerts()
	if err != nil || len(all) != 2 || last != "/api/v1/alerts?" {
		t.Fatalf("Alerts: %v, %v (asked %s)", all, err, last)
	}
	firing, err := prom.Firing()
	if err != nil || len(firing) != 1 || firing[0].Labels["alertname"] != "B" || firing[0].Annotations["summary"] != "s" {
		t.Fatalf("Firing: %v, %v", firing, err)
	}
	am := AlertmanagerAPI{URL: fakeAPI(t, 200, `[{"labels":{"alertname":"A"},"status":{"state":"suppressed","inhibitedBy":["x"]}}]`, &last)}
	held, err := am.Alerts()
	if err != nil || len(held) != 1 || held[0].Status.State != "suppressed" || len(held[0].Status.InhibitedBy) != 1 || last != "/api/v2/alerts?" {
		t.Fatalf("Alertmanager: %v, %v (asked %s)", held, err, last)
	}
}
