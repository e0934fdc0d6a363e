package healthep

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Defaults of the health endpoint's settings, which the daemon's --health-endpoint.*
// flags take.
const (
	DefaultNetns         = "connectivity-health"
	DefaultHostInterface = "cx_health"
	DefaultCheckInterval = 5 * time.Second
	DefaultCheckTimeout  = 2 * time.Second
)

// Config describes one health endpoint: a named network namespace holding IP,
// reached from the daemon's namespace over a veth pair.
type Config struct {
	IP            netip.Addr    // the health IP, a single address (/32 or /128)
	DualStackIP   netip.Addr    // the IPv6 address beside an IPv4 IP on dual stack; zero otherwise
	Netns         string        // name as in `ip netns list`, e.g. "connectivity-health"
	HostInterface string        // host side of the veth, e.g. "cx_health"
	HelloPort     int           // TCP port of /hello inside the namespace
	CheckInterval time.Duration // how often the endpoint is verified
	CheckTimeout  time.Duration // deadline of one /hello check
}

// Validate reports every problem at once so that a bad flag set is fixed in
// one go.
func (c Config) Validate() error {
	var errs []error
	if err := validateIP(c.IP); err != nil {
		errs = append(errs, err)
	}
	if c.DualStackIP.IsValid() {
		if err := validateIP(c.DualStackIP); err != nil {
			errs = append(errs, err)
		} else if !c.IP.Is4() || !c.DualStackIP.Is6() {
			errs = append(errs, fmt.Errorf("health IPs %s and %s: want one IPv4 and one IPv6 address, the IPv4 one first", c.IP, c.DualStackIP))
		}
	}
	if err := validateNetnsName(c.Netns); err != nil {
		errs = append(errs, err)
	}
	if err := validateIfName(c.HostInterface); err != nil {
		errs = append(errs, err)
	}
	if c.HelloPort < 1 || c.HelloPort > 65535 {
		errs = append(errs, fmt.Errorf("hello port %d is out of range 1-65535", c.HelloPort))
	}
	if c.CheckInterval <= 0 {
		errs = append(errs, fmt.Errorf("check interval %v must be positive", c.CheckInterval))
	}
	if c.CheckTimeout <= 0 {
		errs = append(errs, fmt.Errorf("check timeout %v must be positive", c.CheckTimeout))
	} else if c.CheckInterval > 0 && c.CheckTimeout > c.CheckInterval {
		errs = append(errs, fmt.Errorf("check timeout %v must not exceed check interval %v", c.CheckTimeout, c.CheckInterval))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("healthep: invalid config: %w", errors.Join(errs...))
}

// IPs are the endpoint's addresses: IP, and DualStackIP when set.
func (c Config) IPs() []netip.Addr {
	if c.DualStackIP.IsValid() {
		return []netip.Addr{c.IP, c.DualStackIP}
	}
	return []netip.Addr{c.IP}
}

// ipsText is the endpoint's addresses for logs: "198.19.0.1,2001:db8::1".
func (c Config) ipsText() string {
	texts := make([]string, 0, 2)
	for _, ip := range c.IPs() {
		texts = append(texts, ip.String())
	}
	return strings.Join(texts, ",")
}

func validateIP(ip netip.Addr) error {
	switch {
	case !ip.IsValid():
		return errors.New("health IP is not set")
	case ip.Is4In6():
		return fmt.Errorf("health IP %s is IPv4-mapped IPv6: use the plain IPv4 form %s", ip, ip.Unmap())
	case ip.Zone() != "":
		return fmt.Errorf("health IP %s must not carry a zone", ip)
	case ip.IsUnspecified(), ip.IsLoopback(), ip.IsMulticast(),
		ip.IsLinkLocalUnicast(), ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		// Peers must route to it, so it has to be an ordinary unicast address.
		return fmt.Errorf("health IP %s is not a routable unicast address", ip)
	}
	return nil
}

func validateNetnsName(name string) error {
	switch {
	case name == "":
		return errors.New("netns name is empty")
	case name == "." || name == "..", strings.ContainsAny(name, "/\x00"):
		// The name becomes a file under /run/netns.
		return fmt.Errorf("netns name %q must be a plain file name (no '/', not '.' or '..')", name)
	case len(name) > 255:
		return fmt.Errorf("netns name is %d bytes long, at most 255 allowed", len(name))
	}
	return nil
}

// validateIfName mirrors the kernel's dev_valid_name.
func validateIfName(name string) error {
	switch {
	case name == "":
		return errors.New("host interface name is empty")
	case len(name) > 15:
		return fmt.Errorf("host interface name %q is %d bytes long, at most 15 allowed", name, len(name))
	case name == "." || name == "..", strings.ContainsAny(name, "/: \t\n\v\f\r\x00"):
		return fmt.Errorf("host interface name %q must not be '.' or '..' nor contain '/', ':' or whitespace", name)
	case name == "lo":
		return errors.New(`host interface name must not be "lo"`)
	}
	return nil
}
