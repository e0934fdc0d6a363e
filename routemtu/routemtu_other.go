//go:build !linux

package routemtu

import (
	"errors"
	"net/netip"
	"time"
)

var errUnsupported = errors.New("reading route MTUs needs Linux; set --probe.mtu")

type netlinkRoutes struct{}

func newNetlinkRoutes(time.Duration) *netlinkRoutes { return &netlinkRoutes{} }

func (*netlinkRoutes) expected(netip.Addr) (int, error) { return 0, errUnsupported }
func (*netlinkRoutes) current(netip.Addr) (int, error)  { return 0, errUnsupported }
func (*netlinkRoutes) close()                           {}
