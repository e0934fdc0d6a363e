package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/connectivity-exporter/connectivity_exporter/collector"
	"github.com/connectivity-exporter/connectivity_exporter/hello"
	"github.com/connectivity-exporter/connectivity_exporter/nodes"
	"github.com/connectivity-exporter/connectivity_exporter/plan"
	"github.com/connectivity-exporter/connectivity_exporter/prober"
)

// probeMain is the exporter's probing core alone: the same scheduler, store,
// collector and /metrics handler as the daemon, with a choice of ICMP engine
// and HTTP client and of which protocols to probe, so that each can be
// measured on its own. It also answers /hello, so that the local node's
// HTTP path succeeds as in the daemon.
func probeMain(args []string) error {
	fs := flag.NewFlagSet("probe", flag.ExitOnError)
	nodesFile := fs.String("nodes", "", "node list file")
	local := fs.String("local", "cxb-prober", "this node's name")
	interval := fs.Duration("interval", time.Second, "probe interval")
	timeout := fs.Duration("timeout", 2*time.Second, "probe timeout")
	engine := fs.String("icmp", "shared", "ICMP engine: shared or pro-bing")
	privileged := fs.Bool("privileged", true, "raw ICMP sockets")
	httpClient := fs.String("http", "minimal", "HTTP client: minimal or net-http")
	protocols := fs.String("protocols", "icmp,http", "protocols to probe")
	self := fs.Bool("self", true, "probe this node too, as the daemon does (false: only the peers, for the one-peer RTT check)")
	listen := fs.String("listen", "127.0.0.1:9250", "metrics address")
	helloAddr := fs.String("hello", ":4240", "hello address (empty: none)")
	perPeer := fs.String("per-peer", "auto", "per-peer mode")
	k := fs.Int("peers", 0, "probe only this many peers (SelectPeers); 0: all")
	quantum := fs.Duration("quantum", 0, "prober.Config.Quantum (0: automatic, negative: none)")
	maxRun := fs.Duration("max-run", 10*time.Minute, "stop after this long whatever happens")
	stats := fs.Bool("stats", false, "print CPU per probe at the end (for trying variants by hand)")
	_ = fs.Parse(args) // ExitOnError: exits rather than return an error

	data, err := os.ReadFile(*nodesFile)
	if err != nil {
		return err
	}
	list, err := nodes.ParseFile(data)
	if err != nil {
		return err
	}
	pl, err := plan.New(plan.Config{Local: *local, PeerLimit: *k}, list)
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *maxRun)
	defer cancel()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	store := prober.NewStore(3)
	metrics, err := collector.New(reg, collector.Options{
		Source: *local, PerPeer: collector.PerPeerMode(*perPeer), AutoMaxNodes: 100,
		ClassicBuckets: true, Interval: *interval, Timeout: *timeout,
	}, store, collector.BuildInfo{Version: "cxbench"})
	if err != nil {
		return err
	}

	var icmpProbe prober.ProbeFunc
	switch *engine {
	case "shared":
		e, err := prober.NewICMPEngine(prober.ICMPConfig{Privileged: *privileged})
		if err != nil {
			return err
		}
		defer e.Close()
		icmpProbe = e.Probe
	case "pro-bing":
		icmpProbe = prober.NewICMPProbe(prober.ICMPConfig{Privileged: *privileged})
	default:
		return fmt.Errorf("unknown ICMP engine %q", *engine)
	}
	httpProbe := prober.NewHTTPProbe(prober.HTTPConfig{Port: hello.DefaultPort, Path: hello.Path, NetHTTP: *httpClient == "net-http"})

	sched, err := prober.NewScheduler(prober.Config{Interval: *interval, Timeout: *timeout, MaxInFlight: 1024, Quantum: *quantum},
		map[prober.Protocol]prober.ProbeFunc{prober.ProtocolICMP: icmpProbe, prober.ProtocolHTTP: httpProbe},
		store, metrics, log.NewNopLogger())
	if err != nil {
		return err
	}
	var targets []prober.Target
	for _, t := range pl.Targets() {
		if strings.Contains(*protocols, string(t.Protocol)) && (*self || t.Peer != *local) {
			targets = append(targets, t)
		}
	}
	metrics.SetNodes(len(list))
	metrics.SetFamilies(pl.Families())
	sched.SetTargets(targets)

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	if *helloAddr != "" {
		hln, err := net.Listen("tcp", *helloAddr)
		if err != nil {
			return err
		}
		hs := hello.NewServer(hello.Options{})
		go func() { _ = hello.Serve(hs, hln) }()
		defer hs.Close()
	}
	start := time.Now()
	sched.Run(ctx)
	if *stats {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		mfs, _ := reg.Gather()
		var n float64
		for _, mf := range mfs {
			if mf.GetName() == "connectivity_probes_total" {
				for _, m := range mf.GetMetric() {
					n += m.GetCounter().GetValue()
				}
			}
		}
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		fmt.Printf("probes=%.0f in %s cpu=%s (user %s, sys %s) per_probe=%.1fus core=%.1f%%\n", n, time.Since(start).Round(time.Millisecond),
			cpu.Round(time.Millisecond), time.Duration(ru.Utime.Nano()).Round(time.Millisecond), time.Duration(ru.Stime.Nano()).Round(time.Millisecond),
			float64(cpu.Microseconds())/n, 100*cpu.Seconds()/time.Since(start).Seconds())
		return nil
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return errors.New("stopped by -max-run")
	}
	return nil
}
