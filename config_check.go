package main

import (
	"context"
	"fmt"
	"io"

	"github.com/prometheus/exporter-toolkit/web"

	"github.com/connectivity-exporter/connectivity_exporter/nodes"
	"github.com/connectivity-exporter/connectivity_exporter/plan"
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
	if err := f.validate(); err != nil {
		fmt.Fprintf(stderr, "%s: error: %v\n", appName, err)
		return exitUsage
	}
	fmt.Fprintln(stdout, "flags: ok")
	if path := *f.web.WebConfigFile; path != "" {
		if err := web.Validate(path); err != nil {
			fmt.Fprintf(stderr, "%s: error: --web.config.file %s: %v\n", appName, path, err)
			return exitFailure
		}
		fmt.Fprintf(stdout, "web config %s: ok\n", path)
	}
	switch {
	case f.nodesFile != "":
		p, err := plan.Load(context.Background(), f.planConfig(), nodes.NewFileSource(f.nodesFile, f.nodesFilePoll), plan.DefaultLoadTimeout)
		if err != nil {
			fmt.Fprintf(stderr, "%s: error: %v\n", appName, err)
			return exitFailure
		}
		local := p.LocalNode()
		fmt.Fprintf(stdout, "node list %s: ok, %d nodes, %d probed from this node %s (host %s, health endpoint %s)\n",
			f.nodesFile, p.Len(), p.Probed(), local.Name, joinAddrs(local.HostIPs()), orNone(joinAddrs(d.healthEndpointIPs(p))))
	case f.nodesKubernetes:
		fmt.Fprintln(stdout, "node list: from the Kubernetes API, not asked by --config.check")
	default:
		fmt.Fprintln(stdout, "node list: none (--passive)")
	}
	return exitOK
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
