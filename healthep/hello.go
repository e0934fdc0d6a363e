package healthep

import (
	"net"
	"net/http"
	"time"
)

// HelloPath is what peers GET to learn that this node's exporter (or its
// health endpoint) is there.
const HelloPath = "/hello"

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

// NewHelloServer returns a /hello server whose timeouts and header limit keep
// slow or hostile clients from holding it: a monitor must stay up.
func NewHelloServer() *http.Server {
	return &http.Server{
		Handler:           HelloHandler(),
		ReadHeaderTimeout: 2 * time.Second,
		ReadTimeout:       5 * time.Second,
		WriteTimeout:      5 * time.Second,
		IdleTimeout:       30 * time.Second,
		MaxHeaderBytes:    8 << 10,
	}
}

// ServeHello serves /hello on ln until the server is shut down.
func ServeHello(srv *http.Server, ln net.Listener) error {
	err := srv.Serve(ln)
	if err == http.ErrServerClosed {
		return nil
	}
	return err
}
