package main

import (
	"net/netip"
	"testing"
)

func TestParseHealthIPs(t *testing.T) {
	tests := []struct {
		name          string
		values        []string
		first, second string // "" for none
		wantErr       string
	}{
		{name: "none"},
		{name: "one", values: []string{"198.19.0.1"}, first: "198.19.0.1"},
		{name: "one IPv6", values: []string{"2001:db8::1"}, first: "2001:db8::1"},
		{name: "repeated, IPv4 first", values: []string{"2001:db8::1", "198.19.0.1"}, first: "198.19.0.1", second: "2001:db8::1"},
		{name: "comma list", values: []string{"198.19.0.1, 2001:db8::1"}, first: "198.19.0.1", second: "2001:db8::1"},
		{name: "two IPv4", values: []string{"198.19.0.1,198.19.0.2"},
			wantErr: "--healthep.ip: 198.19.0.1,198.19.0.2 given, want one address or one of each family (IPv4 and IPv6)"},
		{name: "three", values: []string{"198.19.0.1", "2001:db8::1", "2001:db8::2"},
			wantErr: "--healthep.ip: 198.19.0.1,2001:db8::1,2001:db8::2 given, want one address or one of each family (IPv4 and IPv6)"},
		{name: "not an IP", values: []string{"198.19.0.1,x"}, wantErr: `--healthep.ip "x" is not an IP address`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := daemonFlags{healthIPs: tt.values}
			err := f.parseHealthIPs()
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("parseHealthIPs error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			show := func(ip netip.Addr) string {
				if !ip.IsValid() {
					return ""
				}
				return ip.String()
			}
			if show(f.healthAddr) != tt.first || show(f.healthDualAddr) != tt.second {
				t.Errorf("got %q, %q; want %q, %q", show(f.healthAddr), show(f.healthDualAddr), tt.first, tt.second)
			}
		})
	}
}
