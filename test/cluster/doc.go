// Package cluster runs a real multi-node Kubernetes cluster on this machine for
// tests: etcd, kube-apiserver, kube-controller-manager and kube-scheduler, and
// per node a network namespace with its own containerd, runc, bridge CNI and
// kubelet. Nothing is pulled from a registry.
package cluster

// The project is required (and replaced by this tree) so that the versions
// of the modules shared with test/kubeapi are the same here as there: the kube
// binaries' packages then share Go's build cache with test/kubeapi.
import _ "github.com/connectivity-exporter/connectivity_exporter/status"
