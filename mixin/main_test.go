package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunFlags(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{"help", []string{"-h"}, 0, "Usage"},
		{"unknown flag", []string{"-nope"}, 2, "flag provided but not defined"},
		{"nowhere to write", nil, 2, "say where to write"},
		{"only dashboards", []string{"-dashboards", dir}, 2, "say where to write"},
		{"stray argument", []string{"-out", dir, "extra"}, 2, "unexpected arguments"},
		{"bad selector", []string{"-out", dir, "-job-selector", "connectivity"}, 2, "job selector"},
		{"bad cluster label", []string{"-out", dir, "-cluster-label", "a-b"}, 2, "cluster label"},
		{"bad runbook pattern", []string{"-out", dir, "-runbook-url-pattern", "https://x"}, 2, "runbook URL pattern"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tc.args, &stdout, &stderr); code != tc.wantCode {
				t.Errorf("exit code %d, want %d; stderr: %s", code, tc.wantCode, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Errorf("stderr %q, want it to say %q", stderr.String(), tc.wantStderr)
			}
		})
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("failed runs wrote %d entries into %s", len(entries), dir)
	}
}

// -out writes the files; -check then passes, and fails on every kind of
// drift: a file changed, missing, or with no template behind it.
func TestRunWriteAndCheck(t *testing.T) {
	dir := t.TempDir()
	args := []string{"-out", dir, "-job-selector", `job="connectivity-exporter"`, "-cluster-label", "k8s_cluster"}
	var stdout, stderr bytes.Buffer
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("write: exit code %d: %s", code, stderr.String())
	}
	for _, want := range []string{"dashboards/connectivity-overview.json", "dashboards/connectivity-node-pair.json", "dashboards/connectivity-zone-pair.json", "rules/connectivity-rules.yml", "rules/connectivity-alerts.yml"} {
		b, err := os.ReadFile(filepath.Join(dir, want))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte("connectivity-exporter")) {
			t.Errorf("%s does not select the job connectivity-exporter", want)
		}
		if !strings.Contains(stdout.String(), filepath.Join(dir, want)) {
			t.Errorf("stdout does not list %s:\n%s", want, stdout.String())
		}
	}
	check := append([]string{"-check"}, args...)
	if code := run(check, &stdout, &stderr); code != 0 {
		t.Fatalf("-check right after writing: exit code %d: %s", code, stderr.String())
	}
	// The default configuration is drift against files of another one.
	stderr.Reset()
	if code := run([]string{"-check", "-out", dir}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "differs") {
		t.Errorf("-check with another configuration: exit code %d, stderr %q; want 1 and differs", code, stderr.String())
	}

	for _, tc := range []struct {
		name  string
		spoil func(t *testing.T)
		want  string
	}{
		{"changed", func(t *testing.T) {
			p := filepath.Join(dir, "rules", "connectivity-alerts.yml")
			b, _ := os.ReadFile(p)
			writeFile(t, p, append(b, "# hand edit\n"...))
		}, "connectivity-alerts.yml: differs"},
		{"missing", func(t *testing.T) {
			if err := os.Remove(filepath.Join(dir, "dashboards", "connectivity-zone-pair.json")); err != nil {
				t.Fatal(err)
			}
		}, "connectivity-zone-pair.json: missing"},
		{"stale", func(t *testing.T) {
			writeFile(t, filepath.Join(dir, "dashboards", "old.json"), []byte("{}"))
		}, "old.json: no template renders it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code := run(args, &stdout, &stderr); code != 0 {
				t.Fatalf("rewrite: exit code %d: %s", code, stderr.String())
			}
			_ = os.Remove(filepath.Join(dir, "dashboards", "old.json"))
			tc.spoil(t)
			stderr.Reset()
			if code := run(check, &stdout, &stderr); code != 1 {
				t.Errorf("-check: exit code %d, want 1", code)
			}
			if !strings.Contains(stderr.String(), tc.want) || !strings.Contains(stderr.String(), "make generate") {
				t.Errorf("-check: stderr %q, want it to say %q and how to fix it", stderr.String(), tc.want)
			}
		})
	}
}

func writeFile(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
