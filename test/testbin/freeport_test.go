package testbin

import (
	"fmt"
	"net"
	"testing"
)

func TestFreeLoopbackPortBelowTheEphemeralRange(t *testing.T) {
	// With no room below the ephemeral range the ports come from the
	// kernel: then only "free" is checked.
	low := ephemeralLow()
	below := low > freePortFloor+100
	seen := map[int]bool{}
	for range 20 {
		port := FreeLoopbackPort(t)
		if below && (port < freePortFloor || port >= low) {
			t.Fatalf("port %d, want one in [%d, %d)", port, freePortFloor, low)
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatalf("port %d is not free: %v", port, err)
		}
		defer ln.Close() // held, so that the next draws must avoid it
		seen[port] = true
	}
	if len(seen) != 20 {
		t.Errorf("%d distinct ports in 20 draws while each was held", len(seen))
	}
}
