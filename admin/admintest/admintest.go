// Package admintest serves the admin API in tests of it and of its clients.
package admintest

import (
	"errors"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/go-kit/log"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
)

// Serve runs the admin server for b, as the daemon does, on a socket in a
// temporary directory until the test ends, and returns the socket's path;
// tune, when not nil, may change the server (shorten its timeouts) first.
func Serve(t testing.TB, b admin.Backend, tune func(*http.Server)) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "admin.sock")
	ln, err := admin.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	srv := admin.NewServer(b, log.NewNopLogger())
	if tune != nil {
		tune(srv)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return path
}
