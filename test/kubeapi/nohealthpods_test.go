package kubeapi

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// testNoHealthPods runs the exporter with --no-nodes.kubernetes.health-pods,
// as the chart does with healthPods.enabled=false, under a service account
// that may read nodes and nothing else (the chart's ClusterRole alone: no
// Role for pods). Health pods exist and answer, so an exporter that looked
// for them would probe them: it must probe the host paths only, count no
// discovery error (it never asks for pods), export no
// connectivity_health_endpoint_up (so ConnectivityHealthEndpointDown cannot
// fire), and status must call the nodes reachable.
func testNoHealthPods(ctx context.Context, t *testing.T, admin *rest.Config, client kubernetes.Interface, d deployed) {
	nodes := client.CoreV1().Nodes()
	pods := client.CoreV1().Pods(d.namespace)
	emptyCluster(ctx, t, nodes, pods)
	l := newLab(t, 2)
	for i := 1; i <= 2; i++ {
		start(t, l.pod(i), nil, "hello", "--hello.listen-address=:4240")
		if i > 1 {
			start(t, l.node(i), nil, "hello", "--hello.listen-address=:4240")
		}
		if _, err := nodes.Create(ctx, labNode(l, i), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		healthPod(ctx, t, client, d, fmt.Sprintf("connectivity-health-np-%d", i), i, l.podIP(i, 2))
	}
	kubeconfig := nodesOnlyKubeconfig(ctx, t, admin, client, d)
	apiForward(t, admin, l.node(1))
	e := startExporter(t, l.node(1), kubeconfig, nodeName(1), nil, "--no-nodes.kubernetes.health-pods")
	want := map[string]map[string]float64{nodeName(1): hostOnly, nodeName(2): hostOnly}
	e.within(t, 20*time.Second, "host paths only", peersWant(want))
	// Several health checks' time (every 5 s by default) after the paths
	// showed, the endpoint paths and the health endpoint's series are
	// still absent.
	time.Sleep(6 * time.Second)
	v, err := e.scrape()
	if err != nil {
		t.Fatal(err)
	}
	if wrong := peersWant(want)(v); wrong != "" {
		t.Errorf("later: %s", wrong)
	}
	for _, name := range []string{"connectivity_health_endpoint_up", "connectivity_health_endpoint_restarts_total"} {
		if n := v.count(name); n != 0 {
			t.Errorf("%d %s series without health pods, want none", n, name)
		}
	}
	out, err := exec.Command(exporterBin, "status", "--admin.socket="+e.socket).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "2/2 reachable") {
		t.Errorf("status without health pods: %v, want exit 0 and 2/2 reachable:\n%s", err, out)
	}
	if strings.Contains(e.output.String(), "pods") && strings.Contains(e.output.String(), "forbidden") {
		t.Errorf("the exporter asked for pods:\n%s", e.output)
	}
	t.Logf("status:\n%s", out)
}

// nodesOnlyKubeconfig is a kubeconfig of a new service account bound to
// the manifests' ClusterRole (nodes) and to no Role: it may read no pod.
func nodesOnlyKubeconfig(ctx context.Context, t *testing.T, admin *rest.Config, client kubernetes.Interface, d deployed) string {
	t.Helper()
	const sa = "nodes-only"
	if _, err := client.CoreV1().ServiceAccounts(d.namespace).Create(ctx,
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: sa},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: d.clusterRole.GetName()},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa, Namespace: d.namespace}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tok, err := client.CoreV1().ServiceAccounts(d.namespace).CreateToken(ctx, sa,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr(int64(3600))}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return writeKubeconfig(t, admin, tok.Status.Token, d.namespace)
}
