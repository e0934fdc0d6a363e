package kubernetes

import (
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/connectivity-exporter/connectivity_exporter/nodes"
)

// Taints that say a node is leaving. DeletionCandidateOfClusterAutoscaler
// is not one of them: it marks a node the autoscaler considers (a soft
// PreferNoSchedule), which still runs its pods and may stay for good, so
// a fault there still matters. Nor are node.kubernetes.io/unreachable and
// not-ready: a node that stopped reporting may have crashed, a fault;
// a scale-down sets ToBeDeletedByClusterAutoscaler before its kubelet
// stops.
const (
	TaintToBeDeletedByClusterAutoscaler = "ToBeDeletedByClusterAutoscaler"
	TaintOutOfService                   = corev1.TaintNodeOutOfService
)

// kubeLeaving says why the Node object o is leaving, "" when it is not;
// cordoned counts only when cordon is true (--nodes.kubernetes.cordoned=exclude).
// The strongest signal wins: a deletion, then out of service, then the
// autoscaler, then a cordon (a drain cordons first).
func kubeLeaving(o *corev1.Node, cordon bool) string {
	switch {
	case o.DeletionTimestamp != nil:
		return nodes.LeavingDeleting
	case kubeHasTaint(o, TaintOutOfService):
		return nodes.LeavingOutOfService
	case kubeHasTaint(o, TaintToBeDeletedByClusterAutoscaler):
		return nodes.LeavingAutoscaler
	case cordon && o.Spec.Unschedulable:
		return nodes.LeavingCordoned
	}
	return ""
}

func kubeHasTaint(o *corev1.Node, key string) bool {
	for _, t := range o.Spec.Taints {
		if t.Key == key {
			return true
		}
	}
	return false
}

// kubeLeavingTaints keeps the taints that say a node is leaving (for the
// informer's stripped cache); nil when none does.
func kubeLeavingTaints(taints []corev1.Taint) []corev1.Taint {
	var out []corev1.Taint
	for _, t := range taints {
		if t.Key == TaintToBeDeletedByClusterAutoscaler || t.Key == TaintOutOfService {
			out = append(out, corev1.Taint{Key: t.Key, Effect: t.Effect})
		}
	}
	return out
}

// kubeNotReadySince is when o's Ready condition last left True, in UTC;
// zero while it is True, and when the node never reported it.
func kubeNotReadySince(o *corev1.Node) time.Time {
	for _, c := range o.Status.Conditions {
		if c.Type == corev1.NodeReady && c.Status != corev1.ConditionTrue {
			return c.LastTransitionTime.UTC()
		}
	}
	return time.Time{}
}
