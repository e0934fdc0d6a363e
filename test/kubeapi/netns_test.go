package kubeapi

import (
	"io"
	"net"
	"sync"
	"testing"

	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// forwardInto listens on addr inside the named network namespace and
// forwards every connection to target, dialled from the test's own
// namespace: how a lab "node" reaches the API server, which listens on the
// test's loopback.
func forwardInto(t *testing.T, name, addr, target string) {
	t.Helper()
	var ln net.Listener
	if err := testbin.InNetns(name, func() error {
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
