// Package hello is the /hello responder that peers probe on every node's
// host IP and health IP: a tiny HTTP server hardened against slow and
// hostile clients. It depends on the standard library only, so that what
// merely serves or names /hello (the `hello` command, the CLI) does not
// pull in netlink or the metrics stack.
package hello

import (
	"bytes"
	"log"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Path is what peers GET to learn that a node's exporter (or its health
// endpoint) is there.
const Path = "/hello"

// DefaultPort is the TCP port /hello is served and probed on, cilium-health's.
const DefaultPort = 4240

// Defaults of the server. A peer's probe sends one short request and waits
// at most its probe timeout, so these are generous for probes and short for
// anyone who holds a connection open without finishing a request.
const (
	// DefaultReadHeaderTimeout cuts off a client that has not sent its
	// whole request head by then, however slowly it trickles.
	DefaultReadHeaderTimeout = 2 * time.Second
	DefaultReadTimeout       = 5 * time.Second
	DefaultWriteTimeout      = 5 * time.Second
	// DefaultMaxHeaderBytes is far above any probe's request; more
	// (net/http allows 4 KiB of slack) is answered with 431.
	DefaultMaxHeaderBytes = 8 << 10
	// DefaultMaxConns caps the connections served at once, so that a
	// flood costs at most this many goroutines and buffers (about 10 KiB
	// each); further connections wait in the kernel's accept queue until
	// ReadHeaderTimeout frees a slot. Legitimate load is one short request
	// per peer and path per probe interval, far below it.
	DefaultMaxConns = 1024
)

// body is small on purpose: the probe measures the path, not the payload.
var body = []byte("hello\n")

// MaxSize bounds the body of GET /hello?size=N, the answer of a
// full-size probe: a few full-size segments of any MTU, and a small cost
// for anyone who asks for it.
const MaxSize = 64 << 10

// SizeParam is the query parameter of a full-size probe.
const SizeParam = "size"

// Handler answers GET (and HEAD) /hello with 200, other methods on /hello
// with 405 and every other path with 404. GET /hello?size=N answers with a
// body of exactly N bytes (0 <= N <= MaxSize, else 400), which spans
// several full-size TCP segments: peers test the MSS and path MTU
// discovery with it.
func Handler() http.Handler {
	fill := bytes.Repeat([]byte("x"), MaxSize) // read only: shared by every request
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Path, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			http.Error(w, "malformed query", http.StatusBadRequest)
			return
		}
		if !q.Has(SizeParam) {
			_, _ = w.Write(body)
			return
		}
		n, ok := parseSize(q[SizeParam])
		if !ok {
			http.Error(w, "size must be a whole number from 0 to "+strconv.Itoa(MaxSize), http.StatusBadRequest)
			return
		}
		// Set, so that the answer is not chunked: probes read exactly N.
		w.Header().Set("Content-Length", strconv.Itoa(n))
		_, _ = w.Write(fill[:n])
	})
	return mux
}

// parseSize reads the one size parameter: digits only, at most MaxSize.
func parseSize(q []string) (int, bool) {
	if len(q) != 1 {
		return 0, false
	}
	v := q[0]
	if v == "" || len(v) > 6 {
		return 0, false
	}
	n := 0
	for _, c := range []byte(v) {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n <= MaxSize
}

// Options tunes a server. Zero fields take the Default* values; tests
// shorten the timeouts.
type Options struct {
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	MaxHeaderBytes    int
	// ErrorLog receives net/http's own errors (e.g. accept failures); nil
	// is the standard logger.
	ErrorLog *log.Logger
}

func (o Options) withDefaults() Options {
	if o.ReadHeaderTimeout <= 0 {
		o.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = DefaultReadTimeout
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	return o
}

// NewServer returns a /hello server whose timeouts and header limit keep
// slow or hostile clients from holding it: a monitor must stay up.
// Options{} gives the defaults.
func NewServer(o Options) *http.Server {
	o = o.withDefaults()
	srv := &http.Server{
		Handler:           Handler(),
		ReadHeaderTimeout: o.ReadHeaderTimeout,
		ReadTimeout:       o.ReadTimeout,
		WriteTimeout:      o.WriteTimeout,
		MaxHeaderBytes:    o.MaxHeaderBytes,
		ErrorLog:          o.ErrorLog,
	}
	// Probes use a fresh connection each time; a kept-alive connection
	// would only let a client sit idle on a slot after its answer.
	srv.SetKeepAlivesEnabled(false)
	return srv
}

// Serve serves srv on ln until srv is shut down, which is no error. Unless
// ln already comes from LimitListener, it is capped at DefaultMaxConns.
func Serve(srv *http.Server, ln net.Listener) error {
	if _, ok := ln.(*limitListener); !ok {
		ln = LimitListener(ln, DefaultMaxConns)
	}
	err := srv.Serve(ln)
	if err == http.ErrServerClosed {
		return nil
	}
	return err
}
