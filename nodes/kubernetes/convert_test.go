package kubernetes

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/connectivity-exporter/connectivity_exporter/nodes"
)

func TestKubeNodesFromTestdata(t *testing.T) {
	objs := kubeTestdata(t, "nodes.yaml")
	tests := []struct {
		name      string
		cfg       Config
		want      []nodes.Node
		wantNotes map[string]string // node -> start of the note; "!" prefix: warn
	}{
		{
			name: "defaults: InternalIP, dual (every family a node has), NotReady included, cordoned excluded",
			want: []nodes.Node{
				{Name: "worker-1", HostIP: addr("198.18.0.1"), HealthIP: addr("198.19.0.1")},
				{Name: "worker-2", HostIP: addr("198.18.0.2"), DualStackHostIP: addr("2001:db8::2"), HealthIP: addr("2001:db8:1::2")},
				{Name: "worker-3", HostIP: addr("198.18.0.3"), NotReady: true},
				{Name: "worker-4", HostIP: addr("198.18.0.4"), Leaving: nodes.LeavingCordoned},
				{Name: "worker-5", HostIP: addr("198.18.0.5")},
				{Name: "worker-7", HostIP: addr("2001:db8::7")},
			},
			wantNotes: map[string]string{
				"worker-4": "leaving (cordoned): listed, not probed",
				"worker-5": "!probed without endpoint paths: annotation connectivity-exporter.io/health-ip=\"not-an-ip\": not an IP address",
				"worker-6": "!skipped: no usable InternalIP address (has none)",
			},
		},
		{
			name: "ipv4: InternalIP, NotReady included, cordoned excluded",
			cfg:  Config{IPFamily: IPFamilyIPv4},
			want: []nodes.Node{
				{Name: "worker-1", HostIP: addr("198.18.0.1"), HealthIP: addr("198.19.0.1")},
				{Name: "worker-2", HostIP: addr("198.18.0.2")},
				{Name: "worker-3", HostIP: addr("198.18.0.3"), NotReady: true},
				{Name: "worker-4", HostIP: addr("198.18.0.4"), Leaving: nodes.LeavingCordoned},
				{Name: "worker-5", HostIP: addr("198.18.0.5")},
			},
			wantNotes: map[string]string{
				"worker-2": "!probed without endpoint paths: annotation connectivity-exporter.io/health-ip=\"2001:db8:1::2\": not an ipv4 address",
				"worker-4": "leaving (cordoned): listed, not probed",
				"worker-5": "!probed without endpoint paths: annotation connectivity-exporter.io/health-ip=\"not-an-ip\": not an IP address",
				"worker-6": "!skipped: no usable ipv4 InternalIP address (has none)",
				"worker-7": "!skipped: no usable ipv4 InternalIP address (has InternalIP=fe80::7, InternalIP=2001:db8::7)",
			},
		},
		{
			name: "ipv6 picks the IPv6 address of a dual-stack node and skips link-local",
			cfg:  Config{IPFamily: IPFamilyIPv6},
			want: []nodes.Node{
				{Name: "worker-2", HostIP: addr("2001:db8::2"), HealthIP: addr("2001:db8:1::2")},
				{Name: "worker-7", HostIP: addr("2001:db8::7")},
			},
			wantNotes: map[string]string{
				"worker-1": "!skipped: no usable ipv6 InternalIP address",
				"worker-3": "!skipped: no usable ipv6 InternalIP address",
				"worker-4": "!skipped: no usable ipv6 InternalIP address",
				"worker-5": "!skipped: no usable ipv6 InternalIP address",
				"worker-6": "!skipped: no usable ipv6 InternalIP address",
			},
		},
		{
			name: "ExternalIP, NotReady excluded, cordoned included",
			cfg:  Config{AddressType: "ExternalIP", IPFamily: IPFamilyIPv4, NotReady: Exclude, Cordoned: Include},
			want: []nodes.Node{
				{Name: "worker-1", HostIP: addr("198.18.1.1"), HealthIP: addr("198.19.0.1")},
			},
			wantNotes: map[string]string{
				"worker-2": "!skipped: no usable ipv4 ExternalIP address",
				"worker-3": "excluded: not Ready",
				"worker-4": "!skipped: no usable ipv4 ExternalIP address",
				"worker-5": "!skipped: no usable ipv4 ExternalIP address",
				"worker-6": "excluded: not Ready",
				"worker-7": "!skipped: no usable ipv4 ExternalIP address",
			},
		},
		{
			name: "the local node is kept even when NotReady would exclude it",
			cfg:  Config{IPFamily: IPFamilyIPv4, NotReady: Exclude, Cordoned: Exclude, LocalNode: "worker-3"},
			want: []nodes.Node{
				{Name: "worker-1", HostIP: addr("198.18.0.1"), HealthIP: addr("198.19.0.1")},
				{Name: "worker-2", HostIP: addr("198.18.0.2")},
				{Name: "worker-3", HostIP: addr("198.18.0.3"), NotReady: true},
				{Name: "worker-4", HostIP: addr("198.18.0.4"), Leaving: nodes.LeavingCordoned},
				{Name: "worker-5", HostIP: addr("198.18.0.5")},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg.withDefaults()
			got, notes := cfg.kubeNodes(objs, nil)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("nodes:\n got %v\nwant %v", got, tt.want)
			}
			if err := nodes.Validate(got); err != nil {
				t.Errorf("Validate: %v", err)
			}
			for name, want := range tt.wantNotes {
				warn := strings.HasPrefix(want, "!")
				want = strings.TrimPrefix(want, "!")
				n, ok := notes[name]
				if !ok || !strings.HasPrefix(n.msg, want) || n.warn != warn {
					t.Errorf("note for %s: got %+v, want warn=%v %q...", name, n, warn, want)
				}
			}
			if tt.wantNotes != nil && len(notes) != len(tt.wantNotes) {
				t.Errorf("notes: got %v, want only %v", notes, tt.wantNotes)
			}

			// The informer stores stripped objects: they must give the
			// same list, and stripping must be idempotent.
			stripped := make([]*corev1.Node, len(objs))
			for i, o := range objs {
				s1, _ := cfg.kubeStrip(o.DeepCopy())
				s2, _ := cfg.kubeStrip(s1.(*corev1.Node).DeepCopy())
				if !reflect.DeepEqual(s1, s2) {
					t.Errorf("kubeStrip is not idempotent for %s:\n%+v\n%+v", o.Name, s1, s2)
				}
				stripped[i] = s1.(*corev1.Node)
			}
			if got2, _ := cfg.kubeNodes(stripped, nil); !reflect.DeepEqual(got2, got) {
				t.Errorf("stripped objects give another list:\n got %v\nwant %v", got2, got)
			}
		})
	}
}

func TestKubeStripDropsBulkAndHeartbeats(t *testing.T) {
	o := kubeTestdata(t, "nodes.yaml")[0]
	cfg := Config{}.withDefaults()
	s, err := cfg.kubeStrip(o)
	if err != nil {
		t.Fatal(err)
	}
	n := s.(*corev1.Node)
	if n.Name != "worker-1" || n.UID != o.UID || n.ResourceVersion != "4701" {
		t.Errorf("identity lost: %+v", n.ObjectMeta)
	}
	if len(n.ManagedFields) != 0 || len(n.Labels) != 0 || len(n.Status.Images) != 0 || n.Status.Capacity != nil || n.Spec.PodCIDR != "" {
		t.Errorf("bulk kept: %+v", n)
	}
	if want := map[string]string{DefaultHealthIPAnnotation: "198.19.0.1"}; !reflect.DeepEqual(n.Annotations, want) {
		t.Errorf("annotations = %v, want %v", n.Annotations, want)
	}
	// The transition time stays: it changes with the status, not with
	// heartbeats, and says since when a node is NotReady.
	want := []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastTransitionTime: o.Status.Conditions[0].LastTransitionTime}}
	if !reflect.DeepEqual(n.Status.Conditions, want) {
		t.Errorf("conditions = %+v, want %+v (no heartbeat times)", n.Status.Conditions, want)
	}
	if x, _ := cfg.kubeStrip("not a node"); x != "not a node" {
		t.Errorf("a non-Node must pass through, got %v", x)
	}
}

func TestKubeNodeHealthIPProblems(t *testing.T) {
	cfg := Config{IPFamily: IPFamilyIPv4}.withDefaults()
	tests := []struct {
		value      string
		wantHealth string // "" for none
		wantNote   string
	}{
		{value: "198.19.0.9", wantHealth: "198.19.0.9"},
		{value: " 198.19.0.9\n", wantHealth: "198.19.0.9"},
		{value: "::ffff:198.19.0.9", wantHealth: "198.19.0.9"},
		{value: "", wantNote: "not an IP address"},
		{value: "198.19.0.0/24", wantNote: "not an IP address"},
		{value: "0.0.0.0", wantNote: "unspecified address"},
		{value: "224.0.0.1", wantNote: "multicast address"},
		{value: "169.254.0.1", wantNote: "link-local address"},
		{value: "198.18.0.9", wantNote: "the same as the host IP"},
		{value: "2001:db8::9", wantNote: "not an ipv4 address"},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			o := kubeIP4("n", "198.18.0.9", kubeHealth(tt.value))
			n, note, keep := cfg.kubeNode(o, kubeHealthPod{}, false)
			if !keep || n.HostIP != addr("198.18.0.9") {
				t.Fatalf("node must be kept with its host IP, got %v keep=%v", n, keep)
			}
			if tt.wantHealth != "" {
				if n.HealthIP != addr(tt.wantHealth) || note.msg != "" {
					t.Errorf("got health %v note %q, want %s", n.HealthIP, note.msg, tt.wantHealth)
				}
				return
			}
			if n.HealthIP.IsValid() || !note.warn || !strings.HasSuffix(note.msg, ": "+tt.wantNote) {
				t.Errorf("got health %v note %+v, want none and a warning ending %q", n.HealthIP, note, tt.wantNote)
			}
		})
	}
}

func TestKubeReady(t *testing.T) {
	for _, tt := range []struct {
		name string
		node *corev1.Node
		want bool
	}{
		{"ready", kubeIP4("a", "198.18.0.1"), true},
		{"not ready", kubeIP4("a", "198.18.0.1", kubeNotReady), false},
		{"unknown", kubeIP4("a", "198.18.0.1", func(n *corev1.Node) { kubeSetReady(n, corev1.ConditionUnknown) }), false},
		{"no condition yet", kubeIP4("a", "198.18.0.1", func(n *corev1.Node) { n.Status.Conditions = nil }), false},
	} {
		if got := kubeReady(tt.node); got != tt.want {
			t.Errorf("%s: kubeReady = %v, want %v", tt.name, got, tt.want)
		}
	}
}
