package nodes

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// kubeNote is what happened to one Node object on its way into the list,
// when it is worth telling: excluded by policy (info) or partly or wholly
// unusable (warn).
type kubeNote struct {
	warn bool
	msg  string
}

// kubeNodes derives the node list from Node objects and each node's health
// pod, sorted by name, and notes (by node name) for the objects that were
// excluded or changed. It does not validate the list as a whole
// (duplicates): the caller does.
func (c KubernetesConfig) kubeNodes(objs []*corev1.Node, pods map[string]kubeHealthPod) ([]Node, map[string]kubeNote) {
	list := make([]Node, 0, len(objs))
	notes := map[string]kubeNote{}
	for _, o := range objs {
		pod, hasPod := pods[o.Name]
		n, note, keep := c.kubeNode(o, pod, hasPod)
		if note.msg != "" {
			notes[o.Name] = note
		}
		if keep {
			list = append(list, n)
		}
	}
	slices.SortFunc(list, func(a, b Node) int { return cmp.Compare(a.Name, b.Name) })
	return list, notes
}

// kubeNode turns one Node object into a Node, or says why it is left out.
// Its health IP is the annotation's when that is usable, else its health
// pod's, else none.
func (c KubernetesConfig) kubeNode(o *corev1.Node, pod kubeHealthPod, hasPod bool) (Node, kubeNote, bool) {
	local := c.LocalNode != "" && o.Name == c.LocalNode
	if !local && c.NotReady == KubernetesExclude && !kubeReady(o) {
		return Node{}, kubeNote{msg: "excluded: not Ready"}, false
	}
	if !local && c.Cordoned == KubernetesExclude && o.Spec.Unschedulable {
		return Node{}, kubeNote{msg: "excluded: cordoned"}, false
	}
	host, ok := c.hostAddress(o.Status.Addresses)
	if !ok {
		return Node{}, kubeNote{warn: true, msg: fmt.Sprintf("skipped: no usable %s %s address (has %s)",
			c.IPFamily, c.AddressType, kubeAddressesString(o.Status.Addresses))}, false
	}
	n := Node{Name: o.Name, HostIP: host,
		Zone: o.Labels[corev1.LabelTopologyZone], Region: o.Labels[corev1.LabelTopologyRegion]}
	annotationProblem := ""
	if raw, ok := o.Annotations[c.HealthIPAnnotation]; ok {
		health, reason := c.annotationHealthIP(raw, host)
		if reason == "" {
			n.HealthIP = health
			return n, kubeNote{}, true
		}
		annotationProblem = fmt.Sprintf("annotation %s=%q: %s", c.HealthIPAnnotation, raw, reason)
	}
	switch {
	case hasPod && pod.ip == host:
		// A hostNetwork pod: probing it would be the host paths again.
		msg := fmt.Sprintf("probed without endpoint paths: health pod %s has the host IP %s", pod.name, host)
		if annotationProblem != "" {
			msg += "; " + annotationProblem
		}
		return n, kubeNote{warn: true, msg: msg}, true
	case hasPod:
		n.HealthIP = pod.ip
		if annotationProblem != "" {
			return n, kubeNote{warn: true, msg: annotationProblem + "; probed at health pod " + pod.name + " instead"}, true
		}
		return n, kubeNote{}, true
	case annotationProblem != "":
		return n, kubeNote{warn: true, msg: "probed without endpoint paths: " + annotationProblem}, true
	}
	return n, kubeNote{}, true
}

// annotationHealthIP parses the health IP annotation's value, or says why
// it cannot be the health IP of a node with this host IP.
func (c KubernetesConfig) annotationHealthIP(raw string, host netip.Addr) (netip.Addr, string) {
	health, err := netip.ParseAddr(strings.TrimSpace(raw))
	switch {
	case err != nil:
		return netip.Addr{}, "not an IP address"
	case !c.inFamily(health):
		return netip.Addr{}, "not an " + c.IPFamily + " address"
	case kubeAddrProblem(health) != "":
		return netip.Addr{}, kubeAddrProblem(health)
	case health.Unmap() == host:
		return netip.Addr{}, "the same as the host IP"
	}
	return health.Unmap(), ""
}

// hostAddress is the first address of the configured type and family that
// can be probed. Later ones are ignored: the kubelet lists the primary
// address of each family first.
func (c KubernetesConfig) hostAddress(addrs []corev1.NodeAddress) (netip.Addr, bool) {
	for _, a := range addrs {
		if string(a.Type) != c.AddressType {
			continue
		}
		ip, err := netip.ParseAddr(strings.TrimSpace(a.Address))
		if err != nil || !c.inFamily(ip) || kubeAddrProblem(ip) != "" {
			continue
		}
		return ip.Unmap(), true
	}
	return netip.Addr{}, false
}

func (c KubernetesConfig) inFamily(ip netip.Addr) bool {
	if c.IPFamily == IPFamilyIPv6 {
		return ip.Is6() && !ip.Is4In6()
	}
	return ip.Unmap().Is4()
}

// kubeAddrProblem says why ip cannot be probed from other nodes, or "":
// what Validate rejects (addrProblem), checked here first so that one bad
// node is skipped instead of failing the whole list, and link-local
// addresses, which need an interface to mean anything. Unmapping first
// drops the zone of an IPv4-mapped address, as the list keeps the IPv4.
func kubeAddrProblem(ip netip.Addr) string {
	ip = ip.Unmap()
	if reason := addrProblem(ip); reason != "" {
		return reason
	}
	if ip.IsLinkLocalUnicast() {
		return "link-local address"
	}
	return ""
}

// kubeReady reports whether the node's Ready condition is True; a node
// that has not reported it yet is not ready.
func kubeReady(o *corev1.Node) bool {
	for _, c := range o.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func kubeAddressesString(addrs []corev1.NodeAddress) string {
	if len(addrs) == 0 {
		return "none"
	}
	parts := make([]string, len(addrs))
	for i, a := range addrs {
		parts[i] = string(a.Type) + "=" + a.Address
	}
	return strings.Join(parts, ", ")
}

// kubeStrip keeps only what kubeNode reads (and what the informer needs to
// track the object), so that every exporter's cache of every node stays
// small: a Node object carries image lists, capacities and managed fields
// worth kilobytes, and each of N exporters caches all N nodes. Heartbeat
// timestamps go too, so a heartbeat leaves the cached object unchanged.
// It is idempotent, as an informer transform must be.
func (c KubernetesConfig) kubeStrip(obj any) (any, error) {
	o, ok := obj.(*corev1.Node)
	if !ok { // e.g. cache.DeletedFinalStateUnknown: leave it to the informer
		return obj, nil
	}
	out := &corev1.Node{
		TypeMeta: o.TypeMeta,
		ObjectMeta: metav1.ObjectMeta{
			Name:              o.Name,
			UID:               o.UID,
			ResourceVersion:   o.ResourceVersion,
			DeletionTimestamp: o.DeletionTimestamp,
		},
		Spec: corev1.NodeSpec{Unschedulable: o.Spec.Unschedulable},
		Status: corev1.NodeStatus{
			Addresses: o.Status.Addresses,
		},
	}
	if v, ok := o.Annotations[c.HealthIPAnnotation]; ok {
		out.Annotations = map[string]string{c.HealthIPAnnotation: v}
	}
	for _, k := range []string{corev1.LabelTopologyZone, corev1.LabelTopologyRegion} {
		if v, ok := o.Labels[k]; ok {
			if out.Labels == nil {
				out.Labels = map[string]string{}
			}
			out.Labels[k] = v
		}
	}
	for _, cond := range o.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			out.Status.Conditions = []corev1.NodeCondition{{Type: cond.Type, Status: cond.Status}}
			break
		}
	}
	return out, nil
}
