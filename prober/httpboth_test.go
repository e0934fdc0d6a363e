package prober

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/hello"
)

// answerWith reads the request, writes answer and, with hold, keeps the
// connection open (a stalled answer) until the test ends.
func answerWith(t *testing.T, answer string, hold bool) func(net.Conn) {
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	return func(c net.Conn) {
		_, _ = http.ReadRequest(bufio.NewReader(c))
		_, _ = c.Write([]byte(answer))
		if hold {
			<-done
		}
	}
}

func TestSmallAndFullSizeHTTPProbe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: hello.Handler()}
	go srv.Serve(ln)
	defer srv.Close()
	current := ln.Addr().(*net.TCPAddr).Port

	closedLn, closed := listenLoopback(t)
	closedLn.Close()
	const size = 6000
	head := "HTTP/1.1 200 OK\r\nContent-Length: 6000\r\n\r\n"
	for _, tc := range []struct {
		name       string
		port       int
		smallKnown bool
		full       Result
	}{
		{"today's responder", current, true, ResultSuccess},
		{"a responder without size: its short answer", serveRaw(t, answerWith(t, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhello\n", false)), true, ResultError},
		{"a responder refusing the size", serveRaw(t, answerWith(t, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", false)), false, ResultError},
		{"no answer (an MTU black hole drops the head's segment)", serveRaw(t, answerWith(t, "", true)), false, ResultTimeout},
		{"the head, then the body stalls", serveRaw(t, answerWith(t, head+strings.Repeat("x", 1000), true)), true, ResultTimeout},
		{"nothing listening: the small verdict too", closed, true, ResultRefused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			probe := NewSmallAndFullSizeHTTPProbe(HTTPConfig{Port: tc.port, Path: hello.Path})
			ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
			defer cancel()
			o := probe(ctx, netip.MustParseAddr("127.0.0.1"), size, Flow{})
			if o.SmallKnown != tc.smallKnown || o.FullSize.Result != tc.full {
				t.Fatalf("%+v: want small known %v, full size %v", o, tc.smallKnown, tc.full)
			}
			switch {
			case o.SmallKnown && o.FullSize.Result == ResultRefused:
				if o.Small.Result != ResultRefused {
					t.Errorf("small %+v: want the refusal", o.Small)
				}
			case o.SmallKnown && (o.Small.Result != ResultSuccess || o.Small.RTT <= 0):
				t.Errorf("small %+v: want a success with an RTT", o.Small)
			}
			if o.SmallKnown && o.FullSize.Result == ResultSuccess && o.Small.RTT > o.FullSize.RTT {
				t.Errorf("the head's RTT %v after the whole answer's %v", o.Small.RTT, o.FullSize.RTT)
			}
		})
	}
}
