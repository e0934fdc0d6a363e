package admin_test

import (
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
)

// staleSocket leaves a socket file behind with nothing listening, as a
// daemon killed with SIGKILL does.
func staleSocket(t *testing.T, path string) {
	t.Helper()
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
}

func TestListen(t *testing.T) {
	for _, tc := range []struct {
		name    string
		prepare func(t *testing.T, path string)
		wantErr string
	}{
		{name: "fresh, directory created", prepare: func(*testing.T, string) {}},
		{name: "stale socket replaced", prepare: staleSocket},
		{
			name: "live socket of another daemon refused",
			prepare: func(t *testing.T, path string) {
				ln, err := admin.Listen(path)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { ln.Close() })
			},
			wantErr: "in use by another running connectivity_exporter daemon",
		},
		{
			name: "live socket without the lock refused",
			prepare: func(t *testing.T, path string) {
				ln, err := net.Listen("unix", path)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { ln.Close() })
			},
			wantErr: "in use by another running connectivity_exporter daemon",
		},
		{
			name: "regular file left alone",
			prepare: func(t *testing.T, path string) {
				if err := os.WriteFile(path, []byte("keep me"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: "is not a socket",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			path := filepath.Join(dir, "admin.sock")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			tc.prepare(t, path)
			before, _ := os.Lstat(path)

			ln, err := admin.Listen(path)
			if tc.wantErr != "" {
				if err == nil {
					ln.Close()
					t.Fatalf("Listen succeeded; want an error containing %q", tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Listen error = %q; want it to contain %q", err, tc.wantErr)
				}
				if after, err := os.Lstat(path); err != nil || !os.SameFile(before, after) {
					t.Errorf("Listen replaced %s although it refused it", path)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			fi, err := os.Lstat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o660 {
				t.Errorf("socket mode = %v; want a socket with 0660", fi.Mode())
			}
			c, err := net.Dial("unix", path)
			if err != nil {
				t.Fatalf("nothing answers on the new socket: %v", err)
			}
			c.Close()
		})
	}
}

func TestListenCreatesDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "admin.sock")
	ln, err := admin.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fi, err := os.Stat(filepath.Dir(path))
	if err != nil || !fi.IsDir() {
		t.Fatalf("directory not created: %v", err)
	}
}

// After a clean shutdown the socket is gone and the next daemon starts.
func TestListenAfterClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "admin.sock")
	ln, err := admin.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("socket still exists after Close: %v", err)
	}
	ln, err = admin.Listen(path)
	if err != nil {
		t.Fatalf("second Listen after Close: %v", err)
	}
	ln.Close()
}
