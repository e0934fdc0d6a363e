// Command connectivity_exporter probes every node of a cluster from every
// other node on four paths (host and health endpoint, ICMP and HTTP) and
// serves the results to Prometheus; its CLI commands ask a running daemon,
// and its hello command serves only /hello, as a health endpoint of its own.
package main

import (
	"fmt"
	"os"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/version"

	"github.com/connectivity-exporter/connectivity_exporter/exitcode"
)

const appName = "connectivity_exporter"

func main() {
	os.Exit(run(os.Args[1:]))
}

// run parses args and runs the chosen command; it returns the exit code.
func run(args []string) int {
	app := kingpin.New(appName, "Probes every node of a cluster on host and health-endpoint paths, over ICMP and HTTP, and exports the results for Prometheus.")
	app.Version(version.Print(appName))
	app.HelpFlag.Short('h')
	app.UsageWriter(os.Stdout)
	app.ErrorWriter(os.Stderr)

	logFlags := addLogFlags(app)
	daemon := addDaemonCommand(app)
	helloCmd := addHelloCommand(app)
	cli := addCLICommands(app)

	cmd, err := app.Parse(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: error: %v, try --help\n", appName, err)
		return exitcode.Usage
	}
	logger, err := logFlags.logger(os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: error: %v\n", appName, err)
		return exitcode.Usage
	}
	switch cmd {
	case daemon.cmd.FullCommand():
		return daemon.run(logger)
	case helloCmd.cmd.FullCommand():
		return helloCmd.run(logger)
	}
	return cli.run(cmd)
}
