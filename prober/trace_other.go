//go:build !linux

package prober

import (
	"errors"
	"net/netip"
)

// openHopProber refuses: traces read ICMP errors with Linux's IP_RECVERR.
func openHopProber(Protocol, netip.Addr, Flow, TraceConfig) (hopProber, error) {
	return nil, errors.New("trace: needs Linux")
}
