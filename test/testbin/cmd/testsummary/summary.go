package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json), build events
// included.
type event struct {
	Action     string
	Package    string
	ImportPath string // build-output and build-fail
	Test       string
	Output     string
}

// skip is one skipped test and why.
type skip struct {
	name, reason string
	allowed      bool
}

// summary turns the events into go test's usual non-verbose output and
// counts.
type summary struct {
	w       io.Writer
	allowed *regexp.Regexp

	output  map[string][]string // package/test -> its output so far
	running map[string][]string // package -> tests started and not ended
	failing map[string]bool     // packages with a failed test

	passed, failed int
	skips          []skip
	failedPkgs     []string // failed with no failed test: build failure, crash, timeout
}

func newSummary(w io.Writer, allowed *regexp.Regexp) *summary {
	return &summary{w: w, allowed: allowed, output: map[string][]string{}, running: map[string][]string{}, failing: map[string]bool{}}
}

func (s *summary) read(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil || e.Action == "" {
			// Not an event (go vet's complaints, a build tool's chatter):
			// shown as it is.
			fmt.Fprintf(s.w, "%s\n", line)
			continue
		}
		s.event(e)
	}
	return sc.Err()
}

func key(pkg, test string) string { return pkg + "\x00" + test }

func (s *summary) event(e event) {
	switch {
	case e.Action == "build-output":
		fmt.Fprint(s.w, e.Output)
	case e.Action == "build-fail":
		// The package's own fail event follows and counts it.
	case e.Test == "":
		s.packageEvent(e)
	default:
		s.testEvent(e)
	}
}

func (s *summary) packageEvent(e event) {
	switch e.Action {
	case "output":
		// A verbose run's bare PASS before "ok": not in go test's
		// non-verbose output.
		if e.Output != "PASS\n" {
			s.output[key(e.Package, "")] = append(s.output[key(e.Package, "")], e.Output)
		}
	case "pass", "skip":
		s.flush(e.Package, "")
	case "fail":
		// Tests still running when the package failed crashed or timed
		// out: their output holds the reason.
		for _, t := range s.running[e.Package] {
			s.flush(e.Package, t)
		}
		if !s.failing[e.Package] {
			s.failedPkgs = append(s.failedPkgs, e.Package)
		}
		s.flush(e.Package, "")
	}
}

func (s *summary) testEvent(e event) {
	k := key(e.Package, e.Test)
	switch e.Action {
	case "run":
		s.running[e.Package] = append(s.running[e.Package], e.Test)
	case "output":
		s.output[k] = append(s.output[k], e.Output)
	case "pass":
		s.passed++
		s.end(e.Package, e.Test)
	case "fail":
		s.failed++
		s.failing[e.Package] = true
		s.flush(e.Package, e.Test)
		s.end(e.Package, e.Test)
	case "skip":
		name := e.Package + "." + e.Test
		allowed := s.allowed != nil && (s.allowed.MatchString(name) || s.allowed.MatchString(e.Test))
		s.skips = append(s.skips, skip{name: name, reason: skipReason(s.output[k]), allowed: allowed})
		s.end(e.Package, e.Test)
	}
}

// end forgets a test that ended.
func (s *summary) end(pkg, test string) {
	delete(s.output, key(pkg, test))
	s.running[pkg] = slices.DeleteFunc(s.running[pkg], func(t string) bool { return t == test })
}

// flush prints and forgets what pkg's test (or the package itself) wrote.
func (s *summary) flush(pkg, test string) {
	k := key(pkg, test)
	for _, o := range s.output[k] {
		fmt.Fprint(s.w, o)
	}
	delete(s.output, k)
}

// skipReason is what the test logged last before "--- SKIP": t.Skip's
// message.
func skipReason(output []string) string {
	for i := len(output) - 1; i >= 0; i-- {
		line := strings.TrimSpace(output[i])
		if line == "" || strings.HasPrefix(line, "--- SKIP") || strings.HasPrefix(line, "=== ") {
			continue
		}
		return line
	}
	return "(no reason given)"
}

// finish prints the skips and the counts and returns the exit code.
func (s *summary) finish() int {
	code := 0
	if len(s.skips) > 0 {
		fmt.Fprintf(s.w, "\nskipped (%d):\n", len(s.skips))
		for _, sk := range s.skips {
			mark := "  "
			if !sk.allowed {
				mark = "! "
				code = 1
			}
			fmt.Fprintf(s.w, "%s%s: %s\n", mark, sk.name, sk.reason)
		}
		if code != 0 {
			fmt.Fprintln(s.w, "a skip marked ! is not one that may happen here: the test did not run (see README, Development)")
		}
	}
	for _, p := range s.failedPkgs {
		fmt.Fprintf(s.w, "FAIL %s: no test failed, yet the package did (build failure, crash or timeout above)\n", p)
	}
	failed := s.failed + len(s.failedPkgs)
	if failed > 0 {
		code = 1
	}
	fmt.Fprintf(s.w, "%d passed, %d failed, %d skipped\n", s.passed, failed, len(s.skips))
	return code
}
