package status_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
	"github.com/connectivity-exporter/connectivity_exporter/exitcode"
	"github.com/connectivity-exporter/connectivity_exporter/status"
)

// fanOut is the trace of flow i of a path through a 4-way group: router,
// member i%4, the node; flows on member 1 go dark there.
func fanOut(path, proto, family, ip string, flows int) []admin.FlowTrace {
	var out []admin.FlowTrace
	for i := range flows {
		m := fmt.Sprintf("198.18.1.%d", 4*(i%4)+2)
		ft := admin.FlowTrace{Path: path, Protocol: proto, Family: family, IP: ip, Flow: i, Duration: admin.Duration(time.Millisecond),
			Hops: []admin.TraceHop{
				{TTL: 1, Kind: "time_exceeded", Addr: "198.18.0.1"},
				{TTL: 2, Kind: "time_exceeded", Addr: m},
			}}
		if proto == "http" {
			ft.SourcePort = 60000 + 37*i
		}
		if i%4 == 1 {
			ft.Hops = append(ft.Hops, admin.TraceHop{TTL: 3, Kind: "silent"}, admin.TraceHop{TTL: 4, Kind: "silent"}, admin.TraceHop{TTL: 5, Kind: "silent"})
			ft.LastHop, ft.LastHopTTL, ft.FirstSilentTTL = m, 2, 3
		} else {
			ft.Hops = append(ft.Hops, admin.TraceHop{TTL: 3, Kind: "destination", Addr: ip})
			ft.LastHop, ft.LastHopTTL, ft.Reached = ip, 3, true
		}
		out = append(out, ft)
	}
	return out
}

func sampleTraceReport() admin.TraceReport {
	r := admin.TraceReport{LocalNode: "node-1", Node: "node-3", Flows: 8, Started: t0, Duration: admin.Duration(3200 * time.Millisecond)}
	ok := fanOut("host", "icmp", "ipv4", "198.19.0.3", 1)
	ok[0].Hops[1].Addr, ok[0].Hops[1].Kind = "", "silent" // a hop that does not answer, passed
	r.Traces = append(r.Traces, ok...)
	r.Traces = append(r.Traces, fanOut("host", "http", "ipv4", "198.19.0.3", 8)...)
	r.Traces = append(r.Traces, admin.FlowTrace{Path: "endpoint", Protocol: "http", Family: "ipv4", IP: "198.19.1.3", Flow: 0, SourcePort: 60100,
		Error: "flow setup: binding source port 60100: address already in use", Hops: []admin.TraceHop{}})
	return r
}

func TestRenderTraceText(t *testing.T) {
	var b bytes.Buffer
	if err := status.RenderTraceText(&b, sampleTraceReport()); err != nil {
		t.Fatal(err)
	}
	golden(t, "trace_fan_out", b.Bytes())
}

type traceBackend struct {
	backend
	rep admin.TraceReport
}

func (b *traceBackend) Trace(_ context.Context, node string, flows int) (admin.TraceReport, error) {
	switch node {
	case "node-3":
		return b.rep, nil
	case "node-4":
		return admin.TraceReport{}, fmt.Errorf("%w: node-4 is not probed from node-1 (outside --probe.peers)", admin.ErrNotTraceable)
	}
	return admin.TraceReport{}, fmt.Errorf("%w %q: not in node-1's node list", admin.ErrUnknownNode, node)
}

func TestTraceCommand(t *testing.T) {
	healthy := sampleTraceReport()
	healthy.Traces = fanOut("host", "icmp", "ipv4", "198.19.0.3", 1)
	missing, sock := missingDaemon(t)
	for _, tc := range []struct {
		name   string
		rep    admin.TraceReport
		client *admin.Client
		opts   status.TraceOptions
		code   int
		stdout string
		stderr string
	}{
		{name: "every flow reached", rep: healthy, opts: status.TraceOptions{Node: "node-3"}, code: exitcode.OK, stdout: "pair of addresses): all reached"},
		{name: "a flow did not", rep: sampleTraceReport(), opts: status.TraceOptions{Node: "node-3"}, code: exitcode.Unhealthy, stdout: "Not reached by 2 flows, last hop 198.18.1.6 at TTL 2, silent from TTL 3"},
		{name: "json", rep: sampleTraceReport(), opts: status.TraceOptions{Node: "node-3", Output: "json"}, code: exitcode.Unhealthy, stdout: `"last_hop": "198.18.1.6"`},
		{name: "unknown node", opts: status.TraceOptions{Node: "node-9"}, code: exitcode.Usage, stderr: `Error: unknown node "node-9": not in node-1's node list`},
		{name: "not probed", opts: status.TraceOptions{Node: "node-4"}, code: exitcode.Failure, stderr: "node-4 is not probed from node-1"},
		{name: "bad output", opts: status.TraceOptions{Node: "node-3", Output: "yaml"}, code: exitcode.Usage, stderr: "unknown output format"},
		{name: "no daemon", client: missing, opts: status.TraceOptions{Node: "node-3"}, code: exitcode.Unreachable, stderr: sock + " does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.client
			if c == nil {
				c = adminClient(t, &traceBackend{rep: tc.rep})
			}
			var out, errOut bytes.Buffer
			code := status.Trace(context.Background(), &out, &errOut, c, tc.opts)
			if code != tc.code || !strings.Contains(out.String(), tc.stdout) || !strings.Contains(errOut.String(), tc.stderr) {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out.String(), errOut.String())
			}
			if tc.opts.Output == "json" {
				var back admin.TraceReport
				if err := json.Unmarshal(out.Bytes(), &back); err != nil || len(back.Traces) != len(tc.rep.Traces) {
					t.Errorf("the JSON does not read back: %v", err)
				}
			}
		})
	}
}

// A failing flow's trace shows under its path in status, and so does
// the trace of a path probed without flows.
func TestStatusShowsFlowTraces(t *testing.T) {
	r := scenario(row{"node-1", "RRRR"}, row{"node-2", "RRTT"})
	flows := fanOut("host", "http", "ipv4", "198.18.0.2", 6) // 1 and 5 dark on one member
	other := flows[2]
	other.Reached, other.LastHop, other.LastHopTTL = false, "", 0
	other.Error = "flow setup: the flow's 4-tuple is in use on this host"
	for i := range r.Nodes {
		if r.Nodes[i].Name == "node-2" {
			r.Nodes[i].Host.HTTP.FlowTraces = []admin.FlowTrace{flows[1], other, flows[5]}
			r.Nodes[i].Host.ICMP.FlowTraces = []admin.FlowTrace{flows[1]}
		}
	}
	var b bytes.Buffer
	if err := status.RenderText(&b, r, status.TextOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		// Host ICMP has no flows (no Flows report): the path's own trace.
		"      ICMP trace:      the path fails; its trace ends at 198.18.1.6 (TTL 2), silent from TTL 3\n",
		"      HTTP trace:      flows 1 (port 60037), 5 (port 60185) fail; their traces end at 198.18.1.6 (TTL 2), silent from TTL 3\n",
		"      HTTP trace:      flow 2 (port 60074) fails; its trace failed: flow setup: the flow's 4-tuple is in use on this host\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status:\n%s\nwant a line %q", b.String(), want)
		}
	}
}
