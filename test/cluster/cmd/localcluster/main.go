// Command localcluster brings up a local Kubernetes cluster with the
// exporter deployed from deploy/kubernetes, and leaves it running for a look
// (make cluster-up), or tears it down (make cluster-down). The cluster is
// the one the tests in test/cluster use: nodes are network namespaces with
// their own containerd and kubelet, nothing is pulled from a registry.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/test/cluster"
)

const id = "local"

func main() {
	dir := flag.String("dir", filepath.Join(cluster.DefaultBaseDir, id), "the cluster's directory (state, logs, kubeconfig)")
	nodes := flag.Int("nodes", 3, "number of nodes")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: %s [flags] up|down\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	if os.Geteuid() != 0 {
		log.Fatal("needs root: builds network namespaces and runs kubelets")
	}
	var err error
	switch flag.Arg(0) {
	case "up":
		err = up(*dir, *nodes)
	case "down":
		err = down(*dir)
	default:
		flag.Usage()
		os.Exit(2)
	}
	if err != nil {
		log.Fatal(err)
	}
}

func up(dir string, nodes int) error {
	start := time.Now()
	c, err := cluster.Up(cluster.Options{Nodes: nodes, ID: id, Dir: dir, Logf: log.Printf, Persistent: true})
	if err != nil {
		return err
	}
	if err := c.DeployExporter(3 * time.Minute); err != nil {
		return errors.Join(err, c.Close())
	}
	kubectl := filepath.Join(dir, "kubectl")
	script := fmt.Sprintf("#!/bin/sh\n# kubectl for the local cluster: its API server is reachable inside the control plane's namespace.\nexec nsenter --net=%s -- %s --kubeconfig=%s \"$@\"\n",
		c.ControlPlaneNS(), c.KubectlPath(), c.AdminKubeconfig())
	if err := os.WriteFile(kubectl, []byte(script), 0o755); err != nil {
		return err
	}
	node := c.Nodes()[0]
	ip, err := c.NodeIP(node)
	if err != nil {
		return err
	}
	fmt.Printf(`
A %d-node cluster is up with the exporter deployed (%s in all).

  kubectl (as root):  %[3]s get pods -n %[4]s -o wide
  status:             %[3]s exec -n %[4]s ds/connectivity-exporter -- /connectivity_exporter status --verbose
  %[5]s's /metrics:   nsenter --net=%[6]s curl -s http://%[7]s:9240/metrics
                      (or %[3]s get --raw /api/v1/nodes/%[5]s:9240/proxy/metrics)
  logs of the daemons: %[8]s
  API server:         %[9]s (admin kubeconfig %[10]s, usable inside %[11]s)

Tear it down with: make cluster-down
`, len(c.Nodes()), time.Since(start).Round(time.Second), kubectl, cluster.ExporterNamespace,
		node, c.NodeNS(node), ip, filepath.Join(dir, "logs"), c.APIServerURL(), c.AdminKubeconfig(), c.ControlPlaneNS())
	return nil
}

func down(dir string) error {
	err := cluster.Teardown(dir)
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Printf("no cluster in %s\n", dir)
		return nil
	}
	if err == nil {
		fmt.Printf("removed the cluster in %s\n", dir)
	}
	return err
}
