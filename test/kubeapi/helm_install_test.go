package kubeapi

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// adminKubeconfig writes the admin client configuration as a kubeconfig
// file, for helm.
func adminKubeconfig(t *testing.T, admin *rest.Config) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["test"] = &clientcmdapi.Cluster{
		Server:                   admin.Host,
		CertificateAuthorityData: admin.CAData,
		TLSServerName:            admin.ServerName,
	}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{
		Token:                 admin.BearerToken,
		ClientCertificateData: admin.CertData,
		ClientKeyData:         admin.KeyData,
	}
	cfg.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "admin"}
	cfg.CurrentContext = "test"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// testHelmInstall installs the chart the way the README tells a newcomer
// to (one helm install, --create-namespace, monitors and rules on),
// upgrades it with a changed value and uninstalls it, against the real
// API server with prometheus-operator's CRDs.
func testHelmInstall(ctx context.Context, t *testing.T, admin *rest.Config, client kubernetes.Interface) {
	const release, ns = "connectivity-exporter", "cx-helm-install"
	kubeconfig := adminKubeconfig(t, admin)
	helm := func(args ...string) {
		t.Helper()
		out, err := testbin.Helm(t, append(args, "--kubeconfig", kubeconfig, "--namespace", ns)...)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	helm("install", release, testbin.HelmChart(), "--create-namespace",
		"--set", "podMonitor.enabled=true", "--set", "serviceMonitor.enabled=true", "--set", "prometheusRule.enabled=true",
		"--set", "podMonitor.labels.release=kps", "--set", "prometheusRule.labels.release=kps")
	ds, err := client.AppsV1().DaemonSets(ns).Get(ctx, release, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("after helm install: %v", err)
	}
	if _, err := client.AppsV1().DaemonSets(ns).Get(ctx, release+"-health", metav1.GetOptions{}); err != nil {
		t.Fatalf("after helm install: %v", err)
	}
	if slices.Contains(ds.Spec.Template.Spec.Containers[0].Args, "--probe.interval=30s") {
		t.Fatal("--probe.interval=30s before it was set")
	}

	helm("upgrade", release, testbin.HelmChart(), "--reuse-values", "--set", "probe.interval=30s")
	ds, err = client.AppsV1().DaemonSets(ns).Get(ctx, release, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(ds.Spec.Template.Spec.Containers[0].Args, "--probe.interval=30s") {
		t.Errorf("after helm upgrade --set probe.interval=30s: args %q", ds.Spec.Template.Spec.Containers[0].Args)
	}

	helm("uninstall", release)
	// Cluster-scoped objects leave with the release too.
	if _, err := client.SchedulingV1().PriorityClasses().Get(ctx, release, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("PriorityClass %s after helm uninstall: %v", release, err)
	}
	if _, err := client.RbacV1().ClusterRoles().Get(ctx, release, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("ClusterRole %s after helm uninstall: %v", release, err)
	}
}
