package testbin

import (
	"os"
	"os/exec"
	"path/filepath"
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
// It looks in the repository's .bin/ first, where scripts/install-deps.sh
// builds the pinned Prometheus and Alertmanager (ToolDir), then in PATH.
func NeedTool(t testing.TB, tool, install string) string {
	t.Helper()
	path, err := FindTool(tool)
	if err != nil {
		missing(t, "needs "+tool+" ("+install+")")
	}
	return path
}

// ToolDir is where scripts/build-prometheus.sh puts the tools it builds:
// .bin/ in the repository.
func ToolDir() string { return filepath.Join(RepoRoot(), ".bin") }

// BuildPrometheus is the install hint for prometheus, promtool, alertmanager
// and amtool: the versions pinned in tools/prometheus and tools/alertmanager,
// built into ToolDir.
const BuildPrometheus = "scripts/build-prometheus.sh builds it into .bin/ at the version pinned in tools/; make deps runs it"

// FindTool returns the path of tool in ToolDir, else in PATH.
func FindTool(tool string) (string, error) { return findTool(ToolDir(), tool) }

// findTool returns dir/tool when it is an executable file, else tool's path
// in PATH.
func findTool(dir, tool string) (string, error) {
	local := filepath.Join(dir, tool)
	if fi, err := os.Stat(local); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
		return local, nil
	}
	return exec.LookPath(tool)
}

// SkipShort skips a slow or network-building test in -short mode: a skip
// by design, never a failure.
func SkipShort(t testing.TB, what string) {
	t.Helper()
	if testing.Short() {
		t.Skip(what + "; skipped in -short mode")
	}
}
