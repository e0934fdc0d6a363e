package admin_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
	"github.com/connectivity-exporter/connectivity_exporter/admin/admintest"
)

// traceBackend is fakeBackend that traces node-2 only.
type traceBackend struct {
	fakeBackend
	asked []string
}

func (b *traceBackend) Trace(_ context.Context, node string, flows int) (admin.TraceReport, error) {
	b.asked = append(b.asked, fmt.Sprintf("%s/%d", node, flows))
	switch node {
	case "node-2":
		return sampleTrace(), nil
	case "node-3":
		return admin.TraceReport{}, fmt.Errorf("%w: node-3 is not probed from node-1", admin.ErrNotTraceable)
	}
	return admin.TraceReport{}, fmt.Errorf("%w %q: not in node-1's node list", admin.ErrUnknownNode, node)
}

func sampleTrace() admin.TraceReport {
	return admin.TraceReport{
		LocalNode: "node-1", Node: "node-2", Flows: 2, Started: t0, Duration: admin.Duration(3 * time.Second),
		Traces: []admin.FlowTrace{{
			Path: "host", Protocol: "http", Family: "ipv4", IP: "198.18.0.2", Flow: 1, SourcePort: 60464,
			LastHop: "198.18.1.6", LastHopTTL: 2, FirstSilentTTL: 3, Started: t0, Duration: admin.Duration(3 * time.Second),
			Hops: []admin.TraceHop{
				{TTL: 1, Kind: "time_exceeded", Addr: "198.18.0.1", RTT: admin.Duration(50 * time.Microsecond)},
				{TTL: 2, Kind: "time_exceeded", Addr: "198.18.1.6", RTT: admin.Duration(70 * time.Microsecond)},
				{TTL: 3, Kind: "silent"},
			},
		}},
	}
}

func TestTraceOverTheSocket(t *testing.T) {
	b := &traceBackend{fakeBackend: fakeBackend{report: sampleReport(), info: sampleInfo()}}
	c := admin.NewClient(admintest.Serve(t, b, nil))
	ctx := context.Background()
	got, err := c.Trace(ctx, "node-2", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, sampleTrace()) {
		t.Errorf("got %+v\nwant %+v", got, sampleTrace())
	}
	if _, err := c.Trace(ctx, "node-2", 8); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		node  string
		flows int
		is    error
		msg   string
	}{
		{"node-9", 0, admin.ErrUnknownNode, `unknown node "node-9": not in node-1's node list`},
		{"node-3", 0, admin.ErrNotTraceable, "node-3 is not probed from node-1"},
		{"node-2", admin.MaxTraceFlows + 1, nil, "flows \"65\": want 1 to 64"},
		{"", 0, nil, "no node to trace"},
	} {
		_, err := c.Trace(ctx, tc.node, tc.flows)
		if err == nil || !strings.Contains(err.Error(), tc.msg) || tc.is != nil && !errors.Is(err, tc.is) {
			t.Errorf("Trace(%q, %d): %v, want %q (is %v)", tc.node, tc.flows, err, tc.msg, tc.is)
		}
	}
	if want := []string{"node-2/0", "node-2/8", "node-9/0", "node-3/0"}; !reflect.DeepEqual(b.asked, want) {
		t.Errorf("the backend was asked %v, want %v (bad requests never reach it)", b.asked, want)
	}
}

func TestTraceWithoutTracer(t *testing.T) {
	c := admin.NewClient(admintest.Serve(t, &fakeBackend{report: sampleReport(), info: sampleInfo()}, nil))
	_, err := c.Trace(context.Background(), "node-2", 0)
	var se *admin.StatusError
	if !errors.As(err, &se) || se.Code != 501 || !strings.Contains(err.Error(), "cannot trace") {
		t.Fatalf("%v: want a 501 saying the daemon cannot trace", err)
	}
}

// An older daemon, without /v1/trace, is not mistaken for an unknown node.
func TestTraceOfAnOlderDaemon(t *testing.T) {
	b := &traceBackend{fakeBackend: fakeBackend{report: sampleReport(), info: sampleInfo()}}
	c := admin.NewClient(admintest.Serve(t, b, func(s *http.Server) {
		h := s.Handler
		s.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/v1/trace" {
				http.NotFound(w, r)
				return
			}
			h.ServeHTTP(w, r)
		})
	}))
	_, err := c.Trace(context.Background(), "node-2", 0)
	if err == nil || errors.Is(err, admin.ErrUnknownNode) || !strings.Contains(err.Error(), "older than the trace command") {
		t.Fatalf("%v: want an error saying the daemon is older than the trace command", err)
	}
}
