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
	innerIndex, err := configureInner(inner, cfg.IP, link.Attrs().HardwareAddr)
	if err != nil {
		return nil, err
	}
	if err = enableForwarding(cfg, logger); err != nil {
		return nil, err
	}
	if err = host.LinkSetUp(link); err != nil {
		return nil, fmt.Errorf("set %s up: %w", cfg.HostInterface, err)
	}
	if err = addHostRoute(host, cfg.IP, e.hostIndex); err != nil {
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
	if e.server, err = startHelloServer(e.ns, cfg.IP, cfg.HelloPort, logger); err != nil {
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

// enableForwarding lets traffic from other nodes reach the health IP through
// the daemon's netns.
func enableForwarding(cfg Config, logger log.Logger) error {
	if cfg.IP.Is4() {
		if err := ensureSysctl("net/ipv4/ip_forward", "1"); err != nil {
			return err
		}
		// A new interface copies conf/default, which an operator may have
		// set to 0 even with ip_forward=1.
		return ensureSysctl("net/ipv4/conf/"+cfg.HostInterface+"/forwarding", "1")
	}
	// Turning on IPv6 forwarding globally makes every interface ignore router
	// advertisements, which can cost the node its default route: leave it to
	// the operator and say what is missing.
	if v, err := readSysctl("net/ipv6/conf/all/forwarding"); err != nil || v != "1" {
		level.Warn(logger).Log("msg", "IPv6 forwarding is off: other nodes cannot reach the health endpoint, only this node can",
			"sysctl", "net.ipv6.conf.all.forwarding", "value", v, "err", err)
	}
	return nil
}
