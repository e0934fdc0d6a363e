package cluster_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/test/cluster"
)

// TestHarnessNodeLifecycle checks what later tests build on: an image
// loaded reaches every node, also one added later; a node added joins Ready, a stopped kubelet takes its node out of Ready and a restarted
// one brings it back, and a removed node's machine is gone.
func TestHarnessNodeLifecycle(t *testing.T) {
	// Its own cluster: runs beside the other cluster tests (make test gives
	// -parallel 3), which mostly wait on kubelets, probe intervals and alert timers.
	t.Parallel()
	c := cluster.Start(t, cluster.Options{Nodes: 2, NodeMonitorGracePeriod: 10 * time.Second})
	// A second version of the image, as a rollout test makes.
	image := newExporterImage(t, c)
	if image == c.ExporterImage {
		t.Fatalf("a new binary gives the same image %s", image)
	}
	added, err := c.AddNode()
	if err != nil {
		t.Fatal(err)
	}
	if added != "node-3" || len(c.Nodes()) != 3 {
		t.Fatalf("added %q, nodes %v", added, c.Nodes())
	}
	// The added node has the image loaded before it joined.
	if _, err := c.Kubectl("run", "version", "--image="+image, "--image-pull-policy=Never", "--restart=Never",
		`--overrides={"spec":{"nodeName":"`+added+`"}}`, "--", "--version"); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, c, "version", "Succeeded")

	if err := c.StopKubelet(added); err != nil {
		t.Fatal(err)
	}
	waitReady(t, c, added, "Unknown")
	if err := c.StartKubelet(added); err != nil {
		t.Fatal(err)
	}
	waitReady(t, c, added, "True")

	if err := c.RemoveNode(added); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.NodeNS(added)); !os.IsNotExist(err) {
		t.Errorf("%s's namespace is left: %v", added, err)
	}
	if _, err := c.Kubectl("delete", "node", added); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitNodesReady(time.Minute); err != nil || len(c.Nodes()) != 2 {
		t.Fatalf("after the removal: %v, nodes %v", err, c.Nodes())
	}
}

// waitPhase waits until pod (in the default namespace) is in phase.
func waitPhase(t *testing.T, c *cluster.Cluster, pod, phase string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out, err := c.Kubectl("get", "pod", pod, "-o", "jsonpath={.status.phase}")
		if err == nil && out == phase {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod %s is %q (%v), want %s", pod, out, err, phase)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// waitReady waits until node's Ready condition is status.
func waitReady(t *testing.T, c *cluster.Cluster, node, status string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out, err := c.Kubectl("get", "node", node, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
		if err == nil && strings.TrimSpace(out) == status {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s Ready is %q (%v), want %s", node, out, err, status)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
