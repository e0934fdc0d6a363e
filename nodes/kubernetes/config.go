package kubernetes

import (
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/validate/content"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
)

// DefaultHealthIPAnnotation is the Node annotation that holds a node's
// health IP when Config.HealthIPAnnotation is empty.
const DefaultHealthIPAnnotation = "connectivity-exporter.io/health-ip"

// DefaultHealthPodSelector selects the pods of deploy/kubernetes's
// health DaemonSet when Config.HealthPodSelector is empty.
const DefaultHealthPodSelector = "app.kubernetes.io/name=connectivity-health"

// Values of Config.NotReady and Config.Cordoned.
const (
	Include = "include"
	Exclude = "exclude"
)

// Values of Config.IPFamily.
const (
	IPFamilyIPv4 = "ipv4"
	IPFamilyIPv6 = "ipv6"
	// IPFamilyDual probes every family a node has: a dual-stack node on
	// both, a single-stack node on its one. It is the default: on a
	// single-stack cluster it is that cluster's family.
	IPFamilyDual = "dual"
)

// Config says how Node objects become the node list. The zero
// value is valid and means the defaults documented on each field.
type Config struct {
	// Kubeconfig is the kubeconfig file for NewClient; empty
	// means the in-cluster configuration (the pod's service account).
	Kubeconfig string
	// AddressType is the node address probed on host paths: "InternalIP"
	// (default) or "ExternalIP".
	AddressType string
	// IPFamily is "dual" (default), "ipv4" or "ipv6". With ipv4 or ipv6,
	// the node's address of AddressType in this family is used, a node
	// without one is skipped, and the health IP must be of this family
	// too. With dual, the node's first address of AddressType of each
	// family is used, and its health pod's first address of each family
	// (status.podIPs), host and endpoint independently.
	IPFamily string
	// HealthIPAnnotation is the Node annotation holding the node's health
	// IP (DefaultHealthIPAnnotation when empty). Where it is set it
	// overrides the node's health pod.
	HealthIPAnnotation string
	// NoHealthPods says the cluster runs no health pods: no pod is listed
	// or watched (so RBAC need not grant pods), and a node's health IP
	// comes from its annotation alone; nodes without one are probed on
	// the host paths only. HealthPodNamespace and HealthPodSelector are
	// then unused.
	NoHealthPods bool
	// HealthPodNamespace is the namespace of the health pods: each node's
	// health IP is the IP of its health pod (see kubeHealthPods). Empty
	// means "default"; the daemon fills in the namespace of its kubeconfig
	// context, or in a pod its own (Namespace).
	HealthPodNamespace string
	// HealthPodSelector is the label selector of the health pods
	// (DefaultHealthPodSelector when empty).
	HealthPodSelector string
	// NotReady is what happens to nodes whose Ready condition is not True:
	// "include" (default: a node that went NotReady because it is cut off
	// is exactly what the probes are for) or "exclude".
	NotReady string
	// Cordoned is what happens to nodes with spec.unschedulable set:
	// "exclude" (default: cordoning is how a drain before maintenance or
	// a scale-down starts, and that must not page anyone) or "include".
	Cordoned string
	// Resync is the informer's resync period; 0 (default) means none. The
	// list is derived afresh on each resync and reported only if it
	// changed, so resyncs only help against a missed event.
	Resync time.Duration
	// LocalNode, when set, is this daemon's own node: it is kept whatever
	// NotReady and Cordoned say, because the daemon probes itself and a
	// list without it would be rejected (a cordoned node keeps running
	// its DaemonSet pods).
	LocalNode string
}

// withDefaults fills in the defaults of empty fields.
func (c Config) withDefaults() Config {
	if c.AddressType == "" {
		c.AddressType = string(corev1.NodeInternalIP)
	}
	if c.IPFamily == "" {
		c.IPFamily = IPFamilyDual
	}
	if c.HealthIPAnnotation == "" {
		c.HealthIPAnnotation = DefaultHealthIPAnnotation
	}
	if c.HealthPodNamespace == "" {
		c.HealthPodNamespace = corev1.NamespaceDefault
	}
	if c.HealthPodSelector == "" {
		c.HealthPodSelector = DefaultHealthPodSelector
	}
	if c.NotReady == "" {
		c.NotReady = Include
	}
	if c.Cordoned == "" {
		c.Cordoned = Exclude
	}
	return c
}

// Validate reports every field that is set to something unknown; empty
// fields mean their default and are fine.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	switch corev1.NodeAddressType(c.AddressType) {
	case corev1.NodeInternalIP, corev1.NodeExternalIP:
	default:
		errs = append(errs, fmt.Errorf("address type %q: want %s or %s", c.AddressType, corev1.NodeInternalIP, corev1.NodeExternalIP))
	}
	switch c.IPFamily {
	case IPFamilyIPv4, IPFamilyIPv6, IPFamilyDual:
	default:
		errs = append(errs, fmt.Errorf("IP family %q: want %s, %s or %s", c.IPFamily, IPFamilyDual, IPFamilyIPv4, IPFamilyIPv6))
	}
	// The API server's rule for annotation keys: a qualified name, any case.
	if msgs := content.IsLabelKey(strings.ToLower(c.HealthIPAnnotation)); len(msgs) > 0 {
		errs = append(errs, fmt.Errorf("health IP annotation %q is not a valid annotation key: %s", c.HealthIPAnnotation, strings.Join(msgs, "; ")))
	}
	if !c.NoHealthPods { // else unused
		if msgs := validation.IsDNS1123Label(c.HealthPodNamespace); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("health pod namespace %q is not a namespace name: %s", c.HealthPodNamespace, strings.Join(msgs, "; ")))
		}
		if _, err := labels.Parse(c.HealthPodSelector); err != nil {
			errs = append(errs, fmt.Errorf("health pod selector %q: %w", c.HealthPodSelector, err))
		}
	}
	for _, f := range []struct{ name, value string }{{"not-ready", c.NotReady}, {"cordoned", c.Cordoned}} {
		if f.value != Include && f.value != Exclude {
			errs = append(errs, fmt.Errorf("%s %q: want %s or %s", f.name, f.value, Include, Exclude))
		}
	}
	if c.Resync < 0 {
		errs = append(errs, fmt.Errorf("resync period must not be negative, got %s", c.Resync))
	}
	return errors.Join(errs...)
}
