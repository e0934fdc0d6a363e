package kubernetes

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/connectivity-exporter/connectivity_exporter/nodes"
)

// TestKubeDualStack: with the dual family (the default) a node gets its
// first address of each family, and its health endpoint the health pod's
// first address of each family (status.podIPs), host and endpoint
// independently; ipv4 and ipv6 keep one family.
func TestKubeDualStack(t *testing.T) {
	objs := []*corev1.Node{
		kubeTestNode("dual", []string{"InternalIP=2001:db8::1", "InternalIP=198.18.0.1", "InternalIP=198.18.0.11", "InternalIP=2001:db8::11"}),
		kubeTestNode("v4", []string{"InternalIP=198.18.0.2"}),
		kubeTestNode("v6", []string{"InternalIP=fe80::3", "InternalIP=2001:db8::3"}),
		kubeTestNode("annotated", []string{"InternalIP=198.18.0.4", "InternalIP=2001:db8::4"}, kubeHealth("2001:db8:1::4, 198.19.0.4")),
		kubeTestNode("host-net", []string{"InternalIP=198.18.0.5", "InternalIP=2001:db8::5"}),
	}
	pods := []*corev1.Pod{
		kubeTestPod("h-dual", "dual", 1, []string{"198.19.0.1", "2001:db8:1::1"}),
		kubeTestPod("h-v4", "v4", 1, []string{"198.19.0.2", "2001:db8:1::2"}), // a dual-stack pod on a single-stack host
		kubeTestPod("h-v6", "v6", 1, []string{"2001:db8:1::3"}),
		kubeTestPod("h-host-net", "host-net", 1, []string{"2001:db8::5", "198.18.0.5"}),
	}
	tests := []struct {
		name      string
		family    string
		want      []nodes.Node
		wantNotes map[string]string // node -> start of the note; "!" prefix: warn
	}{
		{
			name: "dual",
			want: []nodes.Node{
				{Name: "annotated", HostIP: addr("198.18.0.4"), DualStackHostIP: addr("2001:db8::4"), HealthIP: addr("198.19.0.4"), DualStackHealthIP: addr("2001:db8:1::4")},
				{Name: "dual", HostIP: addr("198.18.0.1"), DualStackHostIP: addr("2001:db8::1"), HealthIP: addr("198.19.0.1"), DualStackHealthIP: addr("2001:db8:1::1")},
				{Name: "host-net", HostIP: addr("198.18.0.5"), DualStackHostIP: addr("2001:db8::5")},
				{Name: "v4", HostIP: addr("198.18.0.2"), HealthIP: addr("198.19.0.2"), DualStackHealthIP: addr("2001:db8:1::2")},
				{Name: "v6", HostIP: addr("2001:db8::3"), HealthIP: addr("2001:db8:1::3")},
			},
			wantNotes: map[string]string{"host-net": "!probed without endpoint paths: health pod h-host-net has the host IP 2001:db8::5"},
		},
		{
			name:   "ipv6",
			family: IPFamilyIPv6,
			want: []nodes.Node{
				{Name: "annotated", HostIP: addr("2001:db8::4")},
				{Name: "dual", HostIP: addr("2001:db8::1"), HealthIP: addr("2001:db8:1::1")},
				{Name: "host-net", HostIP: addr("2001:db8::5")},
				{Name: "v6", HostIP: addr("2001:db8::3"), HealthIP: addr("2001:db8:1::3")},
			},
			wantNotes: map[string]string{
				"annotated": "!probed without endpoint paths: annotation connectivity-exporter.io/health-ip=\"2001:db8:1::4, 198.19.0.4\": not an ipv6 address",
				"host-net":  "!probed without endpoint paths: health pod h-host-net has the host IP 2001:db8::5",
				"v4":        "!skipped: no usable ipv6 InternalIP address",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{IPFamily: tt.family}.withDefaults()
			got, notes := cfg.kubeNodes(objs, cfg.kubeHealthPods(pods))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("nodes:\n got %+v\nwant %+v", got, tt.want)
			}
			if err := nodes.Validate(got); err != nil {
				t.Errorf("Validate: %v", err)
			}
			for name, want := range tt.wantNotes {
				warn := strings.HasPrefix(want, "!")
				want = strings.TrimPrefix(want, "!")
				if n, ok := notes[name]; !ok || !strings.HasPrefix(n.msg, want) || n.warn != warn {
					t.Errorf("note for %s: got %+v, want warn=%v %q...", name, n, warn, want)
				}
			}
			if len(notes) != len(tt.wantNotes) {
				t.Errorf("notes: got %v, want only %v", notes, tt.wantNotes)
			}
		})
	}
}

// A health IP annotation holds one address, or with the dual family one of
// each family.
func TestKubeAnnotationHealthIPs(t *testing.T) {
	hosts := []netip.Addr{addr("198.18.0.9"), addr("2001:db8::9")}
	tests := []struct {
		family, value string
		want          []netip.Addr
		wantProblem   string
	}{
		{family: IPFamilyDual, value: "198.19.0.9,2001:db8:1::9", want: []netip.Addr{addr("198.19.0.9"), addr("2001:db8:1::9")}},
		{family: IPFamilyDual, value: "2001:db8:1::9", want: []netip.Addr{addr("2001:db8:1::9")}},
		{family: IPFamilyDual, value: "198.19.0.9,198.19.0.10", wantProblem: "want one address, or with --nodes.kubernetes.ip-family=dual one of each family"},
		{family: IPFamilyDual, value: "198.19.0.9,2001:db8::9", wantProblem: "the same as the host IP"},
		{family: IPFamilyIPv4, value: "198.19.0.9,198.19.0.10", wantProblem: "want one address, or with --nodes.kubernetes.ip-family=dual one of each family"},
		{family: IPFamilyIPv4, value: "198.19.0.9,2001:db8:1::9", wantProblem: "not an ipv4 address"},
	}
	for _, tt := range tests {
		t.Run(tt.family+" "+tt.value, func(t *testing.T) {
			got, problem := Config{IPFamily: tt.family}.withDefaults().annotationHealthIPs(tt.value, hosts)
			if !reflect.DeepEqual(got, tt.want) || problem != tt.wantProblem {
				t.Errorf("got %v %q, want %v %q", got, problem, tt.want, tt.wantProblem)
			}
		})
	}
}
