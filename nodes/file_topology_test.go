package nodes

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseFileTopology(t *testing.T) {
	long := strings.Repeat("z", 63)
	tests := []struct {
		name string
		in   string
		want []Node // nil: want the error
		err  string
	}{
		{
			name: "zone and region, block and flow style",
			in: `nodes:
  - name: a
    host_ip: 198.18.0.1
    zone: eu-west-1a
    region: eu-west-1
  - {name: b, host_ip: 198.18.0.2, zone: eu-west-1b, region: eu-west-1}
`,
			want: []Node{
				{Name: "a", HostIP: addr("198.18.0.1"), Zone: "eu-west-1a", Region: "eu-west-1"},
				{Name: "b", HostIP: addr("198.18.0.2"), Zone: "eu-west-1b", Region: "eu-west-1"},
			},
		},
		{
			name: "absent, null and empty are no zone",
			in: `nodes:
  - {name: a, host_ip: 198.18.0.1}
  - {name: b, host_ip: 198.18.0.2, zone: , region: ""}
  - {name: c, host_ip: 198.18.0.3, zone: null, region: ~}
`,
			want: []Node{
				{Name: "a", HostIP: addr("198.18.0.1")},
				{Name: "b", HostIP: addr("198.18.0.2")},
				{Name: "c", HostIP: addr("198.18.0.3")},
			},
		},
		{
			name: "63 characters, unicode and a number are fine",
			in:   "nodes:\n  - {name: a, host_ip: 198.18.0.1, zone: " + long + ", region: région-1}\n  - {name: b, host_ip: 198.18.0.2, zone: 2}\n",
			want: []Node{
				{Name: "a", HostIP: addr("198.18.0.1"), Zone: long, Region: "région-1"},
				{Name: "b", HostIP: addr("198.18.0.2"), Zone: "2"},
			},
		},
		{
			name: "64 characters",
			in:   "nodes:\n  - name: a\n    host_ip: 198.18.0.1\n    zone: " + long + "z\n",
			err:  `line 4: node "a": invalid zone "` + long + `z": 64 characters, at most 63 allowed`,
		},
		{
			name: "a space",
			in:   "nodes:\n  - name: a\n    host_ip: 198.18.0.1\n    region: \"eu west\"\n",
			err:  `line 4: node "a": invalid region "eu west": contains whitespace`,
		},
		{
			name: "a tab, escaped",
			in:   "nodes:\n  - name: a\n    host_ip: 198.18.0.1\n    zone: \"a\\tb\"\n",
			err:  `line 4: node "a": invalid zone "a\tb": contains whitespace`,
		},
		{
			name: "a control character, escaped",
			in:   "nodes:\n  - name: a\n    host_ip: 198.18.0.1\n    zone: \"a\\x7fb\"\n",
			err:  `line 4: node "a": invalid zone "a\x7fb": contains a non-printable character`,
		},
		{
			name: "a list",
			in:   "nodes:\n  - name: a\n    host_ip: 198.18.0.1\n    zone: [a, b]\n",
			err:  `line 4: node "a": zone must be a string, got a list`,
		},
		{
			name: "a mapping",
			in:   "nodes:\n  - name: a\n    host_ip: 198.18.0.1\n    region:\n      name: r\n",
			err:  `line 5: node "a": region must be a string, got a mapping`,
		},
		{
			name: "repeated",
			in:   "nodes:\n  - name: a\n    host_ip: 198.18.0.1\n    zone: a\n    zone: b\n",
			err:  `line 5: duplicate key "zone" (first at line 4)`,
		},
		{
			name: "unknown keys stay errors",
			in:   "nodes:\n  - name: a\n    host_ip: 198.18.0.1\n    zones: a\n",
			err:  `line 4: unknown key "zones"`,
		},
		{
			name: "with other problems, in file order",
			in:   "nodes:\n  - name: a\n    zone: \"a b\"\n    health_ip: 10.0.0.300\n",
			err: `line 2: node "a": host_ip is required` + "\n" + `line 3: node "a": invalid zone "a b": contains whitespace` + "\n" +
				`line 4: node "a": invalid health_ip "10.0.0.300"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseFile([]byte(tt.in))
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Errorf("ParseFile error:\n got %v\nwant %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseFile: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseFile:\n got %+v\nwant %+v", got, tt.want)
			}
			if err := Validate(got); err != nil {
				t.Errorf("Validate rejects what ParseFile accepted: %v", err)
			}
		})
	}
}

// Lists from Kubernetes go through Validate, with the same topology rules.
func TestValidateTopology(t *testing.T) {
	tests := []struct {
		zone, region string
		want         string // "" for valid
	}{
		{"", "", ""},
		{"us-east-1a", "us-east-1", ""},
		{strings.Repeat("a", 64), "", `nodes[0]: node "a": invalid zone "` + strings.Repeat("a", 64) + `": 64 characters, at most 63 allowed`},
		{"", "a b", `nodes[0]: node "a": invalid region "a b": contains whitespace`},
		{"a\x00", "", `nodes[0]: node "a": invalid zone "a\x00": contains a non-printable character`},
		{"\xff", "", `nodes[0]: node "a": invalid zone "\xff": not valid UTF-8`},
	}
	for _, tt := range tests {
		err := Validate([]Node{{Name: "a", HostIP: addr("198.18.0.1"), Zone: tt.zone, Region: tt.region}})
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("Validate(zone %q, region %q) = %q, want %q", tt.zone, tt.region, got, tt.want)
		}
	}
}
