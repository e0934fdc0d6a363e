package prober

import "net/netip"

// Family is the address family of a target, derived from its IP: the
// "family" label of every probe series.
type Family string

const (
	FamilyIPv4 Family = "ipv4"
	FamilyIPv6 Family = "ipv6"
)

// Families lists every Family, in the order metrics and reports show them.
var Families = [...]Family{FamilyIPv4, FamilyIPv6}

// FamilyOf is the family of ip; an IPv4-mapped IPv6 address is IPv4, as
// the probes send it.
func FamilyOf(ip netip.Addr) Family {
	if ip.Unmap().Is4() {
		return FamilyIPv4
	}
	return FamilyIPv6
}

// Family is the address family of the target's IP.
func (t Target) Family() Family { return FamilyOf(t.IP) }
