package nodes

import (
	"context"
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func TestAnnotateHealthIP(t *testing.T) {
	const other = "example.com/keep-me"
	tests := []struct {
		name      string
		start     string // the annotation's value before, "" for none
		ip        netip.Addr
		wantPatch string
		wantValue string // "" for removed
	}{
		{
			name:      "set",
			ip:        addr("198.19.0.1"),
			wantPatch: `{"metadata":{"annotations":{"connectivity-exporter.io/health-ip":"198.19.0.1"}}}`,
			wantValue: "198.19.0.1",
		},
		{
			name:      "change",
			start:     "198.19.0.9",
			ip:        addr("2001:db8:1::1"),
			wantPatch: `{"metadata":{"annotations":{"connectivity-exporter.io/health-ip":"2001:db8:1::1"}}}`,
			wantValue: "2001:db8:1::1",
		},
		{
			name:      "IPv4-mapped is written as IPv4",
			ip:        addr("::ffff:198.19.0.1"),
			wantPatch: `{"metadata":{"annotations":{"connectivity-exporter.io/health-ip":"198.19.0.1"}}}`,
			wantValue: "198.19.0.1",
		},
		{
			name:      "zero Addr removes it",
			start:     "198.19.0.9",
			wantPatch: `{"metadata":{"annotations":{"connectivity-exporter.io/health-ip":null}}}`,
		},
		{
			name:      "removing a missing annotation is fine",
			wantPatch: `{"metadata":{"annotations":{"connectivity-exporter.io/health-ip":null}}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := []func(*corev1.Node){kubeWithAnnotation(other, "x")}
			if tt.start != "" {
				opts = append(opts, kubeHealth(tt.start))
			}
			client := fake.NewClientset(kubeIP4("node-1", "198.18.0.1", opts...), kubeIP4("node-2", "198.18.0.2", kubeHealth("198.19.0.2")))
			client.ClearActions()
			if err := AnnotateHealthIP(context.Background(), client, "node-1", DefaultHealthIPAnnotation, tt.ip); err != nil {
				t.Fatal(err)
			}
			actions := client.Actions()
			if len(actions) != 1 {
				t.Fatalf("want exactly one request, got %v", actions)
			}
			patch, ok := actions[0].(k8stesting.PatchAction)
			if !ok || patch.GetVerb() != "patch" || patch.GetResource().Resource != "nodes" || patch.GetSubresource() != "" || patch.GetName() != "node-1" {
				t.Fatalf("want a patch of nodes/node-1, got %#v", actions[0])
			}
			if patch.GetPatchType() != types.MergePatchType {
				t.Errorf("patch type %s, want %s", patch.GetPatchType(), types.MergePatchType)
			}
			var got, want any
			_ = json.Unmarshal(patch.GetPatch(), &got)
			_ = json.Unmarshal([]byte(tt.wantPatch), &want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("patch %s, want %s", patch.GetPatch(), tt.wantPatch)
			}

			n, err := client.CoreV1().Nodes().Get(context.Background(), "node-1", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			value, has := n.Annotations[DefaultHealthIPAnnotation]
			if value != tt.wantValue || has != (tt.wantValue != "") {
				t.Errorf("annotation = %q (present %v), want %q", value, has, tt.wantValue)
			}
			if n.Annotations[other] != "x" {
				t.Errorf("other annotation lost: %v", n.Annotations)
			}
			n2, _ := client.CoreV1().Nodes().Get(context.Background(), "node-2", metav1.GetOptions{})
			if n2.Annotations[DefaultHealthIPAnnotation] != "198.19.0.2" {
				t.Errorf("another node changed: %v", n2.Annotations)
			}
		})
	}
}

func TestAnnotateHealthIPErrors(t *testing.T) {
	tests := []struct {
		name, node, annotation string
		ip                     netip.Addr
		want                   string
		sends                  bool
	}{
		{name: "unspecified", node: "node-1", annotation: DefaultHealthIPAnnotation, ip: addr("0.0.0.0"),
			want: `annotate node "node-1" with health IP 0.0.0.0: unspecified address`},
		{name: "zone", node: "node-1", annotation: DefaultHealthIPAnnotation, ip: addr("fe80::1%eth0"),
			want: "zone not allowed"},
		{name: "no node name", annotation: DefaultHealthIPAnnotation, ip: addr("198.19.0.1"),
			want: "node name is empty"},
		{name: "no annotation", node: "node-1", ip: addr("198.19.0.1"),
			want: "annotation key is empty"},
		{name: "unknown node", node: "node-9", annotation: DefaultHealthIPAnnotation, ip: addr("198.19.0.1"), sends: true,
			want: `annotate node "node-9" with connectivity-exporter.io/health-ip=198.19.0.1: nodes "node-9" not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := fake.NewClientset(kubeIP4("node-1", "198.18.0.1"))
			client.ClearActions()
			err := AnnotateHealthIP(context.Background(), client, tt.node, tt.annotation, tt.ip)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
			if sent := len(client.Actions()) > 0; sent != tt.sends {
				t.Errorf("requests sent: %v, want %v", client.Actions(), tt.sends)
			}
		})
	}
}
