package cluster

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// kubeVersion is the k8s.io/kubernetes version in go.mod; the binaries report
// it (without -X they say v0.0.0-master+$Format:%H$).
const kubeVersion = "v1.37.2"

// binary is one program the cluster runs, built from this module's go.mod.
type binary struct {
	name string // file name in the binary directory
	pkg  string // Go package
	env  []string
	args []string // extra go build flags
}

var (
	kubeLDFlags = "-ldflags=-X k8s.io/component-base/version.gitVersion=" + kubeVersion +
		" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37" +
		" -X k8s.io/component-base/version.gitTreeState=clean"
	// containerd's own release flags: static, without the storage drivers
	// that need cgo.
	containerdEnv  = []string{"CGO_ENABLED=0"}
	containerdTags = []string{"-tags=no_btrfs no_devmapper no_zfs"}
)

// binaries is every program the harness builds. The kube binaries keep the
// default cgo setting, like test/kubeapi, so that both share the build cache.
var binaries = []binary{
	{name: "kube-apiserver", pkg: "k8s.io/kubernetes/cmd/kube-apiserver", args: []string{kubeLDFlags}},
	{name: "kube-controller-manager", pkg: "k8s.io/kubernetes/cmd/kube-controller-manager", args: []string{kubeLDFlags}},
	{name: "kube-scheduler", pkg: "k8s.io/kubernetes/cmd/kube-scheduler", args: []string{kubeLDFlags}},
	{name: "kubelet", pkg: "k8s.io/kubernetes/cmd/kubelet", args: []string{kubeLDFlags}},
	{name: "kubectl", pkg: "k8s.io/kubernetes/cmd/kubectl", args: []string{kubeLDFlags}},
	{name: "etcd", pkg: "./cmd/etcd"},
	{name: "containerd", pkg: "github.com/containerd/containerd/v2/cmd/containerd", env: containerdEnv, args: containerdTags},
	{name: "containerd-shim-runc-v2", pkg: "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2", env: containerdEnv, args: containerdTags},
	{name: "ctr", pkg: "github.com/containerd/containerd/v2/cmd/ctr", env: containerdEnv, args: containerdTags},
	{name: "cni/bridge", pkg: "github.com/containernetworking/plugins/plugins/main/bridge"},
	{name: "cni/host-local", pkg: "github.com/containernetworking/plugins/plugins/ipam/host-local"},
	{name: "cni/loopback", pkg: "github.com/containernetworking/plugins/plugins/main/loopback"},
	{name: "cni/portmap", pkg: "github.com/containernetworking/plugins/plugins/meta/portmap"},
	{name: "pause", pkg: "./cmd/pause", env: []string{"CGO_ENABLED=0"}},
}

// Bins is where the built programs are.
type Bins struct{ Dir string }

// Path is the path of the program called name (e.g. "kubelet", "cni/bridge").
func (b Bins) Path(name string) string { return filepath.Join(b.Dir, name) }

// CNIDir is the directory of the CNI plugins.
func (b Bins) CNIDir() string { return filepath.Join(b.Dir, "cni") }

// moduleDir is this module's directory (the harness is never built with
// -trimpath, so the file's path is real).
func moduleDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

// RepoDir is the project's checkout, two levels up.
func RepoDir() string { return filepath.Clean(filepath.Join(moduleDir(), "..", "..")) }

// binKey names a build: the same go.sum, Go, sources of the small programs
// here and flags give the same binaries.
func binKey() (string, error) {
	h := sha256.New()
	for _, f := range []string{"go.sum", "go.mod", "cmd/etcd/main.go", "cmd/pause/main.go"} {
		data, err := os.ReadFile(filepath.Join(moduleDir(), f))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\n%s\n", f, data)
	}
	fmt.Fprintln(h, runtime.Version(), kubeLDFlags, containerdTags)
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// BuildBinaries builds what is missing in the binary cache directory
// (CX_CLUSTER_BIN_CACHE, or the user's cache dir) and returns it. A cold
// build of the kube binaries takes about 20 minutes on 2 cores; after that
// only the link of a changed program runs. logf reports each build's time.
func BuildBinaries(logf func(format string, args ...any)) (Bins, error) {
	key, err := binKey()
	if err != nil {
		return Bins{}, fmt.Errorf("binary cache key: %w", err)
	}
	base := os.Getenv("CX_CLUSTER_BIN_CACHE")
	if base == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return Bins{}, err
		}
		base = filepath.Join(cache, "connectivity-exporter", "cluster-bin")
	}
	bins := Bins{Dir: filepath.Join(base, key)}
	for _, b := range binaries {
		out := bins.Path(b.name)
		if _, err := os.Stat(out); err == nil {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return Bins{}, err
		}
		// Built beside, renamed into place: a concurrent harness never
		// sees half a binary.
		tmp := fmt.Sprintf("%s.tmp%d", out, os.Getpid())
		args := append([]string{"build", "-o", tmp}, b.args...)
		cmd := exec.Command("go", append(args, b.pkg)...)
		cmd.Dir = moduleDir()
		cmd.Env = append(os.Environ(), b.env...)
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			return Bins{}, fmt.Errorf("go build %s: %w\n%s", b.pkg, err, out)
		}
		logf("built %s in %s", b.name, time.Since(start).Round(time.Second))
		if err := os.Rename(tmp, out); err != nil {
			return Bins{}, err
		}
	}
	return bins, nil
}

// buildExporter runs `make build` in the checkout and returns the binary:
// the image holds what a user's `make image` would.
func buildExporter() (string, error) {
	cmd := exec.Command("make", "build")
	cmd.Dir = RepoDir()
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("make build: %w\n%s", err, strings.TrimSpace(string(out)))
	}
	return filepath.Join(RepoDir(), "connectivity_exporter"), nil
}
