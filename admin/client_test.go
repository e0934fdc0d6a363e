package admin_test

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
)

func TestClientDaemonNotRunning(t *testing.T) {
	for _, tc := range []struct {
		name    string
		prepare func(t *testing.T, path string)
		want    string
	}{
		{
			name:    "socket missing",
			prepare: func(*testing.T, string) {},
			want:    "cannot reach the connectivity_exporter daemon: %s does not exist; is the daemon running? start it with: connectivity_exporter --node.name=... --nodes.file=...",
		},
		{
			name:    "stale socket",
			prepare: staleSocket,
			want:    "cannot reach the connectivity_exporter daemon: nothing listens on %s (left behind by a daemon that stopped); is the daemon running? start it with: connectivity_exporter --node.name=... --nodes.file=...",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "admin.sock")
			tc.prepare(t, path)
			c := admin.NewClient(path)
			calls := map[string]func() error{
				"Ping":   func() error { return c.Ping(context.Background()) },
				"Status": func() error { _, err := c.Status(context.Background()); return err },
				"Probe":  func() error { _, err := c.Probe(context.Background()); return err },
				"Info":   func() error { _, err := c.Info(context.Background()); return err },
			}
			for name, call := range calls {
				err := call()
				if !errors.Is(err, admin.ErrDaemonNotRunning) {
					t.Errorf("%s error = %v; want it to wrap ErrDaemonNotRunning", name, err)
				}
				if want := strings.ReplaceAll(tc.want, "%s", path); err == nil || err.Error() != want {
					t.Errorf("%s error =\n%v\nwant\n%s", name, err, want)
				}
			}
		})
	}
}

// fakeDaemon answers every request with the given status and body, as a
// broken or different daemon might.
func fakeDaemon(t *testing.T, code int, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "admin.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(code)
		w.Write([]byte(body))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return path
}

func TestClientBadAnswers(t *testing.T) {
	for _, tc := range []struct {
		name string
		code int
		body string
		want string
	}{
		{"not JSON", 200, "<html>hello</html>", `cannot decode the daemon's answer to GET /v1/status: the answer is not a JSON object: "<html>hello</html>"`},
		{"empty", 200, "", `cannot decode the daemon's answer to GET /v1/status: the answer is not a JSON object: ""`},
		{"null", 200, "null", "the answer is not a JSON object"},
		{"array", 200, "[]", "the answer is not a JSON object"},
		{"truncated", 200, `{"nodes": [`, "cannot decode the daemon's answer to GET /v1/status: unexpected EOF"},
		{"unknown field", 200, `{"nodes": [], "colour": "red"}`, `json: unknown field "colour" (are the CLI and the daemon different versions?)`},
		{"wrong type", 200, `{"nodes": {}}`, "cannot unmarshal object into Go struct field Report.nodes"},
		{"numeric duration", 200, `{"interval": 15000000000}`, `duration must be a string like "1.5ms"`},
		{"trailing data", 200, `{"nodes": []} {"nodes": []}`, "unexpected data after the JSON object"},
		{"server error", 500, "cannot encode answer: boom\n", "the daemon answered GET /v1/status with 500 Internal Server Error: cannot encode answer: boom"},
		{"too large", 200, `{"nodes": [` + strings.Repeat(" ", 33<<20) + `]}`, "the daemon's answer to GET /v1/status is larger than 33554432 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := admin.NewClient(fakeDaemon(t, tc.code, tc.body))
			_, err := c.Status(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Status error = %v; want it to contain %q", err, tc.want)
			}
			if errors.Is(err, admin.ErrDaemonNotRunning) {
				t.Errorf("Status error %v wraps ErrDaemonNotRunning; the daemon did answer", err)
			}
		})
	}
}

func TestClientBadInfoAndPing(t *testing.T) {
	c := admin.NewClient(fakeDaemon(t, 200, `{"version": "1", "uptime": 12}`))
	if _, err := c.Info(context.Background()); err == nil || !strings.Contains(err.Error(), "cannot decode the daemon's answer to GET /v1/info") {
		t.Errorf("Info error = %v; want a decode error", err)
	}
	if err := c.Ping(context.Background()); err == nil || !strings.Contains(err.Error(), `answered /v1/healthz with "{\"version\"`) {
		t.Errorf("Ping error = %v; want one quoting the unexpected answer", err)
	}
}

// Permission errors cannot be provoked as root, so the classification is
// checked on errors as the dialer returns them.
func TestDialError(t *testing.T) {
	const path = "/run/cx/admin.sock"
	dial := func(errno syscall.Errno) error {
		return &net.OpError{Op: "dial", Net: "unix", Err: os.NewSyscallError("connect", errno)}
	}
	for _, tc := range []struct {
		err        error
		want       string // "" for no classification
		notRunning bool
		is         error
	}{
		{dial(syscall.ENOENT), "/run/cx/admin.sock does not exist; is the daemon running?", true, fs.ErrNotExist},
		{dial(syscall.ECONNREFUSED), "nothing listens on /run/cx/admin.sock", true, syscall.ECONNREFUSED},
		{dial(syscall.EACCES), "permission denied on /run/cx/admin.sock; run as root or as a member of the socket's group", false, fs.ErrPermission},
		{dial(syscall.EPERM), "permission denied on /run/cx/admin.sock; run as root or as a member of the socket's group", false, fs.ErrPermission},
		{dial(syscall.ENOTSOCK), "/run/cx/admin.sock: connect: socket operation on non-socket", false, syscall.ENOTSOCK},
		{&net.OpError{Op: "read", Net: "unix", Err: syscall.ECONNRESET}, "", false, nil},
		{errors.New("unrelated"), "", false, nil},
	} {
		err := admin.DialErrorForTest(path, tc.err)
		if tc.want == "" {
			if err != nil {
				t.Errorf("dialError(%v) = %v; want nil (not a dial error)", tc.err, err)
			}
			continue
		}
		const prefix = "cannot reach the connectivity_exporter daemon: "
		if err == nil || !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("dialError(%v) = %v; want %q after %q", tc.err, err, tc.want, prefix)
			continue
		}
		if errors.Is(err, admin.ErrDaemonNotRunning) != tc.notRunning {
			t.Errorf("dialError(%v): errors.Is(ErrDaemonNotRunning) = %v; want %v", tc.err, !tc.notRunning, tc.notRunning)
		}
		if !errors.Is(err, tc.is) {
			t.Errorf("dialError(%v) = %v; want it to match %v", tc.err, err, tc.is)
		}
	}
}
