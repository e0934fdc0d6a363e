package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kingpin/v2"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
	"github.com/connectivity-exporter/connectivity_exporter/exitcode"
	"github.com/connectivity-exporter/connectivity_exporter/status"
)

const defaultAdminSocket = "/run/connectivity_exporter/admin.sock"

// cliCommands ask a running daemon over its admin socket.
type cliCommands struct {
	status, ping, get, trace *kingpin.CmdClause

	socket       string
	probe        bool
	verbose      bool
	statusOutput string
	getOutput    string
	traceNode    string
	traceFlows   int
	traceOutput  string
}

func addCLICommands(app *kingpin.Application) *cliCommands {
	c := &cliCommands{}
	c.status = app.Command("status", "Show the connectivity of every node as this node's daemon sees it, with a diagnosis of unhealthy nodes.")
	c.status.Flag("probe", "Probe every path of every node now and wait for the results (bounded by the probe timeout).").BoolVar(&c.probe)
	c.status.Flag("verbose", "Show every node in detail, not only the unhealthy ones.").Short('v').BoolVar(&c.verbose)
	c.status.Flag("output", "Output format: text or json.").Short('o').Default(status.OutputText).StringVar(&c.statusOutput)
	c.ping = app.Command("ping", "Check that the daemon's admin API answers.")
	c.get = app.Command("get", "Show the daemon's state: version, uptime, nodes known, health endpoint, last probe cycle.")
	c.get.Flag("output", "Output format: text or json.").Short('o').Default(status.OutputText).StringVar(&c.getOutput)
	c.trace = app.Command("trace", "Trace every flow of every path to a node now, through the daemon (its privileges and flows): the hops per TTL and how many flows saw each, and where flows that do not reach the node go silent.")
	c.trace.Arg("node", "The node to trace, as named in the node list.").Required().StringVar(&c.traceNode)
	c.trace.Flag("flows", fmt.Sprintf("Flows per path to trace (1 to %d); 0 traces the flows the daemon probes.", admin.MaxTraceFlows)).Default("0").IntVar(&c.traceFlows)
	c.trace.Flag("output", "Output format: text or json.").Short('o').Default(status.OutputText).StringVar(&c.traceOutput)
	for _, cmd := range []*kingpin.CmdClause{c.status, c.ping, c.get, c.trace} {
		cmd.Flag("admin.socket", "Unix socket of the daemon's admin API.").Default(defaultAdminSocket).StringVar(&c.socket)
	}
	return c
}

// run runs the CLI command cmd and returns its exit code.
func (c *cliCommands) run(cmd string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	client := admin.NewClient(c.socket)
	switch cmd {
	case c.status.FullCommand():
		return status.Run(ctx, os.Stdout, os.Stderr, client, status.CLIOptions{Probe: c.probe, Verbose: c.verbose, Output: c.statusOutput})
	case c.ping.FullCommand():
		return status.Ping(ctx, os.Stdout, os.Stderr, client)
	case c.get.FullCommand():
		return status.Get(ctx, os.Stdout, os.Stderr, client, c.getOutput)
	case c.trace.FullCommand():
		if c.traceFlows < 0 || c.traceFlows > admin.MaxTraceFlows {
			fmt.Fprintf(os.Stderr, "Error: --flows=%d: want 0 to %d\n", c.traceFlows, admin.MaxTraceFlows)
			return exitcode.Usage
		}
		return status.Trace(ctx, os.Stdout, os.Stderr, client, status.TraceOptions{Node: c.traceNode, Flows: c.traceFlows, Output: c.traceOutput})
	}
	return exitcode.Usage
}
