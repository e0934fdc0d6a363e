// Package cluster runs a real multi-node Kubernetes cluster on this machine for
// tests: etcd, kube-apiserver, kube-controller-manager and kube-scheduler, and
// per node a network namespace with its own containerd, runc, bridge CNI and
// kubelet. Nothing is pulled from a registry.
//
// Start(t, Options{}) gives a 3-node cluster torn down when the test ends;
// Up and Teardown do the same outside tests (make cluster-up and
// cluster-down). The harness builds the binaries it needs from this
// module's go.mod once (BuildBinaries).
package cluster
