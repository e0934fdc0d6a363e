package cluster

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
)

// apiPort is the API server's secure port on the control plane's address.
const apiPort = 6443

// startControlPlane starts etcd, kube-apiserver, kube-controller-manager
// and kube-scheduler in the control plane's namespace. The controller
// manager runs the DaemonSet and node lifecycle controllers and makes the
// default ServiceAccounts; the scheduler binds DaemonSet pods.
func (c *Cluster) startControlPlane() error {
	ns := netnsName(c.state.ID, "cp")
	dir := filepath.Join(c.Dir, "control-plane")
	logs := filepath.Join(c.Dir, "logs")
	var ips, ranges []string
	for _, f := range c.fams {
		ips = append(ips, f.controlPlane().String())
		ranges = append(ranges, f.services.String())
	}
	etcd, err := startIn(logs, "etcd", ns, nil, c.bins.Path("etcd"),
		"--name=cp", "--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls=http://127.0.0.1:2379", "--advertise-client-urls=http://127.0.0.1:2379",
		"--listen-peer-urls=http://127.0.0.1:2380", "--initial-advertise-peer-urls=http://127.0.0.1:2380",
		"--initial-cluster=cp=http://127.0.0.1:2380",
		// A test cluster: losing its data on a power cut costs nothing.
		"--unsafe-no-fsync", "--log-level=warn")
	if err != nil {
		return err
	}
	c.procs["etcd"] = etcd
	p := c.pki
	api, err := startIn(logs, "kube-apiserver", ns, nil, c.bins.Path("kube-apiserver"),
		"--etcd-servers=http://127.0.0.1:2379",
		"--bind-address=0.0.0.0", fmt.Sprintf("--secure-port=%d", apiPort),
		"--advertise-address="+ips[0],
		"--service-cluster-ip-range="+strings.Join(ranges, ","),
		"--tls-cert-file="+p.path("apiserver.crt"), "--tls-private-key-file="+p.path("apiserver.key"),
		"--client-ca-file="+p.path("ca.crt"),
		"--token-auth-file="+p.path("tokens.csv"),
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file="+p.path("sa.pub"),
		"--service-account-signing-key-file="+p.path("sa.key"),
		"--authorization-mode=Node,RBAC",
		"--enable-admission-plugins=NodeRestriction",
		// Without it, exec and logs look the node's name up in DNS.
		"--kubelet-preferred-address-types=InternalIP",
		"--kubelet-client-certificate="+p.path("apiserver-kubelet-client.crt"),
		"--kubelet-client-key="+p.path("apiserver-kubelet-client.key"),
		"--cert-dir="+filepath.Join(dir, "apiserver-certs"),
		"--profiling=false")
	if err != nil {
		return err
	}
	c.procs["kube-apiserver"] = api
	if err := c.waitFor("the API server to be ready", apiReadyTimeout, func() error {
		if api.exited() {
			return errExited("kube-apiserver", logs)
		}
		_, err := c.Kubectl("get", "--raw", "/readyz")
		return err
	}); err != nil {
		return err
	}
	kcm, err := startIn(logs, "kube-controller-manager", ns, nil, c.bins.Path("kube-controller-manager"),
		"--kubeconfig="+c.AdminKubeconfig(),
		"--root-ca-file="+p.path("ca.crt"),
		"--service-account-private-key-file="+p.path("sa.key"),
		"--leader-elect=false", "--bind-address=127.0.0.1",
		"--cert-dir="+filepath.Join(dir, "controller-manager-certs"),
		fmt.Sprintf("--node-monitor-grace-period=%s", c.opts.NodeMonitorGracePeriod))
	if err != nil {
		return err
	}
	c.procs["kube-controller-manager"] = kcm
	sched, err := startIn(logs, "kube-scheduler", ns, nil, c.bins.Path("kube-scheduler"),
		"--kubeconfig="+c.AdminKubeconfig(),
		"--leader-elect=false", "--bind-address=127.0.0.1",
		"--cert-dir="+filepath.Join(dir, "scheduler-certs"))
	if err != nil {
		return err
	}
	c.procs["kube-scheduler"] = sched
	return nil
}

// writeCredentials makes the PKI, the token file and the admin kubeconfig.
func (c *Cluster) writeCredentials() error {
	var serverIPs []netip.Addr
	for _, f := range c.fams {
		serverIPs = append(serverIPs, f.controlPlane(), f.serviceIP())
	}
	p, err := newPKI(filepath.Join(c.Dir, "pki"), toNetIPs(serverIPs))
	if err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	c.pki = p
	admin, err := newToken()
	if err != nil {
		return err
	}
	tokens := tokenLine(admin, "admin", "system:masters")
	for i := 1; i <= maxNodes; i++ {
		// Tokens for every node index the plan allows, so that AddNode
		// needs no API server restart.
		tok, err := nodeToken(c.secret, i)
		if err != nil {
			return err
		}
		tokens += tokenLine(tok, "system:node:"+nodeName(i), "system:nodes")
	}
	if err := os.WriteFile(p.path("tokens.csv"), []byte(tokens), 0o600); err != nil {
		return err
	}
	return os.WriteFile(c.AdminKubeconfig(), []byte(kubeconfig(c.APIServerURL(), p.path("ca.crt"), admin)), 0o600)
}
