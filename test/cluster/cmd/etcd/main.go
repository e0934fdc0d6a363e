// Command etcd is etcd's own server main (go.etcd.io/etcd/server/v3/etcdmain),
// built from the version k8s.io/kubernetes requires, so that the cluster
// harness runs etcd as a process of its own without a download.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
