package cluster_test

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/test/cluster"
	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// The alerts that name the fault (examples/alertmanager.yml inhibits the
// per-pair alerts they explain).
var verdicts = []string{"ConnectivityNodeUnreachable", "ConnectivityNodeIsolated", "ConnectivityNodeEndpointsCutOff", "ConnectivityZoneLinkDegraded"}

// checkMonitoring starts a Prometheus on the shipped scrape config and
// rules (cluster.StartMonitoring, its rules sped up alike for every case)
// on an installed exporter, then: every exporter is a target and up, the
// recording rules give values and nothing fires; a health pod deleted is
// replaced and the paths recover with no alert; a FORWARD drop on one node
// takes only its endpoint paths down and gives one verdict; a node cut off
// gives one node verdict. Each fault is undone before the next.
// healthDaemonSet is the name of the health pods' DaemonSet.
func checkMonitoring(t *testing.T, c *cluster.Cluster, healthDaemonSet string) {
	testbin.NeedTool(t, "nft", "apt-get install -y nftables")
	start := time.Now()
	m := cluster.StartMonitoring(t, c, cluster.MonitorOptions{})
	m.WaitTargetsUp(t, 2*time.Minute)
	t.Logf("every exporter a target and up %s after Prometheus started", time.Since(start).Round(100*time.Millisecond))
	nodes := c.Nodes()
	if len(nodes) < 3 {
		t.Skipf("the verdicts need 2 probers of a node: %d nodes", len(nodes))
	}

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"healthy: rules evaluate, nothing fires", func(t *testing.T) { expectHealthy(t, c, m) }},
		{"health pod deleted: replaced, no alert", func(t *testing.T) { healthPodReplaced(t, c, m, healthDaemonSet, nodes[1]) }},
		{"FORWARD drop on one node: one verdict", func(t *testing.T) { forwardDrop(t, c, m, nodes[1]) }},
		{"node cut off: one verdict", func(t *testing.T) { nodeCutOff(t, c, m, nodes[2]) }},
	}
	for _, s := range steps {
		start := time.Now()
		if !t.Run(s.name, s.run) {
			t.FailNow() // the next step starts from a healthy cluster
		}
		t.Logf("%s: %s", s.name, time.Since(start).Round(time.Second))
	}
}

// expectHealthy waits until every path of every node is reachable, the
// recording rules have their values and Prometheus holds no alert; none
// may have reached Alertmanager.
func expectHealthy(t *testing.T, c *cluster.Cluster, m *cluster.Monitor) {
	t.Helper()
	waitAllReachable(t, c, m)
	n := len(c.Nodes())
	fams, err := m.Query(`count by (family) (connectivity_peer_reachable{job="connectivity"})`)
	if err != nil {
		t.Fatal(err)
	}
	testbin.Eventually(t, 2*time.Minute, "the recording rules evaluated", func() error {
		for _, q := range []struct {
			expr string
			want int
		}{
			// Per source, path, protocol and family: no peer unreachable.
			{`source_path_protocol:connectivity_peers_unreachable:ratio{job="connectivity"} == 0`, 4 * n * len(fams)},
			// Every node is probed by all the others.
			{fmt.Sprintf(`job:connectivity_probers_per_node:expected{job="connectivity"} == %d`, n-1), 1},
			// No verdict.
			{`node:connectivity_unreachable:verdict or node:connectivity_endpoints_cut_off:verdict or node:connectivity_isolated:verdict`, 0},
		} {
			got, err := m.Query(q.expr)
			if err != nil {
				return err
			}
			if len(got) != q.want {
				return fmt.Errorf("%s: %d series, want %d: %v", q.expr, len(got), q.want, got)
			}
		}
		return nil
	})
	waitNoAlert(t, m)
	if s := m.Hooks.Summary(0); s != "" {
		t.Errorf("healthy cluster, yet Alertmanager notified:\n%s", s)
	}
}

// healthPodReplaced deletes node's health pod: its DaemonSet makes a new
// one (another IP), the exporters follow it, and no alert reaches
// Alertmanager.
func healthPodReplaced(t *testing.T, c *cluster.Cluster, m *cluster.Monitor, daemonSet, node string) {
	mark := m.Hooks.Mark()
	old := podsOf(t, c, "connectivity-health")[node]
	start := time.Now()
	if _, err := c.Kubectl("delete", "pod", "-n", cluster.ExporterNamespace, old.name, "--wait=false"); err != nil {
		t.Fatal(err)
	}
	testbin.Eventually(t, 2*time.Minute, "a new health pod on "+node, func() error {
		p := podsOf(t, c, "connectivity-health")[node]
		return testbin.Holds(p.name != old.name && p.phase == "Running", fmt.Sprintf("%+v", p))
	})
	if err := c.WaitDaemonSets(cluster.ExporterNamespace, 2*time.Minute, daemonSet); err != nil {
		t.Fatal(err)
	}
	t.Logf("replaced and Ready %s after the delete", time.Since(start).Round(100*time.Millisecond))
	// The new pod is what the paths reach: its IP is in the exporters'
	// endpoint series, then every path is up again.
	ip, err := c.Kubectl("get", "pod", "-n", cluster.ExporterNamespace, podsOf(t, c, "connectivity-health")[node].name, "-o", "jsonpath={.status.podIP}")
	if err != nil {
		t.Fatal(err)
	}
	testbin.Eventually(t, 2*time.Minute, "every exporter reaching the new endpoint "+ip, func() error {
		for from, p := range podsOf(t, c, "connectivity-exporter") {
			out, err := c.Exec(cluster.ExporterNamespace, p.name, "", "/connectivity_exporter", "status", "-o", "json")
			if err != nil {
				return fmt.Errorf("status on %s: %w", from, err)
			}
			var report statusReport
			if err := json.Unmarshal([]byte(out), &report); err != nil {
				return fmt.Errorf("status -o json on %s: %w", from, err)
			}
			i := slices.IndexFunc(report.Nodes, func(n statusNode) bool { return n.Name == node })
			if i < 0 || report.Nodes[i].Endpoint == nil {
				return fmt.Errorf("%s reports no endpoint of %s", from, node)
			}
			e := report.Nodes[i].Endpoint
			if e.IP != ip || e.ICMP.Status != "reachable" || e.HTTP.Status != "reachable" {
				return fmt.Errorf("%s sees %s's endpoint %+v", from, node, *e)
			}
		}
		return nil
	})
	waitAllReachable(t, c, m)
	t.Logf("every path up %s after the delete", time.Since(start).Round(100*time.Millisecond))
	// What the exporters saw meanwhile is in Prometheus and the rules.
	m.WaitScrapedSince(t, time.Now(), time.Minute)
	waitNoAlert(t, m)
	if s := m.Hooks.Summary(mark); s != "" {
		t.Errorf("a health pod replaced, yet Alertmanager notified:\n%s", s)
	}
	expectAlertmanagerEmpty(t, m)
}

// forwardDrop drops everything node forwards (its pods' traffic, as a
// FORWARD policy of DROP does): only node's endpoint paths fail, from
// every other node, and one verdict, ConnectivityNodeEndpointsCutOff
// naming node, is notified; the per-pair alerts are inhibited.
func forwardDrop(t *testing.T, c *cluster.Cluster, m *cluster.Monitor, node string) {
	mark := m.Hooks.Mark()
	nft := func(args ...string) error {
		cmd := exec.Command("nsenter", append([]string{"--net=" + c.NodeNS(node), "--", "nft"}, args...)...)
		cmd.Stdin = strings.NewReader("table inet cx_fault {\n  chain forward {\n    type filter hook forward priority 0; policy drop;\n  }\n}\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("nft %s in %s: %w: %s", strings.Join(args, " "), node, err, out)
		}
		return nil
	}
	if err := nft("-f", "-"); err != nil { // the table on stdin
		t.Fatal(err)
	}
	undone := false
	undo := func() {
		if !undone {
			undone = true
			if err := nft("delete table inet cx_fault"); err != nil {
				t.Error(err)
			}
		}
	}
	t.Cleanup(undo)
	start := time.Now()

	var others []string
	for _, n := range c.Nodes() {
		if n != node {
			others = append(others, n)
		}
	}
	// Down: node's endpoint paths, ICMP and HTTP, from every other node;
	// nothing else.
	testbin.Eventually(t, 3*time.Minute, "only "+node+"'s endpoint paths down", func() error {
		down, err := m.Query(`connectivity_peer_reachable{job="connectivity"} == 0`)
		if err != nil {
			return err
		}
		var seen []string
		for _, s := range down {
			l := s.Labels
			if l["peer"] != node || l["path"] != "endpoint" {
				t.Fatalf("a path down that the drop does not cut: %s", testbin.LabelKey(l))
			}
			seen = append(seen, l["source"]+"/"+l["protocol"])
		}
		var want []string
		for _, o := range others {
			want = append(want, o+"/http", o+"/icmp")
		}
		return testbin.Holds(containsAll(seen, want), fmt.Sprintf("down %v, want %v", seen, want))
	})
	t.Logf("endpoint paths down %s after the drop", time.Since(start).Round(100*time.Millisecond))
	expectOneVerdict(t, m, mark, "ConnectivityNodeEndpointsCutOff", node, nil)
	t.Logf("verdict notified %s after the drop", time.Since(start).Round(100*time.Millisecond))

	undo()
	waitAllReachable(t, c, m)
	waitNoAlert(t, m)
}

// nodeCutOff pulls node's cable: every other node fails every path to it,
// Prometheus cannot scrape it, and one verdict, ConnectivityNodeUnreachable
// naming node, is notified (with ConnectivityExporterDown for node, which
// is true: its exporter cannot be scraped); the per-pair alerts are
// inhibited.
func nodeCutOff(t *testing.T, c *cluster.Cluster, m *cluster.Monitor, node string) {
	mark := m.Hooks.Mark()
	if err := c.SetNodeLink(node, false); err != nil {
		t.Fatal(err)
	}
	undone := false
	undo := func() {
		if !undone {
			undone = true
			if err := c.SetNodeLink(node, true); err != nil {
				t.Error(err)
			}
		}
	}
	t.Cleanup(undo)
	start := time.Now()
	testbin.Eventually(t, 3*time.Minute, "every path to "+node+" down from every other node", func() error {
		down, err := m.Query(`connectivity_peer_reachable{job="connectivity"} == 0`)
		if err != nil {
			return err
		}
		var seen []string
		for _, s := range down {
			l := s.Labels
			if l["peer"] != node {
				t.Fatalf("a path down that does not lead to %s: %s", node, testbin.LabelKey(l))
			}
			seen = append(seen, l["source"]+"/"+l["path"]+"/"+l["protocol"])
		}
		var want []string
		for _, o := range c.Nodes() {
			if o != node {
				want = append(want, o+"/host/http", o+"/host/icmp", o+"/endpoint/http", o+"/endpoint/icmp")
			}
		}
		return testbin.Holds(containsAll(seen, want), fmt.Sprintf("down %v, want %v", seen, want))
	})
	t.Logf("every path to %s down %s after the cut", node, time.Since(start).Round(100*time.Millisecond))
	expectOneVerdict(t, m, mark, "ConnectivityNodeUnreachable", node, func(a map[string]string) bool {
		return a["alertname"] == "ConnectivityExporterDown" && a["instance"] == node
	})
	t.Logf("verdict notified %s after the cut", time.Since(start).Round(100*time.Millisecond))

	undo()
	if err := c.WaitNodesReady(2 * time.Minute); err != nil {
		t.Fatal(err)
	}
	m.WaitTargetsUp(t, 2*time.Minute)
	waitAllReachable(t, c, m)
	// The verdict and ExporterDown end. (Not every alert: node's
	// exporter lost the API server meanwhile, which it counts in
	// connectivity_discovery_errors_total, and ConnectivityDiscoveryErrors
	// looks back 30 minutes.)
	testbin.Eventually(t, 2*time.Minute, "the verdict and ExporterDown about "+node+" ended", func() error {
		alerts, err := m.Alerts()
		if err != nil {
			return err
		}
		var left []string
		for _, a := range alerts {
			if a.Labels["alertname"] == "ConnectivityExporterDown" || slices.Contains(verdicts, a.Labels["alertname"]) {
				left = append(left, a.State+" "+testbin.LabelKey(a.Labels))
			}
		}
		return testbin.Holds(len(left) == 0, strings.Join(left, "\n"))
	})
	if alerts, err := m.Alerts(); err == nil {
		for _, a := range alerts {
			t.Logf("after the cut was undone: %s %s", a.State, testbin.LabelKey(a.Labels))
		}
	}
}

// expectOneVerdict waits until Alertmanager notified verdict about node on
// /critical, and the per-pair alerts Prometheus fires about node are held
// back in Alertmanager, then checks that nothing else was notified since
// mark but what also allows.
func expectOneVerdict(t *testing.T, m *cluster.Monitor, mark int, verdict, node string, also func(map[string]string) bool) {
	t.Helper()
	testbin.Eventually(t, 4*time.Minute, verdict+" about "+node+" notified", func() error {
		for _, a := range m.Hooks.Firing(mark, "/critical") {
			if a["alertname"] == verdict && a["node"] == node {
				return nil
			}
		}
		return fmt.Errorf("notified since the fault:\n%s", m.Hooks.Summary(mark))
	})
	// Every per-pair alert about node that fires is in Alertmanager,
	// inhibited, and nothing else was notified.
	testbin.Eventually(t, time.Minute, "the per-pair alerts about "+node+" inhibited", func() error {
		am, err := m.AlertmanagerAlerts()
		if err != nil {
			return err
		}
		var pending []string
		for _, a := range am {
			l := a.Labels
			if slices.Contains(verdicts, l["alertname"]) || also != nil && also(l) {
				continue
			}
			if len(a.Status.InhibitedBy) == 0 {
				pending = append(pending, testbin.LabelKey(l))
			}
		}
		return testbin.Holds(len(pending) == 0, fmt.Sprintf("not inhibited: %v", pending))
	})
	// A per-pair alert that came to Alertmanager before the verdict had
	// its group wait end before the verdict's did: it would have been
	// notified by now. A moment for the webhook's delivery.
	time.Sleep(5 * time.Second)
	var unexpected []string
	for _, path := range []string{"/critical", "/warning", "/default"} {
		for _, a := range m.Hooks.Firing(mark, path) {
			if a["alertname"] == verdict && a["node"] == node || also != nil && also(a) {
				continue
			}
			unexpected = append(unexpected, path+" "+testbin.LabelKey(a))
		}
	}
	if len(unexpected) > 0 {
		t.Errorf("notified besides %s about %s:\n%s\nall since the fault:\n%s", verdict, node, strings.Join(unexpected, "\n"), m.Hooks.Summary(mark))
	}
}

// waitAllReachable waits until Prometheus has every path of every node
// reachable from every exporter: n*n*4 series of 1 per family.
func waitAllReachable(t *testing.T, c *cluster.Cluster, m *cluster.Monitor) {
	t.Helper()
	n := len(c.Nodes())
	testbin.Eventually(t, 3*time.Minute, "every path reachable in Prometheus", func() error {
		all, err := m.Query(`connectivity_peer_reachable{job="connectivity"}`)
		if err != nil {
			return err
		}
		fams := map[string]bool{}
		var bad []string
		for _, s := range all {
			fams[s.Labels["family"]] = true
			if s.Value != 1 {
				bad = append(bad, testbin.LabelKey(s.Labels))
			}
		}
		if len(bad) > 0 || len(all) != n*n*4*len(fams) || len(fams) == 0 {
			sort.Strings(bad)
			return fmt.Errorf("%d series of %d nodes, %d families; not 1: %v", len(all), n, len(fams), bad)
		}
		return nil
	})
}

// waitNoAlert waits until Prometheus holds no alert, pending or firing:
// then nothing of what happened before can still fire.
func waitNoAlert(t *testing.T, m *cluster.Monitor) {
	t.Helper()
	seen := map[string]string{}
	testbin.Eventually(t, 4*time.Minute, "no alert pending or firing", func() error {
		alerts, err := m.Alerts()
		if err != nil {
			return err
		}
		var now []string
		for _, a := range alerts {
			k := testbin.LabelKey(a.Labels)
			seen[k] = a.State
			now = append(now, a.State+" "+k)
		}
		return testbin.Holds(len(now) == 0, strings.Join(now, "\n"))
	})
	for k, state := range seen {
		t.Logf("seen %s before it ended: %s", state, k)
	}
}

// expectAlertmanagerEmpty fails t if Alertmanager holds any alert.
func expectAlertmanagerEmpty(t *testing.T, m *cluster.Monitor) {
	t.Helper()
	am, err := m.AlertmanagerAlerts()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range am {
		t.Errorf("Alertmanager holds %s (%s)", testbin.LabelKey(a.Labels), a.Status.State)
	}
}

// statusReport is what the tests read of `status -o json`.
type statusReport struct {
	Nodes []statusNode
}

type statusNode struct {
	Name     string
	Endpoint *struct {
		IP         string
		ICMP, HTTP struct{ Status string }
	}
}

// containsAll reports whether every one of want is in got.
func containsAll(got, want []string) bool {
	for _, w := range want {
		if !slices.Contains(got, w) {
			return false
		}
	}
	return true
}
