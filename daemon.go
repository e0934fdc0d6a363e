package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/version"
	"golang.org/x/sync/errgroup"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
	"github.com/connectivity-exporter/connectivity_exporter/collector"
	"github.com/connectivity-exporter/connectivity_exporter/healthep"
	"github.com/connectivity-exporter/connectivity_exporter/nodes"
	"github.com/connectivity-exporter/connectivity_exporter/privileges"
	"github.com/connectivity-exporter/connectivity_exporter/prober"
)

const (
	// shutdownGrace bounds how long servers may take to finish on SIGTERM.
	shutdownGrace = 5 * time.Second
	// nodesLoadTimeout bounds the first node list (the API server may be away).
	nodesLoadTimeout = time.Minute
)

func (d *daemonCommand) run(logger log.Logger) int {
	f := &d.flags
	if err := f.validate(); err != nil {
		fmt.Fprintf(os.Stderr, "%s: error: %v\n", appName, err)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := d.serve(ctx, logger); err != nil {
		level.Error(logger).Log("msg", "exporter failed", "err", err)
		return exitFailure
	}
	level.Info(logger).Log("msg", "stopped")
	return exitOK
}

// serve starts every part of the daemon and returns when ctx ends or a part fails.
func (d *daemonCommand) serve(ctx context.Context, logger log.Logger) error {
	f := &d.flags
	level.Info(logger).Log("msg", "starting "+appName, "version", version.Info(), "node", f.nodeName)

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	var (
		list   []nodes.Node
		source nodes.Source
		err    error
	)
	switch {
	case f.nodesFile != "":
		source = nodes.NewFileSource(f.nodesFile, f.nodesFilePoll)
	case f.nodesKubernetes:
		ks, err := d.kubernetesSource(logger)
		if err != nil {
			return err
		}
		defer ks.Close() // Watch closes it too; this covers an early return
		source = ks
	}
	if source != nil {
		// Bounded, so that an unreachable API server is a start error
		// (exit 1, restarted by the kubelet) rather than a silent hang.
		loadCtx, cancel := context.WithTimeout(ctx, nodesLoadTimeout)
		list, err = source.Load(loadCtx)
		cancel()
		if err != nil {
			return err
		}
		if err := checkLocal(list, f.nodeName); err != nil {
			return err
		}
	}
	healthIP := d.healthEndpointIP(list)
	probing := !f.passive && source != nil
	store := prober.NewStore(f.failureThreshold)
	metrics, err := collector.New(reg, f.collectorOptions(healthIP.IsValid()), store, collector.BuildInfo{
		Version: version.Version, Revision: version.GetRevision(), GoVersion: version.GoVersion,
	})
	if err != nil {
		return err
	}

	// Listen before anything runs, so that a busy port or a live admin
	// socket of another daemon is a clear start error.
	helloLn, err := net.Listen("tcp", f.helloAddress)
	if err != nil {
		return fmt.Errorf("--hello.listen-address: %w", err)
	}
	adminLn, err := admin.Listen(f.adminSocket)
	if err != nil {
		helloLn.Close()
		return fmt.Errorf("--admin.socket: %w", err)
	}
	var current atomic.Pointer[[]nodes.Node]
	current.Store(&list)

	// What needed root at start is done; keep only what running needs.
	dropped, err := privileges.Drop(privileges.Needs{
		HealthEndpoint: healthIP.IsValid(),
		RawICMP:        probing && f.icmpPrivileged,
		// exporter-toolkit binds the web listener in its goroutine, and the
		// health endpoint's /hello is bound again at every rebuild.
		LowPort: privileges.AnyLowPort(append([]string{f.helloAddress}, *f.web.WebListenAddresses...)...),
	}.Caps()...)
	if err != nil {
		helloLn.Close()
		adminLn.Close()
		return fmt.Errorf("dropping capabilities: %w", err)
	}
	level.Info(logger).Log("msg", "capabilities dropped", "result", dropped)
	if len(dropped.Missing) > 0 {
		level.Warn(logger).Log("msg", "capabilities this daemon needs are missing; what needs them will fail", "missing", fmt.Sprint(dropped.Missing))
	}

	g, ctx := errgroup.WithContext(ctx)
	hello := healthep.NewHelloServer()
	g.Go(func() error { return healthep.ServeHello(hello, helloLn) })
	g.Go(func() error { return shutdownOnDone(ctx, hello) })

	webSrv := newWebServer(reg, f, logger)
	g.Go(func() error { return serveWeb(webSrv, f, logger) })
	g.Go(func() error { return shutdownOnDone(ctx, webSrv) })

	var ctrl *healthep.Controller
	if healthIP.IsValid() {
		ctrl, err = healthep.NewController(healthep.Config{
			IP: healthIP, Netns: f.healthNetns, HostInterface: f.healthInterface,
			HelloPort: f.helloPort, CheckInterval: f.healthCheck, CheckTimeout: f.probeTimeout,
		}, metrics, log.With(logger, "component", "healthep"))
		if err != nil {
			return err
		}
		g.Go(func() error { return ctrl.Run(ctx) })
	}

	var sched *prober.Scheduler
	if probing {
		icmpProbe, closeICMP, err := f.icmpProbe()
		if err != nil {
			return err
		}
		defer closeICMP()
		sched, err = prober.NewScheduler(prober.Config{
			Interval: f.probeInterval, Timeout: f.probeTimeout, MaxInFlight: f.maxInFlight,
		}, map[prober.Protocol]prober.ProbeFunc{
			prober.ProtocolICMP: icmpProbe,
			prober.ProtocolHTTP: prober.NewHTTPProbe(prober.HTTPConfig{Port: f.helloPort, Path: healthep.HelloPath, NetHTTP: f.httpClient == "net-http"}),
		}, store, metrics, log.With(logger, "component", "prober"))
		if err != nil {
			return err
		}
		apply := func(l []nodes.Node) {
			current.Store(&l)
			metrics.SetNodes(len(l))
			metrics.SetDiscoveryRejected(false)
			sched.SetTargets(prober.TargetsFor(prober.SelectPeers(f.nodeName, l, f.probePeers)))
		}
		apply(list)
		discLogger := log.With(logger, "component", "discovery")
		g.Go(func() error {
			source.Watch(ctx, func(l []nodes.Node) {
				if err := checkLocal(l, f.nodeName); err != nil {
					metrics.DiscoveryError()
					metrics.SetDiscoveryRejected(true)
					level.Error(discLogger).Log("msg", "new node list rejected, keeping the last good one", "err", err)
					return
				}
				level.Info(discLogger).Log("msg", "node list changed", "nodes", len(l))
				apply(l)
			}, func(err error) {
				metrics.DiscoveryError()
				// A watch error is retried by the source, and no new list
				// would clear the mark: only a rejected list sets it.
				if !nodes.IsTransient(err) {
					metrics.SetDiscoveryRejected(true)
				}
				level.Error(discLogger).Log("msg", "node list could not be loaded, keeping the last good one", "err", err)
			})
			return nil
		})
		g.Go(func() error { sched.Run(ctx); return nil })
	}

	adminSrv := admin.NewServer(newAdminBackend(f, &current, store, sched, ctrl), log.With(logger, "component", "admin"))
	adminSrv.BaseContext = func(net.Listener) context.Context { return ctx } // SIGTERM also ends a running --probe
	g.Go(func() error {
		if err := adminSrv.Serve(adminLn); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error { return shutdownOnDone(ctx, adminSrv) })

	level.Info(logger).Log("msg", "running", "hello", f.helloAddress, "nodes", len(list), "health_ip", healthIP, "passive", f.passive)
	err = g.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// checkLocal makes sure this node is in the list: it is probed like any peer,
// and a list without it is most likely the wrong file.
func checkLocal(list []nodes.Node, name string) error {
	if _, ok := nodes.Find(list, name); !ok {
		return fmt.Errorf("this node %q (--node.name) is not in the node list", name)
	}
	return nil
}

// healthEndpointIP is the IP of the health namespace to build: --healthep.ip,
// else the local node's health_ip from a node file, else none. On Kubernetes
// the local node's health IP is its health pod's (or the annotation's), which
// something else serves.
func (d *daemonCommand) healthEndpointIP(list []nodes.Node) netip.Addr {
	if d.flags.healthAddr.IsValid() || d.flags.nodesKubernetes {
		return d.flags.healthAddr
	}
	n, _ := nodes.Find(list, d.flags.nodeName) // the zero Node, without health IP, if absent
	return n.HealthIP
}

// shutdownOnDone stops srv gracefully once ctx ends.
func shutdownOnDone(ctx context.Context, srv *http.Server) error {
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	_ = srv.Shutdown(sctx)
	return nil
}
