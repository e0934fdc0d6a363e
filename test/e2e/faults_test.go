package e2e

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

var (
	hostPaths     = []path{{"host", "icmp"}, {"host", "http"}}
	endpointPaths = []path{{"endpoint", "icmp"}, {"endpoint", "http"}}
	icmpPaths     = []path{{"host", "icmp"}, {"endpoint", "icmp"}}
	httpPaths     = []path{{"host", "http"}, {"endpoint", "http"}}
)

// The classic cilium-health story: the nodes can talk, endpoints on
// different nodes cannot, because a node's FORWARD chain drops everything.
func TestForwardDropCutsEndpointsNotTheHost(t *testing.T) {
	l := startLab(t, 3)
	l.expectPaths(2, allPaths, 1, converge)
	l.mustRun("fault", "forward-drop", "2")
	l.expectPaths(2, endpointPaths, 0, converge)
	l.expectPaths(2, hostPaths, 1, time.Second)
	l.mustRun("clear", "forward-drop", "2")
	l.expectPaths(2, allPaths, 1, converge)
}

func TestICMPDroppedOnTheFabric(t *testing.T) {
	l := startLab(t, 3)
	for peer := 1; peer <= 3; peer++ {
		l.expectPaths(peer, allPaths, 1, converge)
	}
	l.mustRun("fault", "icmp-drop")
	for peer := 1; peer <= 3; peer++ {
		l.expectPaths(peer, icmpPaths, 0, converge)
		l.expectPaths(peer, httpPaths, 1, time.Second)
	}
}

func TestNodeCutOffAndBack(t *testing.T) {
	l := startLab(t, 3)
	l.expectPaths(3, allPaths, 1, converge)
	l.mustRun("fault", "cut", "3")
	l.expectPaths(3, allPaths, 0, converge)
	l.mustRun("clear", "cut", "3")
	l.expectPaths(3, allPaths, 1, converge)
}

func TestHealthNamespaceDeletedIsRebuilt(t *testing.T) {
	l := startLab(t, 3)
	l.expectPaths(2, allPaths, 1, converge)
	if out, err := exec.Command("ip", "netns", "delete", l.prefix+"-h2").CombinedOutput(); err != nil {
		t.Fatalf("ip netns delete: %v\n%s", err, out)
	}
	testbin.Eventually(t, converge, "node-2's health endpoint rebuilt and counted", func() error {
		mfs, _, err := l.metrics(2)
		if err != nil {
			return err
		}
		restarts, _ := mfs.Value("connectivity_health_endpoint_restarts_total", nil)
		up, _ := mfs.Value("connectivity_health_endpoint_up", nil)
		return testbin.Holds(restarts >= 1 && up == 1 && testbin.NetnsExists(l.prefix+"-h2"), fmt.Sprintf("restarts=%v up=%v netns=%v", restarts, up, testbin.NetnsExists(l.prefix+"-h2")))
	})
	l.expectPaths(2, endpointPaths, 1, converge)
}

func TestSIGTERMLeavesNothingBehind(t *testing.T) {
	l := startLab(t, 2)
	l.expectPaths(2, allPaths, 1, converge)
	if !testbin.NetnsExists(l.prefix + "-h2") {
		t.Fatal("the health namespace is not there to begin with")
	}
	l.mustRun("fault", "stop", "2") // SIGTERM, waits for the exit
	if testbin.NetnsExists(l.prefix + "-h2") {
		t.Error("the health namespace survived SIGTERM")
	}
	out, _ := exec.Command("ip", "-n", l.prefix+"-n2", "-o", "link", "show").CombinedOutput()
	if strings.Contains(string(out), "cx_health") {
		t.Errorf("the health veth survived SIGTERM:\n%s", out)
	}
	out, _ = exec.Command("ip", "-n", l.prefix+"-n2", "route", "show").CombinedOutput()
	if strings.Contains(string(out), "198.19.0.2") {
		t.Errorf("the route to the health IP survived SIGTERM:\n%s", out)
	}
}
