// Package hostile probes peers that misbehave on purpose, through the real
// HTTP probe (prober.NewHTTPProbe), on loopback: each must be classified
// within the probe timeout, and hundreds of such probes must leave no
// goroutine or file descriptor behind.
package hostile

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/prober"
	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

const (
	probeTimeout = time.Second // long enough that a streaming peer hits a size limit first, even under -race on a busy machine
	// lateness allows for scheduling on 2 shared cores under -race.
	lateness = 250 * time.Millisecond
)

var loopback = netip.MustParseAddr("127.0.0.1")

// peer serves every connection with handle until the test ends. It tracks
// its connections so that Cleanup can close them and wait for them.
type peer struct {
	ln    net.Listener
	port  int
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func startPeer(t *testing.T, handle func(c net.Conn)) *peer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{ln: ln, port: ln.Addr().(*net.TCPAddr).Port, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.conns[c] = struct{}{}
			p.mu.Unlock()
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				defer func() {
					p.mu.Lock()
					delete(p.conns, c)
					p.mu.Unlock()
					c.Close()
				}()
				handle(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

// readRequest consumes the request head, as a real server would first.
func readRequest(c net.Conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return false
		}
		if line == "\r\n" {
			return true
		}
	}
}

// writeSlowly writes b a byte at a time every interval until the client
// goes away; bounded by len(b).
func writeSlowly(c net.Conn, b []byte, interval time.Duration) {
	for i := range b {
		if _, err := c.Write(b[i : i+1]); err != nil {
			return
		}
		time.Sleep(interval)
	}
}

// untilClosed returns when the client closes the connection (or after 10s).
func untilClosed(c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _ = io.Copy(io.Discard, c)
}

// fullAcceptQueue returns a port whose accept queue is full, so that the
// kernel drops new SYNs: to a prober, a black-holed peer.
func fullAcceptQueue(t *testing.T) int {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil { // never accepted
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	port := sa.(*syscall.SockaddrInet4).Port
	// Fill the queue: a backlog of 0 takes one connection, then the
	// kernel drops SYNs and further connects hang.
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 200*time.Millisecond)
		if err != nil {
			break
		}
		t.Cleanup(func() { c.Close() })
		if i > 8 {
			t.Fatal("the accept queue does not fill up")
		}
	}
	return port
}

// classify is what the scheduler records: a failure that ran into the
// probe's deadline is a timeout, whatever the error said.
func classify(ctx context.Context, o prober.Outcome) prober.Result {
	if o.Result != prober.ResultSuccess && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return prober.ResultTimeout
	}
	return o.Result
}

// ports are blanked in the error texts that the tests show, so that equal
// errors of different connections count as one.
var ports = regexp.MustCompile(`:\d+\b`)

func TestHostilePeers(t *testing.T) {
	const hello = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhello\n"
	tests := []struct {
		name string
		port func(t *testing.T) int
		want prober.Result
	}{
		{"well-behaved (control)", func(t *testing.T) int {
			return startPeer(t, func(c net.Conn) {
				if readRequest(c) {
					io.WriteString(c, hello)
				}
			}).port
		}, prober.ResultSuccess},
		{"accepts TCP and never answers", func(t *testing.T) int {
			return startPeer(t, untilClosed).port
		}, prober.ResultTimeout},
		{"SYN dropped (accept queue full)", fullAcceptQueue, prober.ResultTimeout},
		{"answers 500", func(t *testing.T) int {
			return startPeer(t, func(c net.Conn) {
				if readRequest(c) {
					io.WriteString(c, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n")
				}
			}).port
		}, prober.ResultError},
		{"redirects", func(t *testing.T) int {
			return startPeer(t, func(c net.Conn) {
				if readRequest(c) {
					io.WriteString(c, "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/hello\r\nContent-Length: 0\r\n\r\n")
				}
			}).port
		}, prober.ResultError},
		{"streams an endless body", func(t *testing.T) int {
			return startPeer(t, func(c net.Conn) {
				if !readRequest(c) {
					return
				}
				io.WriteString(c, "HTTP/1.0 200 OK\r\n\r\n") // the body ends with the connection
				chunk := strings.Repeat("x", 1024)
				for range 100_000 { // bounded: 100 MB at most, stops when the client goes
					if _, err := io.WriteString(c, chunk); err != nil {
						return
					}
				}
			}).port
		}, prober.ResultError},
		{"streams endless headers", func(t *testing.T) int {
			return startPeer(t, func(c net.Conn) {
				if !readRequest(c) {
					return
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\n")
				for i := range 100_000 {
					if _, err := fmt.Fprintf(c, "X-H%d: %s\r\n", i, strings.Repeat("y", 100)); err != nil {
						return
					}
				}
			}).port
		}, prober.ResultError},
		{"answers garbage", func(t *testing.T) int {
			return startPeer(t, func(c net.Conn) {
				if readRequest(c) {
					io.WriteString(c, "SSH-2.0-OpenSSH_9.2\r\n\r\n")
				}
			}).port
		}, prober.ResultError},
		{"answers binary noise", func(t *testing.T) int {
			return startPeer(t, func(c net.Conn) {
				if readRequest(c) {
					c.Write([]byte{0x16, 0x03, 0x01, 0x00, 0x00, 0xff, 0xfe, '\n', '\n'})
				}
			}).port
		}, prober.ResultError},
		{"endless 1xx answers", func(t *testing.T) int {
			return startPeer(t, func(c net.Conn) {
				if !readRequest(c) {
					return
				}
				for range 10_000 {
					if _, err := io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"); err != nil {
						return
					}
				}
			}).port
		}, prober.ResultError},
		{"trickles one byte per second", func(t *testing.T) int {
			return startPeer(t, func(c net.Conn) {
				if readRequest(c) {
					writeSlowly(c, []byte(hello), time.Second)
				}
			}).port
		}, prober.ResultTimeout},
		{"fast head, body trickles", func(t *testing.T) int {
			return startPeer(t, func(c net.Conn) {
				if readRequest(c) {
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n")
					writeSlowly(c, []byte("hello\n"), time.Second)
				}
			}).port
		}, prober.ResultTimeout},
		{"closes mid-response", func(t *testing.T) int {
			return startPeer(t, func(c net.Conn) {
				if readRequest(c) {
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhel")
				}
			}).port
		}, prober.ResultError},
		{"closes mid-head", func(t *testing.T) int {
			return startPeer(t, func(c net.Conn) {
				if readRequest(c) {
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Le")
				}
			}).port
		}, prober.ResultError},
		{"closes without a word", func(t *testing.T) int {
			return startPeer(t, func(c net.Conn) { readRequest(c) }).port
		}, prober.ResultError},
		{"resets the connection", func(t *testing.T) int {
			return startPeer(t, func(c net.Conn) {
				readRequest(c)
				c.(*net.TCPConn).SetLinger(0) // close sends RST
			}).port
		}, prober.ResultError},
		{"refuses", func(t *testing.T) int { return testbin.FreeLoopbackPort(t) }, prober.ResultRefused},
	}
	const probes, parallel = 40, 20
	total := 0
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			probe := prober.NewHTTPProbe(prober.HTTPConfig{Port: tc.port(t), Path: "/hello"})
			// One probe first, so that lazily started runtime and
			// transport goroutines are in the baseline.
			ctx0, cancel0 := context.WithTimeout(context.Background(), probeTimeout)
			probe(ctx0, loopback)
			cancel0()
			time.Sleep(50 * time.Millisecond)
			base := testbin.MeasureUsage(t)

			type got struct {
				res  prober.Result
				err  error
				took time.Duration
			}
			results := make(chan got, probes)
			sem := make(chan struct{}, parallel)
			var wg sync.WaitGroup
			for range probes {
				sem <- struct{}{}
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer func() { <-sem }()
					ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
					defer cancel()
					start := time.Now()
					o := probe(ctx, loopback)
					results <- got{classify(ctx, o), o.Err, time.Since(start)}
				}()
			}
			wg.Wait()
			close(results)
			var slowest time.Duration
			errs := map[string]int{} // the wording is the prober's; shown, not checked
			for r := range results {
				slowest = max(slowest, r.took)
				if r.res != tc.want {
					t.Fatalf("classified %s (%v), want %s", r.res, r.err, tc.want)
				}
				if (r.err == nil) != (tc.want == prober.ResultSuccess) {
					t.Fatalf("result %s with error %v", r.res, r.err)
				}
				if r.err != nil {
					errs[ports.ReplaceAllString(r.err.Error(), ":*")]++
				}
				if r.took > probeTimeout+lateness {
					t.Fatalf("a probe took %s, timeout %s", r.took, probeTimeout)
				}
			}
			after := testbin.SettleUsage(t, base, 0, 5*time.Second)
			total += probes
			t.Logf("%d probes, slowest %s; goroutines %d -> %d, fds %d -> %d; errors %v", probes, slowest.Round(time.Millisecond), base.Goroutines, after.Goroutines, base.FDs, after.FDs, errs)
		})
	}
	t.Logf("%d probes to %d kinds of peers", total, len(tests))
}
