package nodes

import (
	"net/netip"
	"testing"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		nodes []Node
		want  string // "" for valid
	}{
		{
			name: "valid, v4 and v6, with and without health endpoint",
			nodes: []Node{
				{Name: "node-1", HostIP: addr("198.18.0.1"), HealthIP: addr("198.19.0.1")},
				{Name: "east/node-2", HostIP: addr("2001:db8::2")},
			},
		},
		{name: "nil", nodes: nil, want: "node list is empty"},
		{name: "empty", nodes: []Node{}, want: "node list is empty"},
		{
			name:  "no host IP",
			nodes: []Node{{Name: "a", HealthIP: addr("10.0.0.1")}},
			want:  `nodes[0]: node "a": host_ip is required`,
		},
		{
			name:  "empty name",
			nodes: []Node{{HostIP: addr("10.0.0.1")}},
			want:  `nodes[0]: node name is empty`,
		},
		{
			name:  "whitespace name",
			nodes: []Node{{Name: " \t", HostIP: addr("10.0.0.1")}},
			want:  `nodes[0]: node name is empty`,
		},
		{
			name:  "name not UTF-8",
			nodes: []Node{{Name: "caf\xe9", HostIP: addr("10.0.0.1")}},
			want:  `nodes[0]: invalid node name "caf\xe9": not valid UTF-8`,
		},
		{
			name:  "name with zero-width space",
			nodes: []Node{{Name: "a\u200bb", HostIP: addr("10.0.0.1")}},
			want:  `nodes[0]: invalid node name "a\u200bb": contains a non-printable character`,
		},
		{
			name:  "name with empty node part",
			nodes: []Node{{Name: "east/", HostIP: addr("10.0.0.1")}},
			want:  `nodes[0]: invalid node name "east/": want "name" or "cluster/name"`,
		},
		{
			name: "duplicate name",
			nodes: []Node{
				{Name: "a", HostIP: addr("10.0.0.1")},
				{Name: "b", HostIP: addr("10.0.0.2")},
				{Name: "a", HostIP: addr("10.0.0.3")},
			},
			want: `nodes[2]: duplicate node name "a" (first at nodes[0])`,
		},
		{
			name: "duplicate IP, one of them v4-in-v6",
			nodes: []Node{
				{Name: "a", HostIP: addr("10.0.0.1"), HealthIP: addr("10.1.0.1")},
				{Name: "b", HostIP: addr("::ffff:10.1.0.1")},
			},
			want: `nodes[1]: node "b": host_ip 10.1.0.1 duplicates health_ip of node "a" (first at nodes[0])`,
		},
		{
			name:  "zone",
			nodes: []Node{{Name: "a", HostIP: netip.MustParseAddr("fe80::1%eth0")}},
			want:  `nodes[0]: node "a": invalid host_ip "fe80::1%eth0": zone not allowed`,
		},
		{
			name:  "unspecified health IP",
			nodes: []Node{{Name: "a", HostIP: addr("10.0.0.1"), HealthIP: addr("::")}},
			want:  `nodes[0]: node "a": invalid health_ip "::": unspecified address`,
		},
		{
			name: "every problem, in order",
			nodes: []Node{
				{Name: "a", HostIP: addr("10.0.0.1")},
				{Name: "", HostIP: addr("224.0.0.1")},
				{Name: "a"},
			},
			want: `nodes[1]: node name is empty
nodes[1]: invalid host_ip "224.0.0.1": multicast address
nodes[2]: duplicate node name "a" (first at nodes[0])
nodes[2]: node "a": host_ip is required`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.nodes)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate: %v", err)
			case tt.want != "" && err == nil:
				t.Errorf("Validate: no error, want %q", tt.want)
			case tt.want != "" && err.Error() != tt.want:
				t.Errorf("Validate error:\n got %s\nwant %s", err, tt.want)
			}
		})
	}
}

func TestFind(t *testing.T) {
	list := []Node{
		{Name: "a", HostIP: addr("10.0.0.1")},
		{Name: "east/b", HostIP: addr("10.0.0.2"), HealthIP: addr("10.1.0.2")},
	}
	tests := []struct {
		name   string
		want   Node
		wantOK bool
	}{
		{"a", list[0], true},
		{"east/b", list[1], true},
		{"b", Node{}, false},
		{"", Node{}, false},
	}
	for _, tt := range tests {
		got, ok := Find(list, tt.name)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("Find(%q) = %v, %v; want %v, %v", tt.name, got, ok, tt.want, tt.wantOK)
		}
	}
	if _, ok := Find(nil, "a"); ok {
		t.Error("Find(nil) found a node")
	}
}
