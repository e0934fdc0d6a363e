package cluster_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/test/cluster"
	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// series is one sample of an exporter's /metrics.
type series struct {
	name   string
	labels map[string]string
	value  float64
}

func (s series) String() string { return s.name + testbin.LabelKey(s.labels) }

// scrape is every series of node's exporter's /metrics (exporterMetrics),
// one by one.
func scrape(c *cluster.Cluster, node string) ([]series, error) {
	m, err := exporterMetrics(c, node)
	if err != nil {
		return nil, err
	}
	var out []series
	for name := range m {
		for _, s := range m.Find(name, nil) {
			out = append(out, series{name: name, labels: s.Labels, value: s.Value})
		}
	}
	return out, nil
}

// about are the series of list that name node: as peer, or in any other
// label (a stale series of a node that left would).
func about(list []series, node string) []series {
	var out []series
	for _, s := range list {
		for _, v := range s.labels {
			if v == node {
				out = append(out, s)
				break
			}
		}
	}
	return out
}

// pick are the series of list named name.
func pick(list []series, name string) []series {
	var out []series
	for _, s := range list {
		if s.name == name {
			out = append(out, s)
		}
	}
	return out
}

// meshComplete reports nil when every exporter of nodes sees every node of
// nodes reachable on all four paths, and nothing else: no series about a
// node outside nodes, no node leaving.
func meshComplete(c *cluster.Cluster, nodes []string) error {
	paths := []string{"host/icmp", "host/http", "endpoint/icmp", "endpoint/http"}
	for _, from := range nodes {
		list, err := scrape(c, from)
		if err != nil {
			return err
		}
		if l := pick(list, "connectivity_peer_leaving"); len(l) > 0 {
			return fmt.Errorf("%s reports %v", from, l)
		}
		got := map[string]float64{}
		for _, s := range pick(list, "connectivity_peer_reachable") {
			if !slices.Contains(nodes, s.labels["peer"]) {
				return fmt.Errorf("%s has a stale series %s", from, s)
			}
			got[s.labels["peer"]+" "+s.labels["path"]+"/"+s.labels["protocol"]] = s.value
		}
		for _, to := range nodes {
			for _, p := range paths {
				if v, ok := got[to+" "+p]; !ok || v != 1 {
					return fmt.Errorf("%s -> %s %s: reachable %v (reported %v)", from, to, p, v, ok)
				}
			}
		}
	}
	return nil
}

// reportsLeaving reports nil when from's exporter lists node as leaving for
// reason on /metrics with none of its path series, and says so in status.
func reportsLeaving(c *cluster.Cluster, from, node, reason, words string) error {
	list, err := scrape(c, from)
	if err != nil {
		return err
	}
	var leaving bool
	for _, s := range about(list, node) {
		switch {
		case s.name == "connectivity_peer_leaving" && s.labels["reason"] == reason && s.value == 1:
			leaving = true
		case strings.HasPrefix(s.name, "connectivity_peer_") && s.name != "connectivity_peer_leaving":
			return fmt.Errorf("%s still probes %s, which is leaving: %s", from, node, s)
		}
	}
	if !leaving {
		return fmt.Errorf("%s does not report %s leaving (%s): %v", from, node, reason, about(list, node))
	}
	out, err := exporterStatus(c, from)
	if err != nil {
		return err
	}
	want := "Leaving (" + words + ")"
	block := nodeBlock(out, node)
	if !strings.Contains(block, want) || strings.Contains(strings.ToLower(block), "unreachable") {
		return fmt.Errorf("status --verbose on %s says of %s %q, want %q:\n%s", from, node, block, want, out)
	}
	return nil
}

// exporterStatus is `status --verbose` in node's exporter pod. Its exit
// code says whether the cluster is healthy, which a planned change may
// make it not be, so only its output counts.
func exporterStatus(c *cluster.Cluster, node string) (string, error) {
	name, err := podOn(c, "connectivity-exporter", node)
	if err != nil {
		return "", err
	}
	out, err := c.Exec(cluster.ExporterNamespace, name, "", "/connectivity_exporter", "status", "--verbose")
	if out == "" && err != nil {
		return "", err
	}
	return out, nil
}

// nodeBlock is the part of status --verbose about node: its line and the
// indented lines below it.
func nodeBlock(status, node string) string {
	var b strings.Builder
	in := false
	for _, line := range strings.Split(status, "\n") {
		trimmed := strings.TrimSpace(line)
		indent := len(line) - len(strings.TrimLeft(line, " "))
		switch {
		case indent == 2 && strings.HasPrefix(trimmed, node) && (len(trimmed) == len(node) || strings.ContainsAny(trimmed[len(node):len(node)+1], " :(")):
			in = true
		case indent <= 2:
			in = false
		}
		if in {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// podOn is the name of app's pod on node.
func podOn(c *cluster.Cluster, app, node string) (string, error) {
	out, err := c.Kubectl("get", "pods", "-n", cluster.ExporterNamespace, "-l", "app.kubernetes.io/name="+app,
		"--field-selector", "spec.nodeName="+node, "-o", "jsonpath={.items[*].metadata.name}")
	if err != nil {
		return "", err
	}
	names := strings.Fields(out)
	if len(names) != 1 {
		return "", fmt.Errorf("%s pods on %s: %q", app, node, out)
	}
	return names[0], nil
}

// restarts are the containers' restart counts of both DaemonSets' pods, by
// node and app.
func restarts(t *testing.T, c *cluster.Cluster) map[string]string {
	t.Helper()
	out, err := c.Kubectl("get", "pods", "-n", cluster.ExporterNamespace, "-o",
		`jsonpath={range .items[*]}{.spec.nodeName}/{.metadata.labels.app\.kubernetes\.io/name}={.status.containerStatuses[0].restartCount}{"\n"}{end}`)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, line := range strings.Fields(out) {
		k, v, _ := strings.Cut(line, "=")
		m[k] = v
	}
	return m
}

// quietWatch records every alert Prometheus holds while a planned change
// runs, and what reached Alertmanager since it started.
type quietWatch struct {
	m       *cluster.Monitor
	mark    int
	started time.Time
	stop    chan struct{}
	done    chan struct{}

	mu     sync.Mutex
	seen   map[string]cluster.Alert // by labels; a firing one replaces a pending one
	before map[string]bool          // firing when the watch began
}

func watchQuiet(m *cluster.Monitor) *quietWatch {
	w := &quietWatch{m: m, mark: m.Hooks.Mark(), started: time.Now(), stop: make(chan struct{}), done: make(chan struct{}), seen: map[string]cluster.Alert{}, before: map[string]bool{}}
	// What fires already is an earlier change's, which reported it.
	if alerts, err := m.Alerts(); err == nil {
		for _, a := range alerts {
			if a.State == "firing" {
				w.before[testbin.LabelKey(a.Labels)] = true
			}
		}
	}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			alerts, _ := m.Alerts()
			w.mu.Lock()
			for _, a := range alerts {
				if k := testbin.LabelKey(a.Labels); w.seen[k].State != "firing" {
					w.seen[k] = a
				}
			}
			w.mu.Unlock()
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

// end stops the watch and fails t for every alert that fired or reached
// Alertmanager, unless allowed says it may; pending ones are logged.
func (w *quietWatch) end(t *testing.T, allowed func(labels map[string]string) bool) {
	t.Helper()
	close(w.stop)
	<-w.done
	if allowed == nil {
		allowed = func(map[string]string) bool { return false }
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for k, a := range w.seen {
		switch {
		case w.before[k]:
			t.Logf("firing already when this change began: %s", k)
		case a.State != "firing":
			t.Logf("pending for a moment, never fired: %s", k)
		case allowed(a.Labels):
			t.Logf("fired, as expected: %s", k)
		default:
			t.Errorf("Prometheus fired %s", k)
		}
	}
	for _, path := range []string{"/default", "/critical", "/warning"} {
		for _, a := range w.m.Hooks.Firing(w.mark, path) {
			if !allowed(a) && !w.before[testbin.LabelKey(a)] {
				t.Errorf("Alertmanager notified %s %s", path, testbin.LabelKey(a))
			}
		}
	}
}

// plannedFor is every for: of the rules in TestPlannedChangesRaiseNoAlert.
const plannedFor = "45s"

// quietHold is how long a planned change's state is held so that an
// alert it set off would fire and reach Alertmanager: the rules' for:,
// an evaluation, group_wait and a scrape.
func quietHold(t *testing.T) time.Duration {
	d, err := time.ParseDuration(plannedFor)
	if err != nil {
		t.Fatal(err)
	}
	return d + 20*time.Second
}
