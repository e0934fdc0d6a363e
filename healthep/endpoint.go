package healthep

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

const (
	// serverGrace bounds how long stopping the /hello server waits for requests.
	serverGrace = time.Second
	// linkUpTimeout bounds the wait for the new veth to carry traffic; a
	// build that exceeds it fails and is retried next interval.
	linkUpTimeout = 5 * time.Second
)

// endpoint is one built instance: what we created and how to recognise it.
type endpoint struct {
	cfg       Config
	host      *netlink.Handle // in the daemon's netns
	ns        netns.NsHandle  // open handle on the health netns
	nsID      nsID
	hostIndex int
	server    *helloServer
}

// buildEndpoint creates netns, veth, addresses, routes and the /hello server.
// On error everything created so far is removed again.
func buildEndpoint(ctx context.Context, cfg Config, logger log.Logger) (_ *endpoint, err error) {
	host, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	e := &endpoint{cfg: cfg, host: host, ns: netns.None()}
	defer func() {
		if err != nil {
			if terr := e.teardown(); terr != nil {
				err = errors.Join(err, fmt.Errorf("undo partial build: %w", terr))
			}
		}
	}()

	if e.ns, err = createNetns(cfg.Netns); err != nil {
		return nil, err
	}
	if e.nsID, err = handleID(e.ns); err != nil {
		return nil, fmt.Errorf("stat netns %q: %w", cfg.Netns, err)
	}
	link, err := createVeth(host, cfg.HostInterface, e.ns)
	if err != nil {
		return nil, err
	}
	e.hostIndex = link.Attrs().Index
	inner, err := netlink.NewHandleAt(e.ns, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink in health netns: %w", err)
	}
	defer inner.Close()
	innerIndex, err := configureInner(inner, cfg.IPs(), link.Attrs().HardwareAddr)
	if err != nil {
		return nil, err
	}
	if err = enableForwarding(cfg, logger); err != nil {
		return nil, err
	}
	if err = host.LinkSetUp(link); err != nil {
		return nil, fmt.Errorf("set %s up: %w", cfg.HostInterface, err)
	}
	for _, ip := range cfg.IPs() {
		if err = addHostRoute(host, ip, e.hostIndex); err != nil {
			return nil, err
		}
	}
	if err = addHostNeighbours(host, inner, cfg.IPs(), e.hostIndex, innerIndex); err != nil {
		return nil, err
	}
	waitCtx, cancel := context.WithTimeout(ctx, linkUpTimeout)
	defer cancel()
	if err = waitOperUp(waitCtx, host, e.hostIndex); err != nil {
		return nil, fmt.Errorf("wait for %s: %w", cfg.HostInterface, err)
	}
	if err = waitOperUp(waitCtx, inner, innerIndex); err != nil {
		return nil, fmt.Errorf("wait for %s in health netns: %w", innerInterface, err)
	}
	if e.server, err = startHelloServer(e.ns, cfg.IPs(), cfg.HelloPort, logger); err != nil {
		return nil, err
	}
	return e, nil
}

// teardown stops the server, then removes veth, route and netns name. Closing
// our handle and the listener lets the kernel free the namespace itself.
func (e *endpoint) teardown() error {
	var errs []error
	if e.server != nil {
		if err := e.server.stop(serverGrace); err != nil {
			errs = append(errs, err)
		}
		e.server = nil
	}
	if e.ns.IsOpen() {
		_ = e.ns.Close()
	}
	errs = append(errs, removeAll(e.host, e.cfg))
	e.host.Close()
	return errors.Join(errs...)
}

// enableForwarding lets traffic from other nodes reach the health IPs
// through the daemon's netns, for each family the endpoint has.
func enableForwarding(cfg Config, logger log.Logger) error {
	for _, ip := range cfg.IPs() {
		if ip.Is4() {
			if err := ensureSysctl("net/ipv4/ip_forward", "1"); err != nil {
				return err
			}
			// A new interface copies conf/default, which an operator may
			// have set to 0 even with ip_forward=1.
			if err := ensureSysctl("net/ipv4/conf/"+cfg.HostInterface+"/forwarding", "1"); err != nil {
				return err
			}
			continue
		}
		if err := enableIPv6Forwarding(logger); err != nil {
			return err
		}
	}
	return nil
}

// enableIPv6Forwarding sets net.ipv6.conf.all.forwarding, as a router or
// a CNI does. It makes interfaces with accept_ra=1 ignore router
// advertisements, which can cost a node that learns its IPv6 default route
// from them that route: when it turns forwarding on, it says so.
func enableIPv6Forwarding(logger log.Logger) error {
	const name = "net/ipv6/conf/all/forwarding"
	was, err := readSysctl(name)
	if err != nil {
		return fmt.Errorf("read sysctl %s: %w", name, err)
	}
	if was == "1" {
		return nil
	}
	if err := ensureSysctl(name, "1"); err != nil {
		return err
	}
	level.Warn(logger).Log("msg", "turned IPv6 forwarding on for the health endpoint; interfaces with accept_ra=1 now ignore router advertisements (set accept_ra=2 where the node learns its IPv6 default route from them)",
		"sysctl", "net.ipv6.conf.all.forwarding", "was", was)
	return nil
}
