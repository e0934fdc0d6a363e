package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// ev is an event line of go test -json.
func ev(action, pkg, test, output string) string {
	var b strings.Builder
	b.WriteString(`{"Action":"` + action + `","Package":"` + pkg + `"`)
	if test != "" {
		b.WriteString(`,"Test":"` + test + `"`)
	}
	if output != "" {
		b.WriteString(`,"Output":` + strings.ReplaceAll(`"`+strings.ReplaceAll(output, "\n", `\n`)+`"`, "\t", `\t`))
	}
	return b.String() + "}\n"
}

func TestSummary(t *testing.T) {
	tests := []struct {
		name     string
		allow    string
		events   []string
		code     int
		want     []string // lines that must be in the output
		wantNone []string // text that must not be
	}{
		{
			name: "all pass: the package line, the counts",
			events: []string{
				ev("run", "p", "TestA", ""), ev("output", "p", "TestA", "=== RUN   TestA\n"),
				ev("output", "p", "TestA", "    a_test.go:3: chatter\n"), ev("output", "p", "TestA", "--- PASS: TestA (0.00s)\n"),
				ev("pass", "p", "TestA", ""), ev("output", "p", "", "PASS\n"), ev("output", "p", "", "ok  \tp\t0.01s\n"), ev("pass", "p", "", ""),
			},
			code:     0,
			want:     []string{"ok  \tp\t0.01s", "1 passed, 0 failed, 0 skipped"},
			wantNone: []string{"chatter", "PASS\n", "skipped ("},
		},
		{
			name: "a failure shows its output",
			events: []string{
				ev("run", "p", "TestA", ""), ev("output", "p", "TestA", "    a_test.go:3: broke\n"), ev("output", "p", "TestA", "--- FAIL: TestA (0.00s)\n"),
				ev("fail", "p", "TestA", ""), ev("run", "p", "TestB", ""), ev("pass", "p", "TestB", ""),
				ev("output", "p", "", "FAIL\tp\t0.01s\n"), ev("fail", "p", "", ""),
			},
			code: 1,
			want: []string{"a_test.go:3: broke", "--- FAIL: TestA", "FAIL\tp\t0.01s", "1 passed, 1 failed, 0 skipped"},
		},
		{
			name:  "an allowed skip is listed and passes",
			allow: `^TestHelper$`,
			events: []string{
				ev("run", "p", "TestHelper", ""), ev("output", "p", "TestHelper", "    h_test.go:9: helper; runs only when re-executed\n"),
				ev("output", "p", "TestHelper", "--- SKIP: TestHelper (0.00s)\n"), ev("skip", "p", "TestHelper", ""), ev("pass", "p", "", ""),
			},
			code: 0,
			want: []string{"skipped (1):", "  p.TestHelper: h_test.go:9: helper; runs only when re-executed", "0 passed, 0 failed, 1 skipped"},
		},
		{
			name:  "a skip not allowed fails",
			allow: `^TestHelper$`,
			events: []string{
				ev("run", "p", "TestNft", ""), ev("output", "p", "TestNft", "    n_test.go:4: nft not installed\n"),
				ev("skip", "p", "TestNft", ""), ev("pass", "p", "", ""),
			},
			code: 1,
			want: []string{"! p.TestNft: n_test.go:4: nft not installed", "0 passed, 0 failed, 1 skipped"},
		},
		{
			name: "a crash: the running test's output, the package counted failed",
			events: []string{
				ev("run", "p", "TestA", ""), ev("output", "p", "TestA", "panic: boom\n"),
				ev("output", "p", "", "FAIL\tp\t0.01s\n"), ev("fail", "p", "", ""),
			},
			code: 1,
			want: []string{"panic: boom", "FAIL p: no test failed", "0 passed, 1 failed, 0 skipped"},
		},
		{
			name: "a build failure",
			events: []string{
				`{"ImportPath":"p [p.test]","Action":"build-output","Output":"./a.go:1:1: syntax error\n"}` + "\n",
				`{"ImportPath":"p [p.test]","Action":"build-fail"}` + "\n",
				ev("output", "p", "", "FAIL\tp [build failed]\n"), ev("fail", "p", "", ""),
			},
			code: 1,
			want: []string{"./a.go:1:1: syntax error", "FAIL\tp [build failed]", "0 passed, 1 failed, 0 skipped"},
		},
		{
			name:   "a line that is not an event is shown",
			events: []string{"# p\nvet: something\n", ev("pass", "p", "", "")},
			want:   []string{"vet: something", "0 passed, 0 failed, 0 skipped"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			var allowed *regexp.Regexp
			if tc.allow != "" {
				allowed = regexp.MustCompile(tc.allow)
			}
			s := newSummary(&out, allowed)
			if err := s.read(strings.NewReader(strings.Join(tc.events, ""))); err != nil {
				t.Fatal(err)
			}
			code := s.finish()
			if code != tc.code {
				t.Errorf("exit code %d, want %d", code, tc.code)
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			for _, w := range tc.wantNone {
				if strings.Contains(out.String(), w) {
					t.Errorf("output has %q:\n%s", w, out.String())
				}
			}
			if lines := strings.Split(strings.TrimSpace(out.String()), "\n"); !strings.HasSuffix(lines[len(lines)-1], "skipped") {
				t.Errorf("the last line is %q, want the counts", lines[len(lines)-1])
			}
		})
	}
}

// The real go test, on a module of its own: a pass, a failure, an allowed
// and an unexpected skip.
func TestRunsGoTest(t *testing.T) {
	testbin.SkipShort(t, "builds and runs a test binary")
	dir := t.TempDir()
	files := map[string]string{
		"go.mod": "module example.com/m\n\ngo 1.22\n",
		"m_test.go": `package m

import "testing"

func TestPass(t *testing.T) { t.Log("quiet") }
func TestFail(t *testing.T) { t.Error("loud") }
func TestHelper(t *testing.T) { t.Skip("helper") }
func TestMissing(t *testing.T) { t.Skip("no such tool") }
`,
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(dir)
	var out, errOut bytes.Buffer
	// Twice, as make test runs two modules: the counts add up.
	code := run([]string{"-allow-skip", "^TestHelper$", "go", "test", "-count=1", "-json", "./...", "--", "go", "test", "-count=1", "-json", "-run=TestPass", "./..."}, &out, &errOut)
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	for _, w := range []string{"m_test.go:6: loud", "--- FAIL: TestFail", "FAIL\texample.com/m", "  example.com/m.TestHelper: m_test.go:7: helper", "! example.com/m.TestMissing: m_test.go:8: no such tool", "2 passed, 1 failed, 2 skipped"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q:\n%s\nstderr:\n%s", w, out.String(), errOut.String())
		}
	}
	if strings.Contains(out.String(), "quiet") {
		t.Errorf("a passing test's log is shown:\n%s", out.String())
	}
}

func TestCommands(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"go", "test"}, "[[go test]]"},
		{[]string{"go", "test", "--", "go", "-C", "m", "test"}, "[[go test] [go -C m test]]"},
		{[]string{"--", "go", "test", "--"}, "[[go test]]"},
	} {
		if got := fmt.Sprint(commands(tc.args)); got != tc.want {
			t.Errorf("commands(%q) = %s, want %s", tc.args, got, tc.want)
		}
	}
}
