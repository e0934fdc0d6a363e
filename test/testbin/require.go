package testbin

import (
	"os"
	"os/exec"
	"testing"
)

// StrictEnv names the variable that turns a missing tool or privilege from a
// skip into a failure. make test sets it, and CI sets CI=true: there a test
// that skips for want of root, nft or promtool would let CI pass without
// running what it claims to.
const StrictEnv = "CX_TEST_STRICT"

// Strict reports whether a missing prerequisite must fail the test.
func Strict() bool {
	return os.Getenv(StrictEnv) == "1" || os.Getenv("CI") == "true"
}

// missing skips the test, or fails it under Strict.
func missing(t testing.TB, why string) {
	t.Helper()
	if Strict() {
		t.Fatalf("%s (a skip is a failure here: %s=1 or CI=true)", why, StrictEnv)
	}
	t.Skip(why)
}

// NeedRoot skips the test unless it runs as root (fails under Strict); what
// says what the test does with root, e.g. "builds network namespaces".
func NeedRoot(t testing.TB, what string) {
	t.Helper()
	if os.Geteuid() != 0 {
		missing(t, "needs root: "+what)
	}
}

// NeedTool returns the path of tool, or skips the test (fails under Strict)
// with install saying how to get it, e.g. "apt-get install -y nftables".
func NeedTool(t testing.TB, tool, install string) string {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err != nil {
		missing(t, "needs "+tool+" ("+install+")")
	}
	return path
}

// SkipShort skips a slow or network-building test in -short mode: a skip
// by design, never a failure.
func SkipShort(t testing.TB, what string) {
	t.Helper()
	if testing.Short() {
		t.Skip(what + "; skipped in -short mode")
	}
}
