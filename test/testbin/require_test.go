package testbin

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A missing prerequisite skips, but fails where a skip would let CI pass
// without running the test: CX_TEST_STRICT=1 (make test) or CI=true.
func TestMissingToolSkipsOrFails(t *testing.T) {
	tests := []struct {
		name, strict, ci string
		wantFail         bool
	}{
		{"neither set", "", "", false},
		{"strict off", "0", "false", false},
		{"make test", "1", "", true},
		{"CI", "", "true", true},
		{"both", "1", "true", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(StrictEnv, tc.strict)
			t.Setenv("CI", tc.ci)
			if Strict() != tc.wantFail {
				t.Errorf("Strict() = %v, want %v", Strict(), tc.wantFail)
			}
			f := &fakeTB{}
			f.run(func(tb testing.TB) { NeedTool(tb, "cx-no-such-tool", "it does not exist") })
			if tc.wantFail {
				if f.fatal == "" || f.skip != "" {
					t.Fatalf("fatal %q, skip %q: want a failure", f.fatal, f.skip)
				}
				if !strings.Contains(f.fatal, "needs cx-no-such-tool (it does not exist)") {
					t.Errorf("failure %q does not say what is missing and how to get it", f.fatal)
				}
				return
			}
			if f.skip == "" || f.fatal != "" {
				t.Fatalf("fatal %q, skip %q: want a skip", f.fatal, f.skip)
			}
			if !strings.Contains(f.skip, "needs cx-no-such-tool (it does not exist)") {
				t.Errorf("skip %q does not say what is missing and how to get it", f.skip)
			}
		})
	}
}

func TestNeedToolFindsATool(t *testing.T) {
	t.Setenv(StrictEnv, "1")
	f := &fakeTB{}
	var path string
	f.run(func(tb testing.TB) { path = NeedTool(tb, "sh", "part of every system") })
	if f.fatal != "" || f.skip != "" || !strings.HasSuffix(path, "/sh") {
		t.Errorf("NeedTool(sh) = %q, fatal %q, skip %q: want the path and no skip", path, f.fatal, f.skip)
	}
}

func TestFindToolPrefersTheDirOverPath(t *testing.T) {
	dir, onPath := t.TempDir(), t.TempDir()
	write := func(d, name string, mode os.FileMode) {
		if err := os.WriteFile(filepath.Join(d, name), []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	write(dir, "both", 0o755)
	write(onPath, "both", 0o755)
	write(onPath, "pathonly", 0o755)
	write(dir, "notexec", 0o644)
	write(onPath, "notexec", 0o755)
	if err := os.Mkdir(filepath.Join(dir, "adir"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", onPath)

	for _, tc := range []struct {
		tool, want string // want "" for not found
	}{
		{"both", filepath.Join(dir, "both")},
		{"pathonly", filepath.Join(onPath, "pathonly")},
		{"notexec", filepath.Join(onPath, "notexec")},
		{"adir", ""},
		{"nowhere", ""},
	} {
		got, err := findTool(dir, tc.tool)
		if tc.want == "" {
			if err == nil {
				t.Errorf("findTool(%q) = %q, want not found", tc.tool, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("findTool(%q) = %q, %v; want %q", tc.tool, got, err, tc.want)
		}
	}
}
