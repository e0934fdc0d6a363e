package kubernetes

import (
	"reflect"
	"strings"
	"testing"

	"github.com/connectivity-exporter/connectivity_exporter/nodes"
)

// TestKubernetesWithoutHealthPods: with NoHealthPods the source neither
// lists nor watches pods (RBAC need not grant them), a health pod that
// exists anyway gives its node no health IP, and the annotation still
// does; with health pods (the default) the same cluster gives both.
func TestKubernetesWithoutHealthPods(t *testing.T) {
	withHealth := func(n nodes.Node, ip string) nodes.Node { n.HealthIP = addr(ip); return n }
	kubeD := nodes.Node{Name: "d", HostIP: addr("198.18.0.4")} // no pod, no annotation
	for _, tc := range []struct {
		name         string
		noHealthPods bool
		wantLoad     []nodes.Node
		wantPodCalls bool
		wantLog      string
		// after the pod of c is created and node c added: the list
		wantAfter []nodes.Node
	}{
		{
			name:         "health pods",
			wantLoad:     []nodes.Node{withHealth(kubeA, "198.19.1.2"), withHealth(kubeB, "198.19.9.2"), kubeD},
			wantPodCalls: true,
			wantLog:      "they have no Running health pod",
			wantAfter:    []nodes.Node{withHealth(kubeA, "198.19.1.2"), withHealth(kubeB, "198.19.9.2"), withHealth(kubeC, "198.19.3.2"), kubeD},
		},
		{
			name:         "no health pods: the annotation alone",
			noHealthPods: true,
			wantLoad:     []nodes.Node{kubeA, withHealth(kubeB, "198.19.9.2"), kubeD},
			wantLog:      "no health pods, as configured",
			wantAfter:    []nodes.Node{kubeA, withHealth(kubeB, "198.19.9.2"), kubeC, kubeD},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newKubeHarness(t, Config{HealthPodNamespace: kubeHealthNS, NoHealthPods: tc.noHealthPods},
				kubeIP4("a", "198.18.0.1"), kubeIP4("b", "198.18.0.2", kubeHealth("198.19.9.2")), kubeIP4("d", "198.18.0.4"),
				kubeTestPod("h-a", "a", 0, []string{"198.19.1.2"}),
				kubeTestPod("h-b", "b", 0, []string{"198.19.2.2"}),
			).start()
			if !reflect.DeepEqual(h.loaded, tc.wantLoad) {
				t.Errorf("Load = %v, want %v", h.loaded, tc.wantLoad)
			}
			// A pod of a new node, then the node: the update that the node
			// makes shows whether the pod counted.
			h.createPod(kubeTestPod("h-c", "c", 0, []string{"198.19.3.2"}))
			if tc.wantPodCalls {
				h.settle() // the pod of an unknown node changes nothing
			}
			h.create(kubeIP4("c", "198.18.0.3"))
			h.wantUpdate(tc.wantAfter...)
			if !strings.Contains(h.log.String(), tc.wantLog) {
				t.Errorf("log lacks %q:\n%s", tc.wantLog, h.log.String())
			}
			var podCalls []string
			for _, a := range h.client.Actions() {
				if a.GetResource().Resource == "pods" && a.GetVerb() != "create" {
					podCalls = append(podCalls, a.GetVerb())
				}
			}
			if got := len(podCalls) > 0; got != tc.wantPodCalls {
				t.Errorf("pod calls %q, want some: %v", podCalls, tc.wantPodCalls)
			}
		})
	}
}
