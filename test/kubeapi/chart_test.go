package kubeapi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"

	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// helmTemplate renders the chart as release in namespace, with these
// --set-json values (key=JSON).
func helmTemplate(t *testing.T, release, namespace string, values ...string) []*unstructured.Unstructured {
	t.Helper()
	args := []string{"template", release, testbin.HelmChart(), "--namespace", namespace}
	for _, v := range values {
		args = append(args, "--set-json", v)
	}
	out, err := testbin.Helm(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(out), 4096)
	var objs []*unstructured.Unstructured
	for {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatalf("helm template: %v", err)
		}
		if m != nil {
			objs = append(objs, &unstructured.Unstructured{Object: m})
		}
	}
}

// TestChart renders the Helm chart and applies it with server-side apply
// to a real API server that has prometheus-operator's real CRDs: its
// validation, defaulting and admission run on every object, so a
// PodMonitor, ServiceMonitor or PrometheusRule that a cluster would refuse
// fails here. The cases that break an object on purpose show that the
// API server does refuse them. Then helm itself installs, upgrades and
// uninstalls the chart there.
func TestChart(t *testing.T) {
	admin := startAPIServer(t)
	ctx := t.Context()
	client := kubernetes.NewForConfigOrDie(admin)
	installCRDs(ctx, t, admin)
	ap := newApplier(t, admin)

	everything := []string{`podMonitor={"enabled":true,"labels":{"release":"kps"}}`, `serviceMonitor={"enabled":true,"labels":{"release":"kps"}}`,
		`prometheusRule={"enabled":true,"labels":{"release":"kps"}}`, `webConfig.config={"basic_auth_users":{"prometheus":"$2y$10$x"}}`}
	for _, tc := range []struct {
		name, release string
		values        []string
		// breaks changes the rendered objects before they are applied.
		breaks func(t *testing.T, obj *unstructured.Unstructured)
		// refused is the kind the API server must refuse, and part of why.
		refused, why string
	}{
		{name: "defaults", release: "cx-defaults"},
		{name: "monitors, rules and web config", release: "cx-everything", values: everything},
		{name: "health pods and priority class off", release: "cx-off", values: []string{`healthPods.enabled=false`, `priorityClass={"create":false,"name":""}`}},
		{
			name: "a PodMonitor interval that is no duration", release: "cx-bad-podmonitor", values: []string{`podMonitor={"enabled":true,"interval":"15 seconds"}`},
			refused: "PodMonitor", why: "spec.podMetricsEndpoints[0].interval",
		},
		{
			// v0.85.0's monitors have no field for scrape_native_histograms
			// (later releases add scrapeNativeHistograms): the chart does not
			// set it, and this case fails once the pinned CRDs have it.
			name: "scrapeNativeHistograms, which v0.85.0's PodMonitor lacks", release: "cx-native-field",
			values:  []string{`podMonitor={"enabled":true,"extraSpec":{"scrapeNativeHistograms":true}}`},
			refused: "PodMonitor", why: "scrapeNativeHistograms",
		},
		{
			name: "a ServiceMonitor field the CRD does not have", release: "cx-bad-servicemonitor", values: everything,
			breaks: func(t *testing.T, obj *unstructured.Unstructured) {
				if obj.GetKind() == "ServiceMonitor" {
					setNested(t, obj, "30s", "spec", "scrapeIntervall")
				}
			},
			refused: "ServiceMonitor", why: "scrapeIntervall",
		},
		{
			name: "a PrometheusRule alert whose for is no duration", release: "cx-bad-rule", values: everything,
			breaks: func(t *testing.T, obj *unstructured.Unstructured) {
				if obj.GetKind() != "PrometheusRule" {
					return
				}
				groups, _, _ := unstructured.NestedSlice(obj.Object, "spec", "groups")
				for _, g := range groups {
					for _, r := range g.(map[string]any)["rules"].([]any) {
						if rule := r.(map[string]any); rule["alert"] != nil {
							rule["for"] = "two minutes"
							if err := unstructured.SetNestedSlice(obj.Object, groups, "spec", "groups"); err != nil {
								t.Fatal(err)
							}
							return
						}
					}
				}
				t.Fatal("no alerting rule in the PrometheusRule")
			},
			refused: "PrometheusRule", why: "].for",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := tc.release
			if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			objs := helmTemplate(t, tc.release, ns, tc.values...)
			rendered, refused := map[string]int{}, ""
			var daemonSets []appsv1.DaemonSet
			for _, obj := range objs {
				if tc.breaks != nil {
					tc.breaks(t, obj)
				}
				rendered[obj.GetKind()]++
				got, err := ap.apply(ctx, obj)
				if err != nil {
					if obj.GetKind() == tc.refused && strings.Contains(err.Error(), tc.why) {
						t.Logf("refused as it should be: %v", err)
						refused = obj.GetKind()
						continue
					}
					t.Fatal(err)
				}
				if kind := obj.GetKind(); kind == "PodMonitor" || kind == "ServiceMonitor" {
					checkHistogramScrape(t, got)
				}
				if obj.GetKind() == "DaemonSet" {
					var ds appsv1.DaemonSet
					if err := runtime.DefaultUnstructuredConverter.FromUnstructured(got.Object, &ds); err != nil {
						t.Fatal(err)
					}
					daemonSets = append(daemonSets, ds)
				}
			}
			if refused != tc.refused {
				t.Fatalf("the API server refused %q, want %q (%s); rendered %v", refused, tc.refused, tc.why, rendered)
			}
			if tc.refused != "" {
				return
			}
			t.Logf("applied %v", rendered)
			checkPodsAdmitted(ctx, t, client, ns, daemonSets)
		})
	}
	t.Run("helm install, upgrade, uninstall", func(t *testing.T) {
		testHelmInstall(ctx, t, admin, client)
	})
}

// checkPodsAdmitted creates a pod from each DaemonSet's template, as the
// DaemonSet controller would: the API server's admission (service
// account, priority class, pod security) accepts them, and the priority
// is the one the template names.
func checkPodsAdmitted(ctx context.Context, t *testing.T, client kubernetes.Interface, ns string, daemonSets []appsv1.DaemonSet) {
	t.Helper()
	// What the controller-manager would add, which pods without a service
	// account of their own are admitted with.
	if _, err := client.CoreV1().ServiceAccounts(ns).Create(ctx,
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(daemonSets) == 0 {
		t.Fatal("the chart rendered no DaemonSet")
	}
	for _, ds := range daemonSets {
		tmpl := ds.Spec.Template
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: ds.Name + "-node-1", Namespace: ns, Labels: tmpl.Labels}, Spec: *tmpl.Spec.DeepCopy()}
		pod.Spec.NodeName = "node-1"
		got, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("a pod of DaemonSet %s: %v", ds.Name, err)
		}
		if name := tmpl.Spec.PriorityClassName; name != "" {
			pc, err := client.SchedulingV1().PriorityClasses().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got.Spec.Priority == nil || *got.Spec.Priority != pc.Value {
				t.Errorf("pod of %s: priority %v, want %d of PriorityClass %s", ds.Name, got.Spec.Priority, pc.Value, name)
			}
		}
	}
}

// checkHistogramScrape: the monitor the API server stored asks for the
// protobuf format first (native histograms) and keeps the classic buckets,
// as the chart's monitoring.nativeHistograms (default) sets: the CRD has
// both fields, so they were neither refused nor pruned.
func checkHistogramScrape(t *testing.T, stored *unstructured.Unstructured) {
	t.Helper()
	protocols, _, _ := unstructured.NestedStringSlice(stored.Object, "spec", "scrapeProtocols")
	classic, _, _ := unstructured.NestedBool(stored.Object, "spec", "scrapeClassicHistograms")
	if len(protocols) == 0 || protocols[0] != "PrometheusProto" || !classic {
		t.Errorf("%s as stored: scrapeProtocols %q, scrapeClassicHistograms %v; want PrometheusProto first and true",
			stored.GetKind(), protocols, classic)
	}
}

func setNested(t *testing.T, obj *unstructured.Unstructured, value any, path ...string) {
	t.Helper()
	if err := unstructured.SetNestedField(obj.Object, value, path...); err != nil {
		t.Fatal(err)
	}
}

// TestSystemNodeCriticalOutsideKubeSystem records what this API server,
// as upstream configures it, does with a pod of system-node-critical
// outside kube-system: it admits it (the Priority admission plugin has not
// limited the system classes to kube-system since Kubernetes 1.17). What
// refuses such pods on some providers is the ResourceQuota admission's
// limitedResources, a cluster's own configuration: the reason the chart
// and deploy/kubernetes bring their own PriorityClass instead.
func TestSystemNodeCriticalOutsideKubeSystem(t *testing.T) {
	admin := startAPIServer(t)
	ctx := t.Context()
	client := kubernetes.NewForConfigOrDie(admin)
	const ns = "critical-elsewhere"
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: ns},
		Spec: corev1.PodSpec{
			PriorityClassName:            "system-node-critical",
			AutomountServiceAccountToken: ptr(false),
			ServiceAccountName:           "default",
			Containers:                   []corev1.Container{{Name: "c", Image: "x"}},
		},
	}
	if _, err := client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("upstream admission refused system-node-critical outside kube-system: %v", err)
	}
	t.Logf("admitted in %s with priority %d", ns, *got.Spec.Priority)
	if *got.Spec.Priority <= 1_000_000_000 {
		t.Errorf("system-node-critical resolved to priority %d, want above every user class (1e9)", *got.Spec.Priority)
	}
}
