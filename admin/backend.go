package admin

import (
	"context"
	"errors"
)

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
// wire closures without declaring a type; and TraceFunc, if set, to a
// Tracer (without it, the Backend cannot trace).
type BackendFuncs struct {
	StatusFunc func() Report
	ProbeFunc  func(ctx context.Context) Report
	InfoFunc   func() Info
	TraceFunc  func(ctx context.Context, node string, flows int) (TraceReport, error)
}

// errNoTracer is the answer of a BackendFuncs without TraceFunc.
var errNoTracer = errors.New("this daemon cannot trace")

// Trace calls TraceFunc.
func (b BackendFuncs) Trace(ctx context.Context, node string, flows int) (TraceReport, error) {
	if b.TraceFunc == nil {
		return TraceReport{}, errNoTracer
	}
	return b.TraceFunc(ctx, node, flows)
}

func (b BackendFuncs) Status() Report                   { return b.StatusFunc() }
func (b BackendFuncs) Probe(ctx context.Context) Report { return b.ProbeFunc(ctx) }
func (b BackendFuncs) Info() Info                       { return b.InfoFunc() }
