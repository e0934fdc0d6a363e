package cluster_test

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/test/cluster"
	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// TestInstallOnRealCluster installs the exporter as a user would, one
// install method after the other on one 3-node cluster: deploy/kubernetes
// (an overlay with the image tag and the API server's address), then the
// Helm chart (helm template, kubectl apply). After each it checks what a
// user would: both DaemonSets Running on every node under the kubelet's
// enforcement of their securityContexts, every exporter seeing every node
// on all four paths over the real CNI, and `status` in an exporter pod
// healthy. On the last install, a Prometheus on the shipped scrape config
// watches faults on real pods (checkMonitoring). CX_CLUSTER_NODES=N runs it
// on N nodes, CX_CLUSTER_DUALSTACK=1 on a dual-stack cluster (and then
// wants every path of both families).
func TestInstallOnRealCluster(t *testing.T) {
	// Its own cluster: runs beside the other cluster tests (make test gives
	// -parallel 3), which mostly wait on kubelets, probe intervals and alert timers.
	t.Parallel()
	dualStack := os.Getenv("CX_CLUSTER_DUALSTACK") == "1"
	c := cluster.Start(t, cluster.Options{Nodes: nodesFromEnv(t), DualStack: dualStack})
	methods := []struct {
		name string
		// manifests renders what the method installs; namespace says
		// whether the namespace must be made first (helm install
		// --create-namespace does that).
		manifests func() (string, error)
		namespace bool
		// daemonSets are the exporter's and the health pods' (the
		// chart names the latter after its release).
		daemonSets [2]string
	}{
		{name: "kustomize", manifests: c.KustomizeManifests, daemonSets: [2]string{"connectivity-exporter", "connectivity-health"}},
		{name: "helm chart", manifests: func() (string, error) { return c.ChartManifests(t) }, namespace: true,
			daemonSets: [2]string{"connectivity-exporter", "connectivity-exporter-health"}},
	}
	for i, m := range methods {
		manifests, err := m.manifests()
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if m.namespace {
			if _, err := c.Kubectl("create", "namespace", cluster.ExporterNamespace); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := c.KubectlStdin([]byte(manifests), "apply", "-f", "-"); err != nil {
			t.Fatal(err)
		}
		if err := c.WaitDaemonSets(cluster.ExporterNamespace, 3*time.Minute, m.daemonSets[:]...); err != nil {
			t.Fatalf("%s: %v", m.name, err)
		}
		t.Logf("%s: both DaemonSets Ready on every node %s after the apply", m.name, time.Since(start).Round(100*time.Millisecond))
		if !t.Run(m.name, func(t *testing.T) { checkInstalled(t, c, dualStack) }) {
			t.FailNow()
		}
		if i == len(methods)-1 {
			t.Run("Prometheus on the shipped scrape config", func(t *testing.T) { checkMonitoring(t, c, m.daemonSets[1]) })
			break
		}
		// Uninstalled as the user would, so that the next method starts
		// from an empty cluster.
		start = time.Now()
		if _, err := c.KubectlStdin([]byte(manifests), "delete", "--wait", "-f", "-"); err != nil {
			t.Fatal(err)
		}
		if m.namespace { // else the manifests hold the namespace
			if _, err := c.Kubectl("delete", "namespace", cluster.ExporterNamespace, "--wait"); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("%s: uninstalled in %s", m.name, time.Since(start).Round(100*time.Millisecond))
	}

	// The cost of a cluster, for the figures in the README.
	mem, err := c.Memory()
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(mem))
	var total uint64
	for name, b := range mem {
		names = append(names, name)
		total += b
	}
	sort.Strings(names)
	for _, name := range names {
		t.Logf("RSS %-26s %4d MiB", name, mem[name]>>20)
	}
	t.Logf("RSS of the cluster's daemons: %d MiB", total>>20)
}

// checkInstalled checks an installed exporter as a user would (see
// TestInstallOnRealCluster).
func checkInstalled(t *testing.T, c *cluster.Cluster, dualStack bool) {
	nodes := c.Nodes()

	t.Run("securityContexts enforced", func(t *testing.T) {
		for _, tc := range []struct {
			app      string
			uid      string
			capBnd   uint64
			readOnly bool
		}{
			// Root with NET_RAW (bit 13) alone.
			{app: "connectivity-exporter", uid: "0", capBnd: 1 << 13, readOnly: true},
			// uid 65534 with no capability at all.
			{app: "connectivity-health", uid: "65534", capBnd: 0, readOnly: true},
		} {
			pods := podsOf(t, c, tc.app)
			if len(pods) != len(nodes) {
				t.Fatalf("%s: %d pods on %d nodes", tc.app, len(pods), len(nodes))
			}
			for node, p := range pods {
				if p.phase != "Running" {
					t.Errorf("%s on %s: phase %s", tc.app, node, p.phase)
				}
				pid, err := cluster.ContainerPID(p.containerID)
				if err != nil {
					t.Fatalf("%s on %s: %v", tc.app, node, err)
				}
				st, err := cluster.ProcStatus(pid)
				if err != nil {
					t.Fatal(err)
				}
				if uids := strings.Fields(st["Uid"]); len(uids) != 4 || uids[0] != tc.uid || uids[1] != tc.uid {
					t.Errorf("%s on %s: Uid %q, want %s", tc.app, node, st["Uid"], tc.uid)
				}
				if bnd, err := strconv.ParseUint(st["CapBnd"], 16, 64); err != nil || bnd != tc.capBnd {
					t.Errorf("%s on %s: CapBnd %s, want %x", tc.app, node, st["CapBnd"], tc.capBnd)
				}
				if st["CapEff"] != st["CapBnd"] && tc.uid == "0" {
					t.Errorf("%s on %s: CapEff %s, CapBnd %s", tc.app, node, st["CapEff"], st["CapBnd"])
				}
				if st["NoNewPrivs"] != "1" {
					t.Errorf("%s on %s: NoNewPrivs %q", tc.app, node, st["NoNewPrivs"])
				}
				if ro, err := cluster.RootReadOnly(pid); err != nil || !ro {
					t.Errorf("%s on %s: root filesystem read-only %v (%v)", tc.app, node, ro, err)
				}
			}
		}
	})

	t.Run("every exporter reaches every node on four paths", func(t *testing.T) {
		paths := [][2]string{{"host", "icmp"}, {"host", "http"}, {"endpoint", "icmp"}, {"endpoint", "http"}}
		fams := []string{"ipv4"}
		if dualStack {
			fams = append(fams, "ipv6")
		}
		var missing []string
		deadline := time.Now().Add(2 * time.Minute)
		for {
			missing = missing[:0]
			for _, from := range nodes {
				got, err := reachable(c, from)
				if err != nil {
					missing = append(missing, fmt.Sprintf("%s: %v", from, err))
					continue
				}
				for _, peer := range nodes {
					for _, p := range paths {
						for _, fam := range fams {
							if v, ok := got[[4]string{peer, p[0], p[1], fam}]; !ok || v != 1 {
								missing = append(missing, fmt.Sprintf("%s -> %s %s/%s %s (%v, reported %v)", from, peer, p[0], p[1], fam, v, ok))
							}
						}
					}
				}
			}
			if len(missing) == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(2 * time.Second)
		}
		for _, m := range missing {
			t.Error("not reachable: " + m)
		}
	})

	t.Run("status in an exporter pod", func(t *testing.T) {
		for node, p := range podsOf(t, c, "connectivity-exporter") {
			out, err := c.Exec(cluster.ExporterNamespace, p.name, "", "/connectivity_exporter", "status")
			if err != nil {
				t.Fatalf("status on %s: %v\n%s", node, err, out)
			}
			want := fmt.Sprintf("Cluster health:   %d/%d reachable", len(nodes), len(nodes))
			if !strings.Contains(out, want) || !strings.Contains(out, "healthy node") {
				t.Errorf("status on %s does not say healthy (%q):\n%s", node, want, out)
			}
		}
	})

}

// nodesFromEnv is CX_CLUSTER_NODES, the number of nodes for a larger run
// (0, the harness's default of 3, if unset).
func nodesFromEnv(t *testing.T) int {
	v := os.Getenv("CX_CLUSTER_NODES")
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("CX_CLUSTER_NODES=%q: want a number of nodes", v)
	}
	return n
}

type pod struct {
	name, phase, containerID string
}

// podsOf is app's pods by node, those being deleted left out.
func podsOf(t *testing.T, c *cluster.Cluster, app string) map[string]pod {
	t.Helper()
	out, err := c.Kubectl("get", "pods", "-n", cluster.ExporterNamespace, "-l", "app.kubernetes.io/name="+app, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Items []struct {
			Metadata struct {
				Name              string
				DeletionTimestamp *string
			}
			Spec   struct{ NodeName string }
			Status struct {
				Phase             string
				ContainerStatuses []struct{ ContainerID string }
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	pods := map[string]pod{}
	for _, it := range list.Items {
		if it.Metadata.DeletionTimestamp != nil {
			continue // on its way out: its replacement is the node's pod
		}
		p := pod{name: it.Metadata.Name, phase: it.Status.Phase}
		if len(it.Status.ContainerStatuses) > 0 {
			p.containerID = it.Status.ContainerStatuses[0].ContainerID
		}
		if _, dup := pods[it.Spec.NodeName]; dup {
			t.Errorf("%s: two pods on %s", app, it.Spec.NodeName)
		}
		pods[it.Spec.NodeName] = p
	}
	return pods
}

// exporterMetrics is node's exporter's /metrics, read from inside node's
// network namespace as Prometheus would read it.
func exporterMetrics(c *cluster.Cluster, node string) (testbin.Metrics, error) {
	ip, err := c.NodeIP(node)
	if err != nil {
		return nil, err
	}
	m, _, err := testbin.ScrapeMetrics(c.HTTPClient(node), "http://"+ip.String()+":9240/metrics")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", node, err)
	}
	return m, nil
}

// reachable is connectivity_peer_reachable of node's exporter by (peer,
// path, protocol, family).
func reachable(c *cluster.Cluster, node string) (map[[4]string]float64, error) {
	m, err := exporterMetrics(c, node)
	if err != nil {
		return nil, err
	}
	out := map[[4]string]float64{}
	for _, s := range m.Find("connectivity_peer_reachable", nil) {
		l := s.Labels
		out[[4]string{l["peer"], l["path"], l["protocol"], l["family"]}] = s.Value
	}
	return out, nil
}
