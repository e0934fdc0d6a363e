package prober

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/connectivity-exporter/connectivity_exporter/hello"
)

// helloServerEnv makes the test binary a /hello server on the address it
// holds (TestHelloServerProcess): the peer of BenchmarkHTTPVeth, in a
// process of its own so that its CPU is not the prober's.
const helloServerEnv = "CX_TEST_HELLO_SERVER"

func TestHelloServerProcess(t *testing.T) {
	addr := os.Getenv(helloServerEnv)
	if addr == "" {
		t.Skip("the peer process of BenchmarkHTTPVeth; runs only as that")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Fatal(hello.Serve(hello.NewServer(hello.Options{}), ln)) // until killed
}

// BenchmarkHTTPVeth: small and full-size HTTP probes between two network
// namespaces joined by a veth pair of MTU 1500, so that a full-size answer
// comes in real segments (loopback's MTU is 64 KiB); the /hello
// responder is another process. cpu-us/op is the prober process's CPU
// (user + system) per probe, what `make bench` counts; ns/op is wall time.
func BenchmarkHTTPVeth(b *testing.B) {
	if !isRoot() {
		b.Skip("needs root: builds network namespaces")
	}
	var id [3]byte
	_, _ = rand.Read(id[:])
	client, server := "cxhv"+hex.EncodeToString(id[:])+"c", "cxhv"+hex.EncodeToString(id[:])+"s"
	b.Cleanup(func() {
		_ = exec.Command("ip", "netns", "del", client).Run()
		_ = exec.Command("ip", "netns", "del", server).Run()
	})
	for _, args := range [][]string{
		{"netns", "add", client}, {"netns", "add", server},
		{"link", "add", "name", "v0", "netns", client, "mtu", "1500", "type", "veth", "peer", "name", "v1", "netns", server, "mtu", "1500"},
		{"-n", client, "addr", "add", "198.18.5.1/30", "dev", "v0"},
		{"-n", server, "addr", "add", "198.18.5.2/30", "dev", "v1"},
		{"-n", client, "link", "set", "dev", "v0", "up"},
		{"-n", server, "link", "set", "dev", "v1", "up"},
		{"-n", client, "link", "set", "dev", "lo", "up"},
		{"-n", server, "link", "set", "dev", "lo", "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			b.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	peer := netip.MustParseAddr("198.18.5.2")
	addr := netip.AddrPortFrom(peer, hello.DefaultPort).String()
	srv := exec.Command("ip", "netns", "exec", server, os.Args[0], "-test.run=^TestHelloServerProcess$")
	srv.Env = append(os.Environ(), helloServerEnv+"="+addr)
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })

	// The benchmark's goroutine stays in the client namespace: every
	// probe's socket is made there.
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		b.Fatal(err)
	}
	target, err := netns.GetFromName(client)
	if err != nil {
		b.Fatal(err)
	}
	if err := netns.Set(target); err != nil {
		b.Fatal(err)
	}
	defer func() {
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		orig.Close()
		target.Close()
	}()
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Since(start) > 10*time.Second {
			b.Fatalf("the /hello server in %s: %v", server, err)
		}
	}

	cfg := HTTPConfig{Port: hello.DefaultPort, Path: hello.Path}
	small, full, both := NewHTTPProbe(cfg), NewMTUHTTPProbe(cfg), NewSmallAndFullSizeHTTPProbe(cfg)
	sized := func(n int) ProbeFunc {
		return func(ctx context.Context, ip netip.Addr) Outcome { return full(ctx, ip, n) }
	}
	cases := []struct {
		name      string
		probe     ProbeFunc
		cpu, wall time.Duration
	}{
		{name: "small", probe: small},
		{name: "full-6000", probe: sized(6000)},
		{name: "full-1500", probe: sized(1500)},
		// What an interval with a full-size probe costs: two connections,
		// as the scheduler does it, or one (NewSmallAndFullSizeHTTPProbe).
		{name: "small+full-6000", probe: func(ctx context.Context, ip netip.Addr) Outcome {
			if o := small(ctx, ip); o.Result != ResultSuccess {
				return o
			}
			return full(ctx, ip, 6000)
		}},
		{name: "both-6000", probe: func(ctx context.Context, ip netip.Addr) Outcome {
			o := both(ctx, ip, 6000, Flow{})
			if !o.SmallKnown {
				return o.Small
			}
			return o.FullSize
		}},
	}
	// Not b.Run: a sub-benchmark runs on another goroutine, outside the
	// namespace. The cases take turns, so that the load of a shared
	// machine weighs on each alike.
	rounds := 0
	for start := time.Now(); time.Since(start) < 2*time.Second || rounds < 100; rounds++ {
		for i := range cases {
			c := &cases[i]
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			cpu, t0 := cpuTime(), time.Now()
			o := c.probe(ctx, peer)
			c.wall += time.Since(t0)
			c.cpu += cpuTime() - cpu
			cancel()
			if o.Result != ResultSuccess {
				b.Fatalf("%s: %+v", c.name, o)
			}
		}
	}
	for _, c := range cases {
		b.ReportMetric(float64(c.cpu/time.Microsecond)/float64(rounds), c.name+"-cpu-us/op")
		b.ReportMetric(float64(c.wall/time.Microsecond)/float64(rounds), c.name+"-wall-us/op")
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
