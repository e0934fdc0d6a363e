package daemon

import (
	stdlog "log"
	"net/http"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/connectivity-exporter/connectivity_exporter/hello"
)

// HTTPErrorLog is the ErrorLog of every HTTP server: net/http's own errors
// (TLS handshakes and garbage of scanners, accept failures) at debug level,
// through logger, not unthrottled on stderr.
func HTTPErrorLog(logger log.Logger) *stdlog.Logger {
	return stdlog.New(log.NewStdlibAdapter(level.Debug(logger)), "", 0)
}

// newHelloServer is the host /hello responder, logging as every listener.
func newHelloServer(logger log.Logger) *http.Server {
	return hello.NewServer(hello.Options{ErrorLog: HTTPErrorLog(log.With(logger, "component", "hello"))})
}
