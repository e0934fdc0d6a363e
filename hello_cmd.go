package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/common/version"

	"github.com/connectivity-exporter/connectivity_exporter/daemon"
	"github.com/connectivity-exporter/connectivity_exporter/exitcode"
	"github.com/connectivity-exporter/connectivity_exporter/hello"
	"github.com/connectivity-exporter/connectivity_exporter/privileges"
)

// helloCommand serves /hello and nothing else: the health endpoint as a pod
// of its own (on Kubernetes, a pod on the cluster's pod network), which
// needs no capability, no node list and no writable file.
type helloCommand struct {
	cmd     *kingpin.CmdClause
	address string
}

func addHelloCommand(app *kingpin.Application) *helloCommand {
	h := &helloCommand{}
	h.cmd = app.Command("hello", "Serve only the /hello responder, as an unprivileged health endpoint (e.g. a pod on Kubernetes): no probing, no node list, no capabilities.")
	h.cmd.Flag("hello.listen-address", "Address of the /hello responder; its port must be the one the daemons probe (the port of their --hello.listen-address).").
		Default(defaultHelloAddress()).StringVar(&h.address)
	return h
}

// run serves until SIGTERM or SIGINT and returns the exit code.
func (h *helloCommand) run(logger log.Logger) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return runHello(ctx, os.Stderr, logger, h.address, dropAllCapabilities)
}

// dropAllCapabilities keeps no capability: once /hello is bound, nothing
// the command does needs one.
func dropAllCapabilities() (privileges.Result, error) { return privileges.Drop() }

// runHello serves /hello on address until ctx ends and returns the exit
// code: exitcode.Usage for an address that does not parse (said on stderr),
// exitcode.Failure when it cannot listen or serve (logged).
func runHello(ctx context.Context, stderr io.Writer, logger log.Logger, address string, dropCaps func() (privileges.Result, error)) int {
	if _, err := helloListenPort(address); err != nil {
		fmt.Fprintf(stderr, "%s: error: %v\n", appName, err)
		return exitcode.Usage
	}
	if err := serveHelloOnly(ctx, logger, address, dropCaps); err != nil {
		level.Error(logger).Log("msg", "hello responder failed", "err", err)
		return exitcode.Failure
	}
	level.Info(logger).Log("msg", "stopped")
	return exitcode.OK
}

func serveHelloOnly(ctx context.Context, logger log.Logger, address string, dropCaps func() (privileges.Result, error)) error {
	// Bind first: a port below 1024 needs CAP_NET_BIND_SERVICE, but only
	// to bind.
	ln, err := net.Listen("tcp", address)
	if err != nil {
		return fmt.Errorf("--hello.listen-address: %w", err)
	}
	dropped, err := dropCaps()
	if err != nil {
		ln.Close()
		return fmt.Errorf("dropping capabilities: %w", err)
	}
	// net/http's own errors at debug level: one line per scanner
	// connection must not flood the log.
	srv := hello.NewServer(hello.Options{ErrorLog: daemon.HTTPErrorLog(logger)})
	level.Info(logger).Log("msg", "serving "+hello.Path+" only", "address", ln.Addr(), "version", version.Info(), "capabilities", dropped)

	served := make(chan error, 1)
	go func() { served <- hello.Serve(srv, ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serving %s: %w", hello.Path, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), daemon.ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close() // a client still holds on after the grace period
	}
	return <-served
}
