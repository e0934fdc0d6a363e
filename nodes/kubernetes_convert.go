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

// kubeNodes derives the node list from Node objects, sorted by name, and
// notes (by node name) for the objects that were excluded or changed. It
// does not validate the list as a whole (duplicates): the caller does.
func (c KubernetesConfig) kubeNodes(objs []*corev1.Node) ([]Node, map[string]kubeNote) {
	list := make([]Node, 0, len(objs))
	notes := map[string]kubeNote{}
	for _, o := range objs {
		n, note, keep := c.kubeNode(o)
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
func (c KubernetesConfig) kubeNode(o *corev1.Node) (Node, kubeNote, bool) {
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
	raw, ok := o.Annotations[c.HealthIPAnnotation]
	if !ok {
		return n, kubeNote{}, true
	}
	health, err := netip.ParseAddr(strings.TrimSpace(raw))
	reason := ""
	switch {
	case err != nil:
		reason = "not an IP address"
	case !c.inFamily(health):
		reason = "not an " + c.IPFamily + " address"
	case kubeAddrProblem(health) != "":
		reason = kubeAddrProblem(health)
	case health.Unmap() == host:
		reason = "the same as the host IP"
	default:
		n.HealthIP = health.Unmap()
		return n, kubeNote{}, true
	}
	return n, kubeNote{warn: true, msg: fmt.Sprintf("probed without endpoint paths: annotation %s=%q: %s",
		c.HealthIPAnnotation, raw, reason)}, true
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
