//go:build !linux

package prober

import (
	"errors"
	"net/netip"
)

var errRouteMTUUnsupported = errors.New("reading route MTUs needs Linux; set --probe.mtu")

type netlinkRoutes struct{}

func (*netlinkRoutes) expected(netip.Addr) (int, error) { return 0, errRouteMTUUnsupported }
func (*netlinkRoutes) current(netip.Addr) (int, error)  { return 0, errRouteMTUUnsupported }
func (*netlinkRoutes) close()                           {}
