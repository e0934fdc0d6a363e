package testbin

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Alert is one alert of an Alertmanager webhook notification.
type Alert struct {
	Path   string // the receiver's URL path, e.g. /critical
	Status string // firing or resolved
	Labels map[string]string
}

// AlertReceiver is an Alertmanager webhook receiver: it keeps every alert
// of every notification, in order. A body that is not a notification is
// answered 400 and fails the test when it ends.
type AlertReceiver struct {
	URL string

	mu   sync.Mutex
	got  []Alert
	errs []string
}

// StartAlertReceiver starts a receiver on loopback, stopped when the test
// ends.
func StartAlertReceiver(t testing.TB) *AlertReceiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return StartAlertReceiverOn(t, ln)
}

// StartAlertReceiverOn starts a receiver serving ln (e.g. a listener made
// inside another network namespace, where the Alertmanager runs), stopped
// when the test ends.
func StartAlertReceiverOn(t testing.TB, ln net.Listener) *AlertReceiver {
	t.Helper()
	r := &AlertReceiver{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(r.serve))
	_ = srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	r.URL = srv.URL
	t.Cleanup(func() {
		srv.Close()
		for _, e := range r.Errors() {
			t.Errorf("Alertmanager webhook: %s", e)
		}
	})
	return r
}

func (r *AlertReceiver) serve(w http.ResponseWriter, req *http.Request) {
	var msg struct {
		Alerts []struct {
			Status string            `json:"status"`
			Labels map[string]string `json:"labels"`
		} `json:"alerts"`
	}
	dec := json.NewDecoder(io.LimitReader(req.Body, 1<<20))
	if err := dec.Decode(&msg); err != nil {
		r.mu.Lock()
		r.errs = append(r.errs, fmt.Sprintf("%s %s: undecodable notification: %v", req.Method, req.URL.Path, err))
		r.mu.Unlock()
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, a := range msg.Alerts {
		r.got = append(r.got, Alert{Path: req.URL.Path, Status: a.Status, Labels: a.Labels})
	}
}

// Errors lists the requests that were not notifications.
func (r *AlertReceiver) Errors() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.errs)
}

// Mark is a position in the record: what arrives later is after it.
func (r *AlertReceiver) Mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

// Firing returns the distinct alerts (by label set) notified as firing to
// path since mark.
func (r *AlertReceiver) Firing(mark int, path string) []map[string]string {
	return r.notified(mark, path, "firing")
}

// Resolved returns the distinct alerts (by label set) notified as resolved
// to path since mark.
func (r *AlertReceiver) Resolved(mark int, path string) []map[string]string {
	return r.notified(mark, path, "resolved")
}

func (r *AlertReceiver) notified(mark int, path, status string) []map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[string]bool{}
	var out []map[string]string
	for _, a := range r.got[mark:] {
		if a.Path != path || a.Status != status {
			continue
		}
		if k := LabelKey(a.Labels); !seen[k] {
			seen[k] = true
			out = append(out, a.Labels)
		}
	}
	return out
}

// Received reports whether an alert named alertname came to path.
func (r *AlertReceiver) Received(path, alertname string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, a := range r.got {
		if a.Path == path && a.Labels["alertname"] == alertname {
			return true
		}
	}
	return false
}

// Summary lists what came since mark, one alert a line, for a failure
// message.
func (r *AlertReceiver) Summary(mark int) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, a := range r.got[mark:] {
		fmt.Fprintf(&b, "  %s %s %s\n", a.Path, a.Status, LabelKey(a.Labels))
	}
	return b.String()
}

// LabelKey is a label set as {k="v",...}, keys sorted.
func LabelKey(labels map[string]string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range slices.Sorted(maps.Keys(labels)) {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", k, labels[k])
	}
	b.WriteByte('}')
	return b.String()
}

// RulePace is how a copy of the rules is sped up for a lab: For (and
// Window) set every duration alike, Divide shortens each in proportion.
type RulePace struct {
	For    string // every for: clause becomes this, e.g. "10s"
	Window string // if not "", every [5m] rate window becomes this, e.g. "20s"
	// Divide, with For empty, divides every for: and every range window
	// ([5m], [1h], ...) by it instead, so that the rules keep their
	// proportions: a rate alert still waits longer than its window, and a
	// disturbance that fires nothing at full length fires nothing here.
	Divide int
}

var (
	forClause  = regexp.MustCompile(`(?m)^(\s+for:) \S+`)
	rateWindow = regexp.MustCompile(`\[5m\]`)
	forValue   = regexp.MustCompile(`(?m)^(\s+for:) (\S+)`)
	rangeValue = regexp.MustCompile(`\[(\d+[smhd])\]`)
)

// WriteRules copies the project's recording and alerting rules
// (alerts/connectivity-*.yml) into dir at pace, and returns the copies'
// paths.
func WriteRules(t testing.TB, dir string, pace RulePace) []string {
	t.Helper()
	if pace.For == "" && pace.Divide < 2 {
		t.Fatal("WriteRules: RulePace needs For, or Divide of 2 or more")
	}
	var out []string
	for _, name := range []string{"connectivity-rules.yml", "connectivity-alerts.yml"} {
		b, err := os.ReadFile(filepath.Join(RepoRoot(), "alerts", name))
		if err != nil {
			t.Fatal(err)
		}
		if pace.For != "" {
			b = forClause.ReplaceAll(b, []byte("$1 "+pace.For))
			if pace.Window != "" {
				b = rateWindow.ReplaceAll(b, []byte("["+pace.Window+"]"))
			}
		} else {
			b = divideDurations(t, b, pace.Divide)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		out = append(out, path)
	}
	return out
}

// divideDurations divides every for: and range window of rules by n, in
// whole seconds.
func divideDurations(t testing.TB, rules []byte, n int) []byte {
	t.Helper()
	divide := func(d string) string {
		parsed, err := time.ParseDuration(strings.Replace(d, "d", "h", 1))
		if err != nil {
			t.Fatalf("WriteRules: duration %q: %v", d, err)
		}
		if strings.HasSuffix(d, "d") {
			parsed *= 24
		}
		return fmt.Sprintf("%ds", max(1, int(parsed.Seconds())/n))
	}
	rules = forValue.ReplaceAllFunc(rules, func(m []byte) []byte {
		sub := forValue.FindSubmatch(m)
		return []byte(string(sub[1]) + " " + divide(string(sub[2])))
	})
	return rangeValue.ReplaceAllFunc(rules, func(m []byte) []byte {
		return []byte("[" + divide(string(rangeValue.FindSubmatch(m)[1])) + "]")
	})
}
