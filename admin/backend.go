package admin

import "context"

// Backend is what the daemon gives the admin API.
type Backend interface {
	// Status returns the latest results without probing.
	Status() Report
	// Probe probes every path now and returns the results. It must return
	// soon after ctx ends (prober.Scheduler.ProbeAll does).
	Probe(ctx context.Context) Report
	// Info describes the daemon. Uptime is filled in by the server.
	Info() Info
}

// BackendFuncs adapts three functions to a Backend, so that the daemon can
// wire closures without declaring a type.
type BackendFuncs struct {
	StatusFunc func() Report
	ProbeFunc  func(ctx context.Context) Report
	InfoFunc   func() Info
}

func (b BackendFuncs) Status() Report                   { return b.StatusFunc() }
func (b BackendFuncs) Probe(ctx context.Context) Report { return b.ProbeFunc(ctx) }
func (b BackendFuncs) Info() Info                       { return b.InfoFunc() }
