package hello

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// These tests attack a real /hello server on a loopback listener. They need
// no privileges, so they run everywhere.

// halfHead is a request head that never ends: the blank line is missing.
const halfHead = "GET /hello HTTP/1.1\r\nHost: x\r\n"

// helloUnderTest is a running /hello server and what it has seen.
type helloUnderTest struct {
	addr    string
	open    atomic.Int64 // connections the server holds now
	maxOpen atomic.Int64
}

func startHelloForTest(t *testing.T, srv *http.Server, maxConns int) *helloUnderTest {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &helloUnderTest{addr: ln.Addr().String()}
	// Count below the cap: ConnState's StateClosed comes after the slot
	// is freed, so it would see one connection too many.
	ln = &countingListener{Listener: ln, h: h}
	if maxConns > 0 {
		ln = LimitListener(ln, maxConns)
	}
	done := make(chan error, 1)
	go func() { done <- Serve(srv, ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return h
}

type countingListener struct {
	net.Listener
	h *helloUnderTest
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	n := l.h.open.Add(1)
	for m := l.h.maxOpen.Load(); n > m && !l.h.maxOpen.CompareAndSwap(m, n); m = l.h.maxOpen.Load() {
	}
	return &countedConn{Conn: c, h: l.h}, nil
}

type countedConn struct {
	net.Conn
	once sync.Once
	h    *helloUnderTest
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.h.open.Add(-1) })
	return c.Conn.Close()
}

func (c *countedConn) CloseWrite() error { return c.Conn.(*net.TCPConn).CloseWrite() }

// get does one normal probe-like GET on a fresh connection.
func (h *helloUnderTest) get(timeout time.Duration) (time.Duration, error) {
	c := http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
	start := time.Now()
	resp, err := c.Get("http://" + h.addr + Path)
	if err != nil {
		return time.Since(start), err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	took := time.Since(start)
	if err != nil {
		return took, err
	}
	if resp.StatusCode != http.StatusOK || string(body) != "hello\n" {
		return took, errors.New("answer: " + resp.Status + " " + string(body))
	}
	return took, nil
}

type usage struct {
	goroutines int
	mem        uint64 // heap in use plus goroutine stacks
	fds        int
}

func measure(t *testing.T) usage {
	t.Helper()
	runtime.GC()
	runtime.GC() // the second frees what sync.Pools dropped in the first
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return usage{runtime.NumGoroutine(), ms.HeapInuse + ms.StackInuse, len(fds)}
}

// settle waits until goroutines and fds are back to base (plus slack): the
// server closes connections asynchronously.
func settle(t *testing.T, base usage, within time.Duration) usage {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		u := measure(t)
		if u.goroutines <= base.goroutines+2 && u.fds <= base.fds {
			return u
		}
		if time.Now().After(deadline) {
			t.Fatalf("leak: goroutines %d -> %d, fds %d -> %d after %s", base.goroutines, u.goroutines, base.fds, u.fds, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitClosedByServer reads every conn until the server closes it; it fails
// if one is still open at deadline.
func waitClosedByServer(t *testing.T, conns []net.Conn, deadline time.Time) {
	t.Helper()
	buf := make([]byte, 512)
	for i, c := range conns {
		_ = c.SetReadDeadline(deadline)
		for {
			_, err := c.Read(buf)
			if err == nil {
				continue // e.g. a 408 before the close
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("attacker connection %d still open at the deadline", i)
			}
			break // EOF or reset: the server let go
		}
	}
}

func TestHelloSurvivesSlowClients(t *testing.T) {
	trickle := func(conns []net.Conn, stop <-chan struct{}) {
		// One goroutine for all attackers, so that the goroutine count
		// stays the server's. Bounded: it stops on stop or after 200 bytes.
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 0; i < 200; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			for _, c := range conns {
				_ = c.SetWriteDeadline(time.Now().Add(10 * time.Millisecond))
				_, _ = c.Write([]byte{"GET /hello HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"[i%60]})
			}
		}
	}
	tests := []struct {
		name     string
		attacker int
		opts     Options
		maxConns int // 0: Serve's default cap
		// send runs once per attacker right after it connects; trickle,
		// if set, keeps writing to all of them until the test ends.
		send    string
		trickle bool
	}{
		{name: "300 half-sent request heads, default options", attacker: 300, send: halfHead},
		{name: "300 connect and send nothing", attacker: 300, opts: Options{ReadHeaderTimeout: 500 * time.Millisecond}},
		{name: "100 slowloris, one byte per 100ms", attacker: 100, opts: Options{ReadHeaderTimeout: 700 * time.Millisecond}, trickle: true},
		{name: "200 half-sent heads over a cap of 50", attacker: 200, opts: Options{ReadHeaderTimeout: 500 * time.Millisecond}, maxConns: 50, send: halfHead},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rht := tc.opts.withDefaults().ReadHeaderTimeout
			h := startHelloForTest(t, NewServer(tc.opts), tc.maxConns)
			if _, err := h.get(2 * time.Second); err != nil {
				t.Fatalf("before the attack: %v", err)
			}
			base := measure(t)

			start := time.Now()
			conns := make([]net.Conn, 0, tc.attacker)
			defer func() {
				for _, c := range conns {
					c.Close()
				}
			}()
			for range tc.attacker {
				c, err := net.DialTimeout("tcp", h.addr, time.Second)
				if err != nil {
					t.Fatalf("attacker dial: %v", err)
				}
				conns = append(conns, c)
				if tc.send != "" {
					if _, err := c.Write([]byte(tc.send)); err != nil {
						t.Fatal(err)
					}
				}
			}
			stop := make(chan struct{})
			var trickler sync.WaitGroup
			if tc.trickle {
				trickler.Add(1)
				go func() { defer trickler.Done(); trickle(conns, stop) }()
			}
			defer func() { close(stop); trickler.Wait() }()

			// While they hang, a probe still gets its answer: at once
			// under the cap; over it, after the attackers queued ahead of
			// it in the kernel have had their ReadHeaderTimeout.
			time.Sleep(100 * time.Millisecond) // let the server accept them
			during := measure(t)
			bound := time.Second
			if tc.maxConns > 0 && tc.attacker >= tc.maxConns {
				bound = time.Duration(tc.attacker/tc.maxConns+1)*rht + time.Second
			}
			took, err := h.get(bound)
			if err != nil {
				t.Fatalf("a normal GET during the attack: %v (after %s)", err, took)
			}
			if limit := int64(tc.maxConns); limit > 0 && h.maxOpen.Load() > limit {
				t.Errorf("server held %d connections at once, cap %d", h.maxOpen.Load(), limit)
			}

			// Every attacker is cut off by ReadHeaderTimeout (queued ones
			// one round later each).
			rounds := 1
			if tc.maxConns > 0 {
				rounds = (tc.attacker + tc.maxConns - 1) / tc.maxConns
			}
			waitClosedByServer(t, conns, start.Add(time.Duration(rounds)*rht+1500*time.Millisecond))
			closedAfter := time.Since(start)
			close(stop)
			trickler.Wait()
			stop = make(chan struct{}) // for the deferred close
			for _, c := range conns {
				c.Close()
			}
			conns = nil
			after := settle(t, base, 3*time.Second)
			perConn := int64(during.mem) - int64(base.mem)
			if held := during.goroutines - base.goroutines; held > 0 {
				perConn /= int64(held)
			}
			limit := tc.maxConns
			if limit == 0 {
				limit = DefaultMaxConns
			}
			t.Logf("attackers=%d cap=%d: normal GET took %s; server goroutines %d -> %d -> %d; heap+stacks %.1f -> %.1f -> %.1f MiB (~%d B per held connection); fds %d -> %d -> %d; all attackers cut off after %s",
				tc.attacker, limit, took.Round(time.Millisecond),
				base.goroutines, during.goroutines, after.goroutines,
				mib(base.mem), mib(during.mem), mib(after.mem), perConn,
				base.fds, during.fds, after.fds, closedAfter.Round(10*time.Millisecond))
			if during.mem > base.mem+32<<20 {
				t.Errorf("memory grew by %.1f MiB under %d slow clients", mib(during.mem-base.mem), tc.attacker)
			}
			if after.mem > base.mem+4<<20 {
				t.Errorf("memory did not come back: %.1f MiB before, %.1f MiB after", mib(base.mem), mib(after.mem))
			}
			if _, err := h.get(time.Second); err != nil {
				t.Fatalf("after the attack: %v", err)
			}
		})
	}
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

func TestHelloAnswers(t *testing.T) {
	h := startHelloForTest(t, NewServer(Options{}), 0)
	big := "GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 64<<10) + "\r\n\r\n"
	tests := []struct {
		name    string
		request string
		want    int
	}{
		{"hello", "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", http.StatusOK},
		{"head", "HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n", http.StatusOK},
		{"oversized header", big, http.StatusRequestHeaderFieldsTooLarge},
		{"just over the limit", "GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", DefaultMaxHeaderBytes+4096) + "\r\n\r\n", http.StatusRequestHeaderFieldsTooLarge},
		{"other path", "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", http.StatusNotFound},
		{"other method", "POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", http.StatusMethodNotAllowed},
		{"garbage", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", http.StatusBadRequest},
		{"no host in HTTP/1.1", "GET /hello HTTP/1.1\r\n\r\n", http.StatusBadRequest},
		{"huge content length is not read", "GET /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\nabc", http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.DialTimeout("tcp", h.addr, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			// Write in the background: the server may answer before it
			// has read everything.
			go func() { _, _ = io.WriteString(c, tc.request) }()
			method, _, _ := strings.Cut(tc.request, " ")
			resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
			if err != nil {
				t.Fatalf("reading the answer: %v", err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if tc.want == http.StatusOK && !resp.Close {
				t.Error("the server keeps the connection: keep-alives must be off")
			}
		})
	}
}
