package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/connectivity-exporter/connectivity_exporter/daemon"
	"github.com/connectivity-exporter/connectivity_exporter/exitcode"
	"github.com/connectivity-exporter/connectivity_exporter/privileges"
	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// lockedBuffer is a log sink that the command writes while the test reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fakeDrop stands in for privileges.Drop, which would confine the whole
// test process for good.
type fakeDrop struct {
	mu    sync.Mutex
	calls int
	err   error
}

func (f *fakeDrop) drop() (privileges.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return privileges.Result{}, f.err
}

func (f *fakeDrop) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func TestHelloCommandServesUntilCancelled(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", testbin.FreeLoopbackPort(t))
	logs := &lockedBuffer{}
	var stderr bytes.Buffer
	drop := &fakeDrop{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exit := make(chan int, 1)
	go func() { exit <- runHello(ctx, &stderr, log.NewLogfmtLogger(logs), addr, drop.drop) }()

	client := &http.Client{Timeout: time.Second}
	get := func(method, path string) (int, string, error) {
		req, err := http.NewRequest(method, "http://"+addr+path, nil)
		if err != nil {
			return 0, "", err
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), err
	}
	// Wait until it listens (bounded): it starts in the background.
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, _, err := get(http.MethodGet, "/hello")
		if err == nil {
			break
		}
		select {
		case code := <-exit:
			t.Fatalf("returned %d before serving; stderr: %s; log:\n%s", code, stderr.String(), logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("/hello not served on %s after 5s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	tests := []struct {
		method, path string
		wantStatus   int
		wantBody     string // checked when not empty
	}{
		{http.MethodGet, "/hello", http.StatusOK, "hello\n"},
		{http.MethodGet, "/metrics", http.StatusNotFound, ""},
		{http.MethodGet, "/", http.StatusNotFound, ""},
		{http.MethodPost, "/hello", http.StatusMethodNotAllowed, ""},
	}
	for _, tc := range tests {
		status, body, err := get(tc.method, tc.path)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.path, err)
		}
		if status != tc.wantStatus {
			t.Errorf("%s %s: status %d, want %d", tc.method, tc.path, status, tc.wantStatus)
		}
		if tc.wantBody != "" && body != tc.wantBody {
			t.Errorf("%s %s: body %q, want %q", tc.method, tc.path, body, tc.wantBody)
		}
	}
	if n := drop.count(); n != 1 {
		t.Errorf("capabilities dropped %d times, want once", n)
	}
	if l := logs.String(); !strings.Contains(l, `msg="serving /hello only" address=`+addr) {
		t.Errorf("no log line saying where it listens:\n%s", l)
	}

	cancel()
	select {
	case code := <-exit:
		if code != exitcode.OK {
			t.Fatalf("exit code %d after cancel, want %d; log:\n%s", code, exitcode.OK, logs)
		}
	case <-time.After(daemon.ShutdownGrace + 5*time.Second):
		t.Fatal("still running after cancel")
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("the port still accepts connections after the command returned")
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr: %s", stderr.String())
	}
}

func TestHelloCommandErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	free := fmt.Sprintf("127.0.0.1:%d", testbin.FreeLoopbackPort(t))
	tests := []struct {
		name      string
		address   string
		dropErr   error
		wantExit  int
		wantDrops int
		wantMsg   string // in stderr or the log
	}{
		{name: "busy port", address: busy.Addr().String(), wantExit: exitcode.Failure, wantMsg: "address already in use"},
		{name: "no port", address: "127.0.0.1", wantExit: exitcode.Usage, wantMsg: `--hello.listen-address "127.0.0.1": address 127.0.0.1: missing port in address`},
		{name: "port out of range", address: "127.0.0.1:65536", wantExit: exitcode.Usage, wantMsg: "port must be 1-65535"},
		{name: "port 0", address: "127.0.0.1:0", wantExit: exitcode.Usage, wantMsg: "port must be 1-65535"},
		{name: "address not on this host", address: "198.19.255.253:4240", wantExit: exitcode.Failure, wantMsg: "--hello.listen-address: listen tcp 198.19.255.253:4240: bind: cannot assign requested address"},
		{name: "capabilities cannot be dropped", address: free, dropErr: errors.New("EPERM"), wantExit: exitcode.Failure, wantDrops: 1, wantMsg: "dropping capabilities: EPERM"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs, stderr bytes.Buffer
			drop := &fakeDrop{err: tc.dropErr}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			code := runHello(ctx, &stderr, log.NewLogfmtLogger(&logs), tc.address, drop.drop)
			if code != tc.wantExit {
				t.Errorf("exit code %d, want %d", code, tc.wantExit)
			}
			if out := stderr.String() + logs.String(); !strings.Contains(out, tc.wantMsg) {
				t.Errorf("output does not say %q:\n%s", tc.wantMsg, out)
			}
			if n := drop.count(); n != tc.wantDrops {
				t.Errorf("capabilities dropped %d times, want %d", n, tc.wantDrops)
			}
			// Whatever failed, the port is not left bound.
			if tc.address == free {
				ln, err := net.Listen("tcp", free)
				if err != nil {
					t.Fatalf("the port stayed bound after the failure: %v", err)
				}
				ln.Close()
			}
		})
	}
}

// The command is wired into the application: its flags parse, and a bad
// one is a usage error before anything listens.
func TestRunHelloCommandLine(t *testing.T) {
	tests := []struct {
		args []string
		want int
	}{
		{[]string{"hello", "--hello.listen-address=nowhere"}, exitcode.Usage},
		{[]string{"hello", "--log.level=loud"}, exitcode.Usage},
		{[]string{"hello", "--nodes.file=x.yaml"}, exitcode.Usage}, // a daemon flag
		{[]string{"--log.format=json", "hello", "--hello.listen-address=127.0.0.1:99999"}, exitcode.Usage},
	}
	for _, tc := range tests {
		if got := run(tc.args); got != tc.want {
			t.Errorf("run(%q) = %d, want %d", tc.args, got, tc.want)
		}
	}
}
