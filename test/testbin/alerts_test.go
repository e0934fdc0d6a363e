package testbin

import (
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
)

func post(t *testing.T, url, body string) int {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestAlertReceiverRecordsNotifications(t *testing.T) {
	r := StartAlertReceiver(t)
	const note = `{"alerts":[{"status":"firing","labels":{"alertname":"A","node":"n2"}},{"status":"resolved","labels":{"alertname":"B"}}]}`
	if code := post(t, r.URL+"/critical", note); code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	mark := r.Mark()
	if code := post(t, r.URL+"/critical", `{"alerts":[{"status":"firing","labels":{"alertname":"C"}},{"status":"firing","labels":{"alertname":"C"}}]}`); code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	if !r.Received("/critical", "A") || r.Received("/warning", "A") || !r.Received("/critical", "B") {
		t.Errorf("Received wrong: %s", r.Summary(0))
	}
	if got := r.Firing(0, "/critical"); len(got) != 2 || got[0]["alertname"] != "A" || got[1]["alertname"] != "C" {
		t.Errorf("Firing since 0 = %v, want A and C once", got)
	}
	if got := r.Firing(mark, "/critical"); len(got) != 1 {
		t.Errorf("Firing since the mark = %v, want C", got)
	}
	if got := r.Resolved(0, "/critical"); len(got) != 1 || got[0]["alertname"] != "B" {
		t.Errorf("Resolved since 0 = %v, want B", got)
	}
	if got := r.Resolved(mark, "/critical"); len(got) != 0 {
		t.Errorf("Resolved since the mark = %v, want none", got)
	}
	if want := "  /critical resolved {alertname=\"B\"}\n"; !strings.Contains(r.Summary(0), want) {
		t.Errorf("Summary = %q, want a line %q", r.Summary(0), want)
	}
}

// A body that is not a notification is answered 400 and recorded: a
// receiver that took it would hide a broken Alertmanager configuration.
func TestAlertReceiverRejectsUndecodableJSON(t *testing.T) {
	f := &fakeTB{}
	var code int
	var errs []string
	f.run(func(tb testing.TB) {
		r := StartAlertReceiver(tb)
		code = post(t, r.URL+"/critical", `{"alerts": [`)
		errs = r.Errors()
	})
	if code != http.StatusBadRequest {
		t.Errorf("status %d, want 400", code)
	}
	if len(errs) != 1 || !strings.Contains(errs[0], "/critical") {
		t.Errorf("errors %q, want one naming /critical", errs)
	}
	if len(f.errors) != 1 {
		t.Errorf("the test was failed %d times at cleanup, want once: %q", len(f.errors), f.errors)
	}
}

func TestWriteRules(t *testing.T) {
	dir := t.TempDir()
	paths := WriteRules(t, dir, RulePace{For: "10s", Window: "20s"})
	if len(paths) != 2 {
		t.Fatalf("paths %q", paths)
	}
	var all string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		all += string(b)
	}
	if strings.Contains(all, "[5m]") {
		t.Error("a [5m] window is left")
	}
	fors := regexp.MustCompile(`(?m)^\s+for: (\S+)`).FindAllStringSubmatch(all, -1)
	if len(fors) == 0 {
		t.Fatal("no for: clause in the rules")
	}
	for _, f := range fors {
		if f[1] != "10s" {
			t.Errorf("for: %s left", f[1])
		}
	}
}

func TestWriteRulesDivide(t *testing.T) {
	read := func(pace RulePace) string {
		var all string
		for _, p := range WriteRules(t, t.TempDir(), pace) {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			all += string(b)
		}
		return all
	}
	quick := read(RulePace{Divide: 4})
	fors := regexp.MustCompile(`(?m)^\s+for: (\S+)`).FindAllStringSubmatch(quick, -1)
	if len(fors) == 0 {
		t.Fatal("no for: clause in the rules")
	}
	got := map[string]bool{}
	for _, f := range fors {
		got[f[1]] = true
		if !strings.HasSuffix(f[1], "s") {
			t.Errorf("for: %s left", f[1])
		}
	}
	// 2m, 5m, 10m and 15m in the rules, divided by 4.
	for _, want := range []string{"30s", "75s", "150s", "225s"} {
		if !got[want] {
			t.Errorf("no for: %s in %v", want, got)
		}
	}
	for _, m := range []string{"[5m]", "[1h]", "[10m]"} {
		if strings.Contains(quick, m) {
			t.Errorf("%s left", m)
		}
	}
	for _, want := range []string{"[75s]", "[900s]", "[150s]"} {
		if !strings.Contains(quick, want) {
			t.Errorf("no %s window", want)
		}
	}
}
