package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/go-kit/log"
	"kernel.org/pub/linux/libs/security/libcap/cap"

	"github.com/connectivity-exporter/connectivity_exporter/privileges"
	"github.com/connectivity-exporter/connectivity_exporter/prober"
	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// A part that fails to start (here the probes) makes Serve return its error
// with every server and listener started before it closed: the /hello and
// metrics ports are free again, the admin socket does not answer.
func TestServeStopsWhatItStartedWhenAPartFails(t *testing.T) {
	td := &testDaemon{socket: t.TempDir() + "/admin.sock", nodesFile: t.TempDir() + "/nodes.yaml", net: &fakeNetwork{}}
	td.writeNodes(t, "nodes:\n  - {name: node-1, host_ip: 198.18.0.1}\n  - {name: node-2, host_ip: 198.18.0.2}\n") // no health endpoint to build
	helloPort, webPort := testbin.FreeLoopbackPort(t), testbin.FreeLoopbackPort(t)
	cfg := testConfig(td, helloPort, webPort)
	noICMP := errors.New("no ICMP socket")
	deps := Deps{
		Probes: func(*Config) (map[prober.Protocol]prober.ProbeFunc, func(), error) {
			return nil, nil, noICMP
		},
		DropPrivileges: func(...cap.Value) (privileges.Result, error) { return privileges.Result{}, nil },
	}
	err := Serve(context.Background(), cfg, log.NewNopLogger(), deps)
	if !errors.Is(err, noICMP) {
		t.Fatalf("Serve = %v, want %v", err, noICMP)
	}
	for _, port := range []int{helloPort, webPort} {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Errorf("port %d still taken after Serve returned: %v", port, err)
			continue
		}
		ln.Close()
	}
	if c, err := net.Dial("unix", td.socket); err == nil {
		c.Close()
		t.Error("the admin socket still answers after Serve returned")
	}
}

// The host /hello server logs net/http's own errors through the daemon's
// logger, at debug level, as the other listeners do.
func TestHelloServerLogsThroughTheLogger(t *testing.T) {
	var logged bytes.Buffer
	srv := newHelloServer(log.NewLogfmtLogger(&logged))
	if srv.ErrorLog == nil {
		t.Fatal("the /hello server has no ErrorLog: net/http writes its errors to stderr")
	}
	srv.ErrorLog.Print("http: TLS handshake error from 198.18.0.9:1234: EOF")
	got := logged.String()
	for _, want := range []string{"level=debug", "component=hello", "TLS handshake error"} {
		if !strings.Contains(got, want) {
			t.Errorf("logged %q, want it to contain %q", got, want)
		}
	}
}
