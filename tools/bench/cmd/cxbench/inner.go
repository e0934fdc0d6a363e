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

	dto "github.com/prometheus/client_model/go"
)

type inner struct {
	exporter, out, tmp, self string
	quick                    bool
	only                     string
	// The pace of the tool comparisons: warm-up, then windows measured one
	// after the other (each a repeat of the measurement).
	warm, window time.Duration
	windows      int
	results      results
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
	_ = fs.Parse(args) // ExitOnError: exits rather than return an error
	in.self, _ = os.Executable()
	in.warm, in.window, in.windows = 5*time.Second, 6*time.Second, 3
	if in.quick {
		in.warm, in.window, in.windows = 2*time.Second, 3*time.Second, 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	in.results.Started = time.Now()

	if err := in.writeNodeFiles(); err != nil {
		return err
	}
	peers, err := startHelloResponder(in.exporter, in.tmp)
	if err != nil {
		return err
	}
	defer peers.stop()
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
	one := fmt.Sprintf("nodes:\n  - name: cxb-prober\n    host_ip: %s\n  - name: peer-0500\n    host_ip: %s\n", proberAddr, peerIP(500))
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

// metricsReader takes a sample's figures from a prober's /metrics.
type metricsReader func(mfs map[string]*dto.MetricFamily) snapshot

// metricsSampler samples a prober's CPU time, then reads its /metrics.
func metricsSampler(pid int, url string, read metricsReader) sampler {
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
		s := read(mfs)
		s.at, s.cpu = at, cpu
		return s, nil
	}
}

// connectivityMetrics reads connectivity_exporter's own metrics.
func connectivityMetrics(mfs map[string]*dto.MetricFamily) snapshot {
	return snapshot{
		probes:      sumCounter(mfs, "connectivity_probes_total", nil),
		success:     sumCounter(mfs, "connectivity_probes_total", map[string]string{"result": "success"}),
		icmp:        nativeOf(mfs, "connectivity_rtt_seconds", map[string]string{"protocol": "icmp"}),
		http:        nativeOf(mfs, "connectivity_rtt_seconds", map[string]string{"protocol": "http"}),
		cycle:       sumCounter(mfs, "connectivity_probe_cycle_duration_seconds", nil),
		unreachable: sumCounter(mfs, "connectivity_peers", map[string]string{"status": "unreachable"}),
	}
}

func smokepingMetrics(mfs map[string]*dto.MetricFamily) snapshot {
	var ok float64
	if mf := mfs["smokeping_response_duration_seconds"]; mf != nil {
		for _, m := range mf.GetMetric() {
			ok += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return snapshot{probes: sumCounter(mfs, "smokeping_requests_total", nil), success: ok}
}

// measure samples a running prober: after warm, windows of window each,
// with a sample every every (at least once per window).
func (in *inner) measure(ctx context.Context, c *child, s sampler, warm, window time.Duration, windows int, every time.Duration) (row, error) {
	var r row
	if !sleepCtx(ctx, warm) {
		return r, ctx.Err()
	}
	prev, err := s(ctx)
	if err != nil {
		return r, err
	}
	first := prev
	for range windows {
		end := prev.at.Add(window)
		var cur snapshot
		for {
			d := min(every, time.Until(end))
			if d > 0 && !sleepCtx(ctx, d) {
				return r, ctx.Err()
			}
			if !c.alive() {
				return r, c.failure()
			}
			if cur, err = s(ctx); err != nil {
				return r, err
			}
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
	return r, nil
}

// errSkipped marks a tool left out by -only.
var errSkipped = errors.New("skipped")

func (in *inner) skip(tool string) bool { return in.only != "" && !strings.Contains(tool, in.only) }

// appendTo returns what adds a tool's row to rows and logs its error,
// unless -only left the tool out.
func appendTo(rows *[]row) func(row, error) {
	return func(r row, err error) {
		if errors.Is(err, errSkipped) {
			return
		}
		*rows = append(*rows, r)
		if err != nil {
			log.Printf("   %s: %v", r.Tool, err)
		}
	}
}

// runProber starts a prober, measures it (a sample per window) and stops it.
func (in *inner) runProber(ctx context.Context, tool, scenario string, argv []string, listen string, read metricsReader, warm, window time.Duration, windows int) (row, error) {
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
		err = fmt.Errorf("%w: %s", err, lastLines(c.out.String(), 3))
		return row{Tool: tool, Scenario: scenario, Err: err.Error()}, err
	}
	r, err := in.measure(ctx, c, metricsSampler(c.pid(), "http://"+listen+"/metrics", read), warm, window, windows, window)
	r.Tool, r.Scenario = tool, scenario
	if err != nil {
		r.Err = err.Error()
	}
	return r, err
}

// probeListen is the metrics address of the exporter under test, the
// binary's as the probing core's (cxbench probe).
const probeListen = "127.0.0.1:9250"

func (in *inner) probeArgv(nodesFile, interval string, extra ...string) []string {
	return append([]string{in.self, "probe", "-nodes", in.file(nodesFile), "-interval", interval, "-listen", probeListen, "-max-run", "5m"}, extra...)
}

// gomaxprocs1 runs argv with GOMAXPROCS=1.
func gomaxprocs1(argv []string) []string { return append([]string{"env", "GOMAXPROCS=1"}, argv...) }

// probeRow measures the exporter's probing core at the pace of the tool
// comparisons.
func (in *inner) probeRow(ctx context.Context, tool, scenario string, argv []string) (row, error) {
	return in.runProber(ctx, tool, scenario, argv, probeListen, connectivityMetrics, in.warm, in.window, in.windows)
}

// icmpTools: ICMP to 1,000 peers once a second, tool by tool.
func (in *inner) icmpTools(ctx context.Context) error {
	const scenario = "ICMP, 1,000 peers, 1 s"
	add := appendTo(&in.results.ICMP)
	// iputils ping on one of the same peers, during the engine's run.
	var pingWG sync.WaitGroup
	pingWG.Add(1)
	go func() {
		defer pingWG.Done()
		if sleepCtx(ctx, in.warm) {
			in.results.PingHot = in.ping(ctx, 1500, "0.002")
		}
	}()
	r, err := in.probeRow(ctx, "connectivity_exporter, shared socket, raw", scenario,
		in.probeArgv("nodes-1000.yaml", "1s", "-protocols", "icmp"))
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
		in.probeArgv("nodes-1.yaml", "250ms", "-protocols", "icmp", "-self=false"), probeListen, connectivityMetrics, 2*time.Second, 10*time.Second, 1)
	pingWG.Wait()
	if err != nil {
		in.results.Notes = append(in.results.Notes, "RTT check at a slow pace: "+err.Error())
	} else {
		in.results.EngineCold = cold.RTT50ICMP
	}

	add(in.probeRow(ctx, "connectivity_exporter, shared socket, unprivileged", scenario,
		in.probeArgv("nodes-1000.yaml", "1s", "-protocols", "icmp", "-privileged=false")))
	add(in.probeRow(ctx, "connectivity_exporter, pro-bing (socket per probe), raw", scenario,
		in.probeArgv("nodes-1000.yaml", "1s", "-protocols", "icmp", "-icmp", "pro-bing")))
	add(in.fping(ctx, scenario))
	add(in.probeRow(ctx, "connectivity_exporter, shared socket, raw, GOMAXPROCS=1", scenario,
		gomaxprocs1(in.probeArgv("nodes-1000.yaml", "1s", "-protocols", "icmp"))))
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
		add(in.runProber(ctx, tool, sc, argv, "127.0.0.1:9374", smokepingMetrics, in.warm+3*time.Second, in.window, in.windows))
	}
	return nil
}

var (
	pingRTT    = regexp.MustCompile(`time=([0-9.]+) ms`)
	fpingStats = regexp.MustCompile(`xmt/rcv/%loss = (\d+)/(\d+)/`)
)

// ping runs iputils ping on peer 500 and returns its RTTs.
func (in *inner) ping(ctx context.Context, count int, interval string) []time.Duration {
	out, err := exec.CommandContext(ctx, "ping", "-n", "-c", strconv.Itoa(count), "-i", interval, peerIP(500).String()).Output()
	if err != nil {
		in.results.Notes = append(in.results.Notes, "iputils ping: "+err.Error())
	}
	var rtts []time.Duration
	for _, m := range pingRTT.FindAllStringSubmatch(string(out), -1) {
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
		for _, m := range fpingStats.FindAllStringSubmatch(string(out), -1) {
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
	add := appendTo(&in.results.HTTP)
	add(in.probeRow(ctx, "connectivity_exporter, minimal GET", scenario,
		in.probeArgv("nodes-1000.yaml", "1s", "-protocols", "http")))
	add(in.probeRow(ctx, "connectivity_exporter, net/http client", scenario,
		in.probeArgv("nodes-1000.yaml", "1s", "-protocols", "http", "-http", "net-http")))
	add(in.probeRow(ctx, "connectivity_exporter, minimal GET, GOMAXPROCS=1", scenario,
		gomaxprocs1(in.probeArgv("nodes-1000.yaml", "1s", "-protocols", "http"))))
	if _, err := exec.LookPath("prometheus-blackbox-exporter"); err != nil {
		in.results.Notes = append(in.results.Notes, "blackbox_exporter not installed (apt-get install -y prometheus-blackbox-exporter): 0.55 ms per HTTP probe, the figure the goal was set from, stands in for it")
		return nil
	}
	add(in.blackbox(ctx, "http_hello", "HTTP, 1,000 peers, 2 s"))
	appendTo(&in.results.ICMP)(in.blackbox(ctx, "icmp", "ICMP, 1,000 peers, 2 s"))
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
func (in *inner) blackbox(ctx context.Context, module, scenario string) (row, error) {
	tool := "blackbox_exporter 0.23 (" + module + " module)"
	r := row{Tool: tool, Scenario: scenario}
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
	r, err = in.measure(ctx, c, s, in.warm, in.window, in.windows, in.window)
	r.Tool, r.Scenario = tool, scenario
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
			"--probe.interval=" + interval, "--probe.timeout=2s", "--web.listen-address=" + probeListen,
			"--hello.listen-address=:4240", "--admin.socket=" + in.file("admin.sock"), "--log.level=warn"}
	}}
	// The binary probes at full size too by default (--probe.mtu.every=4):
	// the same binary without them shows what they cost.
	exporterSmall := variant{"connectivity_exporter binary, small probes only (--probe.mtu.every=0)", func(nodes, interval string) []string {
		return append(exporter.argv(nodes, interval), "--probe.mtu.every=0")
	}}
	// Sticky flows (--probe.flows, 8 by default) next to one flow, both
	// without full-size probes: what covering 8 flows a path costs, one
	// flow per interval in rotation, against small probes alone as before.
	exporterFlows := variant{"connectivity_exporter binary, 8 flows, small probes only (--probe.flows=8 --probe.mtu.every=0)", func(nodes, interval string) []string {
		return append(exporter.argv(nodes, interval), "--probe.flows=8", "--probe.mtu.every=0")
	}}
	exporterOneFlow := variant{"connectivity_exporter binary, one flow, small probes only (--probe.flows=1 --probe.mtu.every=0)", func(nodes, interval string) []string {
		return append(exporter.argv(nodes, interval), "--probe.flows=1", "--probe.mtu.every=0")
	}}
	core := variant{"probing core (cxbench probe: shared socket, minimal GET)", func(nodes, interval string) []string {
		return in.probeArgv(nodes, interval)
	}}
	core1 := variant{"probing core, GOMAXPROCS=1", func(nodes, interval string) []string {
		return gomaxprocs1(in.probeArgv(nodes, interval))
	}}
	variants := []variant{exporter, exporterSmall, exporterFlows, exporterOneFlow}
	if !in.results.EngineWired {
		// The binary still uses pro-bing: measure what it will be once the
		// engine is wired too.
		variants = append(variants, core)
	}
	variants = append(variants, core1)
	for _, v := range variants {
		if in.skip(v.tool) {
			continue
		}
		for _, sc := range []struct {
			name, nodes, interval string
			dead                  bool
			warm, window          time.Duration
			windows               int
		}{
			{"5,000 peers, host paths, 60 s (idle cost)", "nodes-5000.yaml", "60s", false, 10 * time.Second, 10 * time.Second, 3},
			// At a 15 s interval: windows of one interval.
			{"5,000 peers × 4 paths, 15 s", "nodes-5000-health.yaml", "15s", false, 17 * time.Second, 15 * time.Second, 3},
			{"5,000 peers × 4 paths, 15 s, 10% dead", "nodes-5000-health.yaml", "15s", true, 17 * time.Second, 15 * time.Second, 3},
		} {
			if in.quick {
				sc.windows = 1
			}
			// Time is short: GOMAXPROCS=1 only where it matters most (the
			// idle cost), the pro-bing binary not with dead peers, and
			// small probes alone where the default is compared with them.
			if (v.tool == core1.tool && !strings.Contains(sc.name, "idle")) ||
				(v.tool == exporter.tool && !in.results.EngineWired && sc.dead) ||
				((v.tool == exporterFlows.tool || v.tool == exporterOneFlow.tool) && sc.name != "5,000 peers × 4 paths, 15 s") ||
				(v.tool == exporterSmall.tool && sc.dead) {
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
	log.Printf("   %s: %s", tool, scenario)
	r := row{Tool: tool, Scenario: scenario}
	c, err := startChild(tool, argv...)
	if err != nil {
		r.Err = err.Error()
		return r, err
	}
	defer c.stop()
	if err := waitTCP(ctx, c, probeListen, 20*time.Second); err != nil {
		r.Err = err.Error()
		return r, err
	}
	url := "http://" + probeListen + "/metrics"
	// A sample every 5 s catches every 15 s sweep's duration (and costs
	// what a Prometheus scraping every 5 s would).
	r, err = in.measure(ctx, c, metricsSampler(c.pid(), url, connectivityMetrics), warm, window, windows, every)
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
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", nsPeers(), "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(b.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nft: %w: %s", err, out)
	}
	return nil
}

func (in *inner) reviveAll() {
	_ = exec.Command("ip", "netns", "exec", nsPeers(), "nft", "delete", "table", "inet", "cxb").Run()
}
