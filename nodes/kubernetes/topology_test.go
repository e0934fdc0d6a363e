package kubernetes

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func kubeLabels(kv ...string) func(*corev1.Node) {
	return func(n *corev1.Node) {
		n.Labels = map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			n.Labels[kv[i]] = kv[i+1]
		}
	}
}

// Zone and region come from the well-known topology labels, and survive
// the informer's strip; a node without them is in zone "".
func TestKubeNodeTopologyLabels(t *testing.T) {
	cfg := Config{}.withDefaults()
	tests := []struct {
		name               string
		labels             []string
		wantZone, wantRegn string
	}{
		{name: "both", labels: []string{corev1.LabelTopologyZone, "eu-west-1a", corev1.LabelTopologyRegion, "eu-west-1"}, wantZone: "eu-west-1a", wantRegn: "eu-west-1"},
		{name: "zone only", labels: []string{corev1.LabelTopologyZone, "zone-b"}, wantZone: "zone-b"},
		{name: "region only", labels: []string{corev1.LabelTopologyRegion, "region-1"}, wantRegn: "region-1"},
		{name: "none", labels: []string{"kubernetes.io/hostname", "n"}},
		{name: "deprecated beta labels are not read", labels: []string{"failure-domain.beta.kubernetes.io/zone", "old"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := kubeIP4("n", "198.18.0.9", kubeLabels(tt.labels...))
			stripped, err := cfg.kubeStrip(o.DeepCopy())
			if err != nil {
				t.Fatal(err)
			}
			for what, obj := range map[string]*corev1.Node{"object": o, "stripped object": stripped.(*corev1.Node)} {
				n, _, keep := cfg.kubeNode(obj, kubeHealthPod{}, false)
				if !keep {
					t.Fatalf("%s: node left out", what)
				}
				if n.Zone != tt.wantZone || n.Region != tt.wantRegn {
					t.Errorf("%s: zone %q region %q, want %q %q", what, n.Zone, n.Region, tt.wantZone, tt.wantRegn)
				}
			}
			want := 0
			for _, v := range []string{tt.wantZone, tt.wantRegn} {
				if v != "" {
					want++
				}
			}
			if l := stripped.(*corev1.Node).Labels; len(l) != want {
				t.Errorf("strip kept labels %v, want only the %d topology labels", l, want)
			}
		})
	}
}
