package prober

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

func TestICMPProbeLoopback(t *testing.T) {
	testbin.NeedRoot(t, "raw ICMP sockets")
	probe := NewICMPProbe(ICMPConfig{Privileged: true})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	o := probe(ctx, netip.MustParseAddr("127.0.0.1"))
	if o.Result != ResultSuccess || o.RTT <= 0 {
		t.Fatalf("ping 127.0.0.1: %+v", o)
	}
}

func TestICMPProbeNeedsADeadline(t *testing.T) {
	o := NewICMPProbe(ICMPConfig{})(context.Background(), netip.MustParseAddr("127.0.0.1"))
	if o.Result != ResultError || o.Err == nil || o.Err.Error() != "icmp probe needs a deadline" {
		t.Fatalf("got %+v", o)
	}
}
