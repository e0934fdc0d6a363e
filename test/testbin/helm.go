package testbin

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Helm runs the helm pinned in tools/helm/go.mod (its own module, out of
// the main go.mod; `go tool` builds it once into the build cache) with
// args, and returns its standard output; a failure returns its standard
// error in the error. No helm configuration of the user's (repositories,
// plugins, registry logins) takes part.
func Helm(t testing.TB, args ...string) ([]byte, error) {
	t.Helper()
	NeedTool(t, "go", "https://go.dev/doc/install")
	root := RepoRoot()
	cmd := exec.Command("go", append([]string{"tool", "-modfile=" + filepath.Join(root, "tools", "helm", "go.mod"), "helm"}, args...)...)
	cmd.Dir = root
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home, "HELM_CONFIG_HOME="+home, "HELM_DATA_HOME="+home)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("helm %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes(), nil
}

// HelmChart is the directory of the chart.
func HelmChart() string {
	return filepath.Join(RepoRoot(), "deploy", "helm", "connectivity-exporter")
}
