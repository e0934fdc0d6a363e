package kubeapi

import (
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/vishvananda/netns"
)

// sh runs a command of the lab (ip, in the test's own network namespace).
func sh(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// addNetns creates a network namespace with its loopback up, deleted when
// the test ends.
func addNetns(t *testing.T, name string) {
	t.Helper()
	_ = exec.Command("ip", "netns", "delete", name).Run() // leftover of an aborted run
	sh(t, "ip", "netns", "add", name)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "delete", name).Run() })
	sh(t, "ip", "-n", name, "link", "set", "lo", "up")
}

// inNetns runs f on an OS thread that is in the named network namespace;
// sockets f creates stay in that namespace.
func inNetns(name string, f func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	target, err := netns.GetFromName(name)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns %s: %w", name, err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("entering netns %s: %w", name, err)
	}
	ferr := f()
	if err := netns.Set(orig); err != nil {
		// Leave the thread locked: Go ends it with the goroutine, so no
		// other goroutine runs in the wrong namespace.
		return fmt.Errorf("leaving netns %s: %w", name, err)
	}
	runtime.UnlockOSThread()
	return ferr
}

// dialIn dials addr from inside the named network namespace.
func dialIn(ctx context.Context, name, addr string) (net.Conn, error) {
	var conn net.Conn
	err := inNetns(name, func() error {
		var err error
		conn, err = (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		return err
	})
	return conn, err
}

// forwardInto listens on addr inside the named network namespace and
// forwards every connection to target, dialled from the test's own
// namespace: how a lab "node" reaches the API server, which listens on the
// test's loopback.
func forwardInto(t *testing.T, name, addr, target string) {
	t.Helper()
	var ln net.Listener
	if err := inNetns(name, func() error {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer in.Close()
				out, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer out.Close()
				// Whichever side ends first ends both: a watch stream
				// from the API server never ends by itself.
				done := make(chan struct{})
				go func() { _, _ = io.Copy(out, in); in.Close(); out.Close(); close(done) }()
				_, _ = io.Copy(in, out)
				in.Close()
				out.Close()
				<-done
			})
		}
	})
}
