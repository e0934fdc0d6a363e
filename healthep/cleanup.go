package healthep

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Cleanup removes what an endpoint with cfg may have left behind, e.g. after
// a crash: the host veth (only if it is a veth), routes to cfg.IP (and
// DualStackIP) that carry our protocol, and the netns name. Only Netns,
// HostInterface and the IPs are used; an unset IP skips the routes. It acts on the caller's netns.
func Cleanup(cfg Config) error {
	if err := validateNetnsName(cfg.Netns); err != nil {
		return fmt.Errorf("healthep: cleanup: %w", err)
	}
	if err := validateIfName(cfg.HostInterface); err != nil {
		return fmt.Errorf("healthep: cleanup: %w", err)
	}
	host, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("healthep: cleanup: netlink: %w", err)
	}
	defer host.Close()
	if err := removeAll(host, cfg); err != nil {
		return fmt.Errorf("healthep: cleanup: %w", err)
	}
	return nil
}

// removeAll tries every step even when one fails, so a partial failure
// leaves as little as possible behind.
func removeAll(host *netlink.Handle, cfg Config) error {
	errs := []error{deleteHostVeth(host, cfg.HostInterface)}
	for _, ip := range cfg.IPs() {
		if ip.IsValid() {
			errs = append(errs, deleteStaleRoutes(host, ip))
		}
	}
	errs = append(errs, deleteNetns(cfg.Netns))
	return errors.Join(errs...)
}
