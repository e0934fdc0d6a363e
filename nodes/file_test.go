package nodes

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestParseFile(t *testing.T) {
	tests := []struct {
		name string
		in   string
		file string // in testdata/, instead of in
		want []Node
	}{
		{
			name: "IPv4, one node without health endpoint",
			file: "good.yaml",
			want: []Node{
				{Name: "node-1", HostIP: addr("198.18.0.1"), HealthIP: addr("198.19.0.1")},
				{Name: "node-2", HostIP: addr("198.18.0.2"), HealthIP: addr("198.19.0.2")},
				{Name: "node-3", HostIP: addr("198.18.0.3")},
			},
		},
		{
			name: "IPv6, normalised",
			file: "ipv6.yaml",
			want: []Node{
				{Name: "node-a", HostIP: addr("2001:db8::1"), HealthIP: addr("2001:db8:1::1")},
				{Name: "node-b", HostIP: addr("2001:db8::2")},
				{Name: "node-c", HostIP: addr("198.18.0.3"), HealthIP: addr("::1")},
			},
		},
		{
			name: "cluster/name form, flow style",
			file: "multicluster.yaml",
			want: []Node{
				{Name: "east/node-1", HostIP: addr("198.18.0.1"), HealthIP: addr("198.19.0.1")},
				{Name: "west/node-1", HostIP: addr("198.18.1.1"), HealthIP: addr("198.19.1.1")},
			},
		},
		{
			name: "file order kept, not sorted",
			in: `nodes:
  - {name: z, host_ip: 127.0.0.3}
  - {name: a, host_ip: 127.0.0.1}
  - {name: m, host_ip: 127.0.0.2}
`,
			want: []Node{
				{Name: "z", HostIP: addr("127.0.0.3")},
				{Name: "a", HostIP: addr("127.0.0.1")},
				{Name: "m", HostIP: addr("127.0.0.2")},
			},
		},
		{
			name: "empty or null health_ip is none (as templates write it)",
			in: `nodes:
  - name: a
    host_ip: 127.0.0.1
    health_ip: ""
  - name: b
    host_ip: 127.0.0.2
    health_ip:
`,
			want: []Node{{Name: "a", HostIP: addr("127.0.0.1")}, {Name: "b", HostIP: addr("127.0.0.2")}},
		},
		{
			name: "keys in any order, quoted values, numeric name, document markers",
			in:   "---\nnodes:\n- health_ip: '198.19.0.1'\n  host_ip: \"198.18.0.1\"\n  name: 42\n...\n",
			want: []Node{{Name: "42", HostIP: addr("198.18.0.1"), HealthIP: addr("198.19.0.1")}},
		},
		{
			name: "CRLF line ends and a byte order mark",
			in:   "\ufeffnodes:\r\n  - name: a\r\n    host_ip: 127.0.0.1\r\n",
			want: []Node{{Name: "a", HostIP: addr("127.0.0.1")}},
		},
		{
			name: "merge key with a mapping is YAML's merge",
			in:   "nodes:\n  - name: a\n    <<: {host_ip: 10.0.0.1}\n",
			want: []Node{{Name: "a", HostIP: addr("10.0.0.1")}},
		},
		{
			name: "link-local and loopback are fine",
			in:   "nodes: [{name: a, host_ip: 'fe80::1', health_ip: 169.254.0.1}]\n",
			want: []Node{{Name: "a", HostIP: addr("fe80::1"), HealthIP: addr("169.254.0.1")}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(tt.in)
			if tt.file != "" {
				data = readTestdata(t, tt.file)
			}
			got, err := ParseFile(data)
			if err != nil {
				t.Fatalf("ParseFile: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseFile:\n got %v\nwant %v", got, tt.want)
			}
			if err := Validate(got); err != nil {
				t.Errorf("Validate(ParseFile()): %v", err)
			}
		})
	}
}

func TestParseFileErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		// Keys.
		{
			name: "unknown key in a node",
			in: `nodes:
  - name: node-1
    host_ip: 10.0.0.1
    health_ip: 10.1.0.1
    hostip: 10.0.0.2
`,
			want: `line 5: unknown key "hostip"`,
		},
		{
			name: "unknown top-level key",
			in:   "version: 2\nnodes:\n  - {name: a, host_ip: 10.0.0.1}\n",
			want: `line 1: unknown key "version"`,
		},
		{
			name: "unknown key in a flow mapping",
			in:   "nodes:\n  - {name: a, host_ip: 10.0.0.1}\n  - {name: b, host_ip: 10.0.0.2, rack: r1}\n",
			want: `line 3: unknown key "rack"`,
		},
		{
			name: "unknown key with a block value is placed on the key",
			in:   "nodes:\n  - name: a\n    host_ip: 10.0.0.1\n    host_ips:\n      - 10.0.0.1\n",
			want: `line 4: unknown key "host_ips"`,
		},
		{
			name: "unknown keys only",
			in:   "nodes:\n  - {nmae: a, hostip: 10.0.0.1}\n",
			want: "line 2: unknown key \"nmae\"\nline 2: unknown key \"hostip\"\n" +
				"line 2: node name is required\nline 2: host_ip is required",
		},
		{
			name: "repeated key",
			in:   "nodes:\n  - name: a\n    host_ip: 10.0.0.1\n    host_ip: 10.0.0.2\n",
			want: `line 4: duplicate key "host_ip" (first at line 3)`,
		},
		{
			name: "repeated key: yaml leaves the node out, so only keys are checked",
			in: "nodes:\n  - name: a\n    name: b\n    host_ip: 10.0.0.1\n" +
				"  - name: c\n    host_ip: 10.0.0.300\n  - {name: d, hostip: 10.0.0.4}\n",
			want: "line 3: duplicate key \"name\" (first at line 2)\nline 7: unknown key \"hostip\"",
		},
		{
			name: "repeated top-level key",
			in:   "nodes:\n  - {name: a, host_ip: 10.0.0.1}\nnodes:\n  - {name: b, host_ip: 10.0.0.2}\n",
			want: `line 3: duplicate key "nodes" (first at line 1)`,
		},
		{
			name: "key that is not a string",
			in:   "nodes:\n  - name: a\n    host_ip: 10.0.0.1\n    ? [x]\n    : y\n",
			want: `line 4: key must be a string, got a list`,
		},
		{
			name: "top-level key that is not a string",
			in:   "? {a: b}\n: c\nnodes:\n  - {name: a, host_ip: 10.0.0.1}\n",
			want: `line 1: key must be a string, got a mapping`,
		},

		// Names.
		{
			name: "duplicate name",
			in: `nodes:
  - name: node-1
    host_ip: 10.0.0.1
  - name: node-2
    host_ip: 10.0.0.2
  - host_ip: 10.0.0.3
    name: node-1
`,
			want: `line 7: duplicate node name "node-1" (first at line 2)`,
		},
		{
			name: "missing name",
			in:   "nodes:\n  - host_ip: 10.0.0.1\n",
			want: `line 2: node name is required`,
		},
		{
			name: "empty name",
			in:   "nodes:\n  - name: \"\"\n    host_ip: 10.0.0.1\n",
			want: `line 2: node name is empty`,
		},
		{
			name: "null name is no name",
			in:   "nodes:\n  - name:\n    host_ip: 10.0.0.1\n",
			want: `line 2: node name is required`,
		},
		{
			name: "whitespace name",
			in:   "nodes:\n  - name: \"  \\t \"\n    host_ip: 10.0.0.1\n",
			want: `line 2: node name is empty`,
		},
		{
			name: "name with a space",
			in:   "nodes:\n  - host_ip: 10.0.0.1\n    name: node 1\n",
			want: `line 3: invalid node name "node 1": contains whitespace`,
		},
		{
			name: "name with a control character",
			in:   "nodes:\n  - host_ip: 10.0.0.1\n    name: \"node\\x01\"\n",
			want: `line 3: invalid node name "node\x01": contains a non-printable character`,
		},
		{
			name: "name with two slashes",
			in:   "nodes:\n  - {name: a/b/c, host_ip: 10.0.0.1}\n",
			want: `line 2: invalid node name "a/b/c": want "name" or "cluster/name"`,
		},
		{
			name: "name with an empty cluster",
			in:   "nodes:\n  - {name: /b, host_ip: 10.0.0.1}\n",
			want: `line 2: invalid node name "/b": want "name" or "cluster/name"`,
		},
		{
			name: "name that is a list",
			in:   "nodes:\n  - name: [a]\n    host_ip: 10.0.0.1\n",
			want: `line 2: node name must be a string, got a list`,
		},
		{
			name: "name that is a mapping",
			in:   "nodes:\n  - host_ip: 10.0.0.1\n    name: {first: a}\n",
			want: `line 3: node name must be a string, got a mapping`,
		},

		// IPs.
		{
			name: "invalid host_ip",
			in: `nodes:
  - name: node-1
    host_ip: 10.0.0.1
    health_ip: 10.1.0.1
  - name: node-2
    health_ip: 10.1.0.2

    # the host
    host_ip: 10.0.0.300
`,
			want: `line 9: node "node-2": invalid host_ip "10.0.0.300"`,
		},
		{
			name: "invalid IPv6 health_ip",
			in:   "nodes:\n  - name: a\n    host_ip: 10.0.0.1\n    health_ip: 2001:db8:::1\n",
			want: `line 4: node "a": invalid health_ip "2001:db8:::1"`,
		},
		{
			name: "IPv4 with leading zeros is ambiguous",
			in:   "nodes:\n  - name: a\n    host_ip: 010.0.0.1\n",
			want: `line 3: node "a": invalid host_ip "010.0.0.1"`,
		},
		{
			name: "IP with a prefix length",
			in:   "nodes:\n  - name: a\n    host_ip: 10.0.0.1/24\n",
			want: `line 3: node "a": invalid host_ip "10.0.0.1/24"`,
		},
		{
			name: "missing host_ip",
			in:   "nodes:\n  - name: node-1\n    health_ip: 10.1.0.1\n",
			want: `line 2: node "node-1": host_ip is required`,
		},
		{
			name: "empty host_ip",
			in:   "nodes:\n  - name: node-1\n    host_ip: ''\n",
			want: `line 2: node "node-1": host_ip is required`,
		},
		{
			name: "host_ip that is a list",
			in:   "nodes:\n  - name: a\n    host_ip:\n      - 10.0.0.1\n",
			want: `line 4: node "a": host_ip must be a string, got a list`,
		},
		{
			name: "health_ip that is a mapping",
			in:   "nodes:\n  - name: a\n    host_ip: 10.0.0.1\n    health_ip: {v4: 10.1.0.1}\n",
			want: `line 4: node "a": health_ip must be a string, got a mapping`,
		},
		{
			name: "zone",
			in:   "nodes:\n  - name: a\n    host_ip: fe80::1%eth0\n",
			want: `line 3: node "a": invalid host_ip "fe80::1%eth0": zone not allowed`,
		},
		{
			name: "unspecified",
			in:   "nodes:\n  - name: a\n    host_ip: 0.0.0.0\n",
			want: `line 3: node "a": invalid host_ip "0.0.0.0": unspecified address`,
		},
		{
			name: "unspecified inside IPv6",
			in:   "nodes:\n  - name: a\n    host_ip: 10.0.0.1\n    health_ip: ::ffff:0.0.0.0\n",
			want: `line 4: node "a": invalid health_ip "::ffff:0.0.0.0": unspecified address`,
		},
		{
			name: "multicast",
			in:   "nodes:\n  - name: a\n    host_ip: ff02::1\n",
			want: `line 3: node "a": invalid host_ip "ff02::1": multicast address`,
		},
		{
			name: "broadcast",
			in:   "nodes:\n  - name: a\n    host_ip: 255.255.255.255\n",
			want: `line 3: node "a": invalid host_ip "255.255.255.255": broadcast address`,
		},
		{
			name: "duplicate host_ip",
			in:   "nodes:\n  - name: a\n    host_ip: 10.0.0.1\n  - name: b\n    host_ip: 10.0.0.1\n",
			want: `line 5: node "b": host_ip 10.0.0.1 duplicates host_ip of node "a" (first at line 3)`,
		},
		{
			name: "health_ip of one node is host_ip of another",
			in:   "nodes:\n  - name: a\n    host_ip: 10.0.0.1\n  - name: b\n    host_ip: 10.0.0.2\n    health_ip: 10.0.0.1\n",
			want: `line 6: node "b": health_ip 10.0.0.1 duplicates host_ip of node "a" (first at line 3)`,
		},
		{
			name: "host_ip of one node is health_ip of another",
			in:   "nodes:\n  - name: a\n    host_ip: 10.0.0.1\n    health_ip: 10.1.0.1\n  - name: b\n    host_ip: 10.1.0.1\n",
			want: `line 6: node "b": host_ip 10.1.0.1 duplicates health_ip of node "a" (first at line 4)`,
		},
		{
			name: "health_ip is the node's own host_ip",
			in:   "nodes:\n  - name: a\n    host_ip: 10.0.0.1\n    health_ip: 10.0.0.1\n",
			want: `line 4: node "a": health_ip 10.0.0.1 duplicates host_ip of node "a" (first at line 3)`,
		},
		{
			name: "duplicate spelt differently",
			in:   "nodes:\n  - name: a\n    host_ip: 2001:db8::1\n  - name: b\n    host_ip: 2001:DB8:0::1\n  - name: c\n    host_ip: ::ffff:10.0.0.1\n  - name: d\n    host_ip: 10.0.0.1\n",
			want: "line 5: node \"b\": host_ip 2001:db8::1 duplicates host_ip of node \"a\" (first at line 3)\n" +
				`line 9: node "d": host_ip 10.0.0.1 duplicates host_ip of node "c" (first at line 7)`,
		},

		// The list and the document.
		{
			name: "empty node list",
			in:   "nodes: []\n",
			want: `line 1: node list is empty`,
		},
		{
			name: "null node list",
			in:   "# nothing yet\nnodes:\n",
			want: `line 2: node list is empty`,
		},
		{
			name: "no nodes key",
			in:   "# a comment\nnode:\n  - {name: a, host_ip: 10.0.0.1}\n",
			want: "line 2: unknown key \"node\"\nline 2: missing key \"nodes\"",
		},
		{
			name: "nodes is a mapping",
			in:   "nodes:\n  node-1:\n    host_ip: 10.0.0.1\n",
			want: `line 2: "nodes" must be a list, got a mapping`,
		},
		{
			name: "node is a string",
			in:   "nodes:\n  - node-1\n  - {name: node-2, host_ip: 10.0.0.2}\n",
			want: `line 2: node must be a mapping, got a string`,
		},
		{
			name: "node is nothing",
			in:   "nodes:\n  - {name: a, host_ip: 10.0.0.1}\n  -\n",
			want: `line 3: node must be a mapping, got nothing`,
		},
		{
			name: "empty node",
			in:   "nodes:\n  - {name: a, host_ip: 10.0.0.1}\n  - {}\n",
			want: "line 3: node name is required\nline 3: host_ip is required",
		},
		{
			name: "document is a list",
			in:   "- name: a\n  host_ip: 10.0.0.1\n",
			want: `line 1: want a mapping with key "nodes", got a list`,
		},
		{
			name: "document is a string",
			in:   "\n\nhello\n",
			want: `line 3: want a mapping with key "nodes", got a string`,
		},
		{
			name: "empty file",
			in:   "",
			want: `line 1: file is empty, want a mapping with key "nodes"`,
		},
		{
			name: "only comments",
			in:   "# nodes:\n#  - name: a\n",
			want: `line 1: file is empty, want a mapping with key "nodes"`,
		},
		{
			name: "two documents",
			in:   "nodes:\n  - {name: a, host_ip: 10.0.0.1}\n---\nnodes:\n  - {name: b, host_ip: 10.0.0.2}\n",
			want: `line 3: only one YAML document is allowed`,
		},
		{
			name: "alias",
			in:   "nodes:\n  - name: a\n    host_ip: &ip 10.0.0.1\n  - name: b\n    host_ip: *ip\n",
			want: `line 5: alias *ip is not allowed`,
		},
		{
			name: "alias for a node",
			in:   "nodes:\n  - &n {name: a, host_ip: 10.0.0.1}\n  - *n\n",
			want: `line 3: node must be a mapping, got an alias`,
		},
		{
			name: "alias for the list",
			in:   "list: &l\n  - {name: a, host_ip: 10.0.0.1}\nnodes: *l\n",
			want: `line 3: alias *l is not allowed`,
		},
		{
			name: "unknown alias (yaml gives no line)",
			in:   "nodes:\n  - name: a\n    host_ip: *ip\n",
			want: `invalid YAML: unknown anchor 'ip' referenced`,
		},

		// Not YAML: yaml's own words. Its parser (not scanner) errors give
		// the line before the real one, and some have no line.
		{
			name: "binary",
			in:   "nodes:\n\x00\x01\x02\xff",
			want: `invalid YAML: control characters are not allowed`,
		},
		{
			name: "not UTF-8",
			in:   "nodes:\n  - name: caf\xe9\n",
			want: `invalid YAML: incomplete UTF-8 octet sequence`,
		},
		{
			name: "UTF-16 is read as UTF-16",
			in:   "\xff\xfen\x00o\x00",
			want: `line 1: want a mapping with key "nodes", got a string`,
		},
		{
			name: "bad indentation (yaml gives the line before the list)",
			in:   "nodes:\n  - name: a\n   host_ip: 10.0.0.1\n",
			want: `invalid YAML: line 1: did not find expected '-' indicator`,
		},
		{
			name: "unclosed flow list (yaml gives the line before)",
			in:   "nodes:\n  - name: a\n    host_ip: [10.0.0.1\n",
			want: `invalid YAML: line 2: did not find expected ',' or ']'`,
		},
		{
			name: "stray brace (yaml gives the line before)",
			in:   "nodes:\n- {name: a, host_ip: 10.0.0.1}\n}\n",
			want: `invalid YAML: line 2: did not find expected key`,
		},
		{
			name: "tab indentation (yaml gives the line where the scalar began)",
			in:   "nodes:\n  - name: a\n\thost_ip: 10.0.0.1\n",
			want: `invalid YAML: line 2: found a tab character that violates indentation`,
		},
		{
			name: "mapping in a scalar",
			in:   "nodes: a: b\n",
			want: `invalid YAML: mapping values are not allowed in this context`,
		},
		{
			name: "lines counted after CR line ends",
			in:   "nodes:\r  - name: a\r    host_ip: 10.0.0.300\r",
			want: `line 3: node "a": invalid host_ip "10.0.0.300"`,
		},

		// Several problems: all reported, in file order.
		{
			name: "all problems",
			in: `nodes:
  - name: node-1
    host_ip: 10.0.0.1
    health_ip: 10.1.0.1
  - name: node-1
    health_ip: 10.1.0.1
  - name: node 3
    host_ip: 10.0.0.300
    hostip: 10.0.0.3
`,
			want: `line 5: duplicate node name "node-1" (first at line 2)
line 5: node "node-1": host_ip is required
line 6: node "node-1": health_ip 10.1.0.1 duplicates health_ip of node "node-1" (first at line 4)
line 7: invalid node name "node 3": contains whitespace
line 8: node "node 3": invalid host_ip "10.0.0.300"
line 9: unknown key "hostip"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseFile([]byte(tt.in))
			if err == nil {
				t.Fatalf("ParseFile = %v, want error %q", got, tt.want)
			}
			if got != nil {
				t.Errorf("ParseFile returned nodes with an error: %v", got)
			}
			if err.Error() != tt.want {
				t.Errorf("ParseFile error:\n got %s\nwant %s", err, tt.want)
			}
		})
	}
}

func TestParseFileCapsProblems(t *testing.T) {
	var b strings.Builder
	b.WriteString("nodes:\n")
	for i := range 25 {
		b.WriteString("  - {name: n" + strconv.Itoa(i) + ", host_ip: bad}\n")
	}
	_, err := ParseFile([]byte(b.String()))
	if err == nil {
		t.Fatal("ParseFile: no error")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != maxProblems+1 {
		t.Fatalf("got %d lines, want %d:\n%v", len(lines), maxProblems+1, err)
	}
	if want := `line 2: node "n0": invalid host_ip "bad"`; lines[0] != want {
		t.Errorf("first line = %q, want %q", lines[0], want)
	}
	if want := "(5 more problems not shown)"; lines[maxProblems] != want {
		t.Errorf("last line = %q, want %q", lines[maxProblems], want)
	}
}

func TestTypeProblems(t *testing.T) {
	tests := []struct {
		name string
		msg  string // one message of a yaml.TypeError
		want string
	}{
		{
			name: "unknown field",
			msg:  "line 5: field hostip not found in type nodes.fileEntry",
			want: `line 5: unknown key "hostip"`,
		},
		{
			name: "unknown field with spaces in the key",
			msg:  "line 2: field host ip not found in type nodes.fileEntry",
			want: `line 2: unknown key "host ip"`,
		},
		{
			name: "repeated key",
			msg:  `line 4: mapping key "host_ip" already defined at line 3`,
			want: `line 4: duplicate key "host_ip" (first at line 3)`,
		},
		{
			name: "anything else is kept",
			msg:  "line 7: cannot unmarshal !!seq into string",
			want: "line 7: cannot unmarshal !!seq into string",
		},
		{
			name: "no line",
			msg:  "field x not found in type nodes.fileEntry",
			want: `unknown key "x"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := typeProblems(&yaml.TypeError{Errors: []string{tt.msg}})
			if len(ps) != 1 || ps[0].Error() != tt.want {
				t.Errorf("typeProblems(%q) = %v, want [%s]", tt.msg, ps, tt.want)
			}
		})
	}
}
