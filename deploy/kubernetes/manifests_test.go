// Package manifests holds no code: its tests check the Kubernetes manifests
// beside them. Every manifest is decoded strictly into the API's Go types
// (an unknown or misspelt field fails, as `kubectl apply --validate=strict`
// would), and the properties the exporter relies on are asserted: ports,
// flags, privileges, RBAC. test/kubeapi applies them to a real API server.
package manifests

import (
	"bytes"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

const appLabel = "app.kubernetes.io/name"

// Names of the two DaemonSets.
const (
	exporterName = "connectivity-exporter"
	healthName   = "connectivity-health"
)

// manifests is every object in the *.yaml files here, by kind (and by
// name for the DaemonSets).
type manifests struct {
	namespace          corev1.Namespace
	serviceAccount     corev1.ServiceAccount
	clusterRole        rbacv1.ClusterRole
	clusterRoleBinding rbacv1.ClusterRoleBinding
	role               rbacv1.Role
	roleBinding        rbacv1.RoleBinding
	daemonSet          appsv1.DaemonSet // the exporter's
	healthDaemonSet    appsv1.DaemonSet // the health pods'
	service            corev1.Service
	podMonitor         podMonitor
	priorityClass      schedulingv1.PriorityClass
	files              map[string][]string // file -> kinds in it
}

// podMonitor is the part of prometheus-operator's PodMonitor (a CRD, with
// no Go types in this module) that the manifest uses. Decoding is strict,
// so a field outside it is an error here: add it to the struct only after
// checking its name in the CRD.
type podMonitor struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name   string            `json:"name"`
		Labels map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec struct {
		Selector struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"selector"`
		ScrapeProtocols         []string `json:"scrapeProtocols"`
		ScrapeClassicHistograms bool     `json:"scrapeClassicHistograms"`
		PodMetricsEndpoints     []struct {
			Port        string `json:"port"`
			Path        string `json:"path"`
			Interval    string `json:"interval"`
			Relabelings []struct {
				SourceLabels []string `json:"sourceLabels"`
				TargetLabel  string   `json:"targetLabel"`
				Replacement  *string  `json:"replacement"`
				Regex        string   `json:"regex"`
				Action       string   `json:"action"`
			} `json:"relabelings"`
		} `json:"podMetricsEndpoints"`
	} `json:"spec"`
}

// scrapeConfig is the part of Prometheus's configuration that
// prometheus-scrape.yml uses, decoded strictly for the same reason.
type scrapeConfig struct {
	ScrapeConfigs []struct {
		JobName                       string `json:"job_name"`
		ScrapeInterval                string `json:"scrape_interval"`
		ScrapeNativeHistograms        bool   `json:"scrape_native_histograms"`
		AlwaysScrapeClassicHistograms bool   `json:"always_scrape_classic_histograms"`
		KubernetesSDConfigs           []struct {
			Role      string `json:"role"`
			Selectors []struct {
				Role  string `json:"role"`
				Label string `json:"label"`
				Field string `json:"field"`
			} `json:"selectors"`
		} `json:"kubernetes_sd_configs"`
		RelabelConfigs []relabel `json:"relabel_configs"`
	} `json:"scrape_configs"`
}

type relabel struct {
	SourceLabels []string `json:"source_labels"`
	Regex        string   `json:"regex"`
	Action       string   `json:"action"`
	TargetLabel  string   `json:"target_label"`
	Replacement  *string  `json:"replacement"`
}

// kustomization is the part of kustomize's Kustomization used here.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace"`
	Resources  []string `json:"resources"`
	Images     []struct {
		Name    string `json:"name"`
		NewName string `json:"newName"`
		NewTag  string `json:"newTag"`
	} `json:"images"`
}

var (
	documentSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)
	commentLine       = regexp.MustCompile(`(?m)^\s*#.*$`)
)

// documents splits a YAML stream at its "---" lines, leaving out documents
// of nothing but comments.
func documents(data []byte) [][]byte {
	var docs [][]byte
	for _, d := range documentSeparator.Split(string(data), -1) {
		if strings.TrimSpace(commentLine.ReplaceAllString(d, "")) != "" {
			docs = append(docs, []byte(d))
		}
	}
	return docs
}

func strict(t *testing.T, where string, doc []byte, into any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(doc, into); err != nil {
		t.Fatalf("%s: %v", where, err)
	}
}

func loadManifests(t *testing.T) *manifests {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := &manifests{files: map[string][]string{}}
	seen := map[string]bool{}
	for _, f := range files {
		if f == "kustomization.yaml" {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range documents(data) {
			where := fmt.Sprintf("%s document %d", f, i+1)
			var head struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
				Metadata   struct {
					Name      string `json:"name"`
					Namespace string `json:"namespace"`
				} `json:"metadata"`
			}
			if err := yaml.Unmarshal(doc, &head); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			if head.Metadata.Namespace != "" {
				t.Errorf("%s: metadata.namespace %q: the manifests are namespace-agnostic (kustomization.yaml sets it)", where, head.Metadata.Namespace)
			}
			key := head.APIVersion + " " + head.Kind
			if head.Kind == "DaemonSet" {
				key += " " + head.Metadata.Name
			}
			if seen[key] {
				t.Errorf("%s: a second %s; the tests expect one of each", where, key)
			}
			seen[key] = true
			m.files[f] = append(m.files[f], head.Kind)
			var into any
			switch key {
			case "v1 Namespace":
				into = &m.namespace
			case "v1 ServiceAccount":
				into = &m.serviceAccount
			case "rbac.authorization.k8s.io/v1 ClusterRole":
				into = &m.clusterRole
			case "rbac.authorization.k8s.io/v1 ClusterRoleBinding":
				into = &m.clusterRoleBinding
			case "rbac.authorization.k8s.io/v1 Role":
				into = &m.role
			case "rbac.authorization.k8s.io/v1 RoleBinding":
				into = &m.roleBinding
			case "apps/v1 DaemonSet " + exporterName:
				into = &m.daemonSet
			case "apps/v1 DaemonSet " + healthName:
				into = &m.healthDaemonSet
			case "v1 Service":
				into = &m.service
			case "monitoring.coreos.com/v1 PodMonitor":
				into = &m.podMonitor
			case "scheduling.k8s.io/v1 PriorityClass":
				into = &m.priorityClass
			default:
				t.Fatalf("%s: %s has no test; add it to loadManifests and check it", where, key)
			}
			strict(t, where, doc, into)
		}
	}
	for _, want := range []string{
		"v1 Namespace", "v1 ServiceAccount",
		"rbac.authorization.k8s.io/v1 ClusterRole", "rbac.authorization.k8s.io/v1 ClusterRoleBinding",
		"rbac.authorization.k8s.io/v1 Role", "rbac.authorization.k8s.io/v1 RoleBinding",
		"apps/v1 DaemonSet " + exporterName, "apps/v1 DaemonSet " + healthName,
		"v1 Service", "monitoring.coreos.com/v1 PodMonitor", "scheduling.k8s.io/v1 PriorityClass",
	} {
		if !seen[want] {
			t.Errorf("no %s in the manifests", want)
		}
	}
	return m
}

// container is the exporter DaemonSet's one container.
func (m *manifests) container(t *testing.T) corev1.Container {
	t.Helper()
	return onlyContainer(t, m.daemonSet)
}

func onlyContainer(t *testing.T, ds appsv1.DaemonSet) corev1.Container {
	t.Helper()
	cs := ds.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("DaemonSet %s has %d containers, want 1", ds.Name, len(cs))
	}
	return cs[0]
}

// args returns the exporter DaemonSet's --flag=value arguments by flag name.
func (m *manifests) args(t *testing.T) map[string]string {
	t.Helper()
	return flagArgs(t, m.container(t).Command, m.container(t).Args)
}

// flagArgs returns --flag=value arguments by flag name.
func flagArgs(t *testing.T, command, args []string) map[string]string {
	t.Helper()
	if len(command) != 0 {
		t.Errorf("command %q overrides the image's entrypoint; use args", command)
	}
	out := map[string]string{}
	for _, a := range args {
		name, value, _ := strings.Cut(a, "=")
		if !strings.HasPrefix(name, "--") {
			t.Errorf("argument %q is not a --flag", a)
			continue
		}
		out[strings.TrimPrefix(name, "--")] = value
	}
	return out
}

// containerPort resolves a probe's or Service's port (number or name) to
// the DaemonSet's container port number.
func (m *manifests) containerPort(t *testing.T, p intstr.IntOrString) int32 {
	t.Helper()
	for _, cp := range m.container(t).Ports {
		if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
			return cp.ContainerPort
		}
	}
	t.Fatalf("port %s is not a container port of the DaemonSet", p.String())
	return 0
}

func (m *manifests) namedPort(t *testing.T, name string) int32 {
	return m.containerPort(t, intstr.FromString(name))
}

func listenPort(t *testing.T, flag, addr string) int32 {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("--%s=%s: %v", flag, addr, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatalf("--%s=%s: %v", flag, addr, err)
	}
	return int32(p)
}

func TestManifestsDecodeStrictly(t *testing.T) {
	loadManifests(t)
}

func TestDaemonSet(t *testing.T) {
	m := loadManifests(t)
	ds := m.daemonSet
	pod := ds.Spec.Template.Spec
	c := m.container(t)

	if !pod.HostNetwork {
		t.Error("hostNetwork must be true: the host paths are probed from and to the node's own addresses")
	}
	if pod.DNSPolicy != corev1.DNSClusterFirstWithHostNet {
		t.Errorf("dnsPolicy = %q, want %s", pod.DNSPolicy, corev1.DNSClusterFirstWithHostNet)
	}
	if !slices.ContainsFunc(pod.Tolerations, func(tol corev1.Toleration) bool {
		return tol.Operator == corev1.TolerationOpExists && tol.Key == "" && tol.Effect == ""
	}) {
		t.Errorf("tolerations %+v: want {operator: Exists} to run on every node, tainted or not", pod.Tolerations)
	}
	if pod.ServiceAccountName != m.serviceAccount.Name {
		t.Errorf("serviceAccountName = %q, want the ServiceAccount %q", pod.ServiceAccountName, m.serviceAccount.Name)
	}
	labels := ds.Spec.Template.Labels
	if ds.Spec.Selector == nil || !isSubset(ds.Spec.Selector.MatchLabels, labels) || len(ds.Spec.Selector.MatchLabels) == 0 {
		t.Errorf("selector %v does not select the pod labels %v", ds.Spec.Selector, labels)
	}
	if labels[appLabel] != "connectivity-exporter" {
		t.Errorf("pod label %s = %q; examples/prometheus.yml and the scrape configs keep on connectivity-exporter", appLabel, labels[appLabel])
	}

	// NODE_NAME comes from the pod's node, and every $(VAR) is defined.
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	if e, ok := env["NODE_NAME"]; !ok || e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != "spec.nodeName" {
		t.Errorf("env NODE_NAME = %+v, want valueFrom.fieldRef.fieldPath spec.nodeName", e)
	}
	varRef := regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)
	for _, a := range c.Args {
		for _, ref := range varRef.FindAllStringSubmatch(a, -1) {
			if _, ok := env[ref[1]]; !ok {
				t.Errorf("argument %q refers to $(%s), which is not in env: Kubernetes would pass it literally", a, ref[1])
			}
		}
	}
	args := m.args(t)
	if args["node.name"] != "$(NODE_NAME)" {
		t.Errorf("--node.name=%q, want $(NODE_NAME)", args["node.name"])
	}
	if _, ok := args["nodes.kubernetes"]; !ok {
		t.Error("--nodes.kubernetes missing: the DaemonSet discovers nodes from the API")
	}

	// Ports: the flags, the container ports and the probes agree.
	metrics := listenPort(t, "web.listen-address", args["web.listen-address"])
	hello := listenPort(t, "hello.listen-address", args["hello.listen-address"])
	if got := m.namedPort(t, "metrics"); got != metrics {
		t.Errorf("container port metrics = %d, want %d (--web.listen-address)", got, metrics)
	}
	if got := m.namedPort(t, "hello"); got != hello {
		t.Errorf("container port hello = %d, want %d (--hello.listen-address)", got, hello)
	}
	// The cheap endpoints of the metrics listener, not a scrape of /metrics.
	if p := c.LivenessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/-/healthy" || m.containerPort(t, p.HTTPGet.Port) != metrics {
		t.Errorf("livenessProbe %+v: want httpGet /-/healthy on %d", p, metrics)
	}
	if p := c.ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/-/ready" || m.containerPort(t, p.HTTPGet.Port) != metrics {
		t.Errorf("readinessProbe %+v: want httpGet /-/ready on %d", p, metrics)
	}

	// Resources: requests for scheduling, a memory limit against leaks.
	req, lim := c.Resources.Requests, c.Resources.Limits
	if req.Cpu().IsZero() || req.Memory().IsZero() || lim.Memory().IsZero() {
		t.Errorf("resources %+v: want cpu and memory requests and a memory limit", c.Resources)
	} else if lim.Memory().Cmp(*req.Memory()) < 0 {
		t.Errorf("memory limit %s below the request %s", lim.Memory(), req.Memory())
	}
}

func TestDaemonSetPrivileges(t *testing.T) {
	m := loadManifests(t)
	c := m.container(t)
	sc := c.SecurityContext
	if sc == nil {
		t.Fatal("no securityContext")
	}
	// The exporter builds no health namespace on Kubernetes (the health
	// pods are the endpoints): raw ICMP is all it needs.
	if sc.Privileged != nil && *sc.Privileged {
		t.Error("privileged: true; the exporter needs NET_RAW only")
	}
	if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Add, []corev1.Capability{"NET_RAW"}) {
		t.Errorf("capabilities.add = %v, want exactly [NET_RAW]", sc.Capabilities)
	}
	if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("capabilities.drop = %v, want [ALL]", sc.Capabilities)
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation must be false")
	}
	if p := sc.AppArmorProfile; p != nil && p.Type != corev1.AppArmorProfileTypeRuntimeDefault {
		t.Errorf("appArmorProfile %v: leave the runtime's default", p.Type)
	}
	if p := sc.SeccompProfile; p == nil || p.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Error("seccompProfile must be RuntimeDefault")
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("readOnlyRootFilesystem must be true")
	}
	// Kubernetes gives added capabilities to uid 0 only (no ambient
	// capabilities; file capabilities need privilege escalation).
	if sc.RunAsUser == nil || *sc.RunAsUser != 0 {
		t.Error("runAsUser must be 0: a non-root user would not get NET_RAW")
	}
	if sc.RunAsNonRoot != nil && *sc.RunAsNonRoot {
		t.Error("runAsNonRoot: true contradicts runAsUser: 0")
	}

	volumes := map[string]corev1.Volume{}
	for _, v := range m.daemonSet.Spec.Template.Spec.Volumes {
		volumes[v.Name] = v
		if v.HostPath != nil {
			t.Errorf("volume %s: hostPath %s; the exporter needs nothing of the node's filesystem", v.Name, v.HostPath.Path)
		}
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, vm := range c.VolumeMounts {
		mounts[vm.MountPath] = vm
		if _, ok := volumes[vm.Name]; !ok {
			t.Errorf("volumeMount %s: no volume %q", vm.MountPath, vm.Name)
		}
	}

	// The admin socket's directory is writable (the root filesystem is not).
	sock := helpDefault(t, "daemon", "admin.socket")
	dir := filepath.Dir(sock)
	if vm, ok := mounts[dir]; !ok || vm.ReadOnly {
		t.Errorf("no writable volumeMount at %s for the admin socket %s", dir, sock)
	}
}

func TestHealthDaemonSet(t *testing.T) {
	m := loadManifests(t)
	ds := m.healthDaemonSet
	pod := ds.Spec.Template.Spec
	c := onlyContainer(t, ds)

	if pod.HostNetwork {
		t.Error("hostNetwork must be false: the health pod is on the pod network, so the endpoint paths cross the CNI's data path")
	}
	if !slices.ContainsFunc(pod.Tolerations, func(tol corev1.Toleration) bool {
		return tol.Operator == corev1.TolerationOpExists && tol.Key == "" && tol.Effect == ""
	}) {
		t.Errorf("tolerations %+v: want {operator: Exists}: every node the exporter probes needs its endpoint", pod.Tolerations)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("automountServiceAccountToken must be false: the health pod talks to no API")
	}
	if pod.ServiceAccountName != "" {
		t.Errorf("serviceAccountName %q: the health pod needs no identity", pod.ServiceAccountName)
	}
	if len(pod.Volumes) != 0 || len(c.VolumeMounts) != 0 {
		t.Errorf("volumes %+v: the health pod needs none", pod.Volumes)
	}
	podLabels := ds.Spec.Template.Labels
	if ds.Spec.Selector == nil || len(ds.Spec.Selector.MatchLabels) == 0 || !isSubset(ds.Spec.Selector.MatchLabels, podLabels) {
		t.Errorf("selector %v does not select the pod podLabels %v", ds.Spec.Selector, podLabels)
	}
	// The exporters find the pods by the default of
	// --nodes.kubernetes.health-pods.selector, and nothing else matches
	// each other's pods.
	sel := mustSelector(t, helpDefault(t, "daemon", "nodes.kubernetes.health-pods.selector"))
	if !sel.Matches(labels.Set(podLabels)) {
		t.Errorf("the default health pod selector %q does not select the health pods %v", sel, podLabels)
	}
	exporterLabels := m.daemonSet.Spec.Template.Labels
	if sel.Matches(labels.Set(exporterLabels)) {
		t.Errorf("the default health pod selector %q also selects the exporter pods %v", sel, exporterLabels)
	}
	if isSubset(m.daemonSet.Spec.Selector.MatchLabels, podLabels) || isSubset(ds.Spec.Selector.MatchLabels, exporterLabels) {
		t.Error("the DaemonSets' selectors overlap: each would claim the other's pods")
	}
	if isSubset(m.service.Spec.Selector, podLabels) {
		t.Error("the exporters' Service selects the health pods")
	}
	exporterArgs := m.args(t)
	if _, ok := exporterArgs["nodes.kubernetes.health-pods.namespace"]; ok {
		t.Error("--nodes.kubernetes.health-pods.namespace in the exporter's args: the default (its own namespace) is where kustomize puts the health pods")
	}

	// The hello command, on the port the exporters probe.
	if c.Image != m.container(t).Image {
		t.Errorf("image %q, want the exporter's %q (one image, two commands)", c.Image, m.container(t).Image)
	}
	if len(c.Args) == 0 || c.Args[0] != "hello" {
		t.Fatalf("args %q: want the hello command first", c.Args)
	}
	args := flagArgs(t, c.Command, c.Args[1:])
	flags := helpFlags(t, "hello")
	for name := range args {
		if !flags[name] {
			t.Errorf("--%s is not a flag of `connectivity_exporter hello` (see its --help)", name)
		}
	}
	addr, ok := args["hello.listen-address"]
	if !ok {
		addr = helpDefault(t, "hello", "hello.listen-address")
	}
	hello := listenPort(t, "hello.listen-address", addr)
	if probed := listenPort(t, "hello.listen-address", exporterArgs["hello.listen-address"]); hello != probed {
		t.Errorf("/hello on port %d, but the exporters probe port %d (their --hello.listen-address)", hello, probed)
	}
	if len(c.Ports) != 1 || c.Ports[0].Name != "hello" || c.Ports[0].ContainerPort != hello || c.Ports[0].HostPort != 0 {
		t.Errorf("ports %+v: want one named hello, container port %d, no host port", c.Ports, hello)
	}
	if p := c.ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/hello" ||
		(p.HTTPGet.Port != intstr.FromString("hello") && p.HTTPGet.Port != intstr.FromInt32(hello)) {
		t.Errorf("readinessProbe %+v: want httpGet /hello on %d", p, hello)
	}

	// Tiny requests: it is on every node.
	req, lim := c.Resources.Requests, c.Resources.Limits
	if req.Cpu().IsZero() || req.Memory().IsZero() || lim.Memory().IsZero() {
		t.Errorf("resources %+v: want cpu and memory requests and a memory limit", c.Resources)
	}
	if req.Cpu().MilliValue() > 10 || req.Memory().Value() > 32<<20 || lim.Memory().Value() > 64<<20 {
		t.Errorf("resources %+v: want at most 10m CPU and 32Mi requested, 64Mi limit", c.Resources)
	}

	// Nothing but a socket: no root, no capability, nothing writable.
	psc := pod.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	sc := c.SecurityContext
	if sc == nil {
		t.Fatal("no securityContext")
	}
	uid := sc.RunAsUser
	if uid == nil {
		uid = psc.RunAsUser
	}
	nonRoot := sc.RunAsNonRoot
	if nonRoot == nil {
		nonRoot = psc.RunAsNonRoot
	}
	seccomp := sc.SeccompProfile
	if seccomp == nil {
		seccomp = psc.SeccompProfile
	}
	switch {
	case uid == nil:
		t.Error("runAsUser unset, want 65534 (nobody)")
	case *uid != 65534:
		t.Errorf("runAsUser %d, want 65534 (nobody)", *uid)
	case nonRoot == nil || !*nonRoot:
		t.Error("runAsNonRoot must be true")
	case seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault:
		t.Error("seccompProfile must be RuntimeDefault")
	case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Error("readOnlyRootFilesystem must be true")
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Error("allowPrivilegeEscalation must be false")
	case sc.Privileged != nil && *sc.Privileged:
		t.Error("privileged must not be set")
	case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0:
		t.Errorf("capabilities %+v: want drop [ALL] and nothing added", sc.Capabilities)
	}
}

func mustSelector(t *testing.T, s string) labels.Selector {
	t.Helper()
	sel, err := labels.Parse(s)
	if err != nil {
		t.Fatalf("selector %q: %v", s, err)
	}
	return sel
}

func TestNamespace(t *testing.T) {
	m := loadManifests(t)
	var k kustomization
	data, err := os.ReadFile("kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	strict(t, "kustomization.yaml", data, &k)
	if m.namespace.Name != k.Namespace {
		t.Errorf("Namespace %q, want kustomization.yaml's %q (kustomize renames it anyway; keep them equal for readers)", m.namespace.Name, k.Namespace)
	}
	// The exporter runs on the host network with NET_RAW: Pod Security
	// admission admits that only at the privileged level.
	if got := m.namespace.Labels["pod-security.kubernetes.io/enforce"]; got != "privileged" {
		t.Errorf("label pod-security.kubernetes.io/enforce = %q, want privileged (hostNetwork and NET_RAW)", got)
	}
}

func TestDaemonSetFlagsExist(t *testing.T) {
	m := loadManifests(t)
	flags := helpFlags(t, "daemon")
	for name := range m.args(t) {
		if flags[name] {
			continue
		}
		if strings.HasPrefix(name, "nodes.kubernetes") {
			t.Errorf("--%s is not a flag of `connectivity_exporter daemon` yet: the Kubernetes node source (kubernetes.NewSource) must be wired into the daemon command (daemon_cmd.go, daemon/) before this DaemonSet can start", name)
			continue
		}
		t.Errorf("--%s is not a flag of `connectivity_exporter daemon` (see its --help)", name)
	}
}

// TestRBAC checks that the roles grant exactly what discovery uses: the
// Node objects cluster-wide, the health pods in their namespace, and no
// write of any kind.
func TestRBAC(t *testing.T) {
	m := loadManifests(t)
	checkRules(t, "ClusterRole", m.clusterRole.Rules, "nodes", "list", "watch")
	if m.clusterRole.AggregationRule != nil {
		t.Error("the ClusterRole must not aggregate other roles")
	}
	checkRules(t, "Role", m.role.Rules, "pods", "list", "watch")
	checkBinding(t, "ClusterRoleBinding", m.clusterRoleBinding.RoleRef, m.clusterRoleBinding.Subjects, "ClusterRole", m.clusterRole.Name, m.serviceAccount.Name)
	checkBinding(t, "RoleBinding", m.roleBinding.RoleRef, m.roleBinding.Subjects, "Role", m.role.Name, m.serviceAccount.Name)
}

func checkRules(t *testing.T, where string, rules []rbacv1.PolicyRule, resource string, verbs ...string) {
	t.Helper()
	if len(rules) != 1 {
		t.Fatalf("%s has %d rules, want 1 (%s only): %+v", where, len(rules), resource, rules)
	}
	r := rules[0]
	if !slices.Equal(r.APIGroups, []string{""}) || !slices.Equal(r.Resources, []string{resource}) ||
		!slices.Equal(slices.Sorted(slices.Values(r.Verbs)), verbs) ||
		len(r.ResourceNames) != 0 || len(r.NonResourceURLs) != 0 {
		t.Errorf("%s rule %+v: want exactly %v on core %s", where, r, verbs, resource)
	}
}

func checkBinding(t *testing.T, where string, ref rbacv1.RoleRef, subjects []rbacv1.Subject, kind, role, serviceAccount string) {
	t.Helper()
	if ref != (rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: kind, Name: role}) {
		t.Errorf("%s roleRef %+v does not name the %s %q", where, ref, kind, role)
	}
	if len(subjects) != 1 || subjects[0].Kind != "ServiceAccount" || subjects[0].Name != serviceAccount {
		t.Fatalf("%s subjects %+v: want the ServiceAccount %q only", where, subjects, serviceAccount)
	}
	if subjects[0].Namespace != "" {
		t.Errorf("%s subject namespace %q: leave it to kustomize, which sets the namespace it deploys to", where, subjects[0].Namespace)
	}
}

func TestServiceAndMonitoring(t *testing.T) {
	m := loadManifests(t)
	labels := m.daemonSet.Spec.Template.Labels
	metrics := listenPort(t, "web.listen-address", m.args(t)["web.listen-address"])

	s := m.service.Spec
	if s.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("Service clusterIP = %q, want None (headless)", s.ClusterIP)
	}
	if len(s.Selector) == 0 || !isSubset(s.Selector, labels) {
		t.Errorf("Service selector %v does not select the pods %v", s.Selector, labels)
	}
	if len(s.Ports) != 1 || s.Ports[0].Name != "metrics" || s.Ports[0].Port != metrics || m.containerPort(t, s.Ports[0].TargetPort) != metrics {
		t.Errorf("Service ports %+v: want one named metrics, %d, to the container's %d", s.Ports, metrics, metrics)
	}

	pm := m.podMonitor
	if !isSubset(pm.Spec.Selector.MatchLabels, labels) || len(pm.Spec.Selector.MatchLabels) == 0 {
		t.Errorf("PodMonitor selector %v does not select the pods %v", pm.Spec.Selector.MatchLabels, labels)
	}
	if len(pm.Spec.PodMetricsEndpoints) != 1 {
		t.Fatalf("PodMonitor has %d endpoints, want 1", len(pm.Spec.PodMetricsEndpoints))
	}
	ep := pm.Spec.PodMetricsEndpoints[0]
	if m.namedPort(t, ep.Port) != metrics || (ep.Path != "" && ep.Path != "/metrics") {
		t.Errorf("PodMonitor endpoint %s%s: want the metrics port %d, /metrics", ep.Port, ep.Path, metrics)
	}
	var rl []relabel
	for _, r := range ep.Relabelings {
		rl = append(rl, relabel{SourceLabels: r.SourceLabels, Regex: r.Regex, Action: r.Action, TargetLabel: r.TargetLabel, Replacement: r.Replacement})
	}
	checkLabels(t, "PodMonitor", rl)

	data, err := os.ReadFile("prometheus-scrape.yml")
	if err != nil {
		t.Fatal(err)
	}
	var sc scrapeConfig
	strict(t, "prometheus-scrape.yml", data, &sc)
	if len(sc.ScrapeConfigs) != 1 {
		t.Fatalf("prometheus-scrape.yml has %d jobs, want 1", len(sc.ScrapeConfigs))
	}
	job := sc.ScrapeConfigs[0]
	if job.JobName != "connectivity" {
		t.Errorf("job_name %q: alerts/ and dashboards/ select job=\"connectivity\"", job.JobName)
	}
	if !job.ScrapeNativeHistograms || !job.AlwaysScrapeClassicHistograms {
		t.Errorf("scrape_native_histograms %v, always_scrape_classic_histograms %v: want both, for the dashboards' native and classic panels",
			job.ScrapeNativeHistograms, job.AlwaysScrapeClassicHistograms)
	}
	if len(job.KubernetesSDConfigs) != 1 || job.KubernetesSDConfigs[0].Role != "pod" {
		t.Errorf("kubernetes_sd_configs %+v: want role: pod", job.KubernetesSDConfigs)
	}
	keeps := map[string]string{}
	for _, r := range job.RelabelConfigs {
		if r.Action == "keep" && len(r.SourceLabels) == 1 {
			keeps[r.SourceLabels[0]] = r.Regex
		}
	}
	if got := keeps["__meta_kubernetes_pod_label_"+promLabel(appLabel)]; got != labels[appLabel] {
		t.Errorf("scrape config keeps %s=%q, want the pod label %q", appLabel, got, labels[appLabel])
	}
	if port := keeps["__meta_kubernetes_pod_container_port_name"]; port == "" || m.namedPort(t, port) != metrics {
		t.Errorf("scrape config keeps container port %q, want the name of the metrics port %d", port, metrics)
	}
	checkLabels(t, "prometheus-scrape.yml", job.RelabelConfigs)
}

// checkLabels makes sure the node name becomes the `node` label, and that
// the job is "connectivity" where it is set by relabeling.
func checkLabels(t *testing.T, where string, rl []relabel) {
	t.Helper()
	node := false
	for _, r := range rl {
		if r.TargetLabel == "node" && slices.Equal(r.SourceLabels, []string{"__meta_kubernetes_pod_node_name"}) &&
			(r.Action == "" || r.Action == "replace") && r.Replacement == nil {
			node = true
		}
		if r.TargetLabel == "job" && (r.Replacement == nil || *r.Replacement != "connectivity") {
			t.Errorf("%s: job set to %v; alerts/ and dashboards/ select job=\"connectivity\"", where, r.Replacement)
		}
	}
	if !node {
		t.Errorf("%s: no relabeling of __meta_kubernetes_pod_node_name to node", where)
	}
}

// promLabel is how Prometheus's Kubernetes discovery spells a label name.
func promLabel(s string) string {
	return regexp.MustCompile(`[^a-zA-Z0-9_]`).ReplaceAllString(s, "_")
}

func isSubset(sub, of map[string]string) bool {
	for k, v := range sub {
		if of[k] != v {
			return false
		}
	}
	return true
}

func TestKustomization(t *testing.T) {
	m := loadManifests(t)
	data, err := os.ReadFile("kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var k kustomization
	strict(t, "kustomization.yaml", data, &k)
	if k.Namespace == "" {
		t.Error("kustomization.yaml must set the namespace: the manifests do not")
	}
	listed := map[string]bool{}
	for _, r := range k.Resources {
		listed[r] = true
		if _, ok := m.files[r]; !ok {
			t.Errorf("resource %s: no such manifest", r)
		}
	}
	// Optional manifests are listed commented out, with what they need.
	optional := regexp.MustCompile(`(?m)^\s*#\s*-\s*(\S+\.yaml)\s+#`).FindAllSubmatch(data, -1)
	for _, o := range optional {
		listed[string(o[1])] = true
	}
	for f := range m.files {
		if !listed[f] {
			t.Errorf("%s is neither a resource of kustomization.yaml nor listed there as optional", f)
		}
	}
	image := m.container(t).Image
	name, _, _ := strings.Cut(image, ":")
	if len(k.Images) != 1 || k.Images[0].Name != name {
		t.Errorf("images %+v: want one entry for the DaemonSets' image %q", k.Images, image)
	}
	if got := onlyContainer(t, m.healthDaemonSet).Image; got != image {
		t.Errorf("the health DaemonSet's image %q is not the exporter's %q, which kustomization.yaml's images rewrites", got, image)
	}
}

// TestKustomizeBuild renders the kustomization with kubectl, when there is
// one, and checks that the namespace reaches every namespaced object and
// the binding's subject.
func TestKustomizeBuild(t *testing.T) {
	kubectl := testbin.NeedTool(t, "kubectl", "https://kubernetes.io/docs/tasks/tools/; TestKustomization checks the file itself")
	out, err := exec.Command(kubectl, "kustomize", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl kustomize: %v\n%s", err, out)
	}
	var k kustomization
	data, _ := os.ReadFile("kustomization.yaml")
	strict(t, "kustomization.yaml", data, &k)
	for i, doc := range documents(out) {
		var obj struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"metadata"`
			Subjects []rbacv1.Subject `json:"subjects"`
		}
		if err := yaml.Unmarshal(doc, &obj); err != nil {
			t.Fatalf("document %d: %v", i, err)
		}
		clusterScoped := obj.Kind == "ClusterRole" || obj.Kind == "ClusterRoleBinding" || obj.Kind == "Namespace" || obj.Kind == "PriorityClass"
		if obj.Kind == "Namespace" && obj.Metadata.Name != k.Namespace {
			t.Errorf("Namespace %q, want %q", obj.Metadata.Name, k.Namespace)
		}
		if !clusterScoped && obj.Metadata.Namespace != k.Namespace {
			t.Errorf("%s %s: namespace %q, want %q", obj.Kind, obj.Metadata.Name, obj.Metadata.Namespace, k.Namespace)
		}
		for _, s := range obj.Subjects {
			if s.Namespace != k.Namespace {
				t.Errorf("%s %s: subject %s in namespace %q, want %q", obj.Kind, obj.Metadata.Name, s.Name, s.Namespace, k.Namespace)
			}
		}
	}
}

// The binary, built once for all tests.
var binary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "connectivity-exporter-help")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "connectivity_exporter")
	if err := testbin.Build(bin); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return bin, nil
})

func TestMain(m *testing.M) {
	code := m.Run()
	if bin, err := binary(); err == nil {
		os.RemoveAll(filepath.Dir(bin))
	}
	os.Exit(code)
}

// helpText is `connectivity_exporter <command> --help`.
func helpText(t *testing.T, command string) string {
	t.Helper()
	testbin.NeedTool(t, "go", "it builds the binary")
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, command, "--help")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("connectivity_exporter %s --help: %v\n%s", command, err, out.String())
	}
	return out.String()
}

// helpFlags is the set of the command's flag names (both spellings of a
// --[no-]flag), as kingpin lists them at the start of a help line.
func helpFlags(t *testing.T, command string) map[string]bool {
	t.Helper()
	flags := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^ {2,6}(?:-\w, )?--(\[no-\])?([a-z0-9][a-z0-9._-]*)`).FindAllStringSubmatch(helpText(t, command), -1) {
		flags[m[2]] = true
		if m[1] != "" {
			flags["no-"+m[2]] = true
		}
	}
	if !flags["hello.listen-address"] {
		t.Fatalf("could not read the flags of %s from --help; got %v", command, slices.Sorted(maps.Keys(flags)))
	}
	return flags
}

// helpDefault is a flag's default as the command's --help shows it.
func helpDefault(t *testing.T, command, flag string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^ {2,6}--` + regexp.QuoteMeta(flag) + `="?([^"\s]+)"?`).FindStringSubmatch(helpText(t, command))
	if m == nil {
		t.Fatalf("--%s of %s has no default in --help", flag, command)
	}
	return m[1]
}
