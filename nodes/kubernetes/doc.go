// Package kubernetes discovers the node list from the Kubernetes API: the
// cluster's Node objects, watched, with each node's health IP taken from its
// pod of the health DaemonSet (or a node annotation). It is the only package
// that links client-go, so that the CLI and the probing packages do not.
package kubernetes
