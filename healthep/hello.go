package healthep

import (
	"errors"
	"log"
	"net"
	"net/http"
	"sync"
	"time"
)

// HelloPath is what peers GET to learn that this node's exporter (or its
// health endpoint) is there.
const HelloPath = "/hello"

// Defaults of the /hello server. A peer's probe sends one short request and
// waits at most its probe timeout, so these are generous for probes and
// short for anyone who holds a connection open without finishing a request.
const (
	// DefaultHelloReadHeaderTimeout cuts off a client that has not sent its
	// whole request head by then, however slowly it trickles.
	DefaultHelloReadHeaderTimeout = 2 * time.Second
	DefaultHelloReadTimeout       = 5 * time.Second
	DefaultHelloWriteTimeout      = 5 * time.Second
	// DefaultHelloMaxHeaderBytes is far above any probe's request; more
	// (net/http allows 4 KiB of slack) is answered with 431.
	DefaultHelloMaxHeaderBytes = 8 << 10
	// DefaultHelloMaxConns caps the connections served at once, so that a
	// flood costs at most this many goroutines and buffers (about 10 KiB
	// each); further connections wait in the kernel's accept queue until
	// ReadHeaderTimeout frees a slot. Legitimate load is one short request
	// per peer and path per probe interval, far below it.
	DefaultHelloMaxConns = 1024
)

// helloBody is small on purpose: the probe measures the path, not the payload.
var helloBody = []byte("hello\n")

// HelloHandler answers GET /hello with 200 and 404 elsewhere.
func HelloHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+HelloPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(helloBody)
	})
	return mux
}

// HelloOptions tunes a /hello server. Zero fields take the Default* values;
// tests shorten the timeouts.
type HelloOptions struct {
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	MaxHeaderBytes    int
	// ErrorLog receives net/http's own errors (e.g. accept failures); nil
	// is the standard logger.
	ErrorLog *log.Logger
}

func (o HelloOptions) withDefaults() HelloOptions {
	if o.ReadHeaderTimeout <= 0 {
		o.ReadHeaderTimeout = DefaultHelloReadHeaderTimeout
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = DefaultHelloReadTimeout
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultHelloWriteTimeout
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = DefaultHelloMaxHeaderBytes
	}
	return o
}

// NewHelloServer returns a /hello server with the default options.
func NewHelloServer() *http.Server { return NewHelloServerWith(HelloOptions{}) }

// NewHelloServerWith returns a /hello server whose timeouts and header limit
// keep slow or hostile clients from holding it: a monitor must stay up.
func NewHelloServerWith(o HelloOptions) *http.Server {
	o = o.withDefaults()
	srv := &http.Server{
		Handler:           HelloHandler(),
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

// ServeHello serves /hello on ln until the server is shut down. Unless ln
// already comes from LimitListener, it is capped at DefaultHelloMaxConns.
func ServeHello(srv *http.Server, ln net.Listener) error {
	if _, ok := ln.(*limitListener); !ok {
		ln = LimitListener(ln, DefaultHelloMaxConns)
	}
	err := srv.Serve(ln)
	if err == http.ErrServerClosed {
		return nil
	}
	return err
}

// LimitListener returns a listener that has at most n connections open at
// once: Accept waits for a slot, so excess clients queue in the kernel and
// cost the process nothing. n < 1 means no cap (but ServeHello then adds
// none either). Unlike golang.org/x/net/netutil's, its connections keep
// CloseWrite, which net/http uses to deliver an error answer such as 431
// before closing instead of resetting the connection.
func LimitListener(ln net.Listener, n int) net.Listener {
	l := &limitListener{Listener: ln, done: make(chan struct{})}
	if n >= 1 {
		l.sem = make(chan struct{}, n)
	}
	return l
}

type limitListener struct {
	net.Listener
	sem       chan struct{} // nil: no cap
	done      chan struct{} // closed by Close
	closeOnce sync.Once
}

func (l *limitListener) Accept() (net.Conn, error) {
	if l.sem != nil {
		select {
		case l.sem <- struct{}{}:
		case <-l.done:
			return nil, &net.OpError{Op: "accept", Net: l.Addr().Network(), Addr: l.Addr(), Err: net.ErrClosed}
		}
	}
	c, err := l.Listener.Accept()
	if err != nil {
		l.release()
		return nil, err
	}
	return &limitedConn{Conn: c, release: l.release}, nil
}

func (l *limitListener) release() {
	if l.sem != nil {
		<-l.sem
	}
}

func (l *limitListener) Close() error {
	err := l.Listener.Close()
	l.closeOnce.Do(func() { close(l.done) })
	return err
}

// limitedConn gives its slot back on the first Close.
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}
