package release

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// A plain `go build` of a git checkout, without make's ldflags, names its
// commit in --version: Go's pseudo-version, the revision and the commit's
// time, and "dirty" once the tree has changes. The checkout is this
// working tree's files committed afresh, at a fixed time, in a repository
// of its own: Go stamps no VCS information in a git worktree (.git is a
// file there), and the files as they are, not as last committed, are
// what is tested.
func TestPlainGoBuildVersion(t *testing.T) {
	testbin.SkipShort(t, "builds the exporter twice")
	testbin.NeedTool(t, "git", "apt-get install -y git")
	src := copyWorkingTree(t)
	const commitDate = "2026-01-02T03:04:05Z"
	for _, args := range [][]string{
		{"init", "--quiet"},
		{"add", "--all"},
		{"-c", "user.name=test", "-c", "user.email=test@example.invalid", "commit", "--quiet", "--no-gpg-sign", "--message=test"},
	} {
		cmd := exec.Command("git", append([]string{"-C", src}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_COMMITTER_DATE="+commitDate, "GIT_AUTHOR_DATE="+commitDate)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	rev := git(t, src, "rev-parse", "HEAD")
	pseudo := "0.0.0-20260102030405-" + rev[:12]

	t.Run("clean", func(t *testing.T) {
		out := plainBuildVersion(t, src)
		for _, w := range []string{
			binary + ", version " + pseudo + " (branch: , revision: " + rev + ")",
			"build date:       20260102-03:04:05",
		} {
			if !strings.Contains(out, w) {
				t.Errorf("--version lacks %q:\n%s", w, out)
			}
		}
	})
	t.Run("dirty", func(t *testing.T) {
		if err := os.WriteFile(filepath.Join(src, "README.md"), []byte("changed\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		out := plainBuildVersion(t, src)
		w := binary + ", version " + pseudo + "+dirty (branch: , revision: " + rev + "-dirty)"
		if !strings.Contains(out, w) {
			t.Errorf("--version lacks %q:\n%s", w, out)
		}
	})
}

// plainBuildVersion builds src as a user would, with VCS stamping on (this
// machine's GOFLAGS may turn it off), and returns its --version.
func plainBuildVersion(t *testing.T, src string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), binary)
	build := exec.Command("go", "build", "-buildvcs=true", "-o", bin, ".")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("--version: %v\n%s", err, out)
	}
	return string(out)
}

// copyWorkingTree copies the repository's files, tracked and new ones as
// git sees them (ignored ones left out), into a new directory.
func copyWorkingTree(t *testing.T) string {
	t.Helper()
	root := testbin.RepoRoot()
	dst := t.TempDir()
	list := git(t, root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	for _, rel := range strings.Split(strings.TrimRight(list, "\x00"), "\x00") {
		data, err := os.ReadFile(filepath.Join(root, rel))
		if os.IsNotExist(err) {
			continue // deleted in the working tree, not yet in the index
		}
		if err != nil {
			t.Fatal(err)
		}
		info, err := os.Stat(filepath.Join(root, rel))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dst, filepath.Dir(rel)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, rel), data, info.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}
