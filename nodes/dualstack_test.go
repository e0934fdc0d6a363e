package nodes

import (
	"net/netip"
	"slices"
	"testing"
)

func TestParseFileDualStack(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Node
	}{
		{
			name: "both families, flow lists, IPv4 first",
			in: "nodes:\n" +
				"  - {name: a, host_ips: [198.18.0.1, \"2001:db8::1\"], health_ips: [\"2001:db8:1::1\", 198.19.0.1]}\n",
			want: []Node{{Name: "a",
				HostIP: addr("198.18.0.1"), DualStackHostIP: addr("2001:db8::1"),
				HealthIP: addr("198.19.0.1"), DualStackHealthIP: addr("2001:db8:1::1")}},
		},
		{
			name: "block lists, one address each, single forms mixed in",
			in: "nodes:\n  - name: a\n    host_ips:\n      - 2001:db8::1\n    health_ip: 198.19.0.1\n" +
				"  - name: b\n    host_ip: 198.18.0.2\n    health_ips: [\"2001:db8:1::2\", 198.19.0.2]\n",
			want: []Node{
				{Name: "a", HostIP: addr("2001:db8::1"), HealthIP: addr("198.19.0.1")},
				{Name: "b", HostIP: addr("198.18.0.2"), HealthIP: addr("198.19.0.2"), DualStackHealthIP: addr("2001:db8:1::2")},
			},
		},
		{
			name: "mapped IPv4 counts as IPv4",
			in:   "nodes:\n  - {name: a, host_ips: [\"2001:db8::1\", \"::ffff:198.18.0.1\"]}\n",
			want: []Node{{Name: "a", HostIP: addr("198.18.0.1"), DualStackHostIP: addr("2001:db8::1")}},
		},
		{
			name: "empty health_ips is none",
			in:   "nodes:\n  - {name: a, host_ip: 198.18.0.1, health_ips: []}\n",
			want: []Node{{Name: "a", HostIP: addr("198.18.0.1")}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseFile([]byte(tt.in))
			if err != nil {
				t.Fatalf("ParseFile: %v", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("ParseFile:\n got %+v\nwant %+v", got, tt.want)
			}
			if err := Validate(got); err != nil {
				t.Errorf("Validate(ParseFile's list): %v", err)
			}
		})
	}
}

func TestParseFileDualStackErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{
			name: "both forms",
			in:   "nodes:\n  - name: a\n    host_ip: 198.18.0.1\n    host_ips: [198.18.0.1, \"2001:db8::1\"]\n",
			want: `line 4: node "a": host_ip and host_ips are both set; use one`,
		},
		{
			name: "both health forms",
			in:   "nodes:\n  - name: a\n    host_ip: 198.18.0.1\n    health_ips: [198.19.0.1]\n    health_ip: 198.19.0.1\n",
			want: `line 4: node "a": health_ip and health_ips are both set; use one`,
		},
		{
			name: "two IPv4",
			in:   "nodes:\n  - {name: a, host_ips: [198.18.0.1, 198.18.0.2]}\n",
			want: `line 2: node "a": host_ips has 2 IPv4 addresses (198.18.0.1, 198.18.0.2): at most one address of each family (IPv4, IPv6) is allowed`,
		},
		{
			name: "three addresses",
			in:   "nodes:\n  - {name: a, host_ips: [198.18.0.1, \"2001:db8::1\", \"2001:db8::2\"]}\n",
			want: `line 2: node "a": host_ips has 1 IPv4 and 2 IPv6 addresses (198.18.0.1, 2001:db8::1, 2001:db8::2): at most one address of each family (IPv4, IPv6) is allowed`,
		},
		{
			name: "not a list",
			in:   "nodes:\n  - {name: a, host_ips: 198.18.0.1}\n",
			want: `line 2: node "a": host_ips must be a list, got a string`,
		},
		{
			name: "invalid item",
			in:   "nodes:\n  - name: a\n    host_ips:\n      - 198.18.0.1\n      - 2001:db8::zz\n",
			want: `line 4: node "a": invalid host_ips "2001:db8::zz"`,
		},
		{
			name: "duplicate across nodes and forms",
			in: "nodes:\n  - {name: a, host_ips: [198.18.0.1, \"2001:db8::1\"]}\n" +
				"  - {name: b, host_ip: \"2001:db8::1\"}\n",
			want: `line 3: node "b": host_ip 2001:db8::1 duplicates host_ips of node "a" (first at line 2)`,
		},
		{
			name: "health address duplicates a host address",
			in: "nodes:\n  - {name: a, host_ip: 198.18.0.1}\n" +
				"  - {name: b, host_ip: 198.18.0.2, health_ips: [198.19.0.2, \"2001:db8::1\"]}\n  - {name: c, host_ips: [\"2001:db8::1\"]}\n",
			want: `line 4: node "c": host_ips 2001:db8::1 duplicates health_ips of node "b" (first at line 3)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseFile([]byte(tt.in))
			if err == nil {
				t.Fatalf("ParseFile = %+v, want error %q", got, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("ParseFile error:\n got %s\nwant %s", err, tt.want)
			}
		})
	}
}

func TestValidateDualStack(t *testing.T) {
	tests := []struct {
		name string
		node Node
		want string
	}{
		{name: "both families", node: Node{Name: "a", HostIP: addr("198.18.0.1"), DualStackHostIP: addr("2001:db8::1"),
			HealthIP: addr("198.19.0.1"), DualStackHealthIP: addr("2001:db8:1::1")}},
		{name: "IPv6 first", node: Node{Name: "a", HostIP: addr("2001:db8::1"), DualStackHostIP: addr("198.18.0.1")},
			want: `nodes[0]: node "a": host_ips: want an IPv4 and an IPv6 address, got 2001:db8::1 and 198.18.0.1`},
		{name: "second without first", node: Node{Name: "a", HostIP: addr("198.18.0.1"), DualStackHealthIP: addr("2001:db8::1")},
			want: `nodes[0]: node "a": health_ips: an IPv6 address (2001:db8::1) without an IPv4 one`},
		{name: "same address twice", node: Node{Name: "a", HostIP: addr("198.18.0.1"), HealthIP: addr("198.19.0.1"), DualStackHealthIP: addr("::ffff:198.18.0.1")},
			want: `nodes[0]: node "a": health_ips: want an IPv4 and an IPv6 address, got 198.19.0.1 and ::ffff:198.18.0.1`},
		{name: "duplicate of own host address", node: Node{Name: "a", HostIP: addr("198.18.0.1"), DualStackHostIP: addr("2001:db8::1"),
			HealthIP: addr("198.19.0.1"), DualStackHealthIP: addr("2001:db8::1")},
			want: `nodes[0]: node "a": health_ips 2001:db8::1 duplicates host_ips of node "a" (first at nodes[0])`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate([]Node{tt.node})
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Validate:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestNodeAddresses(t *testing.T) {
	n := Node{HostIP: addr("198.18.0.1"), DualStackHostIP: addr("2001:db8::1"), HealthIP: addr("198.19.0.1")}
	if got, want := n.HostIPs(), []netip.Addr{addr("198.18.0.1"), addr("2001:db8::1")}; !slices.Equal(got, want) {
		t.Errorf("HostIPs = %v, want %v", got, want)
	}
	if got, want := n.HealthIPs(), []netip.Addr{addr("198.19.0.1")}; !slices.Equal(got, want) {
		t.Errorf("HealthIPs = %v, want %v", got, want)
	}
	if got := (Node{}).HealthIPs(); len(got) != 0 {
		t.Errorf("HealthIPs of a node without endpoint = %v, want none", got)
	}
}
