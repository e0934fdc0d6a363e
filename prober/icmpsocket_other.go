//go:build !linux

package prober

import (
	"errors"
	"net/netip"
	"time"
)

var errICMPEngineUnsupported = errors.New("the shared-socket ICMP engine needs Linux; use NewICMPProbe")

type icmpSocket struct{}

type icmpWaiterSys struct{}

func newICMPWaiter() *icmpWaiter { return &icmpWaiter{ch: make(chan time.Duration, 1)} }

func openICMPSocket(bool, bool, bool, uint16, *icmpDemux) (*icmpSocket, error) {
	return nil, errICMPEngineUnsupported
}

func (*icmpSocket) close() error                               { return nil }
func (*icmpSocket) receive()                                   {}
func (*icmpSocket) send(*icmpWaiter, netip.Addr, uint32) error { return errICMPEngineUnsupported }
