package prober

import (
	"context"
	"fmt"
	"net/netip"
	"syscall"
	"testing"
	"time"
)

func TestNewSmallAndFullSizeProbe(t *testing.T) {
	ok := Outcome{Result: ResultSuccess, RTT: time.Millisecond}
	lost := Outcome{Result: ResultTimeout, Err: errICMPNoReply}
	tooBig := Outcome{Result: ResultError, Err: fmt.Errorf("send: %w", syscall.EMSGSIZE)}
	for _, tc := range []struct {
		name       string
		protocol   Protocol
		hostMTU    int
		icmp, http bool // ICMPWithSmall, HTTPWithSmall set
		small      Outcome
		smallKnown bool
		full       Outcome
		wantOK     bool
		wantSize   int // asked of the exchange
		wantResult MTUResult
	}{
		{name: "HTTP: one GET, both verdicts", protocol: ProtocolHTTP, hostMTU: 1500, http: true,
			small: ok, smallKnown: true, full: ok, wantOK: true, wantSize: 6000, wantResult: MTUResultOK},
		{name: "HTTP: a black hole", protocol: ProtocolHTTP, hostMTU: 1500, http: true,
			full: lost, wantOK: true, wantSize: 6000, wantResult: MTUResultLost},
		{name: "HTTP without the one-connection probe", protocol: ProtocolHTTP, hostMTU: 1500, icmp: true},
		{name: "ICMP: two echoes together", protocol: ProtocolICMP, hostMTU: 1500, icmp: true,
			small: ok, smallKnown: true, full: ok, wantOK: true, wantSize: 1500, wantResult: MTUResultOK},
		{name: "ICMP: refused as too big", protocol: ProtocolICMP, hostMTU: 1500, icmp: true,
			small: ok, smallKnown: true, full: tooBig, wantOK: true, wantSize: 1500, wantResult: MTUResultTooBig},
		{name: "ICMP without the engine's pair", protocol: ProtocolICMP, hostMTU: 1500, http: true},
		{name: "a path too small for full-size probes", protocol: ProtocolHTTP, hostMTU: 1200, http: true, icmp: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			asked := 0
			flow := Flow{SourcePort: 60123, FlowLabel: FlowLabel(3)}
			var gotFlow Flow // what the exchange was asked to go over
			cfg := MTUProbeConfig{HostMTU: tc.hostMTU, EndpointMTU: tc.hostMTU}
			if tc.icmp {
				cfg.ICMPWithSmall = func(_ context.Context, _ netip.Addr, size int, label uint32) (Outcome, Outcome) {
					asked, gotFlow = size, Flow{FlowLabel: label}
					return tc.small, tc.full
				}
			}
			if tc.http {
				cfg.HTTPWithSmall = func(_ context.Context, _ netip.Addr, size int, f Flow) SmallAndFullSize {
					asked, gotFlow = size, f
					return SmallAndFullSize{Small: tc.small, SmallKnown: tc.smallKnown, FullSize: tc.full}
				}
			}
			target := Target{Peer: "node-1", Path: PathHost, Protocol: tc.protocol, IP: netip.MustParseAddr("198.18.0.1")}
			o, handled := NewSmallAndFullSizeProbe(cfg)(t.Context(), target, flow)
			if handled != tc.wantOK {
				t.Fatalf("handled %v, want %v", handled, tc.wantOK)
			}
			if !handled {
				if asked != 0 {
					t.Errorf("not handled, but an exchange of %d bytes was made", asked)
				}
				return
			}
			if asked != tc.wantSize {
				t.Errorf("exchange of %d bytes, want %d", asked, tc.wantSize)
			}
			// HTTP goes over the whole flow; ICMP echoes carry its label.
			wantFlow := flow
			if tc.protocol == ProtocolICMP {
				wantFlow = Flow{FlowLabel: flow.FlowLabel}
			}
			if gotFlow != wantFlow {
				t.Errorf("exchange over %v, want %v", gotFlow, wantFlow)
			}
			if o.SmallKnown != tc.smallKnown || (o.SmallKnown && o.Small != tc.small) {
				t.Errorf("small %+v known %v, want %+v known %v", o.Small, o.SmallKnown, tc.small, tc.smallKnown)
			}
			if o.FullSize.Result != tc.wantResult || o.FullSize.Expected != tc.hostMTU {
				t.Errorf("full size %+v, want %s at %d", o.FullSize, tc.wantResult, tc.hostMTU)
			}
		})
	}
}
