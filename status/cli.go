package status

import (
	"context"
	"fmt"
	"io"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
	"github.com/connectivity-exporter/connectivity_exporter/exitcode"
)

// Output formats of -o.
const (
	OutputText = "text"
	OutputJSON = "json"
)

// CLIOptions are the flags of the status command.
type CLIOptions struct {
	// Probe asks the daemon to probe now instead of showing its latest
	// results.
	Probe   bool
	Verbose bool
	// Output is text (the default when empty) or json.
	Output string
}

// Run is the status command: it fetches a report, diagnoses it, writes it to
// w and returns the exit code. Errors go to errw.
func Run(ctx context.Context, w, errw io.Writer, client *admin.Client, opts CLIOptions) int {
	format, ok := checkOutput(errw, opts.Output)
	if !ok {
		return exitcode.Usage
	}
	fetch := client.Status
	if opts.Probe {
		fetch = client.Probe
	}
	r, err := fetch(ctx)
	if err != nil {
		fmt.Fprintf(errw, "Error: %v\n", err)
		return exitcode.Unreachable
	}
	if format == OutputJSON {
		err = RenderJSON(w, WithDiagnosis(r))
	} else {
		err = RenderText(w, r, TextOptions{Verbose: opts.Verbose}) // diagnoses r itself
	}
	if err != nil {
		fmt.Fprintf(errw, "Error: writing the report: %v\n", err)
		return exitcode.Output
	}
	return ExitCode(r)
}

// Ping is the ping command: it says whether the daemon's admin API answers.
func Ping(ctx context.Context, w, errw io.Writer, client *admin.Client) int {
	if err := client.Ping(ctx); err != nil {
		fmt.Fprintf(errw, "Error: %v\n", err)
		return exitcode.Unreachable
	}
	if _, err := fmt.Fprintln(w, "OK"); err != nil {
		fmt.Fprintf(errw, "Error: writing the answer: %v\n", err)
		return exitcode.Output
	}
	return exitcode.OK
}

// Get is the get command: version, uptime, nodes known, health endpoint
// state and the last probe cycle, as text or json.
func Get(ctx context.Context, w, errw io.Writer, client *admin.Client, output string) int {
	format, ok := checkOutput(errw, output)
	if !ok {
		return exitcode.Usage
	}
	info, err := client.Info(ctx)
	if err != nil {
		fmt.Fprintf(errw, "Error: %v\n", err)
		return exitcode.Unreachable
	}
	if format == OutputJSON {
		err = writeIndented(w, info)
	} else {
		err = RenderInfoText(w, info)
	}
	if err != nil {
		fmt.Fprintf(errw, "Error: writing the answer: %v\n", err)
		return exitcode.Output
	}
	return exitcode.OK
}

// checkOutput validates -o before anything is asked of the daemon.
func checkOutput(errw io.Writer, output string) (string, bool) {
	switch output {
	case "", OutputText:
		return OutputText, true
	case OutputJSON:
		return OutputJSON, true
	}
	fmt.Fprintf(errw, "Error: unknown output format %q: use -o text or -o json\n", output)
	return "", false
}
