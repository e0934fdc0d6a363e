package kubeapi

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
)

// prometheusOperatorCRDs are the CRDs of prometheus-operator that the chart
// can make objects of, as files of its example/prometheus-operator-crd.
var prometheusOperatorCRDs = []string{
	"monitoring.coreos.com_podmonitors.yaml",
	"monitoring.coreos.com_servicemonitors.yaml",
	"monitoring.coreos.com_prometheusrules.yaml",
}

// prometheusOperatorDir is the module directory of prometheus-operator at
// the version pinned in prometheus-operator.version, which
// scripts/install-deps.sh downloads (go mod download, as here).
func prometheusOperatorDir(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("prometheus-operator.version")
	if err != nil {
		t.Fatal(err)
	}
	version := strings.TrimSpace(string(data))
	out, err := exec.Command("go", "mod", "download", "-json", "github.com/prometheus-operator/prometheus-operator@"+version).Output()
	if err != nil {
		t.Fatalf("go mod download prometheus-operator@%s: %v\n%s", version, err, out)
	}
	var mod struct{ Dir, Error string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		t.Fatalf("go mod download prometheus-operator@%s: %v %s", version, err, mod.Error)
	}
	return mod.Dir
}

// installCRDs applies prometheus-operator's real CRDs and waits until the
// API server serves their kinds.
func installCRDs(ctx context.Context, t *testing.T, cfg *rest.Config) {
	t.Helper()
	dir := filepath.Join(prometheusOperatorDir(t), "example", "prometheus-operator-crd")
	ap := newApplier(t, cfg)
	var resources []string
	for _, f := range prometheusOperatorCRDs {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		var crd unstructured.Unstructured
		if err := utilyaml.Unmarshal(data, &crd.Object); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if _, err := ap.apply(ctx, &crd); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		plural, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "plural")
		resources = append(resources, plural)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	gv := schema.GroupVersion{Group: "monitoring.coreos.com", Version: "v1"}
	deadline := time.Now().Add(30 * time.Second)
	for {
		served := map[string]bool{}
		if list, err := disc.ServerResourcesForGroupVersion(gv.String()); err == nil {
			for _, r := range list.APIResources {
				served[r.Name] = true
			}
		}
		missing := 0
		for _, r := range resources {
			if !served[r] {
				missing++
			}
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the API server does not serve %v of %s after 30s", resources, gv)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
