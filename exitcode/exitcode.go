// Package exitcode holds the exit codes of every command, documented in the
// README ("Exit codes"): one definition for the daemon, hello and the CLI.
package exitcode

const (
	// OK: the daemon or hello stopped cleanly; status found every node
	// healthy; ping and get had an answer.
	OK = 0
	// Failure: the daemon or hello could not start, or stopped on an error.
	Failure = 1
	// Unhealthy: status found a node it probes not fully reachable (or not
	// probed yet), or an MTU black hole on a path to it, or the daemon has
	// no node list yet.
	Unhealthy = 1
	// Usage: invalid flags, arguments or -o value.
	Usage = 2
	// Unreachable: the CLI had no usable answer from the daemon (not
	// running, permission denied, timeout, an answer it cannot decode).
	Unreachable = 3
	// Output: the CLI could not write its answer to stdout (a closed pipe,
	// a full disk), whatever the answer was.
	Output = 4
)
