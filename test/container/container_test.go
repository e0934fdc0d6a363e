// Package container builds the image from the repository's Dockerfile with
// podman and runs it in a lab of network namespaces, each container with
// exactly the securityContext of its DaemonSet in deploy/kubernetes/: the
// exporter on node A's network, the health pod in a pod namespace behind
// node B. It needs root and podman (scripts/install-deps.sh installs it);
// without either it skips.
package container

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// Fast probing so that the FORWARD drop shows within seconds.
const (
	probeInterval    = time.Second
	probeTimeout     = 500 * time.Millisecond
	failureThreshold = 2
	nodesPath        = "/etc/connectivity-exporter/nodes.yaml"
)

func requirements(t *testing.T) {
	t.Helper()
	testbin.SkipShort(t, "container test")
	testbin.NeedRoot(t, "runs podman containers in network namespaces it builds")
	for _, tool := range []string{"podman", "runc", "ip", "nft", "curl", "ping"} {
		testbin.NeedTool(t, tool, "scripts/install-deps.sh installs it")
	}
}

// TestImageUnderPodman: the image, run as the manifests run it, sees all
// four paths of node B, and a FORWARD drop on node B takes down node B's
// endpoint paths, not its host paths.
func TestImageUnderPodman(t *testing.T) {
	requirements(t)
	began := time.Now()
	exporterDS, healthDS := daemonSets(t)

	// The build context: what the Dockerfile copies, and its .dockerignore.
	root := testbin.RepoRoot()
	ctxDir := t.TempDir()
	binary := filepath.Join(ctxDir, "connectivity_exporter")
	if err := testbin.Build(binary); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"LICENSE", ".dockerignore"} {
		data, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(ctxDir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if healthDS != nil {
		t.Logf("health pods: DaemonSet %s", healthDS.Name)
	} else {
		ds := expectedHealthDaemonSet()
		healthDS = &ds
		t.Logf("deploy/kubernetes has no health DaemonSet yet: running %s with args %q", ds.Name, ds.Spec.Template.Spec.Containers[0].Args)
	}
	built := time.Now()
	t.Logf("binary built in %s", built.Sub(began).Round(time.Millisecond))

	p := newPodman(t)
	tag := fmt.Sprintf("localhost/connectivity-exporter-test:%d", os.Getpid())
	// scratch: no registry is reachable here, and the binary needs nothing
	// from a base (static, numeric users, no CA certificates).
	p.build(filepath.Join(root, "Dockerfile"), ctxDir, "scratch", tag)
	imaged := time.Now()
	t.Logf("image built in %s", imaged.Sub(built).Round(time.Millisecond))

	l := newLab(t)
	nodeFile := filepath.Join(t.TempDir(), "nodes.yaml")
	// Node A has no health_ip: with one, the exporter would build a
	// health namespace of its own (the static node list mode), which the
	// manifests do not ask for. Node B's health IP is its health pod's.
	nodes := fmt.Sprintf("nodes:\n  - name: node-a\n    host_ip: %s\n  - name: node-b\n    host_ip: %s\n    health_ip: %s\n", nodeAIP, nodeBIP, podIP)
	if err := os.WriteFile(nodeFile, []byte(nodes), 0o644); err != nil {
		t.Fatal(err)
	}

	health := containerSettings(t, *healthDS)
	healthArgs, err := containerArgs(healthDS.Spec.Template.Spec.Containers[0])
	if err != nil {
		t.Fatal(err)
	}
	// Node B's own /hello (on a cluster its exporter answers there) and its
	// health pod; both run the health DaemonSet's container.
	hostHello := p.start("node-b /hello", health.podmanRun(l.b, tag, nil, healthArgs)...)
	pod := p.start("node-b health pod", health.podmanRun(l.bPod, tag, nil, healthArgs)...)

	// The exporter's own args: the manifest's discover nodes through the
	// Kubernetes API, which the lab does not have.
	exporter := containerSettings(t, exporterDS)
	exporterArgs := []string{
		"--node.name=node-a", "--nodes.file=" + nodesPath,
		"--web.listen-address=:9240", "--hello.listen-address=:4240",
		"--probe.interval=" + probeInterval.String(), "--probe.timeout=" + probeTimeout.String(),
		fmt.Sprintf("--probe.failure-threshold=%d", failureThreshold), "--log.level=debug",
	}
	nodeFileMount := []string{"--volume=" + nodeFile + ":" + nodesPath + ":ro"}
	exp := p.start("node-a exporter", exporter.podmanRun(l.a, tag, nodeFileMount, exporterArgs)...)

	for _, c := range []struct {
		name, id string
		want     runAs
	}{{"node-b /hello", hostHello, health.runAs}, {"health pod", pod, health.runAs}, {"exporter", exp, exporter.runAs}} {
		checkRunning(t, p, c.name, c.id, c.want)
	}

	all := []path{{"host", "icmp"}, {"host", "http"}, {"endpoint", "icmp"}, {"endpoint", "http"}}
	expectPaths(t, l, "node-b", all, nil, 20*time.Second)
	t.Logf("all four paths of node-b reachable %s after the image was built", time.Since(imaged).Round(time.Millisecond))

	l.forwardDrop()
	dropped := time.Now()
	bound := failureThreshold*probeInterval + probeTimeout + 4*time.Second
	expectPaths(t, l, "node-b", all[:2], all[2:], bound)
	t.Logf("endpoint paths of node-b unreachable %s after the FORWARD drop (bound %s)", time.Since(dropped).Round(time.Millisecond), bound)
	// Long enough for the host paths to have failed too if they were going to.
	time.Sleep(failureThreshold*probeInterval + probeTimeout)
	expectPaths(t, l, "node-b", all[:2], all[2:], 0)
	t.Logf("test ran %s, %s after the image build", time.Since(began).Round(time.Millisecond), time.Since(imaged).Round(time.Millisecond))
}

// settings is how the test runs one DaemonSet's container.
type settings struct {
	runAs
	flags []string // security and volumes
}

func containerSettings(t *testing.T, ds appsv1.DaemonSet) settings {
	t.Helper()
	spec := ds.Spec.Template.Spec
	c := spec.Containers[0]
	r, err := podmanSecurity(spec.SecurityContext, c.SecurityContext)
	if err != nil {
		t.Fatalf("DaemonSet %s: %v", ds.Name, err)
	}
	vols, skipped := podmanVolumes(spec, c)
	if len(skipped) > 0 {
		t.Logf("DaemonSet %s: volumes left out in the lab: %s", ds.Name, strings.Join(skipped, ", "))
	}
	return settings{runAs: r, flags: append(append([]string{}, r.flags...), vols...)}
}

// podmanRun is the arguments of podman run for this container in the
// network namespace netns, with more flags (mounts), then image and args.
func (s settings) podmanRun(netns, image string, more, args []string) []string {
	out := []string{"--network=ns:/run/netns/" + netns}
	out = append(out, s.flags...)
	out = append(out, more...)
	out = append(out, image)
	return append(out, args...)
}

type path struct{ path, protocol string }

// expectPaths waits until node A's exporter reports peer's up paths
// reachable and its down paths unreachable; within 0 checks once.
func expectPaths(t *testing.T, l *lab, peer string, up, down []path, within time.Duration) {
	t.Helper()
	testbin.Eventually(t, within, fmt.Sprintf("node-a's exporter seeing %s's %v reachable and %v unreachable", peer, up, down), func() error {
		seen, err := reachability(l, peer)
		if err != nil {
			return err
		}
		ok := true
		for _, p := range up {
			ok = ok && seen[p] == 1
		}
		for _, p := range down {
			ok = ok && seen[p] == 0
		}
		return testbin.Holds(ok, fmt.Sprintf("it sees %v", seen))
	})
}

// reachability scrapes node A's exporter from inside node A's namespace
// and returns connectivity_peer_reachable for each path to peer.
func reachability(l *lab, peer string) (map[path]float64, error) {
	body, err := l.inNS(l.a, "curl", "--silent", "--show-error", "--fail", "--max-time", "2", "http://"+nodeAIP+":9240/metrics")
	if err != nil {
		return nil, fmt.Errorf("scraping node-a's exporter: %w: %s", err, body)
	}
	m, err := testbin.ParseMetrics(body)
	if err != nil {
		return nil, err
	}
	out := map[path]float64{}
	for _, s := range m.Find("connectivity_peer_reachable", map[string]string{"peer": peer}) {
		out[path{s.Labels["path"], s.Labels["protocol"]}] = s.Value
	}
	return out, nil
}
