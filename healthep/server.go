package healthep

import (
	"context"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/vishvananda/netns"

	"github.com/connectivity-exporter/connectivity_exporter/hello"
)

// helloServer is the /hello responder living in the health netns. The process
// stays in the daemon's netns: only the listening socket belongs to the
// health netns, and everything accepted from it does too.
type helloServer struct {
	srv  *http.Server
	done chan error // receives hello.Serve's result once it returns
}

// listenInNetns binds ip:port with a socket created inside ns.
func listenInNetns(ns netns.NsHandle, ip netip.Addr, port int) (net.Listener, error) {
	addr := net.JoinHostPort(ip.String(), strconv.Itoa(port))
	var ln net.Listener
	err := inNetns(ns, func() error {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err
	})
	if err != nil {
		if ln != nil {
			_ = ln.Close()
		}
		return nil, fmt.Errorf("listen on %s in health netns: %w", addr, err)
	}
	return ln, nil
}

// startHelloServer serves /hello on ip:port inside ns from a goroutine.
// net/http's own errors go to logger at debug level: one line per scanner
// connection must not flood the log.
func startHelloServer(ns netns.NsHandle, ip netip.Addr, port int, logger log.Logger) (*helloServer, error) {
	ln, err := listenInNetns(ns, ip, port)
	if err != nil {
		return nil, err
	}
	errLog := stdlog.New(log.NewStdlibAdapter(level.Debug(logger)), "", 0)
	s := &helloServer{srv: hello.NewServer(hello.Options{ErrorLog: errLog}), done: make(chan error, 1)}
	go func() { s.done <- hello.Serve(s.srv, ln) }()
	return s, nil
}

// stop closes the listener and drains connections for at most grace.
func (s *helloServer) stop(grace time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		_ = s.srv.Close()
	}
	return <-s.done
}

// exited reports why serving stopped, or nil while it still runs.
func (s *helloServer) exited() error {
	select {
	case err := <-s.done:
		s.done <- err // keep it for stop
		if err == nil {
			err = http.ErrServerClosed
		}
		return fmt.Errorf("hello server stopped: %w", err)
	default:
		return nil
	}
}
