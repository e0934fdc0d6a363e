package helm

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// rendered is what one `helm template` made, by kind.
type rendered []object

func (r rendered) one(t *testing.T, kind, name string) object {
	t.Helper()
	objs := find(r, kind, name)
	if len(objs) != 1 {
		t.Fatalf("%d %s objects named %q rendered, want 1", len(objs), kind, name)
	}
	return objs[0]
}

func (r rendered) count(kind string) int { return len(find(r, kind, "")) }

// container is the only container of a DaemonSet.
func container(t *testing.T, ds object) map[string]any {
	t.Helper()
	cs, _ := get(ds, "spec", "template", "spec", "containers").([]any)
	if len(cs) != 1 {
		t.Fatalf("DaemonSet %s has %d containers, want 1", ds.name(), len(cs))
	}
	return cs[0].(map[string]any)
}

func args(t *testing.T, ds object) []string {
	t.Helper()
	var out []string
	for _, a := range get(container(t, ds), "args").([]any) {
		out = append(out, a.(string))
	}
	return out
}

func exporter(t *testing.T, r rendered) object { return r.one(t, "DaemonSet", "connectivity-exporter") }

// The job the rules and dashboards of files/ are written for.
const fileJob = `job="connectivity"`

func TestValues(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values []string
		check  func(t *testing.T, r rendered)
	}{
		{
			name: "defaults: both DaemonSets, Linux only, own priority class, dashboards, no monitors",
			check: func(t *testing.T, r rendered) {
				pc := r.one(t, "PriorityClass", "connectivity-exporter")
				for _, ds := range []object{exporter(t, r), r.one(t, "DaemonSet", "connectivity-health")} {
					pod := get(ds, "spec", "template", "spec")
					if got := str(pod, "priorityClassName"); got != pc.name() {
						t.Errorf("DaemonSet %s: priorityClassName %q, want the chart's %q", ds.name(), got, pc.name())
					}
					if got := str(pod, "nodeSelector", "kubernetes.io/os"); got != "linux" {
						t.Errorf("DaemonSet %s: nodeSelector kubernetes.io/os=%q, want linux", ds.name(), got)
					}
				}
				if v, _ := get(pc, "value").(float64); v <= 0 || v > 1e9 {
					t.Errorf("PriorityClass value %v: want above workloads (>0), at most 1e9 (below the system classes)", v)
				}
				for _, kind := range []string{"PodMonitor", "ServiceMonitor", "PrometheusRule", "Secret"} {
					if n := r.count(kind); n != 0 {
						t.Errorf("%d %s by default, want none", n, kind)
					}
				}
				checkDashboards(t, r, "grafana_dashboard", "1", `job=\"connectivity\"`)
			},
		},
		{
			name:   "health pods on: the exporter looks for them, with a Role for pods",
			values: []string{`healthPods.enabled=true`},
			check: func(t *testing.T, r rendered) {
				r.one(t, "DaemonSet", "connectivity-health")
				if got := args(t, exporter(t, r)); slices.Contains(got, noHealthPodsFlag) {
					t.Errorf("args %q hold %s with health pods", got, noHealthPodsFlag)
				}
				checkPodsRBAC(t, r, true)
			},
		},
		{
			name:   "health pods off: no health DaemonSet, the exporter told so, no pods RBAC",
			values: []string{`healthPods.enabled=false`},
			check: func(t *testing.T, r rendered) {
				if n := len(find(r, "DaemonSet", "connectivity-health")); n != 0 {
					t.Errorf("%d health DaemonSets with healthPods.enabled=false", n)
				}
				if got := args(t, exporter(t, r)); !slices.Contains(got, noHealthPodsFlag) {
					t.Errorf("args %q lack %s", got, noHealthPodsFlag)
				}
				checkPodsRBAC(t, r, false)
			},
		},
		{
			name:   "monitors: native histograms by default, classic buckets kept",
			values: []string{`podMonitor.enabled=true`, `serviceMonitor.enabled=true`},
			check: func(t *testing.T, r rendered) {
				for _, kind := range []string{"PodMonitor", "ServiceMonitor"} {
					spec := get(r.one(t, kind, "connectivity-exporter"), "spec")
					protocols, _ := get(spec, "scrapeProtocols").([]any)
					if len(protocols) == 0 || protocols[0] != "PrometheusProto" {
						t.Errorf("%s scrapeProtocols %v, want PrometheusProto first (native histograms travel in it only)", kind, protocols)
					}
					if v, _ := get(spec, "scrapeClassicHistograms").(bool); !v {
						t.Errorf("%s scrapeClassicHistograms %v, want true (the classic heatmaps)", kind, get(spec, "scrapeClassicHistograms"))
					}
				}
			},
		},
		{
			name: "monitors: native histograms off, a spec field of the user's",
			values: []string{`podMonitor={"enabled":true,"extraSpec":{"scrapeNativeHistograms":true}}`, `serviceMonitor.enabled=true`,
				`monitoring.nativeHistograms=false`},
			check: func(t *testing.T, r rendered) {
				for _, kind := range []string{"PodMonitor", "ServiceMonitor"} {
					spec := get(r.one(t, kind, "connectivity-exporter"), "spec")
					for _, field := range []string{"scrapeProtocols", "scrapeClassicHistograms"} {
						if v := get(spec, field); v != nil {
							t.Errorf("%s %s %v with monitoring.nativeHistograms=false", kind, field, v)
						}
					}
				}
				if v := get(r.one(t, "PodMonitor", "connectivity-exporter"), "spec", "scrapeNativeHistograms"); v != true {
					t.Errorf("PodMonitor scrapeNativeHistograms %v, want extraSpec's true", v)
				}
			},
		},
		{
			name:   "an existing priority class",
			values: []string{`priorityClass={"create":false,"name":"system-node-critical"}`},
			check: func(t *testing.T, r rendered) {
				if n := r.count("PriorityClass"); n != 0 {
					t.Errorf("%d PriorityClasses rendered with create: false", n)
				}
				if got := str(exporter(t, r), "spec", "template", "spec", "priorityClassName"); got != "system-node-critical" {
					t.Errorf("priorityClassName %q, want system-node-critical", got)
				}
			},
		},
		{
			name: "probe settings, extra flags, image",
			values: []string{`probe={"interval":"30s","timeout":"3s","failureThreshold":5,"peers":50}`, `perPeerMetrics="failing"`,
				`extraArgs=["--log.level=debug"]`, `image={"repository":"registry.example/cx","tag":"v1.2.3"}`},
			check: func(t *testing.T, r rendered) {
				ds := exporter(t, r)
				got := args(t, ds)
				for _, want := range []string{"--probe.interval=30s", "--probe.timeout=3s", "--probe.failure-threshold=5",
					"--probe.peers=50", "--metrics.per-peer=failing", "--log.level=debug"} {
					if !slices.Contains(got, want) {
						t.Errorf("args %q lack %s", got, want)
					}
				}
				if img := str(container(t, ds), "image"); img != "registry.example/cx:v1.2.3" {
					t.Errorf("image %q", img)
				}
				if v := ds.label("app.kubernetes.io/version"); v != "v1.2.3" {
					t.Errorf("app.kubernetes.io/version %q, want the image's tag", v)
				}
			},
		},
		{
			name:   "web config from values: a Secret, mounted, and the flag",
			values: []string{`webConfig.config={"basic_auth_users":{"prometheus":"$2y$10$abc"}}`},
			check: func(t *testing.T, r rendered) {
				s := r.one(t, "Secret", "connectivity-exporter")
				var wc map[string]any
				if err := yaml.Unmarshal([]byte(str(s, "stringData", "web-config.yml")), &wc); err != nil || str(wc, "basic_auth_users", "prometheus") != "$2y$10$abc" {
					t.Errorf("Secret web-config.yml = %v (%v), want the configuration given", wc, err)
				}
				checkWebConfig(t, exporter(t, r), s.name())
				if get(exporter(t, r), "spec", "template", "metadata", "annotations", "checksum/web-config") == nil {
					t.Error("no checksum/web-config annotation: a changed configuration would not restart the pods")
				}
			},
		},
		{
			name:   "web config with TLS: the kubelet's probes ask over HTTPS",
			values: []string{`webConfig.config={"tls_server_config":{"cert_file":"/etc/connectivity_exporter/web/tls.crt","key_file":"/etc/connectivity_exporter/web/tls.key"}}`},
			check: func(t *testing.T, r rendered) {
				checkProbeScheme(t, exporter(t, r), "HTTPS")
			},
		},
		{
			// exporter-toolkit asks every path for the credentials, the
			// probes' too: they would get 401 and restart the pods.
			name:   "web config with basic auth: the kubelet's probes connect instead of asking",
			values: []string{`webConfig.config={"basic_auth_users":{"prometheus":"$2y$10$abc"}}`},
			check: func(t *testing.T, r rendered) {
				checkProbesTCP(t, exporter(t, r), true)
			},
		},
		{
			name:   "an existing Secret with basic auth and TLS",
			values: []string{`webConfig={"existingSecret":"my-web-config","basicAuth":true,"tls":true}`},
			check: func(t *testing.T, r rendered) {
				checkProbesTCP(t, exporter(t, r), true)
			},
		},
		{
			name: "basic auth and a probe that sends its own credentials: kept",
			values: []string{`webConfig.config={"basic_auth_users":{"prometheus":"$2y$10$abc"}}`,
				`readinessProbe={"httpGet":{"path":"/-/ready","port":"metrics","httpHeaders":[{"name":"Authorization","value":"Basic eDp5"}]}}`},
			check: func(t *testing.T, r rendered) {
				c := container(t, exporter(t, r))
				if str(c, "readinessProbe", "httpGet", "path") != "/-/ready" || get(c, "readinessProbe", "tcpSocket") != nil {
					t.Errorf("readinessProbe %v, want the httpGet given", get(c, "readinessProbe"))
				}
				if get(c, "livenessProbe", "tcpSocket", "port") != "metrics" {
					t.Errorf("livenessProbe %v, want tcpSocket", get(c, "livenessProbe"))
				}
			},
		},
		{
			name:   "no basic auth: the probes ask /-/healthy and /-/ready",
			values: []string{`webConfig.existingSecret="my-web-config"`},
			check: func(t *testing.T, r rendered) {
				checkProbesTCP(t, exporter(t, r), false)
			},
		},
		{
			name:   "an existing Secret with TLS",
			values: []string{`webConfig={"existingSecret":"my-web-config","tls":true}`},
			check: func(t *testing.T, r rendered) {
				checkProbeScheme(t, exporter(t, r), "HTTPS")
			},
		},
		{
			name:   "web config from an existing Secret",
			values: []string{`webConfig.existingSecret="my-web-config"`},
			check: func(t *testing.T, r rendered) {
				if n := r.count("Secret"); n != 0 {
					t.Errorf("%d Secrets rendered with existingSecret", n)
				}
				checkWebConfig(t, exporter(t, r), "my-web-config")
				checkProbeScheme(t, exporter(t, r), "")
			},
		},
		{
			name: "monitors and rules for kube-prometheus-stack, another job name",
			values: []string{`podMonitor={"enabled":true,"labels":{"release":"kps"}}`, `serviceMonitor={"enabled":true,"labels":{"release":"kps"}}`,
				`prometheusRule={"enabled":true,"labels":{"release":"kps"}}`, `monitoring.job="cx"`,
				`dashboards={"label":"my_dashboards","labelValue":"yes"}`},
			check: func(t *testing.T, r rendered) {
				for _, kind := range []string{"PodMonitor", "ServiceMonitor", "PrometheusRule"} {
					o := r.one(t, kind, "connectivity-exporter")
					if o.label("release") != "kps" {
						t.Errorf("%s labels %v, want release: kps", kind, get(o, "metadata", "labels"))
					}
				}
				for kind, path := range map[string][]string{"PodMonitor": {"spec", "podMetricsEndpoints"}, "ServiceMonitor": {"spec", "endpoints"}} {
					eps, _ := get(r.one(t, kind, "connectivity-exporter"), path...).([]any)
					if len(eps) != 1 {
						t.Fatalf("%s has %d endpoints, want 1", kind, len(eps))
					}
					if job := relabeledJob(eps[0]); job != "cx" {
						t.Errorf("%s sets job %q, want cx", kind, job)
					}
				}
				checkRules(t, r.one(t, "PrometheusRule", "connectivity-exporter"), `job="cx"`)
				checkDashboards(t, r, "my_dashboards", "yes", `job=\"cx\"`)
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.check(t, mustRender(t, tc.values...))
		})
	}
}

// TestValuesRefused: values that cannot work fail the install, with a
// message saying why.
func TestValuesRefused(t *testing.T) {
	for _, tc := range []struct {
		values []string
		want   string
	}{
		{[]string{`serviceMonitor.enabled=true`, `service.enabled=false`}, "serviceMonitor.enabled needs service.enabled"},
		{[]string{`serviceAccount={"create":false,"name":""}`}, "serviceAccount.name is required"},
	} {
		t.Run(strings.Join(tc.values, " "), func(t *testing.T) {
			t.Parallel()
			_, err := render(t, tc.values...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

// noHealthPodsFlag tells the exporter there are no health pods.
const noHealthPodsFlag = "--no-nodes.kubernetes.health-pods"

// checkPodsRBAC: the exporter may list and watch pods in the release's
// namespace (a Role, bound to its service account) when want, and has no
// Role at all otherwise; nodes it may read either way.
func checkPodsRBAC(t *testing.T, r rendered, want bool) {
	t.Helper()
	roles, bindings := find(r, "Role", ""), find(r, "RoleBinding", "")
	if got := len(roles) == 1 && len(bindings) == 1; got != want || (!want && len(roles)+len(bindings) > 0) {
		t.Errorf("%d Roles, %d RoleBindings; want one of each: %v", len(roles), len(bindings), want)
	}
	for _, role := range roles {
		rules, _ := get(role, "rules").([]any)
		if len(rules) != 1 || !slices.Equal(stringList(get(rules[0], "resources")), []string{"pods"}) {
			t.Errorf("Role rules %v, want pods alone", rules)
		}
	}
	if n := len(find(r, "ClusterRole", "")); n != 1 {
		t.Errorf("%d ClusterRoles, want the one for nodes", n)
	}
}

// stringList is a YAML list of strings.
func stringList(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// relabeledJob is the value the endpoint's relabelings give the job label.
func relabeledJob(ep any) string {
	job := ""
	rl, _ := get(ep, "relabelings").([]any)
	for _, r := range rl {
		if str(r, "targetLabel") == "job" && get(r, "sourceLabels") == nil {
			job = str(r, "replacement")
		}
	}
	return job
}

func checkWebConfig(t *testing.T, ds object, secret string) {
	t.Helper()
	const dir = "/etc/connectivity_exporter/web"
	if !slices.Contains(args(t, ds), "--web.config.file="+dir+"/web-config.yml") {
		t.Errorf("args %q lack --web.config.file", args(t, ds))
	}
	volume := ""
	for _, v := range get(ds, "spec", "template", "spec", "volumes").([]any) {
		if str(v, "secret", "secretName") == secret {
			volume = str(v, "name")
		}
	}
	mounted := false
	for _, m := range get(container(t, ds), "volumeMounts").([]any) {
		mounted = mounted || (str(m, "name") == volume && str(m, "mountPath") == dir)
	}
	if volume == "" || !mounted {
		t.Errorf("Secret %s is not mounted at %s (volume %q)", secret, dir, volume)
	}
}

// checkRules: the PrometheusRule holds every group of files/rules, with
// the job selector given.
func checkRules(t *testing.T, rule object, job string) {
	t.Helper()
	var want []string
	files, _ := filepath.Glob(filepath.Join(chartDir(), "files", "rules", "*.yml"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var rf struct {
			Groups []struct {
				Name string `json:"name"`
			} `json:"groups"`
		}
		if err := yaml.Unmarshal(data, &rf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, g := range rf.Groups {
			want = append(want, g.Name)
		}
	}
	var got []string
	groups, _ := get(rule, "spec", "groups").([]any)
	for _, g := range groups {
		got = append(got, str(g, "name"))
	}
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Errorf("PrometheusRule groups %q, want those of files/rules %q", got, want)
	}
	text, err := yaml.Marshal(groups)
	if err != nil {
		t.Fatal(err)
	}
	if job != fileJob && bytes.Contains(text, []byte(fileJob)) {
		t.Errorf("the PrometheusRule still selects %s", fileJob)
	}
	if !bytes.Contains(text, []byte(job)) {
		t.Errorf("the PrometheusRule never selects %s", job)
	}
}

// checkDashboards: one ConfigMap per files/dashboards/*.json, labelled
// for the Grafana sidecar, holding valid JSON with the job selector given.
func checkDashboards(t *testing.T, r rendered, label, value, job string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(chartDir(), "files", "dashboards", "*.json"))
	cms := find(r, "ConfigMap", "")
	if len(files) == 0 || len(cms) != len(files) {
		t.Fatalf("%d dashboard ConfigMaps for %d files", len(cms), len(files))
	}
	seen := map[string]bool{}
	for _, cm := range cms {
		if got := cm.label(label); got != value {
			t.Errorf("ConfigMap %s: label %s=%q, want %q", cm.name(), label, got, value)
		}
		data, _ := get(cm, "data").(map[string]any)
		for key, v := range data {
			seen[key] = true
			var d map[string]any
			if err := yaml.Unmarshal([]byte(v.(string)), &d); err != nil || d["uid"] == nil {
				t.Errorf("ConfigMap %s key %s is not a dashboard: %v", cm.name(), key, err)
			}
			escaped := strings.ReplaceAll(fileJob, `"`, `\"`)
			if job != escaped && strings.Contains(v.(string), escaped) {
				t.Errorf("ConfigMap %s still selects %s", cm.name(), escaped)
			}
			if !strings.Contains(v.(string), job) {
				t.Errorf("ConfigMap %s never selects %s", cm.name(), job)
			}
		}
	}
	for _, f := range files {
		if !seen[filepath.Base(f)] {
			t.Errorf("dashboard %s is in no ConfigMap", filepath.Base(f))
		}
	}
}

// TestChartFilesMatchSources: until the dashboards and rules are rendered
// into the chart by their generator, the chart's copies are the files of
// dashboards/ and alerts/ as they are.
func TestChartFilesMatchSources(t *testing.T) {
	root := testbin.RepoRoot()
	for src, dst := range map[string]string{"dashboards/*.json": "files/dashboards", "alerts/*.yml": "files/rules"} {
		files, _ := filepath.Glob(filepath.Join(root, src))
		copies, _ := filepath.Glob(filepath.Join(chartDir(), dst, "*"))
		if len(files) == 0 || len(files) != len(copies) {
			t.Errorf("%d files in %s, %d in the chart's %s", len(files), src, len(copies), dst)
		}
		for _, f := range files {
			want, _ := os.ReadFile(f)
			got, err := os.ReadFile(filepath.Join(chartDir(), dst, filepath.Base(f)))
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("the chart's %s/%s differs from %s (cp %s %s/)", dst, filepath.Base(f), f, f, dst)
			}
		}
	}
}

// checkProbesTCP: both probes of the metrics listener are tcpSocket
// probes of its port (tcp), or the httpGet probes of /-/healthy and
// /-/ready.
func checkProbesTCP(t *testing.T, ds object, tcp bool) {
	t.Helper()
	c := container(t, ds)
	for probe, path := range map[string]string{"livenessProbe": "/-/healthy", "readinessProbe": "/-/ready"} {
		gotTCP := get(c, probe, "tcpSocket", "port") == "metrics" && get(c, probe, "httpGet") == nil
		gotHTTP := str(c, probe, "httpGet", "path") == path && get(c, probe, "tcpSocket") == nil
		if (tcp && !gotTCP) || (!tcp && !gotHTTP) {
			t.Errorf("%s %v, want tcpSocket: %v", probe, get(c, probe), tcp)
		}
	}
}

// checkProbeScheme: both probes of the metrics listener use scheme ("" is
// the kubelet's default, HTTP).
func checkProbeScheme(t *testing.T, ds object, scheme string) {
	t.Helper()
	for _, probe := range []string{"livenessProbe", "readinessProbe"} {
		if got := str(container(t, ds), probe, "httpGet", "scheme"); got != scheme {
			t.Errorf("%s scheme %q, want %q", probe, got, scheme)
		}
	}
}
