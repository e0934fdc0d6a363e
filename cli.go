package main

import (
	"context"
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
	status, ping, get *kingpin.CmdClause

	socket       string
	probe        bool
	verbose      bool
	statusOutput string
	getOutput    string
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
	for _, cmd := range []*kingpin.CmdClause{c.status, c.ping, c.get} {
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
	}
	return exitcode.Usage
}
