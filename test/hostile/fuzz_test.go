package hostile

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/prober"
)

// FuzzHTTPProbeAnswer sends the probe whatever a peer might answer to GET
// /hello, over a real loopback connection that the peer closes after its
// answer: the probe must never panic, must return by its deadline, and may
// report success only for what is a 200 answer with a body of at most 4 KiB.
func FuzzHTTPProbeAnswer(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhello\n",
		"HTTP/1.0 200 OK\r\n\r\nhello\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello\n\r\n0\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhel",
		"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nContent-Length: 7\r\n\r\nhello\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n0\r\n\r\n",
		"HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/9.9 200 OK\r\n\r\n",
		"HTTP/1.1 200\r\n\r\n",
		"http/1.1 200 ok\n\n",
		"SSH-2.0-OpenSSH\r\n",
		"",
	} {
		f.Add([]byte(s))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	answers := make(chan []byte, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer ln.Close()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			readRequest(c)
			_, _ = c.Write(<-answers)
			c.Close()
		}
	}()
	probe := prober.NewHTTPProbe(prober.HTTPConfig{Port: ln.Addr().(*net.TCPAddr).Port, Path: "/hello"})
	f.Fuzz(func(t *testing.T, answer []byte) {
		answers <- answer
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		o := probe(ctx, loopback)
		if took := time.Since(start); took > time.Second+lateness {
			t.Fatalf("the probe took %s", took)
		}
		select {
		case <-answers: // the probe gave up before connecting; never happens on loopback
			t.Fatalf("the answer was never asked for: %+v", o)
		default:
		}
		switch o.Result {
		case prober.ResultSuccess:
			if !isHelloAnswer(answer) {
				t.Fatalf("success for %q", answer)
			}
			if o.Err != nil || o.RTT <= 0 {
				t.Fatalf("success with %+v", o)
			}
		case prober.ResultError, prober.ResultTimeout:
			if o.Err == nil {
				t.Fatalf("%s without an error", o.Result)
			}
		default:
			t.Fatalf("result %q for an answer from a listening peer", o.Result)
		}
	})
}

// isHelloAnswer is the oracle: the first answer that is not 1xx must start
// with an HTTP/1.x 200 status line, and where net/http reads the answer the
// same way, it must read a 200 with a complete body of at most 4 KiB. The
// prober parses answers itself and ends lines at CRLF only, while net/http
// also ends them at a bare LF: a head with a bare LF is framed differently
// by the two (the prober takes "200 \nTransfer-Encoding: chunked" for a
// reason phrase), which matters nothing to a liveness probe, so only the
// status line is checked then.
func isHelloAnswer(answer []byte) bool {
	rest := answer
	for len(rest) >= 12 && bytes.HasPrefix(rest, []byte("HTTP/1.")) && rest[9] == '1' {
		_, after, ok := bytes.Cut(rest, []byte("\r\n\r\n"))
		if !ok {
			return false
		}
		rest = after
	}
	if !statusLine200.Match(rest) {
		return false
	}
	if head, _, _ := bytes.Cut(answer, []byte("\r\n\r\n")); bytes.Count(head, []byte("\n")) != bytes.Count(head, []byte("\r\n")) {
		return true
	}
	r := bufio.NewReader(bytes.NewReader(answer))
	req := &http.Request{Method: http.MethodGet}
	for {
		resp, err := http.ReadResponse(r, req)
		if err != nil {
			return true // net/http cannot tell; the status line decides
		}
		if resp.StatusCode >= 100 && resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols {
			continue
		}
		if resp.StatusCode != http.StatusOK {
			return false
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<10+1))
		return err == nil && len(body) <= 4<<10
	}
}

var statusLine200 = regexp.MustCompile(`^HTTP/1\.[01] 200[ \r]`)
