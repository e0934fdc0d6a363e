package nodes

import (
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Why a node is leaving the cluster (Node.Leaving), from the Kubernetes
// signals that say a node is going away on purpose. A leaving node stays
// in the list but is not probed, so that its departure pages no one.
const (
	// LeavingCordoned: spec.unschedulable (kubectl cordon or drain),
	// with --nodes.kubernetes.cordoned=exclude.
	LeavingCordoned = "cordoned"
	// LeavingAutoscaler: the cluster autoscaler's ToBeDeletedByClusterAutoscaler
	// taint, set when it starts removing the node (it then drains it and
	// deletes the machine, and the node goes NotReady before its Node
	// object is deleted).
	LeavingAutoscaler = "autoscaler"
	// LeavingOutOfService: the node.kubernetes.io/out-of-service taint,
	// which an administrator sets on a node that is shut down.
	LeavingOutOfService = "out-of-service"
	// LeavingDeleting: the Node object is being deleted (deletionTimestamp
	// set, finalizers pending).
	LeavingDeleting = "deleting"
)

// Taints that say a node is leaving. DeletionCandidateOfClusterAutoscaler
// is not one of them: it marks a node the autoscaler considers (a soft
// PreferNoSchedule), which still runs its pods and may stay for good, so
// a fault there still matters.
const (
	TaintToBeDeletedByClusterAutoscaler = "ToBeDeletedByClusterAutoscaler"
	TaintOutOfService                   = corev1.TaintNodeOutOfService
)

// LeavingText is reason in words for people: "cordoned", "being removed
// by the cluster autoscaler", "out of service", "being deleted".
func LeavingText(reason string) string {
	switch reason {
	case LeavingAutoscaler:
		return "being removed by the cluster autoscaler"
	case LeavingOutOfService:
		return "out of service"
	case LeavingDeleting:
		return "being deleted"
	}
	return reason
}

// kubeLeaving says why the Node object o is leaving, "" when it is not;
// cordoned counts only when cordon is true (--nodes.kubernetes.cordoned=exclude).
// The strongest signal wins: a deletion, then out of service, then the
// autoscaler, then a cordon (a drain cordons first).
func kubeLeaving(o *corev1.Node, cordon bool) string {
	switch {
	case o.DeletionTimestamp != nil:
		return LeavingDeleting
	case kubeHasTaint(o, TaintOutOfService):
		return LeavingOutOfService
	case kubeHasTaint(o, TaintToBeDeletedByClusterAutoscaler):
		return LeavingAutoscaler
	case cordon && o.Spec.Unschedulable:
		return LeavingCordoned
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

// kubeNotReadySince is when o's Ready condition last left True, in UTC;
// zero while it is True. A node that has not reported the condition is
// not ready since an unknown time: the zero time too, with ready false
// (kubeReady says which).
func kubeNotReadySince(o *corev1.Node) time.Time {
	for _, c := range o.Status.Conditions {
		if c.Type == corev1.NodeReady && c.Status != corev1.ConditionTrue {
			return c.LastTransitionTime.UTC()
		}
	}
	return time.Time{}
}
