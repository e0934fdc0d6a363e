package daemon

import (
	"context"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/plan"
	"github.com/connectivity-exporter/connectivity_exporter/prober"
)

// healthPodCheck reads whether this node's health endpoint works when the
// cluster made it (a pod of the health DaemonSet on Kubernetes): this node
// probes its own health pod like any peer's, and the endpoint is up when
// that pod is known and its /hello answers.
type healthPodCheck struct {
	started time.Time
	// grace after start during which a missing or silent pod is not
	// reported: a new node's health pod may still be scheduled or pulled.
	grace  time.Duration
	wasUp  bool
	report func(up bool)
}

// check looks at the plan and the probe results once. A dual-stack pod is
// up when its /hello answers on each of its addresses.
func (c *healthPodCheck) check(now time.Time, p *plan.Plan, states *prober.Store) {
	up, found := true, false
	if e, ok := p.Entry(p.Local()); ok {
		for _, t := range e.Targets {
			if t.Path == prober.PathEndpoint && t.Protocol == prober.ProtocolHTTP {
				st, ok := states.State(t)
				found = true
				up = up && ok && st.Status == prober.StatusReachable
			}
		}
	}
	up = up && found
	c.wasUp = c.wasUp || up
	if !up && !c.wasUp && now.Sub(c.started) < c.grace {
		return
	}
	c.report(up)
}

// run checks every interval until ctx ends.
func (c *healthPodCheck) run(ctx context.Context, keeper *plan.Keeper, states *prober.Store, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		c.check(time.Now(), keeper.Current(), states)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
