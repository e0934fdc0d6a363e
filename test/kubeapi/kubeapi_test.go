package kubeapi

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// showLimit bounds how long a change of the API objects may take to show
// on /metrics: the source's 200 ms debounce, a 1 s probe interval, and a
// scrape.
const showLimit = 10 * time.Second

// deployed is what the manifests made on the API server.
type deployed struct {
	namespace      string
	serviceAccount string
	health         appsv1.DaemonSet // the health pods' DaemonSet, as stored
	role           *unstructured.Unstructured
	clusterRole    *unstructured.Unstructured
}

// TestKubernetes applies deploy/kubernetes to a real API server and, as
// root, runs the exporter with the manifests' service account on a lab of
// network namespaces whose nodes and health pods it learns from the API.
func TestKubernetes(t *testing.T) {
	admin := startAPIServer(t)
	ctx := t.Context()
	client := kubernetes.NewForConfigOrDie(admin)
	ap := newApplier(t, admin)
	d := applyManifests(ctx, t, ap, client)
	// The manifests are applied; the rest runs the exporter in lab
	// network namespaces.
	testbin.NeedRoot(t, "runs the exporter in lab network namespaces")

	// The manifests' own service account, with a token as a pod would get.
	tok, err := client.CoreV1().ServiceAccounts(d.namespace).CreateToken(ctx, d.serviceAccount,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr(int64(3600))}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest for %s/%s: %v", d.namespace, d.serviceAccount, err)
	}
	kubeconfig := writeKubeconfig(t, admin, tok.Status.Token, d.namespace)

	t.Run("discovery and data paths", func(t *testing.T) {
		testDiscovery(ctx, t, admin, client, d, kubeconfig)
	})
	t.Run("no API server yet: serves, not ready, then ready", func(t *testing.T) {
		testNoAPIServer(t, admin, kubeconfig)
	})
	t.Run("a missing verb fails", func(t *testing.T) {
		testMissingVerbs(ctx, t, admin, ap, d, kubeconfig)
	})
	t.Run("no health pods: host paths only, no pods read", func(t *testing.T) {
		testNoHealthPods(ctx, t, admin, client, d)
	})
	t.Run("dual stack", func(t *testing.T) {
		testDualStack(ctx, t, admin, client, d, kubeconfig)
	})
}

// applyManifests applies the kustomization with server-side apply and
// checks what the API server made of it.
func applyManifests(ctx context.Context, t *testing.T, ap *applier, client kubernetes.Interface) deployed {
	t.Helper()
	var d deployed
	kinds := map[string]int{}
	for _, obj := range kustomizeBuild(t) {
		got, err := ap.apply(ctx, obj)
		if err != nil {
			t.Fatal(err)
		}
		kinds[obj.GetKind()]++
		switch obj.GetKind() {
		case "Namespace":
			d.namespace = got.GetName()
		case "ServiceAccount":
			d.serviceAccount = got.GetName()
		case "Role":
			d.role = obj
		case "ClusterRole":
			d.clusterRole = obj
		case "DaemonSet":
			var ds appsv1.DaemonSet
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(got.Object, &ds); err != nil {
				t.Fatal(err)
			}
			// Defaulting ran: the API server filled in what the file left out.
			if ds.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways || ds.Spec.RevisionHistoryLimit == nil {
				t.Errorf("DaemonSet %s was not defaulted: %+v", ds.Name, ds.Spec)
			}
			if !ds.Spec.Template.Spec.HostNetwork {
				d.health = ds
			}
		}
	}
	want := map[string]int{"Namespace": 1, "PriorityClass": 1, "ServiceAccount": 1, "ClusterRole": 1, "ClusterRoleBinding": 1,
		"Role": 1, "RoleBinding": 1, "DaemonSet": 2, "Service": 1}
	if !maps.Equal(kinds, want) {
		t.Fatalf("applied %v, want %v", kinds, want)
	}
	if d.health.Name == "" || d.namespace == "" || d.serviceAccount == "" {
		t.Fatalf("no health DaemonSet, namespace or service account among the manifests: %+v", d)
	}
	// What the controller-manager would add, which pods are admitted with.
	if _, err := client.CoreV1().ServiceAccounts(d.namespace).Create(ctx,
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return d
}

// labNode is a Node object for lab node i.
func labNode(l *lab, i int) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: nodeName(i)},
		Status: corev1.NodeStatus{
			Addresses:  []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: l.hostIP(i)}, {Type: corev1.NodeHostName, Address: nodeName(i)}},
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady"}},
		},
	}
}

func nodeName(i int) string { return fmt.Sprintf("node-%d", i) }

// healthPod creates a pod of the health DaemonSet on node i, as the
// DaemonSet controller and scheduler would, and reports it Running and
// Ready with ip, as the kubelet would.
func healthPod(ctx context.Context, t *testing.T, client kubernetes.Interface, d deployed, name string, i int, ip string) {
	t.Helper()
	tmpl := d.health.Spec.Template
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: d.namespace, Labels: tmpl.Labels},
		Spec:       *tmpl.Spec.DeepCopy(),
	}
	pod.Spec.NodeName = nodeName(i)
	pods := client.CoreV1().Pods(d.namespace)
	created, err := pods.Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating health pod %s from the DaemonSet's template: %v", name, err)
	}
	now := metav1.Now()
	created.Status = corev1.PodStatus{
		Phase:  corev1.PodRunning,
		HostIP: labNodeIP(i), HostIPs: []corev1.HostIP{{IP: labNodeIP(i)}},
		PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}},
		StartTime: &now,
		Conditions: []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
		},
	}
	if _, err := pods.UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("status of health pod %s: %v", name, err)
	}
}

func labNodeIP(i int) string { return fmt.Sprintf("198.18.0.%d", i) }

// editNode gets node i, changes it and updates it (or its status).
func editNode(ctx context.Context, t *testing.T, client kubernetes.Interface, i int, status bool, change func(*corev1.Node)) {
	t.Helper()
	nodes := client.CoreV1().Nodes()
	n, err := nodes.Get(ctx, nodeName(i), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	change(n)
	if status {
		_, err = nodes.UpdateStatus(ctx, n, metav1.UpdateOptions{})
	} else {
		_, err = nodes.Update(ctx, n, metav1.UpdateOptions{})
	}
	if err != nil {
		t.Fatal(err)
	}
}

// peersWant checks that /metrics shows these nodes, and of each the paths
// given.
func peersWant(want map[string]map[string]float64) func(view) string {
	return peersLeavingWant(want, nil)
}

// peersLeavingWant is peersWant with nodes that are leaving the cluster:
// listed (connectivity_nodes counts them), with connectivity_peer_leaving
// and their reason, and no path series.
func peersLeavingWant(want map[string]map[string]float64, leaving map[string]string) func(view) string {
	return func(v view) string {
		if n, ok := v.get("connectivity_nodes"); !ok || int(n) != len(want)+len(leaving) {
			return fmt.Sprintf("connectivity_nodes %v, want %d", n, len(want)+len(leaving))
		}
		if n := v.count("connectivity_peer_leaving"); n != len(leaving) {
			return fmt.Sprintf("%d connectivity_peer_leaving series, want %d (%v)", n, len(leaving), leaving)
		}
		for peer, reason := range leaving {
			if x, ok := v.get("connectivity_peer_leaving", "peer="+peer, "reason="+reason); !ok || x != 1 {
				return fmt.Sprintf("connectivity_peer_leaving{peer=%q,reason=%q} absent", peer, reason)
			}
		}
		if n, _ := v.get("connectivity_discovery_errors_total"); n != 0 {
			return fmt.Sprintf("connectivity_discovery_errors_total %v", n)
		}
		var problems []string
		for peer, paths := range want {
			if got := v.paths(peer); !maps.Equal(got, paths) {
				problems = append(problems, fmt.Sprintf("%s: %v, want %v", peer, got, paths))
			}
		}
		peers := map[string]bool{}
		for _, s := range v.Find("connectivity_peer_reachable", nil) {
			peers[s.Labels["peer"]] = true
		}
		for p := range peers {
			if _, ok := want[p]; !ok {
				problems = append(problems, "series of "+p+", which should have left")
			}
		}
		slices.Sort(problems)
		return strings.Join(problems, "; ")
	}
}

func testDiscovery(ctx context.Context, t *testing.T, admin *rest.Config, client kubernetes.Interface, d deployed, kubeconfig string) {
	l := newLab(t, 3)
	// The other nodes' exporters and every health pod answer /hello, as
	// the hello command (the health DaemonSet's) does.
	for i := 1; i <= 3; i++ {
		start(t, l.pod(i), nil, "hello", "--hello.listen-address=:4240")
		if i > 1 {
			start(t, l.node(i), nil, "hello", "--hello.listen-address=:4240")
		}
	}
	nodes := client.CoreV1().Nodes()
	pods := client.CoreV1().Pods(d.namespace)
	for i := 1; i <= 2; i++ {
		if _, err := nodes.Create(ctx, labNode(l, i), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		healthPod(ctx, t, client, d, fmt.Sprintf("connectivity-health-%d", i), i, l.podIP(i, 2))
	}

	apiForward(t, admin, l.node(1))
	e := startExporter(t, l.node(1), kubeconfig, nodeName(1), nil)
	timings := map[string]time.Duration{}
	want := map[string]map[string]float64{nodeName(1): allReachable, nodeName(2): allReachable}
	timings["start: two nodes with health pods, all four paths"] = e.within(t, 20*time.Second, "start", peersWant(want))
	// Least privilege, as run: only NET_RAW is left (the exporter is root here).
	if caps := effectiveCaps(t, e.cmd.Process.Pid); caps != 1<<13 {
		t.Errorf("the exporter's effective capabilities are %#x, want NET_RAW (%#x) alone", caps, 1<<13)
	}

	leaving := map[string]string{}
	step := func(what string, change func()) {
		t.Helper()
		change()
		timings[what] = e.within(t, showLimit, what, peersLeavingWant(want, leaving))
	}
	step("node added (no health pod yet: host paths only)", func() {
		if _, err := nodes.Create(ctx, labNode(l, 3), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		want[nodeName(3)] = hostOnly
	})
	step("health pod added: all four paths of every node", func() {
		healthPod(ctx, t, client, d, "connectivity-health-3", 3, l.podIP(3, 2))
		want[nodeName(3)] = allReachable
	})
	step("health pod terminating: its endpoint paths leave", func() {
		if err := pods.Delete(ctx, "connectivity-health-3", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if p, err := pods.Get(ctx, "connectivity-health-3", metav1.GetOptions{}); err != nil || p.DeletionTimestamp == nil {
			t.Fatalf("the pod bound to a node should be terminating (deletionTimestamp set), got %v", err)
		}
		want[nodeName(3)] = hostOnly
	})
	step("health pod replaced with a new IP: probed there", func() {
		if err := pods.Delete(ctx, "connectivity-health-3", metav1.DeleteOptions{GracePeriodSeconds: ptr(int64(0))}); err != nil {
			t.Fatal(err)
		}
		// Only the new address answers: reachable means the new IP is probed.
		l.movePodIP(3, 2, 3)
		healthPod(ctx, t, client, d, "connectivity-health-3b", 3, l.podIP(3, 3))
		want[nodeName(3)] = allReachable
	})
	step("node cordoned: leaving, not probed", func() {
		editNode(ctx, t, client, 2, false, func(n *corev1.Node) { n.Spec.Unschedulable = true })
		delete(want, nodeName(2))
		leaving[nodeName(2)] = "cordoned"
	})
	step("node uncordoned: back, probed at once", func() {
		editNode(ctx, t, client, 2, false, func(n *corev1.Node) { n.Spec.Unschedulable = false })
		want[nodeName(2)] = allReachable
		delete(leaving, nodeName(2))
	})
	step("node marked out of service: leaving", func() {
		editNode(ctx, t, client, 2, false, func(n *corev1.Node) {
			n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: corev1.TaintNodeOutOfService, Value: "nodeshutdown", Effect: corev1.TaintEffectNoExecute})
		})
		delete(want, nodeName(2))
		leaving[nodeName(2)] = "out-of-service"
	})
	step("out-of-service taint removed: back", func() {
		editNode(ctx, t, client, 2, false, func(n *corev1.Node) { n.Spec.Taints = nil })
		want[nodeName(2)] = allReachable
		delete(leaving, nodeName(2))
	})
	// NotReady nodes stay. Their staying shows nothing, so a change that
	// does show, made after it, is the sign that the exporter has seen it:
	// one node watch delivers both, in order.
	step("node NotReady: still probed (seen once node-3, cordoned after it, is leaving)", func() {
		editNode(ctx, t, client, 2, true, func(n *corev1.Node) {
			n.Status.Conditions[0].Status = corev1.ConditionFalse
			n.Status.Conditions[0].Reason = "NodeStatusUnknown"
		})
		editNode(ctx, t, client, 3, false, func(n *corev1.Node) { n.Spec.Unschedulable = true })
		delete(want, nodeName(3))
		leaving[nodeName(3)] = "cordoned"
	})
	step("node-3 uncordoned: back", func() {
		editNode(ctx, t, client, 3, false, func(n *corev1.Node) { n.Spec.Unschedulable = false })
		want[nodeName(3)] = allReachable
		delete(leaving, nodeName(3))
	})
	step("health pod deleted: its node's endpoint paths leave", func() {
		if err := pods.Delete(ctx, "connectivity-health-2", metav1.DeleteOptions{GracePeriodSeconds: ptr(int64(0))}); err != nil {
			t.Fatal(err)
		}
		want[nodeName(2)] = hostOnly
	})
	// A scale-down as the cluster autoscaler does it: the taint, then the
	// kubelet stops (NotReady, unreachable taints), then the Node object
	// is deleted. The node is leaving from the taint on.
	step("scale-down: ToBeDeletedByClusterAutoscaler taint, leaving", func() {
		editNode(ctx, t, client, 3, false, func(n *corev1.Node) {
			n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: "ToBeDeletedByClusterAutoscaler", Value: "1765000000", Effect: corev1.TaintEffectNoSchedule})
		})
		delete(want, nodeName(3))
		leaving[nodeName(3)] = "autoscaler"
	})
	step("scale-down: the node goes NotReady, still leaving", func() {
		editNode(ctx, t, client, 3, true, func(n *corev1.Node) {
			n.Status.Conditions[0].Status = corev1.ConditionUnknown
			n.Status.Conditions[0].Reason = "NodeStatusUnknown"
		})
		editNode(ctx, t, client, 3, false, func(n *corev1.Node) {
			n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule})
		})
	})
	step("node deleted: its series leave", func() {
		if err := nodes.Delete(ctx, nodeName(3), metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		delete(want, nodeName(3))
		delete(leaving, nodeName(3))
	})
	for _, k := range slices.Sorted(maps.Keys(timings)) {
		t.Logf("timing: %-60s %s", k, timings[k].Round(10*time.Millisecond))
	}
}

// effectiveCaps is the CapEff mask of process pid.
func effectiveCaps(t *testing.T, pid int) uint64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			var caps uint64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%x", &caps); err != nil {
				t.Fatal(err)
			}
			return caps
		}
	}
	t.Fatal("no CapEff in /proc/pid/status")
	return 0
}

// testMissingVerbs removes one verb at a time from the shipped roles and
// checks that the exporter then fails to discover, visibly: each verb of
// the roles is needed. client-go streams an informer's initial list over
// its WATCH (WatchListClient) where the API server can, as this one can,
// and LISTs where it cannot: list is checked with streaming turned off,
// as an older API server would have it.
func testMissingVerbs(ctx context.Context, t *testing.T, admin *rest.Config, ap *applier, d deployed, kubeconfig string) {
	for _, tc := range []struct {
		role     *unstructured.Unstructured
		resource string
		verb     string
	}{
		{d.role, "pods", "watch"},
		{d.role, "pods", "list"},
		{d.clusterRole, "nodes", "watch"},
		{d.clusterRole, "nodes", "list"},
	} {
		var env []string
		if tc.verb == "list" {
			env = []string{"KUBE_FEATURE_WatchListClient=false"}
		}
		t.Run(tc.resource+" "+tc.verb, func(t *testing.T) {
			withoutVerb(ctx, t, ap, tc.role, tc.verb)
			ns := fmt.Sprintf("kx%d-rbac", os.Getpid()%100000)
			testbin.NewLab(t).Netns(ns)
			apiForward(t, admin, ns)
			e := startExporter(t, ns, kubeconfig, "node-1", env)
			want := fmt.Sprintf("cannot %s resource %q", tc.verb, tc.resource)
			defer e.logOnFailure(t)
			testbin.Eventually(t, showLimit, fmt.Sprintf("a visible failure mentioning %q", want), func() error {
				failed := e.exited()
				if v, err := e.scrape(); err == nil {
					n, _ := v.get("connectivity_discovery_errors_total")
					failed = failed || n > 0
				} else {
					failed = true // not serving: still waiting for a list it may not read
				}
				if !failed {
					return errors.New("discovery has not failed")
				}
				// logfmt and klog quote the error, escaping its quotes.
				return testbin.Holds(strings.Contains(strings.ReplaceAll(e.output.String(), `\"`, `"`), want), "the exporter's output does not mention it")
			})
			t.Logf("without %s on %s: discovery fails (%q in the exporter's output)", tc.verb, tc.resource, want)
		})
	}
}

// withoutVerb applies role with verb removed from its rules, and applies
// it back as shipped when the test ends.
func withoutVerb(ctx context.Context, t *testing.T, ap *applier, role *unstructured.Unstructured, verb string) {
	t.Helper()
	var r rbacv1.ClusterRole // a Role has the same rules field
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(role.Object, &r); err != nil {
		t.Fatal(err)
	}
	reduced := role.DeepCopy()
	rules := make([]any, 0, len(r.Rules))
	for _, rule := range r.Rules {
		rule.Verbs = slices.DeleteFunc(slices.Clone(rule.Verbs), func(v string) bool { return v == verb })
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&rule)
		if err != nil {
			t.Fatal(err)
		}
		rules = append(rules, m)
	}
	if err := unstructured.SetNestedSlice(reduced.Object, rules, "rules"); err != nil {
		t.Fatal(err)
	}
	if _, err := ap.apply(ctx, reduced); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := ap.apply(context.Background(), role); err != nil {
			t.Errorf("restoring %s %s: %v", role.GetKind(), role.GetName(), err)
		}
	})
}

func ptr[T any](v T) *T { return &v }

// testNoAPIServer starts an exporter whose API server is unreachable: it
// must serve /hello, /metrics and /-/healthy from the start, say on
// /-/ready and /metrics that it has no node list, count the errors, and
// not exit; once the API server is reachable it loads the list, probes,
// and turns ready.
func testNoAPIServer(t *testing.T, admin *rest.Config, kubeconfig string) {
	ns := fmt.Sprintf("kx%d-noapi", os.Getpid()%100000)
	testbin.NewLab(t).Netns(ns)
	e := startExporter(t, ns, kubeconfig, nodeName(1), nil)
	e.within(t, showLimit, "serving without an API server", func(v view) string {
		if n, ok := v.get("connectivity_node_list_loaded"); !ok || n != 0 {
			return fmt.Sprintf("connectivity_node_list_loaded %v, want 0", n)
		}
		if _, ok := v.get("connectivity_nodes"); ok {
			return "connectivity_nodes present without a node list"
		}
		if n, _ := v.get("connectivity_discovery_errors_total"); n == 0 {
			return "no discovery error counted"
		}
		return ""
	})
	unreachable := 10 * time.Second
	for deadline := time.Now().Add(unreachable); time.Now().Before(deadline); time.Sleep(time.Second) {
		if e.exited() {
			t.Fatalf("the exporter exited without an API server: %v\n%s", e.err, e.output)
		}
		if code, body := e.get("/-/healthy"); code != 200 {
			t.Fatalf("/-/healthy without an API server: %d %q", code, body)
		}
		if code, body := e.get("/-/ready"); code != 503 || !strings.Contains(body, "no node list yet") {
			t.Fatalf("/-/ready without an API server: %d %q, want 503 saying no node list yet", code, body)
		}
		if code, body := e.getAt("127.0.0.1:4240", "/hello"); code != 200 {
			t.Fatalf("/hello without an API server: %d %q", code, body)
		}
	}
	t.Logf("%s without an API server: served /hello, /metrics, /-/healthy; /-/ready 503; did not exit", unreachable)
	apiForward(t, admin, ns)
	e.within(t, showLimit, "node list once the API server is reachable", func(v view) string {
		if n, _ := v.get("connectivity_node_list_loaded"); n != 1 {
			return "connectivity_node_list_loaded not 1"
		}
		if _, ok := v.get("connectivity_nodes"); !ok {
			return "no connectivity_nodes"
		}
		if code, body := e.get("/-/ready"); code != 200 {
			return fmt.Sprintf("/-/ready %d %q", code, body)
		}
		return ""
	})
	// Before the forward's cleanup, which waits for the connections it
	// carries (the exporter's watches) to end.
	e.stop(t)
}
