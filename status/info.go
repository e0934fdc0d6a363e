package status

import (
	"bufio"
	"fmt"
	"io"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
)

// RenderInfoText writes what `get` shows: one aligned line per fact.
func RenderInfoText(w io.Writer, info admin.Info) error {
	bw := bufio.NewWriter(w)
	line := func(label, format string, args ...any) {
		fmt.Fprintf(bw, "%-18s%s\n", label+":", fmt.Sprintf(format, args...))
	}
	version := clean(info.Version)
	if info.Revision != "" {
		version += " (revision " + clean(info.Revision) + ")"
	}
	line("Version", "%s", version)
	line("Started", "%s (uptime %s)", timeText(info.Started, "unknown"), info.Uptime)
	line("Local node", "%s", clean(info.LocalNode))
	line("Nodes known", "%d", info.Nodes)
	line("Health endpoint", "%s", healthEndpointText(info.HealthEndpoint))
	line("Last probe cycle", "%s", cycleText(info.LastCycle))
	return bw.Flush()
}

func healthEndpointText(h admin.HealthEndpointInfo) string {
	if !h.Enabled {
		return "disabled (no health IP for this node)"
	}
	state := "down"
	if h.Up {
		state = "up"
	}
	ips := clean(h.IP)
	if h.DualStackIP != "" {
		ips += " and " + clean(h.DualStackIP)
	}
	s := fmt.Sprintf("%s, %s in netns %s, %s", state, ips, clean(h.Netns), plural(h.Restarts, "restart"))
	if h.LastError != "" {
		s += "; last error: " + clean(h.LastError)
	}
	return s
}

func cycleText(c admin.CycleInfo) string {
	if c.Start.IsZero() {
		return "none finished yet"
	}
	return fmt.Sprintf("started %s, took %s, %s", timeText(c.Start, ""), c.Duration, plural(c.Targets, "path"))
}
