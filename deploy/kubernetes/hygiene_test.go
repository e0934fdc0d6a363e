package manifests

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
)

// recommendedLabels are Kubernetes's recommended labels, which every
// object carries.
var recommendedLabels = []string{
	"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version",
	"app.kubernetes.io/component", "app.kubernetes.io/part-of", "app.kubernetes.io/managed-by",
}

// TestRecommendedLabels: every object, and both DaemonSets' pods, carry
// the recommended labels, with the same instance, part-of and version.
func TestRecommendedLabels(t *testing.T) {
	m := loadManifests(t)
	objects := map[string]map[string]string{
		"Namespace":                     m.namespace.Labels,
		"ServiceAccount":                m.serviceAccount.Labels,
		"ClusterRole":                   m.clusterRole.Labels,
		"ClusterRoleBinding":            m.clusterRoleBinding.Labels,
		"Role":                          m.role.Labels,
		"RoleBinding":                   m.roleBinding.Labels,
		"DaemonSet " + m.daemonSet.Name: m.daemonSet.Labels,
		"DaemonSet " + m.daemonSet.Name + " pods":       m.daemonSet.Spec.Template.Labels,
		"DaemonSet " + m.healthDaemonSet.Name:           m.healthDaemonSet.Labels,
		"DaemonSet " + m.healthDaemonSet.Name + " pods": m.healthDaemonSet.Spec.Template.Labels,
		"Service":       m.service.Labels,
		"PodMonitor":    m.podMonitor.Metadata.Labels,
		"PriorityClass": m.priorityClass.Labels,
	}
	shared := m.daemonSet.Labels
	for what, labels := range objects {
		for _, l := range recommendedLabels {
			if labels[l] == "" {
				t.Errorf("%s has no %s label", what, l)
			}
		}
		for _, l := range []string{"app.kubernetes.io/instance", "app.kubernetes.io/part-of", "app.kubernetes.io/version", "app.kubernetes.io/managed-by"} {
			if labels[l] != shared[l] {
				t.Errorf("%s: %s=%q, the exporter's is %q", what, l, labels[l], shared[l])
			}
		}
	}
	if c := m.healthDaemonSet.Spec.Template.Labels["app.kubernetes.io/component"]; c == m.daemonSet.Spec.Template.Labels["app.kubernetes.io/component"] {
		t.Errorf("both DaemonSets' pods are component %q: tell them apart", c)
	}
}

// TestSchedulingHygiene: both DaemonSets run on Linux nodes only, at the
// priority of priorityclass.yaml, which outranks workloads but not the
// cluster's own critical components.
func TestSchedulingHygiene(t *testing.T) {
	m := loadManifests(t)
	pc := m.priorityClass
	// The largest value a user-defined class may have; the system classes
	// start above it.
	const highestUserPriority = 1_000_000_000
	if pc.Value <= 0 || pc.Value > highestUserPriority {
		t.Errorf("PriorityClass value %d: want above workloads (0) and at most %d (below system-cluster-critical)", pc.Value, highestUserPriority)
	}
	if pc.GlobalDefault {
		t.Error("the PriorityClass must not be the cluster's default")
	}
	for _, ds := range []appsv1.DaemonSet{m.daemonSet, m.healthDaemonSet} {
		pod := ds.Spec.Template.Spec
		if pod.NodeSelector["kubernetes.io/os"] != "linux" {
			t.Errorf("DaemonSet %s: nodeSelector %v, want kubernetes.io/os: linux", ds.Name, pod.NodeSelector)
		}
		if pod.PriorityClassName != pc.Name {
			t.Errorf("DaemonSet %s: priorityClassName %q, want %q (priorityclass.yaml)", ds.Name, pod.PriorityClassName, pc.Name)
		}
	}
}
