package kubernetes

import (
	"context"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/connectivity-exporter/connectivity_exporter/nodes"
)

// kubeHealthNS is the namespace of the health pods in these tests.
const kubeHealthNS = "connectivity-exporter"

// kubeTestPod builds a Running, Ready health pod on node with the given
// IPs (status.podIPs, primary first), created at minute of a fixed hour,
// with options applied.
func kubeTestPod(name, node string, minute int, ips []string, opts ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: kubeHealthNS, UID: types.UID("uid-" + name),
			Labels:            map[string]string{"app.kubernetes.io/name": "connectivity-health"},
			CreationTimestamp: metav1.Date(2026, 11, 21, 12, minute, 0, 0, time.UTC),
		},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "hello", Image: "connectivity-exporter:latest"}}},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning,
			Conditions: []corev1.PodCondition{
				{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
				{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastProbeTime: metav1.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)},
			},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "hello", Ready: true, RestartCount: 2}},
		},
	}
	for _, ip := range ips {
		p.Status.PodIPs = append(p.Status.PodIPs, corev1.PodIP{IP: ip})
	}
	if len(ips) > 0 {
		p.Status.PodIP = ips[0]
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func kubePodNotReady(p *corev1.Pod) {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodReady {
			p.Status.Conditions[i].Status = corev1.ConditionFalse
		}
	}
}

func kubePodPhase(phase corev1.PodPhase) func(*corev1.Pod) {
	return func(p *corev1.Pod) { p.Status.Phase = phase }
}

func kubePodTerminating(p *corev1.Pod) {
	now := metav1.Date(2026, 11, 21, 13, 0, 0, 0, time.UTC)
	p.DeletionTimestamp = &now
}

// kubePodIPOnly sets only the old single-IP field, as some CNIs' status did.
func kubePodIPOnly(p *corev1.Pod) { p.Status.PodIPs = nil }

func TestKubeHealthPods(t *testing.T) {
	v4 := Config{}.withDefaults()
	v6 := Config{IPFamily: IPFamilyIPv6}.withDefaults()
	tests := []struct {
		name string
		cfg  Config
		pods []*corev1.Pod
		want map[string]string // node -> "pod ip"
	}{
		{
			name: "one pod per node",
			cfg:  v4,
			pods: []*corev1.Pod{
				kubeTestPod("h-a", "a", 0, []string{"198.19.1.2"}),
				kubeTestPod("h-b", "b", 0, []string{"198.19.2.2"}),
			},
			want: map[string]string{"a": "h-a 198.19.1.2", "b": "h-b 198.19.2.2"},
		},
		{
			name: "ignored: unscheduled, terminating, pending, succeeded, failed, without IP",
			cfg:  v4,
			pods: []*corev1.Pod{
				kubeTestPod("unscheduled", "", 0, []string{"198.19.1.1"}),
				kubeTestPod("terminating", "a", 9, []string{"198.19.1.2"}, kubePodTerminating),
				kubeTestPod("pending", "a", 9, []string{"198.19.1.3"}, kubePodPhase(corev1.PodPending)),
				kubeTestPod("succeeded", "a", 9, []string{"198.19.1.4"}, kubePodPhase(corev1.PodSucceeded)),
				kubeTestPod("failed", "a", 9, []string{"198.19.1.5"}, kubePodPhase(corev1.PodFailed)),
				kubeTestPod("no-ip", "a", 9, nil),
				kubeTestPod("unusable-ip", "a", 9, []string{"0.0.0.0"}),
				kubeTestPod("link-local", "a", 9, []string{"169.254.0.1"}),
				kubeTestPod("garbage", "a", 9, []string{"not-an-ip"}),
				kubeTestPod("ok", "b", 0, []string{"198.19.2.2"}),
			},
			want: map[string]string{"b": "ok 198.19.2.2"},
		},
		{
			name: "Ready beats newer but not Ready",
			cfg:  v4,
			pods: []*corev1.Pod{
				kubeTestPod("old-ready", "a", 1, []string{"198.19.1.2"}),
				kubeTestPod("new-starting", "a", 5, []string{"198.19.1.3"}, kubePodNotReady),
			},
			want: map[string]string{"a": "old-ready 198.19.1.2"},
		},
		{
			name: "of two Ready pods the newest wins (a replacement in a surge rollout)",
			cfg:  v4,
			pods: []*corev1.Pod{
				kubeTestPod("new", "a", 5, []string{"198.19.1.3"}),
				kubeTestPod("old", "a", 1, []string{"198.19.1.2"}),
			},
			want: map[string]string{"a": "new 198.19.1.3"},
		},
		{
			name: "a Running pod that is not Ready still counts: its endpoint paths show it failing",
			cfg:  v4,
			pods: []*corev1.Pod{kubeTestPod("unready", "a", 1, []string{"198.19.1.2"}, kubePodNotReady)},
			want: map[string]string{"a": "unready 198.19.1.2"},
		},
		{
			name: "same age: the first by name, whatever the order",
			cfg:  v4,
			pods: []*corev1.Pod{
				kubeTestPod("h-b", "a", 1, []string{"198.19.1.3"}),
				kubeTestPod("h-a", "a", 1, []string{"198.19.1.2"}),
				kubeTestPod("h-c", "a", 1, []string{"198.19.1.4"}),
			},
			want: map[string]string{"a": "h-a 198.19.1.2"},
		},
		{
			name: "dual stack: the IP of the probed family",
			cfg:  v6,
			pods: []*corev1.Pod{
				kubeTestPod("dual", "a", 1, []string{"198.19.1.2", "2001:db8:1::2"}),
				kubeTestPod("v4-only", "b", 1, []string{"198.19.2.2"}),
			},
			want: map[string]string{"a": "dual 2001:db8:1::2"},
		},
		{
			name: "status.podIP when podIPs is empty",
			cfg:  v4,
			pods: []*corev1.Pod{kubeTestPod("old-style", "a", 1, []string{"198.19.1.2"}, kubePodIPOnly)},
			want: map[string]string{"a": "old-style 198.19.1.2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check := func(what string, pods []*corev1.Pod) {
				t.Helper()
				got := map[string]string{}
				for node, p := range tt.cfg.kubeHealthPods(pods) {
					ips := make([]string, len(p.ips))
					for i, ip := range p.ips {
						ips[i] = ip.String()
					}
					got[node] = p.name + " " + strings.Join(ips, ",")
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("%s:\n got %v\nwant %v", what, got, tt.want)
				}
			}
			check("pods", tt.pods)

			// The informer stores stripped pods: they must give the same
			// choice, and stripping must be idempotent.
			stripped := make([]*corev1.Pod, len(tt.pods))
			for i, p := range tt.pods {
				s1, _ := kubeStripPod(p.DeepCopy())
				s2, _ := kubeStripPod(s1.(*corev1.Pod).DeepCopy())
				if !reflect.DeepEqual(s1, s2) {
					t.Errorf("kubeStripPod is not idempotent for %s:\n%+v\n%+v", p.Name, s1, s2)
				}
				stripped[i] = s1.(*corev1.Pod)
			}
			check("stripped pods", stripped)
		})
	}
}

func TestKubeStripPodDropsBulk(t *testing.T) {
	p := kubeTestPod("h-a", "a", 1, []string{"198.19.1.2"})
	p.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubelet"}}
	s, err := kubeStripPod(p)
	if err != nil {
		t.Fatal(err)
	}
	got := s.(*corev1.Pod)
	if got.Name != "h-a" || got.Namespace != kubeHealthNS || got.UID != p.UID || !got.CreationTimestamp.Equal(&p.CreationTimestamp) {
		t.Errorf("identity lost: %+v", got.ObjectMeta)
	}
	if len(got.Labels) != 0 || len(got.ManagedFields) != 0 || len(got.Spec.Containers) != 0 || len(got.Status.ContainerStatuses) != 0 {
		t.Errorf("bulk kept: %+v", got)
	}
	want := []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	if !reflect.DeepEqual(got.Status.Conditions, want) {
		t.Errorf("conditions = %+v, want %+v (no probe times)", got.Status.Conditions, want)
	}
	if x, _ := kubeStripPod("not a pod"); x != "not a pod" {
		t.Errorf("a non-Pod must pass through, got %v", x)
	}
}

func TestKubeNodeHealthIPFromPodAndAnnotation(t *testing.T) {
	cfg := Config{}.withDefaults()
	pod := kubeHealthPod{name: "h-n", ips: []netip.Addr{addr("198.19.0.2")}}
	tests := []struct {
		name       string
		annotation string // "" for none
		pod        *kubeHealthPod
		wantHealth string // "" for none
		wantNote   string // "" for none; else its start, and it must be a warning
	}{
		{name: "neither: no endpoint paths"},
		{name: "the pod", pod: &pod, wantHealth: "198.19.0.2"},
		{name: "the annotation overrides the pod", annotation: "198.19.0.9", pod: &pod, wantHealth: "198.19.0.9"},
		{name: "an unusable annotation falls back to the pod", annotation: "not-an-ip", pod: &pod, wantHealth: "198.19.0.2",
			wantNote: `annotation connectivity-exporter.io/health-ip="not-an-ip": not an IP address; probed at health pod h-n instead`},
		{name: "an unusable annotation and no pod", annotation: "not-an-ip",
			wantNote: `probed without endpoint paths: annotation connectivity-exporter.io/health-ip="not-an-ip": not an IP address`},
		{name: "a pod with the host IP (hostNetwork)", pod: &kubeHealthPod{name: "h-host", ips: []netip.Addr{addr("198.18.0.9")}},
			wantNote: "probed without endpoint paths: health pod h-host has the host IP 198.18.0.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []func(*corev1.Node)
			if tt.annotation != "" {
				opts = append(opts, kubeHealth(tt.annotation))
			}
			var p kubeHealthPod
			if tt.pod != nil {
				p = *tt.pod
			}
			n, note, keep := cfg.kubeNode(kubeIP4("n", "198.18.0.9", opts...), p, tt.pod != nil)
			if !keep || n.HostIP != addr("198.18.0.9") {
				t.Fatalf("node must be kept with its host IP, got %v keep=%v", n, keep)
			}
			var want netip.Addr
			if tt.wantHealth != "" {
				want = addr(tt.wantHealth)
			}
			if n.HealthIP != want {
				t.Errorf("health IP %v, want %v", n.HealthIP, want)
			}
			switch {
			case tt.wantNote == "" && note.msg != "":
				t.Errorf("note %+v, want none", note)
			case tt.wantNote != "" && (!note.warn || !strings.HasPrefix(note.msg, tt.wantNote)):
				t.Errorf("note %+v, want a warning starting %q", note, tt.wantNote)
			}
		})
	}
}

// TestKubernetesWatchHealthPods follows one node's health pod through what
// a DaemonSet does to it, through the informers of a fake API server.
func TestKubernetesWatchHealthPods(t *testing.T) {
	h := newKubeHarness(t, Config{HealthPodNamespace: kubeHealthNS},
		kubeIP4("a", "198.18.0.1"), kubeIP4("b", "198.18.0.2"),
		kubeTestPod("h-b", "b", 0, []string{"198.19.2.2"}),
		// Not health pods: another namespace, another label.
		kubeTestPod("other-ns", "a", 0, []string{"198.19.1.99"}, func(p *corev1.Pod) { p.Namespace = "default" }),
		kubeTestPod("other-app", "a", 0, []string{"198.19.1.98"}, func(p *corev1.Pod) { p.Labels = map[string]string{"app": "web"} }),
	).start()
	withHealth := func(n nodes.Node, ip string) nodes.Node { n.HealthIP = addr(ip); return n }
	b := withHealth(kubeB, "198.19.2.2")
	if want := []nodes.Node{kubeA, b}; !reflect.DeepEqual(h.loaded, want) {
		t.Fatalf("Load = %v, want %v", h.loaded, want)
	}
	if want := `nodes_without=1 nodes=2 namespace=` + kubeHealthNS + ` selector="app.kubernetes.io/name=connectivity-health"`; !strings.Contains(h.log.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, h.log.String())
	}

	// Added: the pod is created, then the kubelet reports it Running with its IP.
	h.createPod(kubeTestPod("h-a1", "a", 1, nil, kubePodPhase(corev1.PodPending), kubePodNotReady))
	h.settle()
	h.editPod("h-a1", func(p *corev1.Pod) {
		p.Status.Phase = corev1.PodRunning
		p.Status.PodIPs = []corev1.PodIP{{IP: "198.19.1.2"}}
	})
	h.wantUpdate(withHealth(kubeA, "198.19.1.2"), b)
	h.editPod("h-a1", func(p *corev1.Pod) { kubeSetPodReady(p, corev1.ConditionTrue) })
	h.settle() // Ready changes the choice between pods, not the IP

	// Replaced: the DaemonSet deletes the old pod (terminating first), then
	// makes a new one, which gets a new IP.
	h.editPod("h-a1", kubePodTerminating)
	h.wantUpdate(kubeA, b)
	h.deletePod("h-a1")
	h.settle()
	h.createPod(kubeTestPod("h-a2", "a", 2, []string{"198.19.1.3"}))
	h.wantUpdate(withHealth(kubeA, "198.19.1.3"), b)

	// A status change that keeps the IP (a container restart) reports nothing.
	h.editPod("h-a2", func(p *corev1.Pod) { p.Status.ContainerStatuses[0].RestartCount++ })
	h.settle()

	// Deleted at once (force delete, or the node's pods garbage-collected).
	h.deletePod("h-b")
	h.wantUpdate(withHealth(kubeA, "198.19.1.3"), kubeB)

	// The annotation overrides the pod, and removing it brings the pod back.
	h.edit("a", kubeHealth("198.19.9.1"))
	h.wantUpdate(withHealth(kubeA, "198.19.9.1"), kubeB)
	h.edit("a", func(n *corev1.Node) { delete(n.Annotations, DefaultHealthIPAnnotation) })
	h.wantUpdate(withHealth(kubeA, "198.19.1.3"), kubeB)

	// Pods of deleted nodes do not resurrect them.
	h.delete("a")
	h.wantUpdate(kubeB)
}

// TestKubernetesHealthPodWatchErrorIsReported checks that a pod watch the
// API server refuses (RBAC without the watch verb on pods) is reported.
func TestKubernetesHealthPodWatchErrorIsReported(t *testing.T) {
	h := newKubeHarness(t, Config{HealthPodNamespace: kubeHealthNS}, kubeIP4("a", "198.18.0.1"))
	f := &kubeFlakyAPI{resource: "pods"}
	f.install(h.client)
	h.start()
	f.failing.Store(true)
	f.breakWatch()
	if err := h.wantFail("watching Kubernetes health pods"); !nodes.IsTransient(err) {
		t.Errorf("a watch error reported as not transient: %v", err)
	}
}

func kubeSetPodReady(p *corev1.Pod, status corev1.ConditionStatus) {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodReady {
			p.Status.Conditions[i].Status = status
		}
	}
}

func (h *kubeHarness) createPod(p *corev1.Pod) {
	h.t.Helper()
	if _, err := h.client.CoreV1().Pods(p.Namespace).Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

// editPod gets the health pod, changes it and updates it.
func (h *kubeHarness) editPod(name string, change func(*corev1.Pod)) {
	h.t.Helper()
	pods := h.client.CoreV1().Pods(kubeHealthNS)
	p, err := pods.Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	change(p)
	if _, err := pods.Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

func (h *kubeHarness) deletePod(name string) {
	h.t.Helper()
	if err := h.client.CoreV1().Pods(kubeHealthNS).Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
		h.t.Fatal(err)
	}
}
