package prober

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func TestReadHelloAnswer(t *testing.T) {
	ok := "HTTP/1.1 200 OK\r\n"
	tests := []struct {
		name, answer string
		want         string // "" means success
	}{
		{"content-length", ok + "Content-Length: 6\r\n\r\nhello\n", ""},
		{"http/1.0 until EOF", "HTTP/1.0 200 OK\r\n\r\nhello\n", ""},
		{"no reason phrase", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", ""},
		{"header names fold case", ok + "content-LENGTH: 2\r\n\r\nhi", ""},
		{"status 404", "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", "HTTP status 404"},
		{"status 302", "HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n", "HTTP status 302"},
		{"not HTTP", "SSH-2.0-OpenSSH\r\n\r\n", `malformed HTTP response: "SSH-2.0-OpenSSH"`},
		{"HTTP/2 status line", "HTTP/2 200 OK\r\n\r\n", "malformed HTTP response"},
		{"status not a number", "HTTP/1.1 2x0 OK\r\n\r\n", "malformed HTTP response"},
		{"status glued to reason", "HTTP/1.1 200OK\r\n\r\n", "malformed HTTP response"},
		{"header without colon", ok + "Content-Length 6\r\n\r\nhello\n", "malformed HTTP response: bad header line"},
		{"folded header", ok + "X: a\r\n b\r\n\r\n", "malformed HTTP response: bad header line"},
		{"negative length", ok + "Content-Length: -1\r\n\r\n", "bad Content-Length"},
		{"conflicting lengths", ok + "Content-Length: 1\r\nContent-Length: 2\r\n\r\nab", "bad Content-Length"},
		{"gzip", ok + "Transfer-Encoding: gzip\r\n\r\n", "unsupported Transfer-Encoding"},
		{"chunked: no responder sends it", ok + "Transfer-Encoding: chunked\r\n\r\n6\r\nhello\n\r\n0\r\n\r\n", "unsupported Transfer-Encoding"},
		{"chunked next to a length", ok + "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\nhello\n", "unsupported Transfer-Encoding"},
		{"declared body too long", ok + "Content-Length: 4097\r\n\r\n", "answer body over 4096 bytes"},
		{"body until EOF too long", "HTTP/1.0 200 OK\r\n\r\n" + strings.Repeat("x", 5000), "answer body over 4096 bytes"},
		{"short body", ok + "Content-Length: 10\r\n\r\nhello", "connection closed before the answer ended"},
		{"closed during header", ok + "Content-Le", "malformed HTTP response"},
		{"closed at once", "", "connection closed before the answer ended"},
		{"header too long", ok + "X: " + strings.Repeat("y", maxHelloHeader) + "\r\n\r\n", "header over 8192 bytes"},
	}
	for _, tc := range tests {
		for _, oneByte := range []bool{false, true} {
			name := tc.name
			var r = strings.NewReader(tc.answer)
			if oneByte {
				name += "/one byte at a time"
			}
			t.Run(name, func(t *testing.T) {
				var buf [maxHelloHeader]byte
				var err error
				if oneByte {
					err = readHelloAnswer(iotest.OneByteReader(r), buf[:])
				} else {
					err = readHelloAnswer(r, buf[:])
				}
				if tc.want == "" {
					if err != nil {
						t.Fatalf("error %v, want success", err)
					}
					return
				}
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error %v, want it to mention %q", err, tc.want)
				}
			})
		}
	}
}

// Both HTTP clients must classify every answer alike.
func TestHTTPProbeClientsAgree(t *testing.T) {
	answers := map[string]func(net.Conn){
		"hello": func(c net.Conn) {
			c.Read(make([]byte, 512))
			c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhello\n"))
		},
		"404": func(c net.Conn) {
			c.Read(make([]byte, 512))
			c.Write([]byte("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"))
		},
		"hang": func(c net.Conn) { time.Sleep(time.Second) },
		"reset": func(c net.Conn) {
			c.Read(make([]byte, 512))
			c.(*net.TCPConn).SetLinger(0)
		},
	}
	for name, fn := range answers {
		t.Run(name, func(t *testing.T) {
			port := serveRaw(t, fn)
			var results []Result
			for _, netHTTP := range []bool{false, true} {
				probe := NewHTTPProbe(HTTPConfig{Port: port, Path: "/hello", NetHTTP: netHTTP})
				ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
				results = append(results, probe(ctx, netip.MustParseAddr("127.0.0.1")).Result)
				cancel()
			}
			if results[0] != results[1] {
				t.Fatalf("minimal GET says %s, net/http says %s", results[0], results[1])
			}
		})
	}
}

func TestHTTPProbeSendsAProperRequest(t *testing.T) {
	got := make(chan *http.Request, 1)
	port := serveHTTP(t, func(w http.ResponseWriter, r *http.Request) {
		got <- r
		w.Write([]byte("hello\n"))
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if o := NewHTTPProbe(HTTPConfig{Port: port, Path: "/hello"})(ctx, netip.MustParseAddr("127.0.0.1")); o.Result != ResultSuccess {
		t.Fatalf("%+v", o)
	}
	r := <-got
	if r.Method != http.MethodGet || r.URL.Path != "/hello" || r.Proto != "HTTP/1.1" || !r.Close ||
		r.Host != net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) || r.UserAgent() != "connectivity_exporter" {
		t.Fatalf("request %s %s %s close=%v host=%s ua=%q", r.Method, r.URL, r.Proto, r.Close, r.Host, r.UserAgent())
	}
}

func TestHTTPProbeEndsWhenCancelled(t *testing.T) {
	port := serveRaw(t, func(c net.Conn) { time.Sleep(5 * time.Second) })
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	done := make(chan Outcome)
	go func() {
		done <- NewHTTPProbe(HTTPConfig{Port: port, Path: "/hello"})(ctx, netip.MustParseAddr("127.0.0.1"))
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case o := <-done:
		if o.Result == ResultSuccess {
			t.Fatalf("%+v", o)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("a cancelled probe did not end")
	}
}

func TestHasBareLineBreak(t *testing.T) {
	tests := []struct {
		head string
		want bool
	}{
		{"HTTP/1.1 200 OK\r\nContent-Length: 6", false},
		{"HTTP/1.1 200 \nTransfer-Encoding: chunked", true},
		{"HTTP/1.1 200 OK\rX: y", true},
		{"HTTP/1.1 200 OK\r", true},
		{"\nHTTP/1.1 200 OK", true},
	}
	for _, tc := range tests {
		if got := hasBareLineBreak([]byte(tc.head)); got != tc.want {
			t.Errorf("hasBareLineBreak(%q) = %v, want %v", tc.head, got, tc.want)
		}
	}
}
