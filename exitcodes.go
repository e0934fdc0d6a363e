package main

// Exit codes, documented in the README.
const (
	exitOK = 0
	// exitFailure: the daemon could not start or stopped on an error; for
	// `status`, some node is unhealthy.
	exitFailure = 1
	// exitUsage: invalid flags or arguments.
	exitUsage = 2
)
