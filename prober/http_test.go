package prober

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// listenLoopback opens a TCP listener on 127.0.0.1 and returns it with its port.
func listenLoopback(t *testing.T) (net.Listener, int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln, ln.Addr().(*net.TCPAddr).Port
}

func serveHTTP(t *testing.T, h http.HandlerFunc) int {
	t.Helper()
	ln, port := listenLoopback(t)
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: h}}
	srv.Start()
	t.Cleanup(srv.Close)
	return port
}

// serveRaw answers every connection with fn (for peers that lie or hang).
func serveRaw(t *testing.T, fn func(net.Conn)) int {
	t.Helper()
	ln, port := listenLoopback(t)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); fn(c) }()
		}
	}()
	return port
}

func TestHTTPProbeClassifies(t *testing.T) {
	closedPort := func(t *testing.T) int {
		ln, port := listenLoopback(t)
		ln.Close()
		return port
	}
	tests := []struct {
		name    string
		port    func(t *testing.T) int
		want    Result
		errText string
	}{
		{"hello", func(t *testing.T) int {
			return serveHTTP(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/hello" || r.Method != http.MethodGet {
					http.NotFound(w, r)
					return
				}
				w.Write([]byte("hello\n"))
			})
		}, ResultSuccess, ""},
		{"refused", closedPort, ResultRefused, "connection refused"},
		{"500", func(t *testing.T) int {
			return serveHTTP(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) })
		}, ResultError, "HTTP status 500"},
		{"redirect is not followed", func(t *testing.T) int {
			return serveHTTP(t, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "http://127.0.0.1:1/x", http.StatusFound)
			})
		}, ResultError, "HTTP status 302"},
		{"accepts and never answers", func(t *testing.T) int {
			return serveRaw(t, func(c net.Conn) { time.Sleep(2 * time.Second) })
		}, ResultTimeout, "connection timed out"},
		{"garbage instead of HTTP", func(t *testing.T) int {
			return serveRaw(t, func(c net.Conn) {
				c.Read(make([]byte, 512)) // the request
				c.Write([]byte("SSH-2.0-OpenSSH\r\n\r\n"))
			})
		}, ResultError, "malformed HTTP"},
		{"endless body", func(t *testing.T) int {
			return serveRaw(t, func(c net.Conn) {
				c.Read(make([]byte, 512)) // the request
				c.Write([]byte("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"))
				chunk := []byte(strings.Repeat("x", 1024))
				for range 10_000 { // bounded: 10 MB at most, stops when the client goes
					if _, err := c.Write(chunk); err != nil {
						return
					}
				}
			})
		}, ResultError, "answer body over 4096 bytes"},
		{"chunked answer", func(t *testing.T) int {
			return serveHTTP(t, func(w http.ResponseWriter, _ *http.Request) {
				http.NewResponseController(w).Flush() // no Content-Length: chunked
				w.Write([]byte("hello\n"))
			})
		}, ResultError, "unsupported Transfer-Encoding"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			probe := NewHTTPProbe(HTTPConfig{Port: tc.port(t), Path: "/hello"})
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			o := probe(ctx, netip.MustParseAddr("127.0.0.1"))
			if o.Result != tc.want {
				t.Fatalf("result %s (%v), want %s", o.Result, o.Err, tc.want)
			}
			if tc.want == ResultSuccess {
				if o.RTT <= 0 || o.Err != nil {
					t.Fatalf("success without RTT or with error: %+v", o)
				}
				return
			}
			if o.Err == nil || !strings.Contains(o.Err.Error(), tc.errText) {
				t.Fatalf("error %v, want it to mention %q", o.Err, tc.errText)
			}
		})
	}
}

func TestHTTPProbeUsesAFreshConnectionEachTime(t *testing.T) {
	conns := make(chan string, 8)
	ln, port := listenLoopback(t)
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("hello\n")) }),
		ConnState: func(c net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns <- c.RemoteAddr().String()
			}
		},
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	probe := NewHTTPProbe(HTTPConfig{Port: port, Path: "/hello"})
	for i := 0; i < 3; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if o := probe(ctx, netip.MustParseAddr("127.0.0.1")); o.Result != ResultSuccess {
			t.Fatalf("probe %d: %+v", i, o)
		}
		cancel()
	}
	if got := len(conns); got != 3 {
		t.Fatalf("3 probes used %d connections, want 3 (keep-alive must be off)", got)
	}
}
