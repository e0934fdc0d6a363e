package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/prometheus/exporter-toolkit/web"

	"github.com/connectivity-exporter/connectivity_exporter/daemon"
	"github.com/connectivity-exporter/connectivity_exporter/exitcode"
	"github.com/connectivity-exporter/connectivity_exporter/prober"
)

// addConfigCheckFlag adds --config.check (blackbox_exporter's name for the
// same thing) to the daemon: a way to try a node file, or the flags of a
// systemd unit, before they go live.
func addConfigCheckFlag(d *daemonCommand) *bool {
	return d.cmd.Flag("config.check", "Check the flags, --web.config.file and the node list of --nodes.file as a start would (this node must be in it), say what the daemon would run with, and exit: 0 if all is good, 1 for a bad file, 2 for a bad flag. Nothing is started, bound or changed, and the Kubernetes API is not asked.").Bool()
}

// checkConfig is the daemon's start up to the first node list, without
// acting on anything; it returns the exit code.
func (d *daemonCommand) checkConfig(stdout, stderr io.Writer) int {
	f := &d.flags
	if _, err := d.check(); err != nil {
		fmt.Fprintf(stderr, "%s: error: %v\n", appName, err)
		return exitcode.Usage
	}
	fmt.Fprintln(stdout, "flags: ok")
	fmt.Fprintln(stdout, fullSizeLine(f.MTUProbeEvery(), f.ProbeInterval, f.ProbeTimeout))
	if path := *f.Web.WebConfigFile; path != "" {
		if err := web.Validate(path); err != nil {
			fmt.Fprintf(stderr, "%s: error: --web.config.file %s: %v\n", appName, path, err)
			return exitcode.Failure
		}
		fmt.Fprintf(stdout, "web config %s: ok\n", path)
	}
	switch {
	case f.NodesFile != "":
		p, healthIPs, err := daemon.CheckNodeFile(context.Background(), f.Config)
		if err != nil {
			fmt.Fprintf(stderr, "%s: error: %v\n", appName, err)
			return exitcode.Failure
		}
		local := p.LocalNode()
		fmt.Fprintf(stdout, "node list %s: ok, %d nodes, %d probed from this node %s (host %s, health endpoint %s)\n",
			f.NodesFile, p.Len(), p.Probed(), local.Name, joinAddrs(local.HostIPs()), orNone(joinAddrs(healthIPs)))
	case f.Kubernetes:
		fmt.Fprintln(stdout, "node list: from the Kubernetes API, not asked by --config.check")
	default:
		fmt.Fprintln(stdout, "node list: none (--probe.passive)")
	}
	return exitcode.OK
}

// fullSizeLine says how far apart a path's full-size probes are and what
// that promises: a black hole of a whole path found within
// prober.FullSizeDetectionBound.
func fullSizeLine(every int, interval, timeout time.Duration) string {
	if every == 0 {
		return "full-size probes: off"
	}
	return fmt.Sprintf("full-size probes: every %d intervals of %s (%s); an MTU black hole of a whole path is found within %s",
		every, interval, time.Duration(every)*interval, prober.FullSizeDetectionBound(every, interval, timeout))
}

// joinAddrs is ips for a line of output: "198.19.0.1,2001:db8::1".
func joinAddrs(ips []netip.Addr) string {
	texts := make([]string, len(ips))
	for i, ip := range ips {
		texts[i] = ip.String()
	}
	return strings.Join(texts, ",")
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
