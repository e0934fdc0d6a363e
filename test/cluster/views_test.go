package cluster_test

import (
	"sync"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/test/cluster"
)

// viewWatch polls every exporter's /metrics while a rollout runs and keeps
// the most exporters seen at once without a full view: every node's host
// paths (ICMP and HTTP) present. A new exporter is Ready only once it has
// probed every peer (/-/ready), so the DaemonSet's maxUnavailable of 1
// must leave at most one node without a full view at a time; when Ready
// meant only "serving", a rollout replaced every exporter within seconds
// and all of them lacked series for 15-17 s (issue 21, finding 3).
type viewWatch struct {
	stop  chan struct{}
	done  chan struct{}
	mu    sync.Mutex
	worst int
	polls int
}

func watchViews(c *cluster.Cluster, nodes []string) *viewWatch {
	w := &viewWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		// A node counts once it lacks a full view in two polls in a row:
		// the polls of one round are not one instant, and a round may read
		// one exporter just before it turns Ready and the next just after
		// the controller replaced it.
		missing := map[string]int{}
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
			blind := 0
			for _, from := range nodes {
				if fullView(c, from, nodes) {
					missing[from] = 0
					continue
				}
				missing[from]++
				if missing[from] >= 2 {
					blind++
				}
			}
			w.mu.Lock()
			w.worst, w.polls = max(w.worst, blind), w.polls+1
			w.mu.Unlock()
		}
	}()
	return w
}

// end stops the watch and returns the most exporters without a full view
// at once, and the number of polls.
func (w *viewWatch) end() (worst, polls int) {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.worst, w.polls
}

// fullView says whether from's exporter serves a reachability series for
// both host paths to every node (whatever their values: a fault is a view).
func fullView(c *cluster.Cluster, from string, nodes []string) bool {
	list, err := scrape(c, from)
	if err != nil {
		return false
	}
	got := map[string]bool{}
	for _, s := range pick(list, "connectivity_peer_reachable") {
		if s.labels["path"] == "host" {
			got[s.labels["peer"]+"/"+s.labels["protocol"]] = true
		}
	}
	for _, to := range nodes {
		if !got[to+"/icmp"] || !got[to+"/http"] {
			return false
		}
	}
	return true
}
