package cluster

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"time"

	"github.com/vishvananda/netns"
)

// dialIn opens a connection from inside the network namespace at nsPath: a
// socket belongs to the namespace it was made in, whatever thread uses it
// later, so only the dial runs on a thread moved into nsPath.
func dialIn(ctx context.Context, nsPath, network, addr string) (net.Conn, error) {
	type result struct {
		conn net.Conn
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		// The thread is never returned to the runtime's pool (no
		// UnlockOSThread): it dies with this goroutine, so no other
		// goroutine ever runs in the wrong namespace.
		runtime.LockOSThread()
		target, err := netns.GetFromPath(nsPath)
		if err != nil {
			ch <- result{err: fmt.Errorf("namespace %s: %w", nsPath, err)}
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			ch <- result{err: fmt.Errorf("enter %s: %w", nsPath, err)}
			return
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, network, addr)
		ch <- result{conn, err}
	}()
	r := <-ch
	return r.conn, r.err
}

// listenIn opens a listener inside the network namespace at nsPath (see
// dialIn): a server of the test process that daemons there can reach.
func listenIn(nsPath, network, addr string) (net.Listener, error) {
	type result struct {
		ln  net.Listener
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: see dialIn
		target, err := netns.GetFromPath(nsPath)
		if err != nil {
			ch <- result{err: fmt.Errorf("namespace %s: %w", nsPath, err)}
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			ch <- result{err: fmt.Errorf("enter %s: %w", nsPath, err)}
			return
		}
		ln, err := net.Listen(network, addr)
		ch <- result{ln, err}
	}()
	r := <-ch
	return r.ln, r.err
}

// HTTPClient is an HTTP client whose connections start in node's network
// namespace (the node's host network): what a process on that node, or a
// hostNetwork pod there, reaches.
func (c *Cluster) HTTPClient(node string) *http.Client {
	return httpClientIn(c.NodeNS(node))
}

// httpClientIn is an HTTP client whose connections start in the network
// namespace at nsPath.
func httpClientIn(nsPath string) *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				return dialIn(ctx, nsPath, network, addr)
			},
			DisableKeepAlives: true,
		},
	}
}
