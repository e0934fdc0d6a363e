package prober

import (
	"net/netip"
	"testing"
)

func TestFamilyOf(t *testing.T) {
	for _, tt := range []struct {
		ip   string
		want Family
	}{
		{"198.18.0.1", FamilyIPv4},
		{"::ffff:198.18.0.1", FamilyIPv4},
		{"2001:db8::1", FamilyIPv6},
		{"::1", FamilyIPv6},
	} {
		if got := FamilyOf(netip.MustParseAddr(tt.ip)); got != tt.want {
			t.Errorf("FamilyOf(%s) = %s, want %s", tt.ip, got, tt.want)
		}
		target := Target{IP: netip.MustParseAddr(tt.ip)}
		if got := target.Family(); got != tt.want {
			t.Errorf("Target{IP: %s}.Family() = %s, want %s", tt.ip, got, tt.want)
		}
	}
}
