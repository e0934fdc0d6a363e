// Package testbin is the tests' toolkit: the exporter binary, built the way
// the Makefile builds it; free loopback ports; goroutine and file descriptor
// counts for leak checks; a Buffer to share with a writer; Eventually, to
// wait for a condition instead of sleeping; /metrics scraped and parsed;
// labs of network namespaces (Lab); an Alertmanager webhook receiver and
// the rules sped up for a lab; and the skip policy (NeedRoot, NeedTool,
// SkipShort) under which a missing prerequisite fails in CI.
package testbin

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// RepoRoot is the repository's top directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Build builds the exporter into path, static (CGO_ENABLED=0) like `make
// build` but without its version stamps and stripping, which tests do not need.
func Build(path string) error {
	build := exec.Command("go", "build", "-o", path, ".")
	build.Dir = RepoRoot()
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building the exporter: %w\n%s", err, out)
	}
	return nil
}

// FreeLoopbackPort returns a TCP port on 127.0.0.1 that was free a moment
// ago. It is drawn below the kernel's ephemeral range
// (net.ipv4.ip_local_port_range) where it can: a port from that range
// (what listening on port 0 gives) may be taken by any outgoing connection
// of the tests running beside this one before the caller binds it again.
func FreeLoopbackPort(t testing.TB) int {
	t.Helper()
	if low := ephemeralLow(); low > freePortFloor+100 {
		for range 100 {
			port := freePortFloor + rand.IntN(low-freePortFloor)
			if ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
				ln.Close()
				return port
			}
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// freePortFloor is the lowest port FreeLoopbackPort draws: above the ports
// services usually take.
const freePortFloor = 20000

// ephemeralLow is the first port of the kernel's ephemeral range, 0 when
// it cannot be read.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	var low, high int
	if _, err := fmt.Sscan(string(b), &low, &high); err != nil {
		return 0
	}
	return low
}

// Usage is what a leak leaves behind in the test process.
type Usage struct{ Goroutines, FDs int }

// MeasureUsage counts the test process's goroutines and open file
// descriptors, after a garbage collection.
func MeasureUsage(t testing.TB) Usage {
	t.Helper()
	runtime.GC()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return Usage{runtime.NumGoroutine(), len(fds)}
}

// SettleUsage waits until the goroutines are at most base's plus slack and
// the file descriptors at most base's, and fails the test with every
// goroutine's stack if that does not happen within the given time.
func SettleUsage(t testing.TB, base Usage, slack int, within time.Duration) Usage {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		u := MeasureUsage(t)
		if u.Goroutines <= base.Goroutines+slack && u.FDs <= base.FDs {
			return u
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("leak after %s: goroutines %d -> %d, fds %d -> %d\n%s", within, base.Goroutines, u.Goroutines, base.FDs, u.FDs, buf[:n])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
