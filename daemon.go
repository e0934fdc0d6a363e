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
	"strings"
	"syscall"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/version"
	"golang.org/x/sync/errgroup"
	"kernel.org/pub/linux/libs/security/libcap/cap"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
	"github.com/connectivity-exporter/connectivity_exporter/collector"
	"github.com/connectivity-exporter/connectivity_exporter/healthep"
	"github.com/connectivity-exporter/connectivity_exporter/hello"
	"github.com/connectivity-exporter/connectivity_exporter/nodes"
	"github.com/connectivity-exporter/connectivity_exporter/plan"
	"github.com/connectivity-exporter/connectivity_exporter/privileges"
	"github.com/connectivity-exporter/connectivity_exporter/prober"
)

// shutdownGrace bounds how long servers may take to finish on SIGTERM.
const shutdownGrace = 5 * time.Second

// daemonDeps are the parts of the daemon that act on the whole process or
// the network beyond its own sockets; the composition test replaces them.
type daemonDeps struct {
	// probes returns the probe of each protocol and what closes them.
	probes func(f *daemonFlags) (map[prober.Protocol]prober.ProbeFunc, func(), error)
	// fullSize returns the full-size probe and what closes it; nil for
	// none.
	fullSize func(f *daemonFlags) (prober.FullSizeFunc, func(), error)
	// dropPrivileges keeps only the capabilities given.
	dropPrivileges func(keep ...cap.Value) (privileges.Result, error)
}

func realDaemonDeps() daemonDeps {
	return daemonDeps{probes: (*daemonFlags).probes, fullSize: (*daemonFlags).fullSizeProbe, dropPrivileges: privileges.Drop}
}

func (d *daemonCommand) run(logger log.Logger) int {
	if err := d.flags.validate(); err != nil {
		fmt.Fprintf(os.Stderr, "%s: error: %v\n", appName, err)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := d.serve(ctx, logger, realDaemonDeps()); err != nil {
		level.Error(logger).Log("msg", "exporter failed", "err", err)
		return exitFailure
	}
	level.Info(logger).Log("msg", "stopped")
	return exitOK
}

// serve starts every part of the daemon and returns when ctx ends or a part
// fails. The plan keeper owns the node list and what is probed of it; every
// other part reads it.
func (d *daemonCommand) serve(ctx context.Context, logger log.Logger, deps daemonDeps) error {
	f := &d.flags
	level.Info(logger).Log("msg", "starting "+appName, "version", version.Info(), "node", f.nodeName)

	source, closeSource, err := d.nodeSource(ctx, logger)
	if err != nil {
		return err
	}
	defer closeSource()
	first, err := plan.Load(ctx, f.planConfig(), source, plan.DefaultLoadTimeout)
	if err != nil {
		return err
	}
	healthIPs := d.healthEndpointIPs(first)
	reg := newRegistry()
	store := prober.NewStore(f.failureThreshold)
	sourceZone := first.LocalNode().Zone
	metrics, err := collector.New(reg, f.collectorOptions(len(healthIPs) > 0 || f.healthPod(), sourceZone), store, buildInfo())
	if err != nil {
		return err
	}
	keeper := plan.NewKeeper(first, metrics, log.With(logger, "component", "discovery"))
	followZones(keeper, metrics, sourceZone, log.With(logger, "component", "discovery"))
	followFamilies(keeper, metrics)

	// Listen before anything runs, so that a busy port or a live admin
	// socket of another daemon is a clear start error.
	helloLn, adminLn, err := f.listen()
	if err != nil {
		return err
	}
	if err := d.dropPrivileges(deps, len(healthIPs) > 0, logger); err != nil {
		helloLn.Close()
		adminLn.Close()
		return err
	}

	g, ctx := errgroup.WithContext(ctx)
	serveHTTP(ctx, g, hello.NewServer(hello.Options{}), func(s *http.Server) error { return hello.Serve(s, helloLn) })
	serveHTTP(ctx, g, newWebServer(reg, f, logger), func(s *http.Server) error { return serveWeb(s, f, logger) })
	ctrl, err := d.startHealthEndpoint(ctx, g, healthIPs, keeper, store, metrics, logger)
	if err != nil {
		return err
	}
	sched, err := d.startProbing(ctx, g, deps, keeper, source, store, metrics, logger)
	if err != nil {
		return err
	}
	adminSrv := admin.NewServer(newAdminBackend(f, keeper, store, sched, ctrl), log.With(logger, "component", "admin"))
	adminSrv.BaseContext = func(net.Listener) context.Context { return ctx } // SIGTERM also ends a running --probe
	serveHTTP(ctx, g, adminSrv, func(s *http.Server) error { return s.Serve(adminLn) })

	level.Info(logger).Log("msg", "running", "hello", f.helloAddress, "nodes", first.Len(), "probed", first.Probed(), "health_ip", joinAddrs(healthIPs), "passive", f.passive)
	if err := g.Wait(); !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// nodeSource is the node list's source (the file, Kubernetes, or nil for a
// passive daemon without either) and what stops it.
func (d *daemonCommand) nodeSource(ctx context.Context, logger log.Logger) (nodes.Source, func(), error) {
	f := &d.flags
	switch {
	case f.nodesFile != "":
		return nodes.NewFileSource(f.nodesFile, f.nodesFilePoll), func() {}, nil
	case f.nodesKubernetes:
		ks, err := d.kubernetesSource(logger)
		if err != nil {
			return nil, nil, err
		}
		return ks, func() { ks.Close() }, nil // Watch closes it too; this covers an early return
	}
	return nil, func() {}, nil
}

func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

func buildInfo() collector.BuildInfo {
	return collector.CurrentBuildInfo()
}

// dropPrivileges keeps only the capabilities running needs: what needed
// root at start is done.
func (d *daemonCommand) dropPrivileges(deps daemonDeps, healthEndpoint bool, logger log.Logger) error {
	f := &d.flags
	dropped, err := deps.dropPrivileges(privileges.Needs{
		HealthEndpoint: healthEndpoint,
		RawICMP:        !f.passive && f.icmpPrivileged,
		// exporter-toolkit binds the web listener in its goroutine, and the
		// health endpoint's /hello is bound again at every rebuild.
		LowPort: privileges.AnyLowPort(append([]string{f.helloAddress}, *f.web.WebListenAddresses...)...),
	}.Caps()...)
	if err != nil {
		return fmt.Errorf("dropping capabilities: %w", err)
	}
	level.Info(logger).Log("msg", "capabilities dropped", "result", dropped)
	if len(dropped.Missing) > 0 {
		level.Warn(logger).Log("msg", "capabilities this daemon needs are missing; what needs them will fail", "missing", fmt.Sprint(dropped.Missing))
	}
	return nil
}

// startHealthEndpoint keeps this node's health endpoint watched: the health
// namespace it builds when there is a health IP (ips: one, or one of each
// family, IPv4 first), whose controller it returns; or, on Kubernetes, the
// node's health pod, read from this node's own endpoint paths. nil when
// there is no namespace to keep.
func (d *daemonCommand) startHealthEndpoint(ctx context.Context, g *errgroup.Group, ips []netip.Addr, keeper *plan.Keeper, store *prober.Store, metrics *collector.Metrics, logger log.Logger) (*healthep.Controller, error) {
	f := &d.flags
	if len(ips) == 0 {
		if f.healthPod() {
			pods := &healthPodCheck{started: time.Now(), grace: f.healthPodGrace, report: metrics.SetHealthEndpointUp}
			g.Go(func() error { pods.run(ctx, keeper, store, f.healthCheck); return nil })
		}
		return nil, nil
	}
	cfg := healthep.Config{
		IP: ips[0], Netns: f.healthNetns, HostInterface: f.healthInterface,
		HelloPort: f.helloPort, CheckInterval: f.healthCheck, CheckTimeout: f.probeTimeout,
	}
	if len(ips) > 1 {
		cfg.DualStackIP = ips[1]
	}
	ctrl, err := healthep.NewController(cfg, metrics, log.With(logger, "component", "healthep"))
	if err != nil {
		return nil, err
	}
	g.Go(func() error { return ctrl.Run(ctx) })
	return ctrl, nil
}

// startProbing runs the scheduler on the keeper's targets and keeps the
// keeper fed from source; nil for a passive daemon.
func (d *daemonCommand) startProbing(ctx context.Context, g *errgroup.Group, deps daemonDeps, keeper *plan.Keeper, source nodes.Source, store *prober.Store, metrics *collector.Metrics, logger log.Logger) (*prober.Scheduler, error) {
	f := &d.flags
	if f.passive {
		return nil, nil
	}
	probes, closeProbes, err := deps.probes(f)
	if err != nil {
		return nil, err
	}
	fullSize, closeFullSize, err := d.fullSizeProbe(deps)
	if err != nil {
		closeProbes()
		return nil, err
	}
	sched, err := prober.NewScheduler(prober.Config{
		Interval: f.probeInterval, Timeout: f.probeTimeout, MaxInFlight: f.maxInFlight,
		FullSize: fullSize, FullSizeEvery: f.fullSizeEvery(),
	}, probes, store, metrics, log.With(logger, "component", "prober"))
	if err != nil {
		closeProbes()
		closeFullSize()
		return nil, err
	}
	keeper.OnChange(func(p *plan.Plan) { sched.SetTargets(p.Targets()) })
	g.Go(func() error { keeper.Watch(ctx, source); return nil })
	g.Go(func() error {
		sched.Run(ctx) // returns once the probes in flight have ended
		closeProbes()
		closeFullSize()
		return nil
	})
	return sched, nil
}

// serveHTTP serves srv in g and shuts it down gracefully once ctx ends.
func serveHTTP(ctx context.Context, g *errgroup.Group, srv *http.Server, serve func(*http.Server) error) {
	g.Go(func() error {
		if err := serve(srv); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		_ = srv.Shutdown(sctx)
		return nil
	})
}

// healthEndpointIPs are the IPs of the health namespace to build (one, or
// one of each family, IPv4 first): --healthep.ip, else the local node's
// health_ip or health_ips of a node file, else none. On Kubernetes the
// local node's health IP is its health pod's, which the cluster made.
func (d *daemonCommand) healthEndpointIPs(p *plan.Plan) []netip.Addr {
	switch {
	case d.flags.healthAddr.IsValid():
		return (nodes.Node{HealthIP: d.flags.healthAddr, DualStackHealthIP: d.flags.healthDualAddr}).HealthIPs()
	case d.flags.nodesKubernetes:
		return nil
	}
	return p.LocalNode().HealthIPs()
}

// joinAddrs is ips for a log line: "198.19.0.1,2001:db8::1".
func joinAddrs(ips []netip.Addr) string {
	texts := make([]string, len(ips))
	for i, ip := range ips {
		texts[i] = ip.String()
	}
	return strings.Join(texts, ",")
}
