package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type inner struct {
	exporter, out, tmp, self string
	quick                    bool
	only                     string
	// The pace of the tool comparisons: warm-up, then windows measured one
	// after the other (each a repeat of the measurement).
	warm, window time.Duration
	windows      int
	// The pace of the scale scenarios (15 s interval): windows of one interval.
	scaleWarm, scaleWindow time.Duration
	peersCtl               *child
	results                results
}

// results is everything the report needs.
type results struct {
	Started    time.Time
	ICMP, HTTP []row
	Scale      []row
	// RTT accuracy: iputils ping next to the engine, at a fast pace (during
	// the engine's 1,000 probes/s run, ping every 2 ms) and at a slow one
	// (one peer probed 4 times a second, ping every 250 ms).
	PingHot, PingCold     []time.Duration
	EngineHot, EngineCold time.Duration
	EngineWired           bool
	Notes                 []string
}

// row is one tool in one scenario.
type row struct {
	Tool         string
	Scenario     string
	ProbesPerSec float64
	CPUPerProbe  []float64 // µs, one per window
	Core         []float64 // share of one core, one per window
	RSS, PeakRSS int64
	Sent, Failed float64
	RTT50ICMP    time.Duration
	RTT50HTTP    time.Duration
	Unreachable  float64
	MaxCycle     time.Duration
	ScrapeTime   time.Duration
	ScrapeBytes  int
	ScrapeGzip   int
	ScrapeLines  int
	Err          string
}

func innerMain(args []string) error {
	in := &inner{}
	fs := flag.NewFlagSet("inner", flag.ExitOnError)
	fs.StringVar(&in.exporter, "exporter", "", "the exporter binary")
	fs.StringVar(&in.out, "out", "", "BENCHMARKS.md")
	fs.StringVar(&in.tmp, "tmp", "", "scratch directory")
	fs.BoolVar(&in.quick, "quick", false, "short windows")
	fs.StringVar(&in.only, "only", "", "run only the tools whose name contains this")
	fs.Parse(args)
	in.self, _ = os.Executable()
	in.warm, in.window, in.windows = 5*time.Second, 6*time.Second, 3
	in.scaleWarm, in.scaleWindow = 17*time.Second, 15*time.Second
	if in.quick {
		in.warm, in.window, in.windows = 2*time.Second, 3*time.Second, 2
		in.scaleWarm, in.scaleWindow = 17*time.Second, 15*time.Second
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	in.results.Started = time.Now()

	if err := in.writeNodeFiles(); err != nil {
		return err
	}
	// /hello for every peer address: a passive exporter in cxb-peers.
	peers, err := startChild("hello responder", "ip", "netns", "exec", nsPeers, in.exporter, "--passive",
		"--hello.listen-address=:4240", "--web.listen-address=127.0.0.1:9241",
		"--admin.socket="+filepath.Join(in.tmp, "peers-admin.sock"), "--log.level=warn")
	if err != nil {
		return err
	}
	defer peers.stop()
	in.peersCtl = peers
	if err := waitTCP(ctx, peers, "198.18.128.1:4240", 15*time.Second); err != nil {
		return err
	}
	help, _ := exec.Command(in.exporter, "daemon", "--help").CombinedOutput() // the daemon's flags are on its command
	in.results.EngineWired = strings.Contains(string(help), "probe.icmp.engine")

	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"ICMP, 1,000 peers at 1 s", in.icmpTools},
		{"HTTP, 1,000 peers", in.httpTools},
		{"exporter at scale", in.scale},
	}
	for _, s := range steps {
		log.Printf("== %s", s.name)
		if err := s.fn(ctx); err != nil {
			if ctx.Err() != nil {
				return err
			}
			in.results.Notes = append(in.results.Notes, fmt.Sprintf("%s: %v", s.name, err))
			log.Printf("%s: %v", s.name, err)
		}
	}
	return writeReport(in.out, &in.results)
}

func peerIP(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{198, 18, 128 + byte(i>>8), byte(i)}).Next()
}

func healthIP(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{198, 18, 192 + byte(i>>8), byte(i)}).Next()
}

func (in *inner) file(name string) string { return filepath.Join(in.tmp, name) }

// writeNodeFiles writes the node lists (this node first, without a health
// IP: no health endpoint is built) and the target lists of the other tools.
func (in *inner) writeNodeFiles() error {
	write := func(name string, n int, health bool) error {
		var b strings.Builder
		fmt.Fprintf(&b, "nodes:\n  - name: cxb-prober\n    host_ip: %s\n", proberAddr)
		for i := range n {
			fmt.Fprintf(&b, "  - name: peer-%04d\n    host_ip: %s\n", i, peerIP(i))
			if health {
				fmt.Fprintf(&b, "    health_ip: %s\n", healthIP(i))
			}
		}
		return os.WriteFile(in.file(name), []byte(b.String()), 0o644)
	}
	if err := write("nodes-1000.yaml", 1000, false); err != nil {
		return err
	}
	if err := write("nodes-5000.yaml", 5000, false); err != nil {
		return err
	}
	if err := write("nodes-5000-health.yaml", 5000, true); err != nil {
		return err
	}
	one := fmt.Sprintf("nodes:\n  - name: peer-0500\n    host_ip: %s\n", peerIP(500))
	if err := os.WriteFile(in.file("nodes-1.yaml"), []byte(one), 0o644); err != nil {
		return err
	}
	var ips strings.Builder
	for i := range 1000 {
		fmt.Fprintln(&ips, peerIP(i))
	}
	return os.WriteFile(in.file("targets-1000.txt"), []byte(ips.String()), 0o644)
}

// snapshot is what one sample of a running prober says.
type snapshot struct {
	at              time.Time
	cpu             time.Duration
	probes, success float64
	icmp, http      nativeBuckets
	cycle           float64
	unreachable     float64
}

type sampler func(ctx context.Context) (snapshot, error)

// connectivitySampler reads connectivity_exporter's own metrics.
func connectivitySampler(pid int, url string) sampler {
	return func(ctx context.Context) (snapshot, error) {
		at := time.Now() // CPU and wall time read together; the scrape comes after
		cpu, err := cpuTime(pid)
		if err != nil {
			return snapshot{}, err
		}
		mfs, err := scrapeProto(ctx, url)
		if err != nil {
			return snapshot{}, err
		}
		return snapshot{
			at: at, cpu: cpu,
			probes:      sumCounter(mfs, "connectivity_probes_total", nil),
			success:     sumCounter(mfs, "connectivity_probes_total", map[string]string{"result": "success"}),
			icmp:        nativeOf(mfs, "connectivity_rtt_seconds", map[string]string{"protocol": "icmp"}),
			http:        nativeOf(mfs, "connectivity_rtt_seconds", map[string]string{"protocol": "http"}),
			cycle:       sumCounter(mfs, "connectivity_probe_cycle_duration_seconds", nil),
			unreachable: sumCounter(mfs, "connectivity_peers", map[string]string{"status": "unreachable"}),
		}, nil
	}
}

func smokepingSampler(pid int, url string) sampler {
	return func(ctx context.Context) (snapshot, error) {
		at := time.Now()
		cpu, err := cpuTime(pid)
		if err != nil {
			return snapshot{}, err
		}
		mfs, err := scrapeProto(ctx, url)
		if err != nil {
			return snapshot{}, err
		}
		var ok float64
		if mf := mfs["smokeping_response_duration_seconds"]; mf != nil {
			for _, m := range mf.GetMetric() {
				ok += float64(m.GetHistogram().GetSampleCount())
			}
		}
		return snapshot{at: at, cpu: cpu, probes: sumCounter(mfs, "smokeping_requests_total", nil), success: ok}, nil
	}
}

// measure samples a running prober: after warm, windows of window each,
// with a sample every every (at least once per window).
func (in *inner) measure(ctx context.Context, c *child, s sampler, warm, window time.Duration, windows int, every time.Duration) (row, []snapshot, error) {
	var r row
	if !sleepCtx(ctx, warm) {
		return r, nil, ctx.Err()
	}
	prev, err := s(ctx)
	if err != nil {
		return r, nil, err
	}
	first := prev
	all := []snapshot{prev}
	for range windows {
		end := prev.at.Add(window)
		var cur snapshot
		for {
			d := min(every, time.Until(end))
			if d > 0 && !sleepCtx(ctx, d) {
				return r, nil, ctx.Err()
			}
			if !c.alive() {
				return r, nil, c.failure()
			}
			if cur, err = s(ctx); err != nil {
				return r, nil, err
			}
			all = append(all, cur)
			r.MaxCycle = max(r.MaxCycle, time.Duration(cur.cycle*float64(time.Second)))
			if !time.Now().Before(end) {
				break
			}
		}
		probes := cur.probes - prev.probes
		wall := cur.at.Sub(prev.at)
		cpu := cur.cpu - prev.cpu
		if probes > 0 {
			r.CPUPerProbe = append(r.CPUPerProbe, float64(cpu.Microseconds())/probes)
		}
		r.Core = append(r.Core, cpu.Seconds()/wall.Seconds())
		prev = cur
	}
	r.Sent = prev.probes - first.probes
	// A reply in the window to a probe sent just before it counts as a
	// success without a send: never below 0 failed.
	r.Failed = max(r.Sent-(prev.success-first.success), 0)
	r.ProbesPerSec = r.Sent / prev.at.Sub(first.at).Seconds()
	r.RTT50ICMP = prev.icmp.minus(first.icmp).quantile(0.5)
	r.RTT50HTTP = prev.http.minus(first.http).quantile(0.5)
	r.Unreachable = prev.unreachable
	r.RSS, r.PeakRSS = memory(c.pid())
	return r, all, nil
}

// runProber starts a prober, measures it and stops it.
// errSkipped marks a tool left out by -only.
var errSkipped = errors.New("skipped")

func (in *inner) skip(tool string) bool { return in.only != "" && !strings.Contains(tool, in.only) }

func (in *inner) runProber(ctx context.Context, tool, scenario string, argv []string, listen string, smokeping bool, warm, window time.Duration, windows int, every time.Duration) (row, error) {
	if in.skip(tool) {
		return row{}, errSkipped
	}
	log.Printf("   %s", tool)
	c, err := startChild(tool, argv...)
	if err != nil {
		return row{Tool: tool, Scenario: scenario, Err: err.Error()}, err
	}
	defer c.stop()
	if err := waitTCP(ctx, c, listen, 40*time.Second); err != nil {
		err = fmt.Errorf("%v: %s", err, lastLines(c.out.String(), 3))
		return row{Tool: tool, Scenario: scenario, Err: err.Error()}, err
	}
	url := "http://" + listen + "/metrics"
	s := connectivitySampler(c.pid(), url)
	if smokeping {
		s = smokepingSampler(c.pid(), url)
	}
	r, _, err := in.measure(ctx, c, s, warm, window, windows, every)
	r.Tool, r.Scenario = tool, scenario
	if err != nil {
		r.Err = err.Error()
	}
	return r, err
}

func (in *inner) probeArgv(nodesFile, interval, listen string, extra ...string) []string {
	return append([]string{in.self, "probe", "-nodes", in.file(nodesFile), "-interval", interval, "-listen", listen, "-max-run", "5m"}, extra...)
}

// icmpTools: ICMP to 1,000 peers once a second, tool by tool.
func (in *inner) icmpTools(ctx context.Context) error {
	const scenario = "ICMP, 1,000 peers, 1 s"
	add := func(r row, err error) {
		if errors.Is(err, errSkipped) {
			return
		}
		in.results.ICMP = append(in.results.ICMP, r)
		if err != nil {
			log.Printf("   %s: %v", r.Tool, err)
		}
	}
	// iputils ping on one of the same peers, during the engine's run.
	var pingWG sync.WaitGroup
	pingWG.Add(1)
	go func() {
		defer pingWG.Done()
		if sleepCtx(ctx, in.warm) {
			in.results.PingHot = in.ping(ctx, 1500, "0.002")
		}
	}()
	r, err := in.runProber(ctx, "connectivity_exporter, shared socket, raw", scenario,
		in.probeArgv("nodes-1000.yaml", "1s", "127.0.0.1:9250", "-protocols", "icmp"), "127.0.0.1:9250", false, in.warm, in.window, in.windows, in.window)
	add(r, err)
	pingWG.Wait()
	in.results.EngineHot = r.RTT50ICMP

	// The same at a slow pace, where every packet finds the machine idle.
	pingWG.Add(1)
	go func() {
		defer pingWG.Done()
		if sleepCtx(ctx, 2*time.Second) {
			in.results.PingCold = in.ping(ctx, 40, "0.25")
		}
	}()
	cold, err := in.runProber(ctx, "connectivity_exporter, shared socket, raw, one peer 4×/s", "RTT check",
		in.probeArgv("nodes-1.yaml", "250ms", "127.0.0.1:9250", "-protocols", "icmp"), "127.0.0.1:9250", false, 2*time.Second, 10*time.Second, 1, 10*time.Second)
	pingWG.Wait()
	if err == nil {
		in.results.EngineCold = cold.RTT50ICMP
	}

	add(in.runProber(ctx, "connectivity_exporter, shared socket, unprivileged", scenario,
		in.probeArgv("nodes-1000.yaml", "1s", "127.0.0.1:9250", "-protocols", "icmp", "-privileged=false"), "127.0.0.1:9250", false, in.warm, in.window, in.windows, in.window))
	add(in.runProber(ctx, "connectivity_exporter, pro-bing (socket per probe), raw", scenario,
		in.probeArgv("nodes-1000.yaml", "1s", "127.0.0.1:9250", "-protocols", "icmp", "-icmp", "pro-bing"), "127.0.0.1:9250", false, in.warm, in.window, in.windows, in.window))
	add(in.fping(ctx, scenario))
	add(in.runProber(ctx, "connectivity_exporter, shared socket, raw, GOMAXPROCS=1", scenario,
		append([]string{"env", "GOMAXPROCS=1"}, in.probeArgv("nodes-1000.yaml", "1s", "127.0.0.1:9250", "-protocols", "icmp")...), "127.0.0.1:9250", false, in.warm, in.window, in.windows, in.window))
	if _, err := exec.LookPath("prometheus-smokeping-prober"); err != nil {
		in.results.Notes = append(in.results.Notes, "smokeping_prober not installed (apt-get install -y prometheus-smokeping-prober): not measured")
		return nil
	}
	for _, v := range []struct {
		peers int
		priv  bool
	}{{1000, true}, {1000, false}, {200, true}} {
		cfg := in.file("smokeping.yml")
		var b strings.Builder
		b.WriteString("targets:\n- interval: 1s\n  network: ip4\n  protocol: icmp\n  hosts:\n")
		for i := range v.peers {
			fmt.Fprintf(&b, "  - %s\n", peerIP(i))
		}
		if err := os.WriteFile(cfg, []byte(b.String()), 0o644); err != nil {
			return err
		}
		tool, argv := "smokeping_prober 0.6.1 (pro-bing, pinger per target), unprivileged", []string{"prometheus-smokeping-prober", "--config.file=" + cfg, "--web.listen-address=127.0.0.1:9374", "--log.level=warn"}
		if v.priv {
			tool, argv = "smokeping_prober 0.6.1 (pro-bing, pinger per target), raw", append(argv, "--privileged")
		}
		sc := scenario
		if v.peers != 1000 {
			sc = fmt.Sprintf("ICMP, %d peers, 1 s", v.peers)
		}
		add(in.runProber(ctx, tool, sc, argv, "127.0.0.1:9374", true, in.warm+3*time.Second, in.window, in.windows, in.window))
	}
	return nil
}

// ping runs iputils ping on peer 500 and returns its RTTs.
func (in *inner) ping(ctx context.Context, count int, interval string) []time.Duration {
	out, err := exec.CommandContext(ctx, "ping", "-n", "-c", strconv.Itoa(count), "-i", interval, peerIP(500).String()).Output()
	if err != nil {
		in.results.Notes = append(in.results.Notes, "iputils ping: "+err.Error())
	}
	var rtts []time.Duration
	for _, m := range regexp.MustCompile(`time=([0-9.]+) ms`).FindAllStringSubmatch(string(out), -1) {
		ms, _ := strconv.ParseFloat(m[1], 64)
		rtts = append(rtts, time.Duration(ms*float64(time.Millisecond)))
	}
	return rtts
}

// fping runs fping -c in count mode, once per window: each run is a repeat.
func (in *inner) fping(ctx context.Context, scenario string) (row, error) {
	r := row{Tool: "fping 5.1", Scenario: scenario}
	if in.skip(r.Tool) {
		return r, errSkipped
	}
	if _, err := exec.LookPath("fping"); err != nil {
		r.Err = "not installed"
		return r, nil
	}
	log.Printf("   %s", r.Tool)
	count := int(in.window.Seconds())
	var wall time.Duration
	for range in.windows {
		start := time.Now()
		cmd := exec.CommandContext(ctx, "fping", "-q", "-c", strconv.Itoa(count), "-p", "1000", "-i", "1", "-f", in.file("targets-1000.txt"))
		out, _ := cmd.CombinedOutput() // exits 1 if any target lost a packet
		if ctx.Err() != nil {
			return r, ctx.Err()
		}
		d := time.Since(start)
		wall += d
		var xmt, rcv float64
		for _, m := range regexp.MustCompile(`xmt/rcv/%loss = (\d+)/(\d+)/`).FindAllStringSubmatch(string(out), -1) {
			x, _ := strconv.ParseFloat(m[1], 64)
			y, _ := strconv.ParseFloat(m[2], 64)
			xmt, rcv = xmt+x, rcv+y
		}
		if xmt == 0 || cmd.ProcessState == nil {
			return r, fmt.Errorf("fping printed no statistics: %s", lastLines(string(out), 3))
		}
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		r.CPUPerProbe = append(r.CPUPerProbe, float64(cpu.Microseconds())/xmt)
		r.Core = append(r.Core, cpu.Seconds()/d.Seconds())
		r.Sent += xmt
		r.Failed += xmt - rcv
		r.PeakRSS = max(r.PeakRSS, ru.Maxrss<<10)
	}
	r.ProbesPerSec = r.Sent / wall.Seconds()
	return r, nil
}

// httpTools: HTTP GET /hello on 1,000 peers.
func (in *inner) httpTools(ctx context.Context) error {
	const scenario = "HTTP, 1,000 peers, 1 s"
	add := func(r row, err error) {
		if errors.Is(err, errSkipped) {
			return
		}
		in.results.HTTP = append(in.results.HTTP, r)
		if err != nil {
			log.Printf("   %s: %v", r.Tool, err)
		}
	}
	add(in.runProber(ctx, "connectivity_exporter, minimal GET", scenario,
		in.probeArgv("nodes-1000.yaml", "1s", "127.0.0.1:9250", "-protocols", "http"), "127.0.0.1:9250", false, in.warm, in.window, in.windows, in.window))
	add(in.runProber(ctx, "connectivity_exporter, net/http client", scenario,
		in.probeArgv("nodes-1000.yaml", "1s", "127.0.0.1:9250", "-protocols", "http", "-http", "net-http"), "127.0.0.1:9250", false, in.warm, in.window, in.windows, in.window))
	add(in.runProber(ctx, "connectivity_exporter, minimal GET, GOMAXPROCS=1", scenario,
		append([]string{"env", "GOMAXPROCS=1"}, in.probeArgv("nodes-1000.yaml", "1s", "127.0.0.1:9250", "-protocols", "http")...), "127.0.0.1:9250", false, in.warm, in.window, in.windows, in.window))
	if _, err := exec.LookPath("prometheus-blackbox-exporter"); err != nil {
		in.results.Notes = append(in.results.Notes, "blackbox_exporter not installed (apt-get install -y prometheus-blackbox-exporter): the issue's figures stand in for it")
		return nil
	}
	for _, module := range []string{"http_hello", "icmp"} {
		r, err := in.blackbox(ctx, module)
		if errors.Is(err, errSkipped) {
			continue
		}
		if module == "icmp" {
			r.Scenario = "ICMP, 1,000 peers, 2 s"
			in.results.ICMP = append(in.results.ICMP, r)
			if err != nil {
				log.Printf("   %s: %v", r.Tool, err)
			}
			continue
		}
		add(r, err)
	}
	return nil
}

const blackboxConfig = `modules:
  http_hello:
    prober: http
    timeout: 2s
    http:
      preferred_ip_protocol: ip4
      valid_status_codes: [200]
      follow_redirects: false
  icmp:
    prober: icmp
    timeout: 2s
    icmp:
      preferred_ip_protocol: ip4
`

// blackbox drives blackbox_exporter as Prometheus would (one /probe request
// per probe, kept-alive connections) at 500 probes/s: 1,000 peers every 2 s.
func (in *inner) blackbox(ctx context.Context, module string) (row, error) {
	tool := "blackbox_exporter 0.23 (" + module + " module)"
	r := row{Tool: tool, Scenario: "HTTP, 1,000 peers, 2 s"}
	if in.skip(tool) {
		return r, errSkipped
	}
	log.Printf("   %s", tool)
	cfg := in.file("blackbox.yml")
	if err := os.WriteFile(cfg, []byte(blackboxConfig), 0o644); err != nil {
		return r, err
	}
	c, err := startChild(tool, "prometheus-blackbox-exporter", "--config.file="+cfg, "--web.listen-address=127.0.0.1:9115", "--log.level=warn")
	if err != nil {
		r.Err = err.Error()
		return r, err
	}
	defer c.stop()
	if err := waitTCP(ctx, c, "127.0.0.1:9115", 15*time.Second); err != nil {
		r.Err = err.Error()
		return r, err
	}
	var sent, ok atomic.Int64
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		const rate = 500
		sem := make(chan struct{}, 256)
		start := time.Now()
		for i := 0; dctx.Err() == nil; i++ {
			if d := time.Until(start.Add(time.Duration(i) * time.Second / rate)); d > 0 && !sleepCtx(dctx, d) {
				return
			}
			target := peerIP(i % 1000).String()
			if module == "http_hello" {
				target = "http://" + target + ":4240/hello"
			}
			select {
			case sem <- struct{}{}:
			case <-dctx.Done():
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				resp, err := client.Get("http://127.0.0.1:9115/probe?module=" + module + "&target=" + target)
				if err != nil {
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				sent.Add(1)
				if strings.Contains(string(body), "\nprobe_success 1") {
					ok.Add(1)
				}
			}()
		}
	}()
	s := func(ctx context.Context) (snapshot, error) {
		at := time.Now()
		cpu, err := cpuTime(c.pid())
		return snapshot{at: at, cpu: cpu, probes: float64(sent.Load()), success: float64(ok.Load())}, err
	}
	r, _, err = in.measure(ctx, c, s, in.warm, in.window, in.windows, in.window)
	r.Tool, r.Scenario = tool, "HTTP, 1,000 peers, 2 s"
	cancel()
	wg.Wait()
	if err != nil {
		r.Err = err.Error()
	}
	return r, err
}

// scale runs the exporter at 5,000 peers: idle (60 s interval, host paths),
// all four paths at 15 s, and the same with 10% of the peers dead.
func (in *inner) scale(ctx context.Context) error {
	type variant struct {
		tool string
		argv func(nodes, interval string) []string
	}
	exporter := variant{"connectivity_exporter binary", func(nodes, interval string) []string {
		return []string{in.exporter, "--node.name=cxb-prober", "--nodes.file=" + in.file(nodes),
			"--probe.interval=" + interval, "--probe.timeout=2s", "--web.listen-address=127.0.0.1:9250",
			"--hello.listen-address=:4240", "--admin.socket=" + in.file("admin.sock"), "--log.level=warn"}
	}}
	core := variant{"probing core (cxbench probe: shared socket, minimal GET)", func(nodes, interval string) []string {
		return in.probeArgv(nodes, interval, "127.0.0.1:9250")
	}}
	core1 := variant{"probing core, GOMAXPROCS=1", func(nodes, interval string) []string {
		return append([]string{"env", "GOMAXPROCS=1"}, in.probeArgv(nodes, interval, "127.0.0.1:9250")...)
	}}
	variants := []variant{exporter}
	if !in.results.EngineWired {
		// The binary still uses pro-bing: measure what it will be once the
		// engine is wired too.
		variants = append(variants, core)
	}
	variants = append(variants, core1)
	for _, v := range variants {
		for _, sc := range []struct {
			name, nodes, interval string
			dead                  bool
			warm, window          time.Duration
			windows               int
		}{
			{"5,000 peers, host paths, 60 s (idle cost)", "nodes-5000.yaml", "60s", false, 10 * time.Second, 10 * time.Second, 3},
			{"5,000 peers × 4 paths, 15 s", "nodes-5000-health.yaml", "15s", false, in.scaleWarm, in.scaleWindow, 3},
			{"5,000 peers × 4 paths, 15 s, 10% dead", "nodes-5000-health.yaml", "15s", true, in.scaleWarm, in.scaleWindow, 3},
		} {
			if in.quick {
				sc.windows = 1
			}
			if in.skip(v.tool) {
				continue
			}
			// Time is short: GOMAXPROCS=1 only where it matters most (the
			// idle cost), and the pro-bing binary not with dead peers.
			if (v.tool == core1.tool && !strings.Contains(sc.name, "idle")) ||
				(v.tool == exporter.tool && !in.results.EngineWired && sc.dead) {
				continue
			}
			if sc.dead {
				if err := in.killTenPercent(ctx); err != nil {
					return err
				}
			}
			// The 60 s sweeps never end within the run: no need to sample
			// their duration, and reading /metrics less often costs less.
			every := 5 * time.Second
			if strings.Contains(sc.name, "idle") {
				every = sc.window
			}
			r, err := in.scaleOne(ctx, v.tool, sc.name, v.argv(sc.nodes, sc.interval), sc.warm, sc.window, sc.windows, every)
			if sc.dead {
				in.reviveAll()
			}
			in.results.Scale = append(in.results.Scale, r)
			if err != nil {
				if ctx.Err() != nil {
					return err
				}
				log.Printf("   %s: %v", v.tool, err)
			}
		}
	}
	return nil
}

func (in *inner) scaleOne(ctx context.Context, tool, scenario string, argv []string, warm, window time.Duration, windows int, every time.Duration) (row, error) {
	if in.skip(tool) {
		return row{}, errSkipped
	}
	log.Printf("   %s: %s", tool, scenario)
	r := row{Tool: tool, Scenario: scenario}
	c, err := startChild(tool, argv...)
	if err != nil {
		r.Err = err.Error()
		return r, err
	}
	defer c.stop()
	if err := waitTCP(ctx, c, "127.0.0.1:9250", 20*time.Second); err != nil {
		r.Err = err.Error()
		return r, err
	}
	url := "http://127.0.0.1:9250/metrics"
	// A sample every 5 s catches every 15 s sweep's duration (and costs
	// what a Prometheus scraping every 5 s would).
	r, _, err = in.measure(ctx, c, connectivitySampler(c.pid(), url), warm, window, windows, every)
	r.Tool, r.Scenario = tool, scenario
	if err != nil {
		r.Err = err.Error()
		return r, err
	}
	// Scrapes as Prometheus does them, in the default per-peer mode.
	var times []float64
	for range 5 {
		d, size, gz, lines, err := scrapeText(ctx, url)
		if err != nil {
			return r, err
		}
		times = append(times, float64(d))
		r.ScrapeBytes, r.ScrapeGzip, r.ScrapeLines = size, gz, lines
	}
	r.ScrapeTime = time.Duration(median(times))
	return r, nil
}

// killTenPercent makes every tenth peer silently drop everything sent to it.
func (in *inner) killTenPercent(ctx context.Context) error {
	var b strings.Builder
	b.WriteString("table inet cxb {\n  set dead { type ipv4_addr; elements = { ")
	var els []string
	for i := 0; i < 5000; i += 10 {
		els = append(els, peerIP(i).String(), healthIP(i).String())
	}
	sort.Strings(els)
	b.WriteString(strings.Join(els, ", "))
	b.WriteString(" } }\n  chain input { type filter hook input priority 0; policy accept; ip daddr @dead drop; }\n}\n")
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", nsPeers, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(b.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nft: %v: %s", err, out)
	}
	return nil
}

func (in *inner) reviveAll() {
	exec.Command("ip", "netns", "exec", nsPeers, "nft", "delete", "table", "inet", "cxb").Run()
}
