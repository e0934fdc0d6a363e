package status

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
	"github.com/connectivity-exporter/connectivity_exporter/exitcode"
)

// TraceOptions are the arguments and flags of the trace command.
type TraceOptions struct {
	Node string
	// Flows per path; 0 for the daemon's own.
	Flows  int
	Output string
}

// Trace is the trace command: the daemon traces every flow of every path
// to a node, and Trace writes the hops per TTL and how many flows saw each.
// Exit code: OK when every flow reached the node, Unhealthy when one did
// not (or its trace failed), Usage for an unknown node, Failure when the
// node is not probed from here, Unreachable without a daemon.
func Trace(ctx context.Context, w, errw io.Writer, client *admin.Client, opts TraceOptions) int {
	format, ok := checkOutput(errw, opts.Output)
	if !ok {
		return exitcode.Usage
	}
	rep, err := client.Trace(ctx, opts.Node, opts.Flows)
	switch {
	case errors.Is(err, admin.ErrUnknownNode):
		fmt.Fprintf(errw, "Error: %v\n", err)
		return exitcode.Usage
	case errors.Is(err, admin.ErrNotTraceable):
		fmt.Fprintf(errw, "Error: %v\n", err)
		return exitcode.Failure
	case err != nil:
		fmt.Fprintf(errw, "Error: %v\n", err)
		return exitcode.Unreachable
	}
	if format == OutputJSON {
		err = writeIndented(w, rep)
	} else {
		err = RenderTraceText(w, rep)
	}
	if err != nil {
		fmt.Fprintf(errw, "Error: writing the traces: %v\n", err)
		return exitcode.Output
	}
	for _, t := range rep.Traces {
		if !t.Reached {
			return exitcode.Unhealthy
		}
	}
	return exitcode.OK
}

// pathKey groups the traces of one path, protocol and address.
type pathKey struct{ path, protocol, family, ip string }

// RenderTraceText writes each path's traces as a table: per TTL, each
// address that answered and how many flows saw it, then the flows that did
// not reach the node, grouped by the last hop that answered.
func RenderTraceText(w io.Writer, rep admin.TraceReport) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Traces from %s to %s: %s per path, in %s\n", clean(rep.LocalNode), clean(rep.Node), plural(rep.Flows, "flow"), rep.Duration)
	var keys []pathKey
	byPath := map[pathKey][]admin.FlowTrace{}
	for _, t := range rep.Traces {
		k := pathKey{t.Path, t.Protocol, t.Family, t.IP}
		if _, ok := byPath[k]; !ok {
			keys = append(keys, k)
		}
		byPath[k] = append(byPath[k], t)
	}
	for _, k := range keys {
		writePathTraces(&b, k, byPath[k], rep.Flows)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writePathTraces(b *strings.Builder, k pathKey, traces []admin.FlowTrace, flows int) {
	reached := 0
	for _, t := range traces {
		if t.Reached {
			reached++
		}
	}
	verdict := "all reached"
	if reached < len(traces) {
		verdict = fmt.Sprintf("%d reached, %d did not", reached, len(traces)-reached)
	}
	count := plural(len(traces), "flow")
	if k.protocol == "icmp" && k.family == "ipv4" && flows > 1 && len(traces) == 1 {
		count += " (IPv4 echoes take one route per pair of addresses)"
	}
	fmt.Fprintf(b, "\n%s %s to %s (%s), %s: %s\n", titleWord(k.path), strings.ToUpper(k.protocol), clean(k.ip), k.family, count, verdict)
	if maxTTL(traces) > 0 {
		writeHopTable(b, k, traces)
	}
	for _, line := range notReachedLines(traces) {
		fmt.Fprintf(b, "  %s\n", line)
	}
}

// writeHopTable writes per TTL each address that answered and how many
// flows saw it.
func writeHopTable(b *strings.Builder, k pathKey, traces []admin.FlowTrace) {
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  TTL\tHOP\tFLOWS")
	for ttl := 1; ttl <= maxTTL(traces); ttl++ {
		first := true
		for _, row := range hopRows(traces, ttl, k.ip) {
			ttlCol := ""
			if first {
				ttlCol = fmt.Sprint(ttl)
				first = false
			}
			fmt.Fprintf(tw, "  %s\t%s\t%d\n", ttlCol, row.hop, row.flows)
		}
	}
	_ = tw.Flush()
}

func maxTTL(traces []admin.FlowTrace) int {
	n := 0
	for _, t := range traces {
		for _, h := range t.Hops {
			n = max(n, h.TTL)
		}
	}
	return n
}

type hopRow struct {
	hop   string
	flows int
}

// hopRows are the answers to TTL ttl over every trace that got that far:
// each address (the node marked) with its flow count, addresses in order,
// then the silent flows and the errors.
func hopRows(traces []admin.FlowTrace, ttl int, nodeIP string) []hopRow {
	byAddr := map[string]int{}
	silent, failed := 0, 0
	for _, t := range traces {
		for _, h := range t.Hops {
			if h.TTL != ttl {
				continue
			}
			switch {
			case h.Addr != "":
				byAddr[h.Addr]++
			case h.Kind == "error":
				failed++
			default:
				silent++
			}
		}
	}
	addrs := make([]string, 0, len(byAddr))
	for a := range byAddr {
		addrs = append(addrs, a)
	}
	slices.SortFunc(addrs, compareAddrs)
	rows := make([]hopRow, 0, len(addrs)+2)
	for _, a := range addrs {
		hop := clean(a)
		if a == nodeIP {
			hop += " (the node)"
		}
		rows = append(rows, hopRow{hop, byAddr[a]})
	}
	if silent > 0 {
		rows = append(rows, hopRow{"* (no answer)", silent})
	}
	if failed > 0 {
		rows = append(rows, hopRow{"! (not sent: local error)", failed})
	}
	return rows
}

// compareAddrs orders addresses numerically, anything else after them.
func compareAddrs(a, b string) int {
	pa, ea := netip.ParseAddr(a)
	pb, eb := netip.ParseAddr(b)
	if ea != nil || eb != nil {
		return cmp.Compare(a, b)
	}
	return pa.Compare(pb)
}

// notReachedLines group the flows that did not reach the node by where
// they went dark: the last hop that answered.
func notReachedLines(traces []admin.FlowTrace) []string {
	type dark struct {
		lastHop        string
		lastTTL, quiet int
	}
	var order []dark
	flows := map[dark][]string{}
	var lines []string
	for _, t := range traces {
		if t.Reached {
			continue
		}
		if t.Error != "" && len(t.Hops) == 0 {
			lines = append(lines, fmt.Sprintf("Flow %s: not traced: %s", flowName(t), clean(t.Error)))
			continue
		}
		d := dark{t.LastHop, t.LastHopTTL, t.FirstSilentTTL}
		if _, ok := flows[d]; !ok {
			order = append(order, d)
		}
		flows[d] = append(flows[d], flowName(t))
	}
	for _, d := range order {
		where := "nothing answered"
		if d.lastHop != "" {
			where = fmt.Sprintf("last hop %s at TTL %d", clean(d.lastHop), d.lastTTL)
		}
		if d.quiet > 0 {
			where += fmt.Sprintf(", silent from TTL %d", d.quiet)
		}
		fs := flows[d]
		lines = append(lines, fmt.Sprintf("Not reached by %s, %s: %s %s", plural(len(fs), "flow"), where, pluralWord(len(fs), "flow"), strings.Join(fs, ", ")))
	}
	return lines
}

// flowName is a flow's index and identity, in the words of status's
// flow lines: "2 (port 60464, label 0x1e995)".
func flowName(t admin.FlowTrace) string {
	var id []string
	if t.SourcePort != 0 {
		id = append(id, fmt.Sprintf("port %d", t.SourcePort))
	}
	if t.FlowLabel != 0 {
		id = append(id, fmt.Sprintf("label %#05x", t.FlowLabel))
	}
	if len(id) == 0 {
		return fmt.Sprint(t.Flow)
	}
	return fmt.Sprintf("%d (%s)", t.Flow, strings.Join(id, ", "))
}

func pluralWord(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

func titleWord(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
