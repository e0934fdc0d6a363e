package admin_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
	"github.com/connectivity-exporter/connectivity_exporter/admin/admintest"
)

// t0 is the time of the reports these tests serve.
var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// fakeBackend answers with fixed data; probe, when set, replaces Probe.
type fakeBackend struct {
	report admin.Report
	info   admin.Info
	probes atomic.Int32
	probe  func(ctx context.Context) admin.Report
}

func (b *fakeBackend) Status() admin.Report { return b.report }
func (b *fakeBackend) Info() admin.Info     { return b.info }
func (b *fakeBackend) Probe(ctx context.Context) admin.Report {
	b.probes.Add(1)
	if b.probe != nil {
		return b.probe(ctx)
	}
	r := b.report
	r.ProbeTime = r.ProbeTime.Add(time.Minute)
	return r
}

func sampleReport() admin.Report {
	ok := admin.ProbeReport{Status: "reachable", Result: "success", Latency: admin.Duration(112 * time.Microsecond), LastProbed: t0}
	down := admin.ProbeReport{Status: "unreachable", Result: "timeout", LastProbed: t0, Error: "connection timed out", ConsecutiveFailures: 4}
	return admin.Report{
		ProbeTime: t0,
		Interval:  admin.Duration(15 * time.Second),
		LocalNode: "node-1",
		Nodes: []admin.NodeReport{
			{Name: "node-1", Local: true, Host: &admin.PathReport{IP: "198.18.0.1", ICMP: ok, HTTP: ok}, Endpoint: &admin.PathReport{IP: "198.19.0.1", ICMP: ok, HTTP: ok}},
			{Name: "node-2", Host: &admin.PathReport{IP: "198.18.0.2", ICMP: ok, HTTP: ok}, Endpoint: &admin.PathReport{IP: "198.19.0.2", ICMP: down, HTTP: down}, Diagnosis: "set by a test"},
			{Name: "node-3", Host: &admin.PathReport{IP: "198.18.0.3", ICMP: admin.ProbeReport{Status: "unknown"}, HTTP: admin.ProbeReport{Status: "unknown"}}},
		},
	}
}

func sampleInfo() admin.Info {
	return admin.Info{
		Version: "0.1.0", Revision: "abc123", Started: time.Now().Add(-time.Hour).UTC().Round(0),
		Nodes: 3, LocalNode: "node-1",
		HealthEndpoint: admin.HealthEndpointInfo{Enabled: true, IP: "198.19.0.1", Netns: "connectivity-health", Up: true, Restarts: 1},
		LastCycle:      admin.CycleInfo{Start: t0, Duration: admin.Duration(14 * time.Second), Targets: 10},
	}
}

func TestServerAndClient(t *testing.T) {
	b := &fakeBackend{report: sampleReport(), info: sampleInfo()}
	c := admin.NewClient(admintest.Serve(t, b, nil))
	ctx := context.Background()

	if err := c.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}

	got, err := c.Status(ctx)
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	if !reflect.DeepEqual(got, b.report) {
		t.Errorf("Status:\n got %+v\nwant %+v", got, b.report)
	}
	if n := b.probes.Load(); n != 0 {
		t.Errorf("Status probed %d times; want 0", n)
	}

	got, err = c.Probe(ctx)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if want := t0.Add(time.Minute); !got.ProbeTime.Equal(want) || b.probes.Load() != 1 {
		t.Errorf("Probe: probe time %v after %d probes; want %v after 1", got.ProbeTime, b.probes.Load(), want)
	}

	info, err := c.Info(ctx)
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	if info.Uptime.Std() < time.Hour || info.Uptime.Std() > time.Hour+time.Minute {
		t.Errorf("Info uptime = %v; want about 1h (from Started)", info.Uptime)
	}
	want := b.info
	want.Uptime = info.Uptime
	if !reflect.DeepEqual(info, want) {
		t.Errorf("Info:\n got %+v\nwant %+v", info, want)
	}
}

// The server answers only the documented methods and paths.
func TestServerRoutes(t *testing.T) {
	path := admintest.Serve(t, &fakeBackend{report: sampleReport(), info: sampleInfo()}, nil)
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		},
	}}
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/v1/healthz", http.StatusOK},
		{"GET", "/v1/status", http.StatusOK},
		{"POST", "/v1/status/probe", http.StatusOK},
		{"GET", "/v1/info", http.StatusOK},
		{"GET", "/v1/status/probe", http.StatusMethodNotAllowed},
		{"POST", "/v1/status", http.StatusMethodNotAllowed},
		{"GET", "/v2/status", http.StatusNotFound},
	} {
		req, _ := http.NewRequest(tc.method, "http://admin"+tc.path, nil)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s = %d; want %d", tc.method, tc.path, resp.StatusCode, tc.want)
		}
		if tc.want == http.StatusOK && tc.path != "/v1/healthz" && resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s Content-Type = %q; want application/json", tc.method, tc.path, resp.Header.Get("Content-Type"))
		}
	}
}

// A probe may take longer than the server's read and write timeouts, which
// fit the other endpoints.
func TestProbeOutlastsServerTimeouts(t *testing.T) {
	b := &fakeBackend{report: sampleReport(), probe: func(ctx context.Context) admin.Report {
		select {
		case <-time.After(600 * time.Millisecond):
		case <-ctx.Done():
			return admin.Report{LocalNode: "cancelled: " + context.Cause(ctx).Error()}
		}
		return sampleReport()
	}}
	path := admintest.Serve(t, b, func(s *http.Server) {
		s.ReadTimeout, s.WriteTimeout = 200*time.Millisecond, 200*time.Millisecond
	})
	got, err := admin.NewClient(path).Probe(context.Background())
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if got.LocalNode != "node-1" {
		t.Errorf("Probe answered %q; want the full report", got.LocalNode)
	}
}

// A probe that hangs must not hang the CLI, and the daemon must stop
// probing once the CLI has gone.
func TestProbeHangsClientTimesOut(t *testing.T) {
	cancelled := make(chan struct{})
	b := &fakeBackend{probe: func(ctx context.Context) admin.Report {
		<-ctx.Done()
		close(cancelled)
		return admin.Report{}
	}}
	c := admin.NewClient(admintest.Serve(t, b, nil), admin.WithProbeTimeout(300*time.Millisecond))
	start := time.Now()
	_, err := c.Probe(context.Background())
	if err == nil {
		t.Fatal("Probe succeeded; want a timeout")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Probe returned after %v; want about 300ms", d)
	}
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "did not answer POST /v1/status/probe within 300ms") {
		t.Errorf("Probe error = %q; want a timeout that says what was not answered", err)
	}
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Error("the backend's probe context was not cancelled after the client left")
	}
}

// The caller's own cancellation (Ctrl-C) is reported as such.
func TestClientInterrupted(t *testing.T) {
	b := &fakeBackend{probe: func(ctx context.Context) admin.Report { <-ctx.Done(); return admin.Report{} }}
	c := admin.NewClient(admintest.Serve(t, b, nil))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := c.Probe(ctx)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "interrupted") {
		t.Errorf("Probe error = %v; want an interruption wrapping context.Canceled", err)
	}
}

// Two synchronous probes at once run one after the other.
func TestProbesDoNotOverlap(t *testing.T) {
	var running, overlaps atomic.Int32
	b := &fakeBackend{report: sampleReport(), probe: func(context.Context) admin.Report {
		if running.Add(1) > 1 {
			overlaps.Add(1)
		}
		time.Sleep(100 * time.Millisecond)
		running.Add(-1)
		return sampleReport()
	}}
	c := admin.NewClient(admintest.Serve(t, b, nil))
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			_, err := c.Probe(context.Background())
			errs <- err
		}()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Errorf("Probe: %v", err)
		}
	}
	if n := overlaps.Load(); n != 0 {
		t.Errorf("%d probes overlapped; want none", n)
	}
}
