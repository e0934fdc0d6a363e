package cluster_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/test/cluster"
	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// TestPlannedChangesRaiseNoAlert runs what operators do to nodes and to the
// exporter itself on one 4-node cluster with the shipped manifests, scrape
// config, rules and Alertmanager routes (every for: of the rules shortened
// to plannedFor, so each change is held long enough for an alert it set
// off to reach Alertmanager). Each change must leave Alertmanager
// silent and /metrics without stale series; a node that leaves is reported
// as leaving, not unreachable, on /metrics and in status. A real fault
// during a rolling update still alerts, so the silence can fail.
func TestPlannedChangesRaiseNoAlert(t *testing.T) {
	// Its own cluster: runs beside the other cluster tests (make test gives
	// -parallel 3), which mostly wait on kubelets, probe intervals and alert timers.
	t.Parallel()
	start := time.Now()
	// A short grace before a silent kubelet's node goes NotReady (50s by
	// default): the NotReady phases below come sooner.
	c := cluster.Start(t, cluster.Options{Nodes: 4, NodeMonitorGracePeriod: 20 * time.Second})
	t.Logf("cluster Ready %s after the start", time.Since(start).Round(100*time.Millisecond))
	if err := c.DeployExporter(3 * time.Minute); err != nil {
		t.Fatal(err)
	}
	// Every for: at plannedFor, stricter than the shared pace (the rules
	// divided by 4) for alerts that wait 5 minutes or more. The quality
	// alerts wait longer than their rate window (for: 10-15m over 5m), so
	// that a burst of lost probes cannot fire them; their window shrinks
	// below plannedFor to keep that so. A 5s group wait, so each change
	// is held a shorter while: the verdict that must arrive here may come
	// after its per-pair alerts.
	m := cluster.StartMonitoring(t, c, cluster.MonitorOptions{
		Pace:      testbin.RulePace{For: plannedFor, Window: "30s"},
		GroupWait: "5s",
	})
	m.WaitTargetsUp(t, 2*time.Minute)
	nodes := c.Nodes()
	testbin.Eventually(t, 2*time.Minute, "every exporter reaching every node on four paths", func() error { return meshComplete(c, nodes) })
	expectHealthy(t, c, m)
	logMemory(t, c)
	hold := quietHold(t)
	t.Logf("set up %s after the start; each change is held %s", time.Since(start).Round(100*time.Millisecond), hold)

	// Three nodes at once, each its own change: an exporter killed, a node
	// cordoned and drained, a node shut down and marked out of service.
	t.Run("exporter killed, cordon and drain, out of service", func(t *testing.T) {
		w := watchQuiet(m)
		// t.Run from goroutines: all three at once, whatever -parallel is.
		var wg sync.WaitGroup
		for name, change := range map[string]func(t *testing.T){
			"exporter killed":  func(t *testing.T) { killedExporter(t, c, "node-1", hold) },
			"cordon and drain": func(t *testing.T) { cordonAndDrain(t, c, "node-2", "node-4", hold) },
			"out of service":   func(t *testing.T) { outOfService(t, c, "node-3", "node-4", hold) },
		} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				t.Run(name, change)
			}()
		}
		wg.Wait()
		testbin.Eventually(t, 2*time.Minute, "the mesh complete again", func() error { return meshComplete(c, nodes) })
		m.WaitTargetsUp(t, time.Minute)
		w.end(t, nil)
	})

	// A fault on one node while both DaemonSets roll to a new image tag:
	// it must reach Alertmanager, so that the silence around it can fail,
	// and nothing else may.
	t.Run("rolling update of both DaemonSets, with a fault on a node", func(t *testing.T) {
		image := newExporterImage(t, c)
		w := watchQuiet(m)
		views := watchViews(c, nodes)
		undo := faultDuringRollout(t, c, m, image, "node-2")
		if worst, polls := views.end(); worst > 1 || polls < 10 {
			t.Errorf("during the rollout %d exporters at once lacked a full view (%d polls); want at most 1 (maxUnavailable), over 10+ polls", worst, polls)
		} else {
			t.Logf("during the rollout at most %d of %d exporters lacked a full view at once (%d polls)", worst, len(nodes), polls)
		}
		undo()
		testbin.Eventually(t, 2*time.Minute, "the mesh complete again", func() error { return meshComplete(c, nodes) })
		m.WaitTargetsUp(t, time.Minute)
		noStalePods(t, m, len(nodes))
		w.end(t, func(l map[string]string) bool {
			switch l["alertname"] {
			case "ConnectivityNodeEndpointsCutOff", "ConnectivityEndpointUnreachable":
				return l["peer"] == "node-2"
			}
			return false
		})
	})

	t.Run("scale-down by the cluster autoscaler", func(t *testing.T) {
		scaleDown(t, c, m, "node-4", hold)
	})

	t.Run("API server unreachable for two minutes", func(t *testing.T) {
		apiOutage(t, c, m, 2*time.Minute)
	})

	t.Logf("the whole test took %s", time.Since(start).Round(time.Second))
}

// killedExporter SIGKILLs node's exporter: the kubelet restarts it, and
// its short absence alerts no one.
func killedExporter(t *testing.T, c *cluster.Cluster, node string, hold time.Duration) {
	before := restarts(t, c)[node+"/connectivity-exporter"]
	p := podsOf(t, c, "connectivity-exporter")[node]
	pid, err := cluster.ContainerPID(p.containerID)
	if err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testbin.Eventually(t, 2*time.Minute, node+"'s exporter restarted and serving", func() error {
		if now := restarts(t, c)[node+"/connectivity-exporter"]; now == before {
			return fmt.Errorf("restartCount still %s", now)
		}
		_, err := scrape(c, node)
		return err
	})
	t.Logf("%s's exporter serves again %s after the kill", node, time.Since(killed).Round(100*time.Millisecond))
	time.Sleep(time.Until(killed.Add(hold)))
}

// cordonAndDrain drains node as for maintenance, checks that observer
// reports it leaving (cordoned), holds, and uncordons it.
func cordonAndDrain(t *testing.T, c *cluster.Cluster, node, observer string, hold time.Duration) {
	if _, err := c.Kubectl("drain", node, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=60s"); err != nil {
		t.Fatal(err)
	}
	drained := time.Now()
	testbin.Eventually(t, time.Minute, node+" reported leaving", func() error {
		return reportsLeaving(c, observer, node, "cordoned", "cordoned")
	})
	time.Sleep(time.Until(drained.Add(hold)))
	if _, err := c.Kubectl("uncordon", node); err != nil {
		t.Fatal(err)
	}
	d := testbin.Eventually(t, time.Minute, node+" probed again from "+observer, func() error {
		list, err := scrape(c, observer)
		if err != nil {
			return err
		}
		n := 0
		for _, s := range about(list, node) {
			if s.name == "connectivity_peer_leaving" {
				return fmt.Errorf("still %s", s)
			}
			if s.name == "connectivity_peer_reachable" && s.value == 1 {
				n++
			}
		}
		return testbin.Holds(n == 4, fmt.Sprintf("%d of 4 paths reachable", n))
	})
	t.Logf("%s: all four paths reachable from %s %s after the uncordon", node, observer, d.Round(100*time.Millisecond))
}

// outOfService shuts node down the way a machine goes off (its kubelet
// stops, its exporter dies, it goes NotReady), marks it out of service as
// an administrator does, holds, and brings it back.
func outOfService(t *testing.T, c *cluster.Cluster, node, observer string, hold time.Duration) {
	p := podsOf(t, c, "connectivity-exporter")[node]
	pid, err := cluster.ContainerPID(p.containerID)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.StopKubelet(node); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	down := time.Now()
	if _, err := c.Kubectl("taint", "node", node, "node.kubernetes.io/out-of-service=nodeshutdown:NoExecute"); err != nil {
		t.Fatal(err)
	}
	waitReady(t, c, node, "Unknown")
	testbin.Eventually(t, time.Minute, node+" reported leaving", func() error {
		return reportsLeaving(c, observer, node, "out-of-service", "out of service")
	})
	time.Sleep(time.Until(down.Add(hold)))
	// The machine boots (its kubelet restarts the exporter), then the
	// administrator lifts the mark, as Kubernetes documents it.
	if err := c.StartKubelet(node); err != nil {
		t.Fatal(err)
	}
	waitReady(t, c, node, "True")
	testbin.Eventually(t, 2*time.Minute, node+"'s exporter back", func() error {
		_, err := scrape(c, node)
		return err
	})
	if _, err := c.Kubectl("taint", "node", node, "node.kubernetes.io/out-of-service-"); err != nil {
		t.Fatal(err)
	}
}

// newExporterImage loads the exporter's binary with one byte more, a new
// image tag as a release would be, on every node.
func newExporterImage(t *testing.T, c *cluster.Cluster) string {
	t.Helper()
	binary := filepath.Join(t.TempDir(), "connectivity_exporter")
	data, err := os.ReadFile(filepath.Join(cluster.RepoDir(), "connectivity_exporter"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(binary, append(data, 0), 0o755); err != nil {
		t.Fatal(err)
	}
	image, err := c.LoadExporterImage(binary)
	if err != nil {
		t.Fatal(err)
	}
	return image
}

// rollingUpdate sets image on both DaemonSets and waits until both are
// rolled out.
func rollingUpdate(t *testing.T, c *cluster.Cluster, image string) {
	t.Helper()
	start := time.Now()
	for ds, container := range map[string]string{"connectivity-exporter": "connectivity-exporter", "connectivity-health": "health"} {
		if _, err := c.Kubectl("set", "image", "-n", cluster.ExporterNamespace, "daemonset/"+ds, container+"="+image); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.WaitDaemonSets(cluster.ExporterNamespace, 4*time.Minute, "connectivity-exporter", "connectivity-health"); err != nil {
		t.Fatal(err)
	}
	t.Logf("both DaemonSets rolled out to %s in %s", image, time.Since(start).Round(100*time.Millisecond))
}

// faultDuringRollout rolls both DaemonSets to image while node's FORWARD
// chain drops everything (its pods cut off, its host not): the verdict
// about node must reach Alertmanager. It returns the fault's removal.
func faultDuringRollout(t *testing.T, c *cluster.Cluster, m *cluster.Monitor, image, node string) func() {
	mark := m.Hooks.Mark()
	start := time.Now()
	undo := nftIn(t, c.NodeNS(node), "cxq_forward", "chain forward { type filter hook forward priority 0; policy drop; }")
	rollingUpdate(t, c, image)
	testbin.Eventually(t, 4*time.Minute, "the verdict about "+node+" notified", func() error {
		for _, a := range m.Hooks.Firing(mark, "/critical") {
			if a["alertname"] == "ConnectivityNodeEndpointsCutOff" && a["node"] == node {
				return nil
			}
		}
		return fmt.Errorf("notified: %q", m.Hooks.Summary(mark))
	})
	t.Logf("ConnectivityNodeEndpointsCutOff for %s notified %s after the fault and rollout began", node, time.Since(start).Round(time.Second))
	return undo
}

// noStalePods checks that Prometheus holds one exporter pod per node: the
// replaced pods' series are gone.
func noStalePods(t *testing.T, m *cluster.Monitor, n int) {
	t.Helper()
	testbin.Eventually(t, time.Minute, "one exporter pod per node in Prometheus", func() error {
		got, err := m.Query(`count(group by (pod) (connectivity_build_info{job="connectivity"}))`)
		if err != nil {
			return err
		}
		return testbin.Holds(len(got) == 1 && got[0].Value == float64(n), fmt.Sprint(got))
	})
}

// scaleDown removes node as the cluster autoscaler does: its taint, then
// the machine deleted (kubelet and exporter gone, the node NotReady), then
// the Node object deleted. Its series must leave every exporter's /metrics
// and Prometheus, and nothing may alert.
func scaleDown(t *testing.T, c *cluster.Cluster, m *cluster.Monitor, node string, hold time.Duration) {
	w := watchQuiet(m)
	if _, err := c.Kubectl("taint", "node", node, fmt.Sprintf("ToBeDeletedByClusterAutoscaler=%d:NoSchedule", time.Now().Unix())); err != nil {
		t.Fatal(err)
	}
	var rest []string
	for _, n := range c.Nodes() {
		if n != node {
			rest = append(rest, n)
		}
	}
	for _, from := range rest {
		testbin.Eventually(t, time.Minute, node+" reported leaving by "+from, func() error {
			return reportsLeaving(c, from, node, "autoscaler", "being removed by the cluster autoscaler")
		})
	}
	if err := c.RemoveNode(node); err != nil {
		t.Fatal(err)
	}
	removed := time.Now()
	waitReady(t, c, node, "Unknown")
	// NotReady, with the node controller's unreachable taint: still leaving.
	if err := reportsLeaving(c, rest[0], node, "autoscaler", "being removed by the cluster autoscaler"); err != nil {
		t.Error(err)
	}
	// The autoscaler deletes the Node object once the machine is gone;
	// here only after the dead exporter's target has been down long
	// enough to fire ConnectivityExporterDown if it were not muted.
	var downSince time.Time
	for time.Now().Before(removed.Add(hold)) {
		if got, err := m.Query(fmt.Sprintf(`up{job="connectivity", instance=%q} == 0`, node)); err == nil && len(got) > 0 && downSince.IsZero() {
			downSince = time.Now()
		}
		time.Sleep(time.Second)
	}
	if downSince.IsZero() {
		t.Fatalf("%s's target never down in Prometheus", node)
	}
	t.Logf("%s's target down in Prometheus for %s before the deletion", node, time.Since(downSince).Round(time.Second))
	if _, err := c.Kubectl("delete", "node", node); err != nil {
		t.Fatal(err)
	}
	deleted := time.Now()
	gone := map[string]time.Duration{}
	testbin.Eventually(t, time.Minute, node+" gone from every exporter's /metrics", func() error {
		for _, from := range rest {
			if _, ok := gone[from]; ok {
				continue
			}
			list, err := scrape(c, from)
			if err != nil {
				return err
			}
			if s := about(list, node); len(s) > 0 {
				return fmt.Errorf("%s still has %d series about %s, e.g. %s", from, len(s), node, s[0])
			}
			gone[from] = time.Since(deleted)
		}
		return nil
	})
	var slowest time.Duration
	for _, d := range gone {
		slowest = max(slowest, d)
	}
	t.Logf("deleted Node %s: gone from every exporter's /metrics within %s (by exporter: %v)", node, slowest.Round(10*time.Millisecond), gone)
	// The exporters' own series about it, or from it; recorded series
	// keep a gone node's zone for an hour on purpose.
	testbin.Eventually(t, 2*time.Minute, node+" gone from Prometheus", func() error {
		got, err := m.Query(fmt.Sprintf(`{job="connectivity", __name__=~"connectivity_.*", peer=%q} or {job="connectivity", __name__=~"connectivity_.*", source=%q}`, node, node))
		if err != nil {
			return err
		}
		var names []string
		for _, s := range got {
			names = append(names, testbin.LabelKey(s.Labels))
		}
		return testbin.Holds(len(got) == 0, fmt.Sprintf("%d series about %s: %v", len(got), node, names))
	})
	t.Logf("%s's series gone from Prometheus's latest samples %s after the deletion", node, time.Since(deleted).Round(100*time.Millisecond))
	// Its pod is collected by the pod GC (orphaned pods, 40 s) and its
	// target leaves Prometheus with it.
	testbin.Eventually(t, 3*time.Minute, "one target per remaining node", m.TargetsUp)
	t.Logf("%s's target gone from Prometheus %s after the deletion, down %s in all", node, time.Since(deleted).Round(time.Second), time.Since(downSince).Round(time.Second))
	// Else the test could not tell a muted ConnectivityExporterDown from
	// one that had no time to fire.
	if forDur, _ := time.ParseDuration(plannedFor); time.Since(downSince) < forDur+20*time.Second {
		t.Errorf("%s's target down for %s only, want well over the rules' for: %s", node, time.Since(downSince).Round(time.Second), plannedFor)
	}
	time.Sleep(time.Until(deleted.Add(hold)))
	if err := meshComplete(c, rest); err != nil {
		t.Error(err)
	}
	w.end(t, nil)
}

// apiOutage cuts every node off the API server for outage: first half a
// partition (packets dropped: connections hang), second half the API
// server down (connections reset). The exporters keep serving and probing
// on their last node list, none restarts, no peer sees a fault, nothing
// alerts, and their watches follow the cluster again afterwards.
func apiOutage(t *testing.T, c *cluster.Cluster, m *cluster.Monitor, outage time.Duration) {
	nodes := c.Nodes()
	before := restarts(t, c)
	errsBefore := discoveryErrors(t, c, nodes)
	w := watchQuiet(m)
	cut := func(verdict string) []func() {
		rule := fmt.Sprintf("chain output { type filter hook output priority 0; ip daddr %s tcp dport %d %s; }", c.APIServerHost(), c.APIServerPort(), verdict)
		var undo []func()
		for _, n := range nodes {
			undo = append(undo, nftIn(t, c.NodeNS(n), "cxq_api", rule))
		}
		return undo
	}
	start := time.Now()
	var faults []string
	notReady := map[string]bool{}
	for _, verdict := range []string{"drop", "reject with tcp reset"} {
		undo := cut(verdict)
		for time.Since(start) < outage/2 || verdict != "drop" && time.Since(start) < outage {
			if apiReachable(c, nodes[0]) {
				faults = append(faults, fmt.Sprintf("the API server answers %s at %s", nodes[0], time.Since(start).Round(time.Second)))
			}
			for _, from := range nodes {
				list, err := scrape(c, from)
				if err != nil {
					faults = append(faults, err.Error())
					continue
				}
				for _, s := range pick(list, "connectivity_peer_reachable") {
					if s.value != 1 {
						faults = append(faults, fmt.Sprintf("%s at %s", s, time.Since(start).Round(time.Second)))
					}
				}
			}
			if out, err := c.Kubectl("get", "nodes", "-o", `jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}`); err == nil {
				for _, line := range strings.Fields(out) {
					if name, status, _ := strings.Cut(line, "="); status != "True" {
						notReady[name] = true
					}
				}
			}
			time.Sleep(5 * time.Second)
		}
		for _, u := range undo {
			u()
		}
	}
	for _, f := range faults {
		t.Errorf("during the API outage: %s", f)
	}
	t.Logf("nodes NotReady during the outage (their kubelets cut off too): %v", notReady)
	if err := c.WaitNodesReady(2 * time.Minute); err != nil {
		t.Fatal(err)
	}
	if after := restarts(t, c); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("restart counts changed: before %v, after %v", before, after)
	}
	t.Logf("discovery errors counted: before %v, after %v", errsBefore, discoveryErrors(t, c, nodes))
	// The watches follow the cluster again: a cordon is seen at once.
	last := nodes[len(nodes)-1]
	if _, err := c.Kubectl("cordon", last); err != nil {
		t.Fatal(err)
	}
	d := testbin.Eventually(t, time.Minute, "a cordon after the outage seen", func() error {
		return reportsLeaving(c, nodes[0], last, "cordoned", "cordoned")
	})
	t.Logf("a cordon after the outage seen by %s in %s", nodes[0], d.Round(100*time.Millisecond))
	if _, err := c.Kubectl("uncordon", last); err != nil {
		t.Fatal(err)
	}
	testbin.Eventually(t, time.Minute, "the mesh complete", func() error { return meshComplete(c, nodes) })
	// ConnectivityDiscoveryErrors waits 15 minutes of errors as shipped
	// (alerts/tests/exporter.yml: an outage of 2 minutes fires nothing);
	// the test's pace shortens every for: to plannedFor, which may
	// make it fire here. Anything else fails.
	w.end(t, func(l map[string]string) bool { return l["alertname"] == "ConnectivityDiscoveryErrors" })
}

// apiReachable reports whether a TCP connection from node to the API
// server opens (plain HTTP to its TLS port: any answer will do).
func apiReachable(c *cluster.Cluster, node string) bool {
	client := c.HTTPClient(node)
	client.Timeout = 3 * time.Second
	resp, err := client.Get("http://" + net.JoinHostPort(c.APIServerHost(), fmt.Sprint(c.APIServerPort())) + "/")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return true
}

// discoveryErrors is connectivity_discovery_errors_total of each node's
// exporter.
func discoveryErrors(t *testing.T, c *cluster.Cluster, nodes []string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, n := range nodes {
		list, err := scrape(c, n)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range pick(list, "connectivity_discovery_errors_total") {
			out[n] = s.value
		}
	}
	return out
}

// nftIn adds table (inet) with body in the network namespace at ns, and
// returns its removal, also run when t ends.
func nftIn(t *testing.T, ns, table, body string) func() {
	t.Helper()
	nft := testbin.NeedTool(t, "nft", "apt-get install -y nftables")
	run := func(script string) error {
		cmd := exec.Command("nsenter", "--net="+ns, "--", nft, "-f", "-")
		cmd.Stdin = strings.NewReader(script)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("nft in %s: %w: %s", ns, err, out)
		}
		return nil
	}
	if err := run(fmt.Sprintf("table inet %s {\n%s\n}\n", table, body)); err != nil {
		t.Fatal(err)
	}
	done := false
	undo := func() {
		if done {
			return
		}
		done = true
		if _, err := os.Stat(ns); err != nil {
			return // the node is gone, its rules with it
		}
		if err := run("delete table inet " + table + "\n"); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(undo)
	return undo
}

// logMemory logs the resident memory of each exporter and health pod and
// of the cluster's daemons, for the README's figures.
func logMemory(t *testing.T, c *cluster.Cluster) {
	t.Helper()
	for _, app := range []string{"connectivity-exporter", "connectivity-health"} {
		for node, p := range podsOf(t, c, app) {
			pid, err := cluster.ContainerPID(p.containerID)
			if err != nil {
				t.Fatal(err)
			}
			st, err := cluster.ProcStatus(pid)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("RSS %s on %s: %s (peak %s); charged to its cgroup: %s", app, node, st["VmRSS"], st["VmHWM"], chargedMemory(pid))
		}
	}
	mem, err := c.Memory()
	if err != nil {
		t.Fatal(err)
	}
	var total uint64
	for _, b := range mem {
		total += b
	}
	t.Logf("RSS of the cluster's daemons: %d MiB", total>>20)
}

// chargedMemory is the memory charged to pid's memory cgroup (v1
// memory.usage_in_bytes, v2 memory.current), in words.
func chargedMemory(pid int) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return err.Error()
	}
	for _, line := range strings.Split(string(data), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		var file string
		switch {
		case slices.Contains(strings.Split(parts[1], ","), "memory"):
			file = filepath.Join("/sys/fs/cgroup/memory", parts[2], "memory.usage_in_bytes")
		case parts[0] == "0" && parts[1] == "":
			file = filepath.Join("/sys/fs/cgroup", parts[2], "memory.current")
		default:
			continue
		}
		b, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		return strings.TrimSpace(string(b)) + " bytes"
	}
	return "unknown"
}
