package kubernetes

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/connectivity-exporter/connectivity_exporter/nodes"
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
func (c Config) kubeNodes(objs []*corev1.Node, pods map[string]kubeHealthPod) ([]nodes.Node, map[string]kubeNote) {
	list := make([]nodes.Node, 0, len(objs))
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
	slices.SortFunc(list, func(a, b nodes.Node) int { return cmp.Compare(a.Name, b.Name) })
	return list, notes
}

// kubeNode turns one Node object into a Node, or says why it is left out.
// Its health IP is the annotation's when that is usable, else its health
// pod's, else none.
func (c Config) kubeNode(o *corev1.Node, pod kubeHealthPod, hasPod bool) (nodes.Node, kubeNote, bool) {
	local := c.LocalNode != "" && o.Name == c.LocalNode
	if !local && c.NotReady == Exclude && !kubeReady(o) {
		return nodes.Node{}, kubeNote{msg: "excluded: not Ready"}, false
	}
	leaving := kubeLeaving(o, c.Cordoned == Exclude)
	hosts := c.addressesOf(kubeNodeAddresses(o.Status.Addresses, c.AddressType))
	if len(hosts) == 0 {
		return nodes.Node{}, kubeNote{warn: true, msg: fmt.Sprintf("skipped: no usable %s%s address (has %s)",
			c.familyWord(), c.AddressType, kubeAddressesString(o.Status.Addresses))}, false
	}
	n := nodes.Node{Name: o.Name, Zone: o.Labels[corev1.LabelTopologyZone], Region: o.Labels[corev1.LabelTopologyRegion],
		Leaving: leaving, NotReady: !kubeReady(o), NotReadySince: kubeNotReadySince(o)}
	n.HostIP, n.DualStackHostIP, _ = nodes.DualStack(hosts)
	n, note, keep := c.kubeHealth(o, n, hosts, pod, hasPod)
	if leaving != "" && note.msg == "" {
		note = kubeNote{msg: "leaving (" + nodes.LeavingText(leaving) + "): listed, not probed"}
	}
	return n, note, keep
}

// kubeHealth sets n's health IP from o's annotation when that is usable,
// else from its health pod, else leaves none.
func (c Config) kubeHealth(o *corev1.Node, n nodes.Node, hosts []netip.Addr, pod kubeHealthPod, hasPod bool) (nodes.Node, kubeNote, bool) {
	annotationProblem := ""
	if raw, ok := o.Annotations[c.HealthIPAnnotation]; ok {
		health, reason := c.annotationHealthIPs(raw, hosts)
		if reason == "" {
			n.HealthIP, n.DualStackHealthIP, _ = nodes.DualStack(health)
			return n, kubeNote{}, true
		}
		annotationProblem = fmt.Sprintf("annotation %s=%q: %s", c.HealthIPAnnotation, raw, reason)
	}
	switch {
	case hasPod && slices.Contains(hosts, pod.ips[0]):
		// A hostNetwork pod: probing it would be the host paths again.
		msg := fmt.Sprintf("probed without endpoint paths: health pod %s has the host IP %s", pod.name, pod.ips[0])
		if annotationProblem != "" {
			msg += "; " + annotationProblem
		}
		return n, kubeNote{warn: true, msg: msg}, true
	case hasPod:
		n.HealthIP, n.DualStackHealthIP, _ = nodes.DualStack(pod.ips)
		if annotationProblem != "" {
			return n, kubeNote{warn: true, msg: annotationProblem + "; probed at health pod " + pod.name + " instead"}, true
		}
		return n, kubeNote{}, true
	case annotationProblem != "":
		return n, kubeNote{warn: true, msg: "probed without endpoint paths: " + annotationProblem}, true
	}
	return n, kubeNote{}, true
}

// annotationHealthIPs parses the health IP annotation's value, one
// address or (with the dual family) a comma-separated address of each
// family, or says why it cannot be the health IP of a node with these
// host IPs.
func (c Config) annotationHealthIPs(raw string, hosts []netip.Addr) ([]netip.Addr, string) {
	var out []netip.Addr
	for text := range strings.SplitSeq(raw, ",") {
		health, err := netip.ParseAddr(strings.TrimSpace(text))
		switch {
		case err != nil:
			return nil, "not an IP address"
		case !c.inFamily(health):
			return nil, "not an " + c.IPFamily + " address"
		case kubeAddrProblem(health) != "":
			return nil, kubeAddrProblem(health)
		case slices.Contains(hosts, health.Unmap()):
			return nil, "the same as the host IP"
		}
		out = append(out, health.Unmap())
	}
	if _, _, ok := nodes.DualStack(out); !ok || (len(out) > 1 && c.IPFamily != IPFamilyDual) {
		return nil, "want one address, or with --nodes.kubernetes.ip-family=dual one of each family"
	}
	return out, ""
}

// kubeNodeAddresses are the addresses of type addressType, in the order
// the kubelet lists them: the primary address of each family first.
func kubeNodeAddresses(addrs []corev1.NodeAddress, addressType string) []string {
	var out []string
	for _, a := range addrs {
		if string(a.Type) == addressType {
			out = append(out, a.Address)
		}
	}
	return out
}

// addressesOf picks from texts the first address of each probed family
// that can be probed (one with the ipv4 or ipv6 family, up to one of each
// with dual), in the order of texts. Later ones are ignored.
func (c Config) addressesOf(texts []string) []netip.Addr {
	var out []netip.Addr
	seen := map[bool]bool{} // by Is4
	for _, s := range texts {
		ip, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil || !c.inFamily(ip) || kubeAddrProblem(ip) != "" {
			continue
		}
		ip = ip.Unmap()
		if seen[ip.Is4()] {
			continue
		}
		seen[ip.Is4()] = true
		out = append(out, ip)
		if c.IPFamily != IPFamilyDual {
			break
		}
	}
	return out
}

func (c Config) inFamily(ip netip.Addr) bool {
	switch c.IPFamily {
	case IPFamilyIPv6:
		return ip.Is6() && !ip.Is4In6()
	case IPFamilyDual:
		return true
	}
	return ip.Unmap().Is4()
}

// familyWord is the family for messages: "ipv4 ", "ipv6 ", or nothing
// for dual (any family would do).
func (c Config) familyWord() string {
	if c.IPFamily == IPFamilyDual {
		return ""
	}
	return c.IPFamily + " "
}

// kubeAddrProblem says why ip cannot be probed from other nodes, or "":
// what Validate rejects (nodes.AddrProblem), checked here first so that one bad
// node is skipped instead of failing the whole list, and link-local
// addresses, which need an interface to mean anything. Unmapping first
// drops the zone of an IPv4-mapped address, as the list keeps the IPv4.
func kubeAddrProblem(ip netip.Addr) string {
	ip = ip.Unmap()
	if reason := nodes.AddrProblem(ip); reason != "" {
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
func (c Config) kubeStrip(obj any) (any, error) {
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
		Spec: corev1.NodeSpec{Unschedulable: o.Spec.Unschedulable, Taints: kubeLeavingTaints(o.Spec.Taints)},
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
			// The transition time changes with the status only, not with
			// heartbeats.
			out.Status.Conditions = []corev1.NodeCondition{{Type: cond.Type, Status: cond.Status, LastTransitionTime: cond.LastTransitionTime}}
			break
		}
	}
	return out, nil
}
