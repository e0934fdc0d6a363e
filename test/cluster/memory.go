package cluster

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Memory is the resident memory (VmRSS, bytes) of the cluster's processes
// by name: the control plane's ("kube-apiserver", "etcd", ...) and each
// node's ("node-1 kubelet", "node-1 containerd", "node-1 shims" for all of
// its containerd-shim-runc-v2 processes together). Containers are not in it.
func (c *Cluster) Memory() (map[string]uint64, error) {
	out := map[string]uint64{}
	c.mu.Lock()
	for name, p := range c.procs {
		out[name] = rss(p.cmd.Process.Pid)
	}
	nodes := make([]*node, 0, len(c.nodes))
	for _, n := range c.nodes {
		nodes = append(nodes, n)
		if n.kubelet != nil && !n.kubelet.exited() {
			out[n.name+" kubelet"] = rss(n.kubelet.cmd.Process.Pid)
		}
		if n.containerd != nil && !n.containerd.exited() {
			out[n.name+" containerd"] = rss(n.containerd.cmd.Process.Pid)
		}
	}
	c.mu.Unlock()
	for _, n := range nodes {
		ino, ok := nsInode(c.NodeNS(n.name))
		if !ok {
			return nil, fmt.Errorf("%s's namespace is gone", n.name)
		}
		for _, pid := range matchingPIDs(map[uint64]bool{ino: true}, "/nonexistent") {
			if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); strings.HasPrefix(string(comm), "containerd-shim") {
				out[n.name+" shims"] += rss(pid)
			}
		}
	}
	return out, nil
}

// rss is a process's VmRSS in bytes (0 if it is gone).
func rss(pid int) uint64 {
	st, err := ProcStatus(pid)
	if err != nil {
		return 0
	}
	kb, _ := strconv.ParseUint(strings.TrimSuffix(st["VmRSS"], " kB"), 10, 64)
	return kb * 1024
}
