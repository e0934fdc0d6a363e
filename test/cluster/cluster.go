package cluster

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// DefaultBaseDir holds the clusters' directories: short paths, because
// containerd's sockets live there and a unix socket path has 108 bytes.
const DefaultBaseDir = "/var/tmp/connectivity-cluster"

const apiReadyTimeout = 2 * time.Minute

// Options say what cluster to build. The zero value is a 3-node IPv4
// cluster in a new directory under DefaultBaseDir.
type Options struct {
	// Nodes is the number of nodes (3 if 0).
	Nodes int
	// DualStack adds IPv6 (2001:db8::/32) to every address, range and
	// route (CX_CLUSTER_DUALSTACK=1 runs the exporter test that way).
	DualStack bool
	// ID names the cluster: its namespaces (cx-ID-...), cgroup and
	// directory. A random one if empty.
	ID string
	// Dir is the cluster's directory (DefaultBaseDir/ID if empty).
	Dir string
	// ExporterBinary is packed into the exporter's image; `make build`'s
	// if empty (Start runs make build).
	ExporterBinary string
	// Runc is the OCI runtime (Debian's runc if empty).
	Runc string
	// NodeMonitorGracePeriod is how long the node lifecycle controller
	// waits for a silent kubelet before the node goes Ready=Unknown (50s,
	// Kubernetes' default, if 0).
	NodeMonitorGracePeriod time.Duration
	// Logf reports progress (discarded if nil).
	Logf func(format string, args ...any)
	// Persistent marks a cluster meant to outlive this process (make
	// cluster-up); otherwise SweepOrphans removes it once this process is
	// gone without tearing it down.
	Persistent bool
}

// Cluster is a running cluster. Its methods are safe for concurrent use.
type Cluster struct {
	// Dir is the cluster's directory: logs/, the admin kubeconfig, the
	// nodes' state. Teardown(Dir) removes the cluster.
	Dir string
	// ExporterImage is the exporter image's name:tag on every node.
	ExporterImage string

	opts   Options
	fams   []family
	bins   Bins
	pki    *pki
	secret string // the nodes' tokens derive from it

	mu    sync.Mutex
	state *state
	nodes map[string]*node
	procs map[string]*proc // the control plane's
}

// Up builds the binaries that are missing, then starts a cluster and waits
// until every node is Ready. On error everything made so far is torn down.
func Up(opts Options) (*Cluster, error) {
	if opts.Nodes == 0 {
		opts.Nodes = 3
	}
	if opts.Nodes < 1 || opts.Nodes > maxNodes {
		return nil, fmt.Errorf("nodes: %d outside 1..%d", opts.Nodes, maxNodes)
	}
	if opts.ID == "" {
		b := make([]byte, 3)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		opts.ID = hex.EncodeToString(b)
	}
	if opts.Dir == "" {
		opts.Dir = filepath.Join(DefaultBaseDir, opts.ID)
	}
	if opts.Runc == "" {
		opts.Runc = "/usr/sbin/runc"
	}
	if opts.NodeMonitorGracePeriod == 0 {
		opts.NodeMonitorGracePeriod = 50 * time.Second
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	var bins Bins
	err := withBuildLock(func() error {
		var err error
		if bins, err = BuildBinaries(opts.Logf); err != nil {
			return err
		}
		if opts.ExporterBinary == "" {
			opts.ExporterBinary, err = buildExporter()
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(opts.Dir, stateFile)); err == nil {
		return nil, fmt.Errorf("%s holds a cluster already: tear it down first", opts.Dir)
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, err
	}
	secret, err := newToken()
	if err != nil {
		return nil, err
	}
	c := &Cluster{
		Dir:    opts.Dir,
		opts:   opts,
		fams:   families(opts.DualStack),
		bins:   bins,
		secret: secret,
		nodes:  map[string]*node{},
		procs:  map[string]*proc{},
		state: &state{
			ID: opts.ID, Dir: opts.Dir, Started: time.Now().Add(-time.Second),
			Netns:      []string{netnsName(opts.ID, "fabric"), netnsName(opts.ID, "cp")},
			Cgroup:     "connectivity-cluster-" + opts.ID,
			CNINetwork: "cx-" + opts.ID,
			DualStack:  opts.DualStack,
			Nodes:      map[string]int{},
		},
	}
	if !opts.Persistent {
		c.state.Owner = os.Getpid()
	}
	// The state is written before anything is made, so that Teardown
	// finds whatever a failure leaves.
	if err := c.state.save(); err != nil {
		return nil, err
	}
	if err := c.up(); err != nil {
		return nil, errors.Join(err, c.Close())
	}
	return c, nil
}

func (c *Cluster) up() error {
	start := time.Now()
	if err := c.writeCredentials(); err != nil {
		return err
	}
	if err := c.writeImages(); err != nil {
		return err
	}
	if err := makeFabric(c.fabricNS()); err != nil {
		return err
	}
	var cpAddrs []netip.Addr
	for _, f := range c.fams {
		cpAddrs = append(cpAddrs, f.controlPlane())
	}
	if err := attach(c.fabricNS(), netnsName(c.state.ID, "cp"), "cp", cpAddrs, c.fams); err != nil {
		return err
	}
	c.opts.Logf("namespaces and PKI in %s", time.Since(start).Round(10*time.Millisecond))
	if err := c.startControlPlane(); err != nil {
		return err
	}
	c.opts.Logf("API server ready at %s", time.Since(start).Round(10*time.Millisecond))
	var made []*node
	for i := 1; i <= c.opts.Nodes; i++ {
		n, err := c.addNode(i)
		if err != nil {
			return err
		}
		made = append(made, n)
	}
	errs := make([]error, len(made))
	var wg sync.WaitGroup
	for i, n := range made {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.runNode(n)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	c.opts.Logf("containerd, images and kubelets started at %s", time.Since(start).Round(10*time.Millisecond))
	if err := c.WaitNodesReady(2 * time.Minute); err != nil {
		return err
	}
	c.opts.Logf("%d nodes Ready at %s", len(made), time.Since(start).Round(10*time.Millisecond))
	return nil
}

// Close tears the cluster down (see Teardown).
func (c *Cluster) Close() error {
	c.mu.Lock()
	procs := make([]*proc, 0, len(c.procs))
	for _, p := range c.procs {
		procs = append(procs, p)
	}
	c.mu.Unlock()
	err := Teardown(c.Dir)
	for _, p := range procs {
		<-p.done // reaped after the SIGKILL of Teardown
	}
	return err
}

func (c *Cluster) fabricNS() string { return netnsName(c.state.ID, "fabric") }

// NodeNS is the path of node name's network namespace (for nsenter --net,
// or netns.GetFromPath): the node's host network, where its kubelet,
// containerd and hostNetwork pods run.
func (c *Cluster) NodeNS(name string) string {
	return "/run/netns/" + netnsName(c.state.ID, name)
}

// ControlPlaneNS is the path of the control plane's network namespace.
func (c *Cluster) ControlPlaneNS() string {
	return "/run/netns/" + netnsName(c.state.ID, "cp")
}

// Nodes are the nodes' names, in index order.
func (c *Cluster) Nodes() []string {
	var names []string
	for _, n := range c.nodeList() {
		names = append(names, n.name)
	}
	return names
}

// NodeIP is node name's (first family's) address.
func (c *Cluster) NodeIP(name string) (netip.Addr, error) {
	c.mu.Lock()
	n, ok := c.nodes[name]
	c.mu.Unlock()
	if !ok {
		return netip.Addr{}, fmt.Errorf("no node %q", name)
	}
	return c.fams[0].nodeAddr(n.index), nil
}

func (c *Cluster) nodeList() []*node {
	c.mu.Lock()
	defer c.mu.Unlock()
	list := make([]*node, 0, len(c.nodes))
	for _, n := range c.nodes {
		list = append(list, n)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].index < list[j].index })
	return list
}

// APIServerURL is the API server's address, reachable from every node's and
// the control plane's namespace (not from the root namespace: run clients
// with nsenter --net=ControlPlaneNS(), as Kubectl does).
func (c *Cluster) APIServerURL() string {
	return "https://" + net.JoinHostPort(c.fams[0].controlPlane().String(), fmt.Sprint(apiPort))
}

// APIServerHost and APIServerPort are what in-cluster clients need in
// KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT: there is no
// kube-proxy, so the kubernetes Service's address leads nowhere.
func (c *Cluster) APIServerHost() string { return c.fams[0].controlPlane().String() }

// APIServerPort is the API server's port.
func (c *Cluster) APIServerPort() int { return apiPort }

// AdminKubeconfig is the path of a kubeconfig in system:masters.
func (c *Cluster) AdminKubeconfig() string { return filepath.Join(c.Dir, "admin.kubeconfig") }

// KubectlPath is the built kubectl.
func (c *Cluster) KubectlPath() string { return c.bins.Path("kubectl") }

// Kubectl runs kubectl as the admin in the control plane's namespace and
// returns its standard output; on failure the error holds standard error.
func (c *Cluster) Kubectl(args ...string) (string, error) {
	return c.KubectlStdin(nil, args...)
}

// KubectlStdin is Kubectl with stdin as kubectl's standard input.
func (c *Cluster) KubectlStdin(stdin []byte, args ...string) (string, error) {
	argv := append([]string{"--net=" + c.ControlPlaneNS(), "--", c.KubectlPath(), "--kubeconfig=" + c.AdminKubeconfig()}, args...)
	cmd := exec.Command("nsenter", argv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// Exec runs command in a pod's container (kubectl exec: through the API
// server, the kubelet and containerd's streaming) and returns its output;
// an error carries the exit status.
func (c *Cluster) Exec(namespace, pod, container string, command ...string) (string, error) {
	args := []string{"exec", "-n", namespace, pod}
	if container != "" {
		args = append(args, "-c", container)
	}
	return c.Kubectl(append(append(args, "--"), command...)...)
}

// WaitNodesReady waits until the named nodes (every node if none is named)
// are Ready.
func (c *Cluster) WaitNodesReady(timeout time.Duration, names ...string) error {
	want := names
	if len(want) == 0 {
		want = c.Nodes()
	}
	return c.waitFor(fmt.Sprintf("%d nodes Ready", len(want)), timeout, func() error {
		c.mu.Lock()
		var dead string
		for _, name := range want {
			if n, ok := c.nodes[name]; ok && n.kubelet != nil && n.kubelet.exited() {
				dead = n.name
			}
		}
		c.mu.Unlock()
		if dead != "" {
			return errExited(dead+"-kubelet", filepath.Join(c.Dir, "logs"))
		}
		out, err := c.Kubectl("get", "nodes", "-o",
			`jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}`)
		if err != nil {
			return err
		}
		ready := map[string]bool{}
		for _, line := range strings.Fields(out) {
			if name, ok := strings.CutSuffix(line, "=True"); ok {
				ready[name] = true
			}
		}
		for _, n := range want {
			if !ready[n] {
				return fmt.Errorf("%s not Ready (%s)", n, strings.Join(strings.Fields(out), " "))
			}
		}
		return nil
	})
}

// AddNode adds a node (the next index) and waits until it is Ready.
func (c *Cluster) AddNode() (string, error) {
	next := 1
	for _, n := range c.nodeList() {
		next = max(next, n.index+1)
	}
	n, err := c.addNode(next)
	if err != nil {
		return "", err
	}
	if err := c.runNode(n); err != nil {
		return "", err
	}
	return n.name, c.WaitNodesReady(2*time.Minute, n.name)
}

// RemoveNode removes node name's machine at once, as a cloud deletes a VM:
// its processes and containers are killed, its namespace, cgroups and
// routes removed. The Node object stays (a node controller or the cluster
// autoscaler deletes it: `kubectl delete node`).
func (c *Cluster) RemoveNode(name string) error {
	c.mu.Lock()
	n, ok := c.nodes[name]
	c.mu.Unlock()
	if !ok {
		return fmt.Errorf("no node %q", name)
	}
	ns := netnsName(c.state.ID, name)
	var errs []error
	errs = append(errs, killMatching([]string{ns}, c.nodeCgroup(n)))
	errs = append(errs, unmountUnder(n.dir))
	errs = append(errs, ip("netns", "del", ns))
	errs = append(errs, removeCgroups(strings.TrimPrefix(c.nodeCgroup(n), "/")))
	unroutePods(netnsName(c.state.ID, "cp"), n.index, c.fams)
	c.mu.Lock()
	delete(c.nodes, name)
	delete(c.state.Nodes, name)
	for i, s := range c.state.Netns {
		if s == ns {
			c.state.Netns = append(c.state.Netns[:i], c.state.Netns[i+1:]...)
			break
		}
	}
	errs = append(errs, c.state.save())
	c.mu.Unlock()
	for _, other := range c.nodeList() {
		unroutePods(netnsName(c.state.ID, other.name), n.index, c.fams)
	}
	return errors.Join(errs...)
}

// waitFor polls check every 200ms until it returns nil, or fails after
// timeout with check's last error.
func (c *Cluster) waitFor(what string, timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return nil
		}
		var exited exitedError
		if errors.As(err, &exited) || time.Now().After(deadline) {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// exitedError is a daemon that died while the harness waited for it.
type exitedError struct{ msg string }

func (e exitedError) Error() string { return e.msg }

func errExited(name, logDir string) error {
	return exitedError{fmt.Sprintf("%s exited; the end of its log:\n%s", name, LogTail(filepath.Join(logDir, name+".log"), 20))}
}

// LogTail is the last n lines of a log file.
func LogTail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func toNetIPs(addrs []netip.Addr) []net.IP {
	out := make([]net.IP, len(addrs))
	for i, a := range addrs {
		out[i] = net.IP(a.AsSlice())
	}
	return out
}
