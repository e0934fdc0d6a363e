package prober

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/hello"
	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// TestSmallAndFullSizeFindsABlackHole: with a router that drops every
// answer packet over 1,400 bytes (an MTU black hole on a 1,500-byte path), the
// one-connection probe learns nothing of the small verdict (the head
// rides in the first full-size segment) and loses the full-size answer;
// the small probe that then follows succeeds: a black hole, not a dead
// path. Healed, one connection gives both verdicts.
func TestSmallAndFullSizeFindsABlackHole(t *testing.T) {
	lab := newFlowLab(t)
	cfg := HTTPConfig{Port: hello.DefaultPort, Path: hello.Path}
	both, small := NewSmallAndFullSizeHTTPProbe(cfg), NewHTTPProbe(cfg)
	size := FullSizeBody(1500)
	for _, family := range []int{4, 6} {
		t.Run(fmt.Sprintf("ipv%d", family), func(t *testing.T) {
			ip := labServer(family)
			run := func() (o SmallAndFullSize, s Outcome) {
				_ = lab.In(lab.Client, func() error {
					ctx, cancel := context.WithTimeout(context.Background(), time.Second)
					defer cancel()
					o = both(ctx, ip, size, Flow{})
					ctx, cancel = context.WithTimeout(context.Background(), time.Second)
					defer cancel()
					s = small(ctx, ip)
					return nil
				})
				return o, s
			}
			if o, s := run(); !o.SmallKnown || o.FullSize.Result != ResultSuccess || s.Result != ResultSuccess {
				t.Fatalf("healthy: %+v, small %+v", o, s)
			}
			if err := lab.SetReturnFault(testbin.Fault{Kind: testbin.FaultDropLarger, MaxBytes: 1400}); err != nil {
				t.Fatal(err)
			}
			o, s := run()
			if o.SmallKnown || o.FullSize.Result != ResultTimeout || s.Result != ResultSuccess {
				t.Errorf("black hole: %+v, small %+v; want the small verdict unknown, the full size lost, the small probe a success", o, s)
			}
			if err := lab.SetReturnFault(testbin.Fault{}); err != nil {
				t.Fatal(err)
			}
		})
	}
}
