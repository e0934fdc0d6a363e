package kubeapi

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"

	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// addIPv6 makes the lab dual stack, in 2001:db8::/32: node i also at
// 2001:db8::i, its pod at 2001:db8:1:i::2 behind 2001:db8:1:i::1, every
// node routing 2001:db8:1:j::/64 via node j. nodad: usable at once.
func (l *lab) addIPv6() {
	l.t.Helper()
	for i := 1; i <= l.nodes; i++ {
		node, pod := l.node(i), l.pod(i)
		testbin.IP(l.t, "-n", node, "addr", "add", l.hostIP6(i)+"/64", "dev", "eth0", "nodad")
		testbin.NetnsExec(l.t, node, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
		testbin.IP(l.t, "-n", node, "addr", "add", fmt.Sprintf("2001:db8:1:%d::1/64", i), "dev", "pod0", "nodad")
		testbin.IP(l.t, "-n", pod, "addr", "add", l.podIP6(i)+"/64", "dev", "eth0", "nodad")
		testbin.IP(l.t, "-n", pod, "-6", "route", "add", "default", "via", fmt.Sprintf("2001:db8:1:%d::1", i))
	}
	for i := 1; i <= l.nodes; i++ {
		for j := 1; j <= l.nodes; j++ {
			if i != j {
				testbin.IP(l.t, "-n", l.node(i), "-6", "route", "add", fmt.Sprintf("2001:db8:1:%d::/64", j), "via", l.hostIP6(j))
			}
		}
	}
}

func (l *lab) hostIP6(i int) string { return "2001:db8::" + strconv.Itoa(i) }
func (l *lab) podIP6(i int) string  { return fmt.Sprintf("2001:db8:1:%d::2", i) }

// familyPaths is paths for the series of one address family.
func (v view) familyPaths(peer, family string) map[string]float64 {
	out := map[string]float64{}
	for _, s := range v.Find("connectivity_peer_reachable", map[string]string{"peer": peer, "family": family}) {
		out[s.Labels["path"]+"/"+s.Labels["protocol"]] = s.Value
	}
	return out
}

// testDualStack: Node objects with an InternalIP of each family and health
// pods with a status.podIPs entry of each are probed on both families by
// default (--nodes.kubernetes.ip-family=dual), all four paths each.
func testDualStack(ctx context.Context, t *testing.T, admin *rest.Config, client kubernetes.Interface, d deployed, kubeconfig string) {
	nodes := client.CoreV1().Nodes()
	pods := client.CoreV1().Pods(d.namespace)
	emptyCluster(ctx, t, nodes, pods)
	l := newLab(t, 2)
	l.addIPv6()
	for i := 1; i <= 2; i++ {
		start(t, l.pod(i), nil, "hello", "--hello.listen-address=:4240")
		if i > 1 {
			start(t, l.node(i), nil, "hello", "--hello.listen-address=:4240")
		}
		n := labNode(l, i)
		// The kubelet lists the primary address of each family.
		n.Status.Addresses = append([]corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: l.hostIP6(i)}}, n.Status.Addresses...)
		if _, err := nodes.Create(ctx, n, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("connectivity-health-ds-%d", i)
		healthPod(ctx, t, client, d, name, i, l.podIP(i, 2))
		p, err := pods.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p.Status.PodIPs = append(p.Status.PodIPs, corev1.PodIP{IP: l.podIP6(i)})
		if _, err := pods.UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("IPv6 address of health pod %s: %v", name, err)
		}
	}
	apiForward(t, admin, l.node(1))
	e := startExporter(t, l.node(1), kubeconfig, nodeName(1), nil)
	took := e.within(t, 20*time.Second, "both families of both nodes, all four paths", func(v view) string {
		var problems []string
		for _, peer := range []string{nodeName(1), nodeName(2)} {
			for _, family := range []string{"ipv4", "ipv6"} {
				if got := v.familyPaths(peer, family); !maps.Equal(got, allReachable) {
					problems = append(problems, fmt.Sprintf("%s %s: %v, want %v", peer, family, got, allReachable))
				}
			}
		}
		slices.Sort(problems)
		return strings.Join(problems, "; ")
	})
	t.Logf("timing: both families of both nodes reachable after %s", took.Round(10*time.Millisecond))
}

// emptyCluster deletes every Node and every pod of pods: a subtest starts
// from an empty cluster, as what earlier subtests left is not its own.
func emptyCluster(ctx context.Context, t *testing.T, nodes corev1client.NodeInterface, pods corev1client.PodInterface) {
	t.Helper()
	if err := nodes.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := pods.DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: ptr(int64(0))}, metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
}
