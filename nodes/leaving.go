package nodes

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
