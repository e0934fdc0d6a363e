package daemon

import (
	"fmt"
	"net/http"

	"github.com/connectivity-exporter/connectivity_exporter/plan"
)

// readiness says why the daemon is not ready yet, "" once it is: it has
// a node list and has probed every path of it once (a full sweep), or,
// when passive, has a node list. So a rolling update that waits for each
// new exporter to be Ready (maxUnavailable: 1) replaces one exporter at a
// time, each back with a complete view before the next goes.
func readiness(keeper *plan.Keeper, live *liveParts) func() string {
	return func() string {
		if keeper.Current() == nil {
			return "no node list yet: waiting for the Kubernetes API (or the node source)"
		}
		p, running := live.load()
		switch {
		case !running:
			return "starting"
		case p.sched != nil && p.sched.LastCycle().Start.IsZero():
			return "probing its peers for the first time"
		}
		return ""
	}
}

// healthHandlers serve /-/healthy (200 while the process serves: the
// liveness probe) and /-/ready (200 once notReady says "", else 503 with
// the reason: the readiness probe), unless --web.telemetry-path took
// that path (the mux would panic on a second handler).
func healthHandlers(mux *http.ServeMux, telemetryPath string, notReady func() string) {
	handle := func(path string, h http.HandlerFunc) {
		if path != telemetryPath {
			mux.HandleFunc(path, h)
		}
	}
	handle("/-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "Healthy.")
	})
	handle("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if why := notReady(); why != "" {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "Not ready: "+why+".")
			return
		}
		fmt.Fprintln(w, "Ready.")
	})
}
