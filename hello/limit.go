package hello

import (
	"errors"
	"net"
	"sync"
)

// LimitListener returns a listener that has at most n connections open at
// once: Accept waits for a slot, so excess clients queue in the kernel and
// cost the process nothing. n < 1 means no cap (but Serve then adds
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
