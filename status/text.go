package status

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
	"github.com/connectivity-exporter/connectivity_exporter/nodes"
	"github.com/connectivity-exporter/connectivity_exporter/prober"
)

// TextOptions changes the text output.
type TextOptions struct {
	// Verbose shows every node in detail, not only the unhealthy ones.
	Verbose bool
}

// RenderText writes r in the layout operators know from cilium-health status,
// with a diagnosis under every node that has one. Nodes that are reachable,
// whose latest probes all succeeded and that have no diagnosis are only
// counted unless opts.Verbose is set.
func RenderText(w io.Writer, r admin.Report, opts TextOptions) error {
	r = WithDiagnosis(r)
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "Probe time:   %s\n", timeText(r.ProbeTime, "never (no probe has finished yet)"))
	fmt.Fprintf(bw, "View:         %s\n", viewText(r))
	fmt.Fprintln(bw, "Nodes:")
	if r.NoNodeList {
		fmt.Fprintln(bw, "  "+NoNodeListText)
		fmt.Fprintln(bw, "Cluster health:   unknown (no node list yet)")
		return bw.Flush()
	}
	if len(r.Nodes) == 0 {
		fmt.Fprintln(bw, "  none known")
	}
	omitted, healthy, probed, notProbed, leaving, partials := 0, 0, 0, 0, 0, 0
	for _, n := range r.Nodes {
		if n.NotProbed != "" {
			if n.Leaving != "" {
				leaving++
			} else {
				notProbed++
			}
			if opts.Verbose {
				writeNotProbed(bw, isLocal(r, n), n)
			}
			continue
		}
		probed++
		ok := nodeReachable(n)
		if ok {
			healthy++
		} else if nodePartial(n) {
			partials++
		}
		if !opts.Verbose && ok && !nodeFailing(n) && n.Diagnosis == "" && n.Leaving == "" && !n.NotReady {
			omitted++
			continue
		}
		writeNode(bw, isLocal(r, n), n, r.ProbeTime)
	}
	if omitted > 0 {
		fmt.Fprintf(bw, "  %s omitted; --verbose shows all nodes\n", plural(omitted, "healthy node"))
	}
	if leaving > 0 && !opts.Verbose {
		fmt.Fprintf(bw, "  %s leaving the cluster, not probed; --verbose lists them\n", plural(leaving, "node"))
	}
	if notProbed > 0 && !opts.Verbose {
		fmt.Fprintf(bw, "  %s not probed from this node; --verbose lists them\n", plural(notProbed, "node"))
	}
	fmt.Fprintf(bw, "Cluster health:   %d/%d reachable%s%s%s\n", healthy, probed, partialScope(partials), healthScope(r, probed, notProbed), leavingScope(leaving))
	return bw.Flush()
}

// NoNodeListText is what status says of a daemon that waits for its first
// node list.
const NoNodeListText = "no node list yet: waiting for the Kubernetes API (or the node source); nothing is probed meanwhile"

// leavingScope counts the leaving nodes apart from the health figure.
func leavingScope(leaving int) string {
	if leaving == 0 {
		return ""
	}
	return fmt.Sprintf(" (%s leaving the cluster, not counted)", plural(leaving, "node"))
}

// viewText says which view of the paths the report is: the probe made just
// now, or the latest results held to the failure threshold.
func viewText(r admin.Report) string {
	if r.Fresh {
		return "probed now (--probe): a path whose probe failed is unreachable"
	}
	if r.FailureThreshold > 0 {
		return fmt.Sprintf("latest results: a path is unreachable after %s in a row", plural(r.FailureThreshold, "failed probe"))
	}
	return "latest results: a path is unreachable after the failure threshold"
}

// healthScope says what Cluster health counted when this node does not
// probe every node.
func healthScope(r admin.Report, probed, notProbed int) string {
	switch {
	case notProbed == 0:
		return ""
	case r.ProbePeers > 0:
		return fmt.Sprintf(" (the %s this node probes: --probe.peers=%d; %d more not probed from here)", plural(probed, "node"), r.ProbePeers, notProbed)
	}
	return fmt.Sprintf(" (%d more not probed from here)", notProbed)
}

func writeNotProbed(w io.Writer, local bool, n admin.NodeReport) {
	suffix := ""
	if local {
		suffix = " (localhost)"
	}
	if n.Leaving != "" {
		fmt.Fprintf(w, "  %s%s:\n    Leaving (%s): not probed, so that its departure alerts no one\n", clean(n.Name), suffix, clean(nodes.LeavingText(n.Leaving)))
		return
	}
	fmt.Fprintf(w, "  %s%s:\n    Not probed from this node: %s\n", clean(n.Name), suffix, clean(n.NotProbed))
}

// writeNode writes a probed node's paths; now is the report's probe time,
// which NotReady durations are measured to.
func writeNode(w io.Writer, local bool, n admin.NodeReport, now time.Time) {
	suffix := ""
	if local {
		suffix = " (localhost)"
	}
	fmt.Fprintf(w, "  %s%s:\n", clean(n.Name), suffix)
	if n.Leaving != "" {
		fmt.Fprintf(w, "    Leaving (%s)\n", clean(nodes.LeavingText(n.Leaving)))
	}
	if n.NotReady {
		fmt.Fprintf(w, "    Kubernetes: %s; still probed\n", notReadyText(n.NotReadySince, now))
	}
	if n.Diagnosis != "" {
		fmt.Fprintf(w, "    Diagnosis: %s\n", clean(n.Diagnosis))
	}
	for _, p := range n.HostPaths() {
		writePath(w, "Host", p)
	}
	if len(n.EndpointPaths()) == 0 {
		fmt.Fprintln(w, "    Endpoint connectivity: none (no health IP)")
		return
	}
	for _, p := range n.EndpointPaths() {
		writePath(w, "Endpoint", p)
	}
}

func writePath(w io.Writer, kind string, p *admin.PathReport) {
	if p == nil {
		return
	}
	fmt.Fprintf(w, "    %s connectivity to %s:\n", kind, clean(p.IP))
	fmt.Fprintf(w, "      %-17s%s\n", "ICMP to stack:", probeText(p.ICMP))
	fmt.Fprintf(w, "      %-17s%s\n", "HTTP to agent:", probeText(p.HTTP))
	if m := mtuText(p); m != "" {
		fmt.Fprintf(w, "      %-17s%s\n", "Full-size:", m)
	}
	for _, pr := range []struct{ name, text string }{{"ICMP flows:", flowsText(p.ICMP)}, {"HTTP flows:", flowsText(p.HTTP)}} {
		if pr.text != "" {
			fmt.Fprintf(w, "      %-17s%s\n", pr.name, pr.text)
		}
	}
	writeFlowTraces(w, p)
}

// notReadyText says since when a node is NotReady: "NotReady for 50s".
func notReadyText(since, now time.Time) string {
	switch {
	case since.IsZero():
		return "NotReady"
	case now.IsZero() || now.Before(since):
		return "NotReady since " + timeText(since, "")
	}
	return "NotReady for " + now.Sub(since).Round(time.Second).String()
}

// probeText says how the latest probe went, in cilium-health's words; of
// a partial path, that it is partial first.
func probeText(p admin.ProbeReport) string {
	if partial(p) {
		q := p
		q.Status, q.ConsecutiveFailures = reachable, 0
		return "Partial, some flows fail (below); latest probe: " + latestText(q)
	}
	return latestText(p)
}

func latestText(p admin.ProbeReport) string {
	var s string
	switch prober.Result(p.Result) {
	case "":
		return "Not probed yet"
	case prober.ResultSuccess:
		return "OK, RTT=" + p.Latency.String()
	case prober.ResultTimeout:
		s = "Connection timed out"
	case prober.ResultRefused:
		s = "Connection refused"
	case prober.ResultError:
		msg := p.Error
		if msg == "" {
			msg = "unknown"
		}
		s = "Error: " + clean(msg)
	default:
		s = fmt.Sprintf("Error: unknown result %q", p.Result)
	}
	if p.Status != unreachable && p.ConsecutiveFailures > 0 {
		// Below the failure threshold: one lost packet is not an outage.
		s += fmt.Sprintf(" (%s in a row, below the failure threshold)", plural(p.ConsecutiveFailures, "failure"))
	}
	return s
}

// timeText formats t in UTC, as cilium-health does, or says what zero means.
func timeText(t time.Time, zero string) string {
	if t.IsZero() {
		return zero
	}
	return t.UTC().Format(time.RFC3339)
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// clean keeps text that came from the network or the node list (error
// messages, names) from moving the cursor, reordering text or faking lines
// on a terminal.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return '?'
		}
		return r
	}, s)
}
