package prober

import "net/netip"

// Family is the address family of a target, the `family` label.
type Family string

const (
	FamilyIPv4 Family = "ipv4"
	FamilyIPv6 Family = "ipv6"
)

// FamilyOf is the family of ip; an IPv4-mapped IPv6 address is IPv4.
func FamilyOf(ip netip.Addr) Family {
	if ip.Unmap().Is4() {
		return FamilyIPv4
	}
	return FamilyIPv6
}
