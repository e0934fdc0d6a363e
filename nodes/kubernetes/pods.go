package kubernetes

import (
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// kubeHealthPod is what kubeHealthPods needs to know of a pod.
type kubeHealthPod struct {
	name    string
	ips     []netip.Addr // one, or one of each family (the dual family)
	ready   bool
	created metav1.Time
}

// kubeHealthPods maps node names to their health pod: among the pods
// bound to a node (spec.nodeName) that are Running, not terminating, and
// have a usable IP of the probed family, the Ready ones before the others,
// then the newest, then the first by name, so that every exporter picks
// the same one. While a DaemonSet replaces a pod the new one wins once it
// is Ready, and the old one is dropped as soon as it is terminating.
func (c Config) kubeHealthPods(pods []*corev1.Pod) map[string]kubeHealthPod {
	best := map[string]kubeHealthPod{}
	for _, p := range pods {
		if p.Spec.NodeName == "" || p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
			continue
		}
		ips := c.podAddresses(p.Status)
		if len(ips) == 0 {
			continue
		}
		cand := kubeHealthPod{name: p.Name, ips: ips, ready: kubePodReady(p), created: p.CreationTimestamp}
		if cur, ok := best[p.Spec.NodeName]; !ok || cand.betterThan(cur) {
			best[p.Spec.NodeName] = cand
		}
	}
	return best
}

// betterThan reports whether a is a better health endpoint than b.
func (a kubeHealthPod) betterThan(b kubeHealthPod) bool {
	if a.ready != b.ready {
		return a.ready
	}
	if !a.created.Equal(&b.created) {
		return b.created.Before(&a.created)
	}
	return a.name < b.name
}

// podAddresses are the pod's first IP of each probed family that can be
// probed from other nodes, in the pod's order. status.podIPs lists the
// primary IP first (and a dual-stack pod's other family next);
// status.podIP (the primary address) is read only when podIPs is empty.
func (c Config) podAddresses(st corev1.PodStatus) []netip.Addr {
	ips := make([]string, 0, len(st.PodIPs)+1)
	for _, p := range st.PodIPs {
		ips = append(ips, p.IP)
	}
	if len(ips) == 0 && st.PodIP != "" {
		ips = append(ips, st.PodIP)
	}
	return c.addressesOf(ips)
}

// kubePodReady reports whether the pod's Ready condition is True.
func kubePodReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// kubeStripPod keeps only what kubeHealthPods reads (and what the informer
// needs to track the object): a pod object carries its whole spec, status
// of every container and managed fields, worth kilobytes, and each of N
// exporters caches N health pods. Container statuses go too, so that a
// restart count or probe time changing leaves the cached object unchanged.
// It is idempotent, as an informer transform must be.
func kubeStripPod(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok { // e.g. cache.DeletedFinalStateUnknown: leave it to the informer
		return obj, nil
	}
	out := &corev1.Pod{
		TypeMeta: p.TypeMeta,
		ObjectMeta: metav1.ObjectMeta{
			Name:              p.Name,
			Namespace:         p.Namespace,
			UID:               p.UID,
			ResourceVersion:   p.ResourceVersion,
			CreationTimestamp: p.CreationTimestamp,
			DeletionTimestamp: p.DeletionTimestamp,
		},
		Spec: corev1.PodSpec{NodeName: p.Spec.NodeName},
		Status: corev1.PodStatus{
			Phase:  p.Status.Phase,
			PodIP:  p.Status.PodIP,
			PodIPs: p.Status.PodIPs,
		},
	}
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodReady {
			out.Status.Conditions = []corev1.PodCondition{{Type: cond.Type, Status: cond.Status}}
			break
		}
	}
	return out, nil
}
