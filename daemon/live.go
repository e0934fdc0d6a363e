package daemon

import (
	"sync/atomic"

	"github.com/connectivity-exporter/connectivity_exporter/healthep"
	"github.com/connectivity-exporter/connectivity_exporter/prober"
)

// liveParts are the parts of the daemon that start with the first node
// list, for the servers that start before it: nil fields until then, and
// for the parts a daemon does not have (no scheduler when passive, no
// controller without a health namespace).
type liveParts struct {
	p atomic.Pointer[parts]
}

type parts struct {
	sched   *prober.Scheduler
	ctrl    *healthep.Controller
	tracing *tracing // nil when passive
}

// store publishes the parts once they run.
func (l *liveParts) store(sched *prober.Scheduler, ctrl *healthep.Controller, tr *tracing) {
	l.p.Store(&parts{sched: sched, ctrl: ctrl, tracing: tr})
}

// load is the parts, and whether they run yet.
func (l *liveParts) load() (parts, bool) {
	p := l.p.Load()
	if p == nil {
		return parts{}, false
	}
	return *p, true
}
