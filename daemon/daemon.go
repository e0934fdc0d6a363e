package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
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

// ShutdownGrace bounds how long servers may take to finish on SIGTERM.
const ShutdownGrace = 5 * time.Second

// Deps are the parts of the daemon that act on the whole process or the
// network beyond its own sockets; the composition test replaces them.
type Deps struct {
	// Probes returns the probe of each protocol and what closes them.
	Probes func(c *Config) (map[prober.Protocol]prober.ProbeFunc, func(), error)
	// MTUProbe returns the full-size probes and what closes them; nil (or
	// a nil Probe) for none.
	MTUProbe func(c *Config) (prober.FullSizeProbes, func(), error)
	// FlowProbes, if set, returns the probes of one flow of a path
	// (--probe.flows), after Probes; nil or none probes without flows.
	FlowProbes func(c *Config) map[prober.Protocol]prober.FlowProbeFunc
	// Tracers returns the tracer of the trace command and the one of
	// failing flows (newTracers); nil: the daemon does not trace (the
	// trace command is refused, failing flows are not traced).
	Tracers func(c *Config) (onDemand, automatic FlowTracer, err error)
	// DropPrivileges keeps only the capabilities given.
	DropPrivileges func(keep ...cap.Value) (privileges.Result, error)
	// NodeSource, when set, replaces the node file or the Kubernetes API
	// as the source of the node list (and what stops it); the daemon
	// waits for its first list as it does for the Kubernetes API.
	NodeSource func(c *Config) (nodes.Source, func(), error)
}

// RealDeps are the probes, full-size probes and capabilities of the process.
func RealDeps() Deps {
	parts := &probeParts{}
	return Deps{Probes: parts.newProbes, FlowProbes: parts.newFlowProbes, MTUProbe: newMTUProbe, Tracers: newTracers, DropPrivileges: privileges.Drop}
}

// daemon is one run of Serve.
type daemon struct {
	cfg    *Config
	deps   Deps
	logger log.Logger
}

// Serve starts every part of the daemon and returns when ctx ends or a part
// fails. The plan keeper owns the node list and what is probed of it; every
// other part reads it.
func Serve(ctx context.Context, cfg Config, logger log.Logger, deps Deps) error {
	d := &daemon{cfg: &cfg, deps: deps, logger: logger}
	return d.serve(ctx)
}

// serve starts the servers first (/hello, /metrics with /-/healthy and
// /-/ready, the admin socket), then the parts that need a node list
// (metrics of the paths, probing, the health endpoint) once the first
// list is in force. A node file is read at once, and a bad one is a start
// error; the Kubernetes API is waited for as long as it takes, so that an
// API server outage does not take the exporters (and with them every
// node's HTTP paths) down.
func (d *daemon) serve(ctx context.Context) error {
	f, logger := d.cfg, d.logger
	level.Info(logger).Log("msg", "starting "+Name, "version", version.Info(), "node", f.NodeName)

	source, closeSource, waits, err := d.source()
	if err != nil {
		return err
	}
	defer closeSource()
	reg := newRegistry()
	disc := collector.NewDiscovery(f.NodeName)
	reg.MustRegister(disc)
	reporter := &planReporter{disc: disc}
	discoveryLogger := log.With(logger, "component", "discovery")
	var keeper *plan.Keeper
	if waits {
		keeper = plan.NewWaitingKeeper(f.planConfig(), reporter, discoveryLogger)
	} else {
		first, err := plan.Load(ctx, f.planConfig(), source, plan.DefaultLoadTimeout)
		if err != nil {
			return err
		}
		keeper = plan.NewKeeper(first, reporter, discoveryLogger)
	}
	keeper.OnChange(func(p *plan.Plan) { disc.SetLeaving(p.Leaving()) })
	healthIPs := d.cfg.healthEndpointIPs(keeper.Current())
	store := prober.NewStore(f.FailureThreshold)
	var live liveParts
	webSrv, err := newWebServer(reg, f, logger, readiness(keeper, &live))
	if err != nil {
		return err
	}

	// Listen before anything runs, so that a busy port or a live admin
	// socket of another daemon is a clear start error.
	helloLn, adminLn, err := d.listen()
	if err != nil {
		return err
	}
	if err := d.dropPrivileges(len(healthIPs) > 0); err != nil {
		helloLn.Close()
		adminLn.Close()
		return err
	}

	// Every part runs in g: one that fails to start (startWithPlan)
	// ends g's context, which stops the servers started before it, and
	// g.Wait waits until they are closed, so that nothing outlives Serve.
	g, ctx := errgroup.WithContext(ctx)
	serveHTTP(ctx, g, newHelloServer(logger), func(s *http.Server) error { return hello.Serve(s, helloLn) })
	serveHTTP(ctx, g, webSrv, func(s *http.Server) error { return serveWeb(s, f, logger) })
	adminSrv := admin.NewServer(newAdminBackend(f, keeper, store, &live), log.With(logger, "component", "admin"))
	adminSrv.BaseContext = func(net.Listener) context.Context { return ctx } // SIGTERM also ends a running --probe
	serveHTTP(ctx, g, adminSrv, func(s *http.Server) error { return s.Serve(adminLn) })
	if source != nil {
		g.Go(func() error { keeper.Watch(ctx, source); return nil })
	}
	if keeper.Current() == nil {
		level.Info(logger).Log("msg", "serving; waiting for the first node list", "hello", f.HelloAddress)
	}
	g.Go(func() error {
		select {
		case <-keeper.Loaded():
		case <-ctx.Done():
			return nil
		}
		return d.startWithPlan(ctx, g, keeper, reg, reporter, store, healthIPs, &live)
	})
	if err := g.Wait(); !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// startWithPlan starts what needs the first node list: the path metrics
// (this node's zone is a label of every series), probing and the health
// endpoint.
func (d *daemon) startWithPlan(ctx context.Context, g *errgroup.Group, keeper *plan.Keeper, reg *prometheus.Registry, reporter *planReporter,
	store *prober.Store, healthIPs []netip.Addr, live *liveParts) error {
	f, logger := d.cfg, d.logger
	first := keeper.Current()
	sourceZone := first.LocalNode().Zone
	opts := f.collectorOptions(len(healthIPs) > 0 || f.UsesHealthPod(), sourceZone)
	opts.Discovery = reporter.disc
	metrics, err := collector.New(reg, opts, store, buildInfo())
	if err != nil {
		return err
	}
	reporter.attach(metrics, keeper) // before the scheduler gets targets: the families' and zones' series exist first
	warnOnOwnZoneChange(keeper, sourceZone, log.With(logger, "component", "discovery"))
	ctrl, err := d.startHealthEndpoint(ctx, g, healthIPs, keeper, store, metrics)
	if err != nil {
		return err
	}
	tr, err := d.startTracing(ctx, g, keeper, store, reg, opts.SourceLabels())
	if err != nil {
		return err
	}
	sched, err := d.startProbing(ctx, g, keeper, store, tr.observer(metrics), tr.onFlowFailing())
	if err != nil {
		return err
	}
	live.store(sched, ctrl, tr)
	level.Info(logger).Log("msg", "running", "hello", f.HelloAddress, "nodes", first.Len(), "probed", first.Probed(), "health_ip", nodes.JoinAddrs(healthIPs), "passive", f.Passive)
	return nil
}

// source is the node list's source, what stops it, and whether the
// daemon waits for its first list instead of reading it at start: a node
// file is read at once (a bad one is a start error), anything else (the
// Kubernetes API) may take its time. nil for a passive daemon without a
// list.
func (d *daemon) source() (nodes.Source, func(), bool, error) {
	if d.deps.NodeSource != nil {
		s, stop, err := d.deps.NodeSource(d.cfg)
		return s, stop, true, err
	}
	s, stop, err := d.nodeSource()
	return s, stop, d.cfg.Kubernetes, err
}

// nodeSource is the node list's source (the file, Kubernetes, or nil for a
// passive daemon without either) and what stops it.
func (d *daemon) nodeSource() (nodes.Source, func(), error) {
	f := d.cfg
	switch {
	case f.NodesFile != "":
		return nodes.NewFileSource(f.NodesFile, f.NodesFilePoll), func() {}, nil
	case f.Kubernetes:
		ks, err := d.kubernetesSource()
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
func (d *daemon) dropPrivileges(healthEndpoint bool) error {
	f := d.cfg
	dropped, err := d.deps.DropPrivileges(privileges.Needs{
		HealthEndpoint: healthEndpoint,
		RawICMP:        !f.Passive && f.ICMPPrivileged,
		// exporter-toolkit binds the web listener in its goroutine, and the
		// health endpoint's /hello is bound again at every rebuild.
		LowPort: privileges.AnyLowPort(append([]string{f.HelloAddress}, *f.Web.WebListenAddresses...)...),
	}.Caps()...)
	if err != nil {
		return fmt.Errorf("dropping capabilities: %w", err)
	}
	logger := d.logger
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
func (d *daemon) startHealthEndpoint(ctx context.Context, g *errgroup.Group, ips []netip.Addr, keeper *plan.Keeper, store *prober.Store, metrics *collector.Metrics) (*healthep.Controller, error) {
	f := d.cfg
	if len(ips) == 0 {
		if f.UsesHealthPod() {
			pods := &healthPodCheck{started: time.Now(), grace: f.HealthPodGrace, report: metrics.SetHealthEndpointUp}
			g.Go(func() error { pods.run(ctx, keeper, store, f.HealthCheckInterval); return nil })
		}
		return nil, nil
	}
	cfg := healthep.Config{
		IP: ips[0], Netns: f.HealthNetns, HostInterface: f.HealthInterface,
		HelloPort: f.HelloPort, CheckInterval: f.HealthCheckInterval, CheckTimeout: f.ProbeTimeout,
	}
	if len(ips) > 1 {
		cfg.DualStackIP = ips[1]
	}
	ctrl, err := healthep.NewController(cfg, metrics, log.With(d.logger, "component", "healthep"))
	if err != nil {
		return nil, err
	}
	g.Go(func() error { return ctrl.Run(ctx) })
	return ctrl, nil
}

// startProbing runs the scheduler on the keeper's targets, telling obs of
// every probe and onFlowFailing of every flow that fails past the
// threshold; nil for a passive daemon.
func (d *daemon) startProbing(ctx context.Context, g *errgroup.Group, keeper *plan.Keeper, store *prober.Store, obs prober.Observer, onFlowFailing prober.FlowFailingFunc) (*prober.Scheduler, error) {
	f := d.cfg
	if f.Passive {
		return nil, nil
	}
	probes, closeProbes, err := d.deps.Probes(f)
	if err != nil {
		return nil, err
	}
	fullSize, closeMTUProbe, err := d.mtuProbe()
	if err != nil {
		closeProbes()
		return nil, err
	}
	pace := f.SchedulerConfig()
	pace.MTUProbe, pace.SmallAndFullSize = fullSize.Probe, fullSize.WithSmall
	if d.deps.FlowProbes != nil {
		pace.FlowProbes = d.deps.FlowProbes(f)
	}
	pace.OnFlowFailing = onFlowFailing
	sched, err := prober.NewScheduler(pace, probes, store, obs, log.With(d.logger, "component", "prober"))
	if err != nil {
		closeProbes()
		closeMTUProbe()
		return nil, err
	}
	keeper.OnChange(func(p *plan.Plan) { sched.SetTargets(p.Targets()) })
	g.Go(func() error {
		sched.Run(ctx) // returns once the probes in flight have ended
		closeProbes()
		closeMTUProbe()
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
		sctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
		defer cancel()
		_ = srv.Shutdown(sctx)
		return nil
	})
}

// healthEndpointIPs are the IPs of the health namespace to build (one, or
// one of each family, IPv4 first): Config.HealthIP, else the local node's
// health_ip or health_ips of a node file, else none. On Kubernetes the
// local node's health IP is its health pod's, which the cluster made. p
// is nil when the daemon waits for its first list (then only
// Config.HealthIP counts).
func (c *Config) healthEndpointIPs(p *plan.Plan) []netip.Addr {
	switch {
	case c.HealthIP.IsValid():
		return (nodes.Node{HealthIP: c.HealthIP, DualStackHealthIP: c.DualStackHealthIP}).HealthIPs()
	case c.Kubernetes, p == nil:
		return nil
	}
	return p.LocalNode().HealthIPs()
}

// listen opens the host /hello listener and the admin socket.
func (d *daemon) listen() (helloLn, adminLn net.Listener, err error) {
	helloLn, err = net.Listen("tcp", d.cfg.HelloAddress)
	if err != nil {
		return nil, nil, fmt.Errorf("--hello.listen-address: %w", err)
	}
	adminLn, err = admin.Listen(d.cfg.AdminSocket)
	if err != nil {
		helloLn.Close()
		return nil, nil, fmt.Errorf("--admin.socket: %w", err)
	}
	return helloLn, adminLn, nil
}

// mtuProbe is Deps.MTUProbe, or none when the composition has none.
func (d *daemon) mtuProbe() (prober.FullSizeProbes, func(), error) {
	if d.deps.MTUProbe == nil {
		return prober.FullSizeProbes{}, func() {}, nil
	}
	return d.deps.MTUProbe(d.cfg)
}
