package cluster

import "testing"

func TestPlanAddresses(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  string
		want string
	}{
		{"v4 control plane", planV4.controlPlane().String(), "198.18.0.2"},
		{"v4 node 3", planV4.nodeAddr(3).String(), "198.18.0.13"},
		{"v4 pods of node 3", planV4.podCIDR(3).String(), "198.19.3.0/24"},
		{"v4 gateway of node 3", planV4.podGateway(3).String(), "198.19.3.1"},
		{"v4 kubernetes service", planV4.serviceIP().String(), "198.18.1.1"},
		{"v6 control plane", planV6.controlPlane().String(), "2001:db8::2"},
		{"v6 node 3", planV6.nodeAddr(3).String(), "2001:db8::d"},
		{"v6 pods of node 3", planV6.podCIDR(3).String(), "2001:db8:1:3::/64"},
		{"v6 gateway of node 3", planV6.podGateway(3).String(), "2001:db8:1:3::1"},
		{"v6 kubernetes service", planV6.serviceIP().String(), "2001:db8:2::1"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, tc.got, tc.want)
		}
	}
	for _, f := range families(true) {
		for i := 1; i <= maxNodes; i++ {
			if !f.fabric.Contains(f.nodeAddr(i)) || !f.pods.Contains(f.podGateway(i)) {
				t.Fatalf("node %d's addresses leave the plan: %s %s", i, f.nodeAddr(i), f.podCIDR(i))
			}
		}
	}
	if checkNodeIndex(0) == nil || checkNodeIndex(maxNodes+1) == nil || checkNodeIndex(1) != nil {
		t.Error("checkNodeIndex accepts the wrong range")
	}
}
