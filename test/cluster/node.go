package cluster

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// node is one machine of the cluster: a network namespace with its own
// containerd and kubelet.
type node struct {
	name       string
	index      int
	dir        string
	containerd *proc
	kubelet    *proc
}

// nodeName is node index i's name, as DESIGN.md names nodes.
func nodeName(i int) string { return fmt.Sprintf("node-%d", i) }

// nodeToken is node i's bearer token: derived from the cluster's secret, so
// the token file can list every index the plan allows up front.
func nodeToken(secret string, i int) (string, error) {
	if secret == "" {
		return "", fmt.Errorf("no token secret")
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(nodeName(i)))
	return hex.EncodeToString(m.Sum(nil))[:32], nil
}

// nodeCgroup is the cgroup (in every hierarchy) the node's kubelet puts its
// pods under: its cgroupRoot.
func (c *Cluster) nodeCgroup(n *node) string { return "/" + c.state.Cgroup + "/" + n.name }

// addNode makes node index i's machine: its namespace on the fabric,
// routes to and from the other nodes' pods, its cgroup and directories.
// runNode then starts its daemons.
func (c *Cluster) addNode(i int) (*node, error) {
	if err := checkNodeIndex(i); err != nil {
		return nil, err
	}
	n := &node{name: nodeName(i), index: i, dir: filepath.Join(c.Dir, "nodes", nodeName(i))}
	c.mu.Lock()
	if _, ok := c.nodes[n.name]; ok {
		c.mu.Unlock()
		return nil, fmt.Errorf("%s exists", n.name)
	}
	c.nodes[n.name] = n
	c.state.Nodes[n.name] = i
	ns := netnsName(c.state.ID, n.name)
	c.state.Netns = append(c.state.Netns, ns)
	err := c.state.save()
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	var addrs []netip.Addr
	for _, f := range c.fams {
		addrs = append(addrs, f.nodeAddr(i))
	}
	if err := attach(c.fabricNS(), ns, n.name, addrs, c.fams); err != nil {
		return nil, err
	}
	if err := c.routeNode(n); err != nil {
		return nil, err
	}
	if err := makeCgroup(c.nodeCgroup(n)); err != nil {
		return nil, err
	}
	for _, d := range []string{"containerd", "kubelet", "pod-logs", "cni-conf", "cni-ipam"} {
		if err := os.MkdirAll(filepath.Join(n.dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// runNode starts n's containerd, imports the images, writes the CNI config
// and starts the kubelet.
func (c *Cluster) runNode(n *node) error {
	if err := c.startContainerd(n); err != nil {
		return err
	}
	if err := c.importImages(n); err != nil {
		return err
	}
	if err := c.writeCNIConfig(n); err != nil {
		return err
	}
	return c.StartKubelet(n.name)
}

// routeNode routes n's pods from every other node and the control plane,
// and the other nodes' pods from n.
func (c *Cluster) routeNode(n *node) error {
	ns := netnsName(c.state.ID, n.name)
	if err := routePods(netnsName(c.state.ID, "cp"), n.index, c.fams); err != nil {
		return err
	}
	for _, other := range c.nodeList() {
		if other.index == n.index {
			continue
		}
		if err := routePods(netnsName(c.state.ID, other.name), n.index, c.fams); err != nil {
			return err
		}
		if err := routePods(ns, other.index, c.fams); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) containerdSocket(n *node) string {
	return filepath.Join(n.dir, "containerd", "containerd.sock")
}

// startContainerd writes n's containerd config and starts it.
func (c *Cluster) startContainerd(n *node) error {
	d := filepath.Join(n.dir, "containerd")
	config := fmt.Sprintf(`version = 3
root = %[1]q
state = %[2]q

[grpc]
  address = %[3]q

[ttrpc]
  address = %[4]q

[plugins]
  [plugins.'io.containerd.internal.v1.opt']
    path = %[5]q
  [plugins.'io.containerd.nri.v1.nri']
    disable = true
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = 'overlayfs'
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = %[6]q
  [plugins.'io.containerd.cri.v1.runtime']
    # No CAP_SYS_RESOURCE here: the pause container's oom_score_adj of
    # -998 would make every sandbox fail.
    restrict_oom_score_adj = true
    netns_mounts_under_state_dir = true
    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = 'runc'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
        runtime_type = 'io.containerd.runc.v2'
        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
          BinaryName = %[7]q
          Root = %[8]q
          SystemdCgroup = false
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dirs = [%[9]q]
      conf_dir = %[10]q
`, filepath.Join(d, "root"), filepath.Join(d, "state"), c.containerdSocket(n), c.containerdSocket(n)+".ttrpc",
		filepath.Join(d, "opt"), pauseImage, c.opts.Runc, filepath.Join(d, "runc"),
		c.bins.CNIDir(), filepath.Join(n.dir, "cni-conf"))
	path := filepath.Join(d, "config.toml")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		return err
	}
	// The shim is found on PATH.
	env := []string{"PATH=" + c.bins.Dir + ":" + os.Getenv("PATH")}
	p, err := startIn(filepath.Join(c.Dir, "logs"), n.name+"-containerd", netnsName(c.state.ID, n.name), env,
		c.bins.Path("containerd"), "--config", path)
	if err != nil {
		return err
	}
	c.mu.Lock()
	n.containerd = p
	c.mu.Unlock()
	return c.waitFor(n.name+"'s containerd", time.Minute, func() error {
		if p.exited() {
			return errExited(n.name+"-containerd", filepath.Join(c.Dir, "logs"))
		}
		conn, err := net.Dial("unix", c.containerdSocket(n))
		if err != nil {
			return err
		}
		return conn.Close()
	})
}

// writeCNIConfig writes n's conflist: a bridge (the pods' gateway, no
// masquerade: pod addresses are routed between nodes) with host-local
// addresses from n's pod CIDRs, then portmap. containerd adds loopback.
func (c *Cluster) writeCNIConfig(n *node) error {
	var ranges [][]map[string]string
	var routes []map[string]string
	for _, f := range c.fams {
		ranges = append(ranges, []map[string]string{{"subnet": f.podCIDR(n.index).String(), "gateway": f.podGateway(n.index).String()}})
		dst := "0.0.0.0/0"
		if f.fabric.Addr().Is6() {
			dst = "::/0"
		}
		routes = append(routes, map[string]string{"dst": dst})
	}
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       c.state.CNINetwork,
		"plugins": []any{
			map[string]any{
				"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
				"ipam": map[string]any{
					"type": "host-local", "ranges": ranges, "routes": routes,
					"dataDir": filepath.Join(n.dir, "cni-ipam"),
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	}
	data, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(n.dir, "cni-conf", "10-bridge.conflist"), data, 0o644)
}

// writeKubeletConfig writes n's kubelet config and kubeconfig.
func (c *Cluster) writeKubeletConfig(n *node) (config, kubecfg string, err error) {
	var podCIDRs []string
	for _, f := range c.fams {
		podCIDRs = append(podCIDRs, f.podCIDR(n.index).String())
	}
	kd := filepath.Join(n.dir, "kubelet")
	config = filepath.Join(kd, "config.yaml")
	kubecfg = filepath.Join(kd, "kubeconfig")
	tok, err := nodeToken(c.secret, n.index)
	if err != nil {
		return "", "", err
	}
	if err := os.WriteFile(kubecfg, []byte(kubeconfig(c.APIServerURL(), c.pki.path("ca.crt"), tok)), 0o600); err != nil {
		return "", "", err
	}
	cfg := fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This machine kind has cgroup v1 controllers (cgroup2 only unified).
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: %[1]s
containerRuntimeEndpoint: unix://%[2]s
address: %[3]s
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
podLogsDir: %[4]s
podCIDR: %[5]s
resolvConf: ""
failSwapOn: false
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: false
  x509:
    clientCAFile: %[6]s
# Only the API server holds a client certificate from the cluster's CA.
authorization:
  mode: AlwaysAllow
# The nodes share one disk and memory: evict nothing, and never collect
# the imported images (there is no registry to pull them back from).
evictionHard:
  memory.available: "1Mi"
  nodefs.available: "1%%"
  nodefs.inodesFree: "1%%"
  imagefs.available: "1%%"
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
`, c.nodeCgroup(n), c.containerdSocket(n), c.fams[0].nodeAddr(n.index), filepath.Join(n.dir, "pod-logs"),
		strings.Join(podCIDRs, ","), c.pki.path("ca.crt"))
	return config, kubecfg, os.WriteFile(config, []byte(cfg), 0o644)
}

// StartKubelet starts node name's kubelet (again, after StopKubelet).
func (c *Cluster) StartKubelet(name string) error {
	c.mu.Lock()
	n, ok := c.nodes[name]
	running := ok && n.kubelet != nil && !n.kubelet.exited()
	c.mu.Unlock()
	if !ok {
		return fmt.Errorf("no node %q", name)
	}
	if running {
		return fmt.Errorf("%s's kubelet runs already", name)
	}
	config, kubecfg, err := c.writeKubeletConfig(n)
	if err != nil {
		return err
	}
	var nodeIPs []string
	for _, f := range c.fams {
		nodeIPs = append(nodeIPs, f.nodeAddr(n.index).String())
	}
	p, err := startIn(filepath.Join(c.Dir, "logs"), n.name+"-kubelet", netnsName(c.state.ID, n.name), nil,
		c.bins.Path("kubelet"), "--config="+config, "--kubeconfig="+kubecfg,
		"--root-dir="+filepath.Join(n.dir, "kubelet", "root"),
		// Not under --root-dir by default, but /var/lib/kubelet/pki.
		"--cert-dir="+filepath.Join(n.dir, "kubelet", "pki"),
		"--hostname-override="+n.name, "--node-ip="+strings.Join(nodeIPs, ","))
	if err != nil {
		return err
	}
	c.mu.Lock()
	n.kubelet = p
	c.mu.Unlock()
	return nil
}

// StopKubelet stops node name's kubelet (SIGTERM), leaving its containers
// running: what a node whose kubelet dies, or is stopped before the node is
// removed, looks like to the control plane.
func (c *Cluster) StopKubelet(name string) error {
	c.mu.Lock()
	var kubelet *proc
	if n, ok := c.nodes[name]; ok {
		kubelet = n.kubelet
	} else {
		c.mu.Unlock()
		return fmt.Errorf("no node %q", name)
	}
	c.mu.Unlock()
	if kubelet == nil || kubelet.exited() {
		return fmt.Errorf("%s's kubelet is not running", name)
	}
	kubelet.stop(10 * time.Second)
	return nil
}

// makeCgroup makes cgroup path in every hierarchy, with cpuset's cpus and
// mems copied from each parent (a new cpuset is empty and takes no task).
func makeCgroup(path string) error {
	for _, root := range cgroupRoots() {
		parts := strings.Split(strings.Trim(path, "/"), "/")
		dir := root
		for _, part := range parts {
			parent := dir
			dir = filepath.Join(dir, part)
			if err := os.Mkdir(dir, 0o755); err != nil && !os.IsExist(err) {
				return fmt.Errorf("cgroup %s: %w", dir, err)
			}
			if filepath.Base(root) != "cpuset" {
				continue
			}
			for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
				v, err := os.ReadFile(filepath.Join(parent, f))
				if err != nil {
					return err
				}
				if err := os.WriteFile(filepath.Join(dir, f), v, 0o644); err != nil {
					return fmt.Errorf("%s: %w", filepath.Join(dir, f), err)
				}
			}
		}
	}
	return nil
}
