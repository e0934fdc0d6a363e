package testbin

import (
	"os"
	"path/filepath"
	"testing"
)

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
