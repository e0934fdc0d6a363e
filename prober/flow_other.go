//go:build !linux

package prober

import (
	"context"
	"fmt"
	"net/netip"
	"syscall"
)

// control refuses: sticky flows need Linux's socket options.
func (f Flow) control(netip.AddrPort) func(ctx context.Context, network, address string, c syscall.RawConn) error {
	return func(context.Context, string, string, syscall.RawConn) error {
		return fmt.Errorf("%w: sticky flows need Linux", ErrFlowSetup)
	}
}
