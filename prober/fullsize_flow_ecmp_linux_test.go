package prober

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/hello"
	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// TestSmallAndFullSizeKeepsTheFlowInECMPLab: the one exchange of a
// full-size turn goes over the flow it is given. Its HTTP connection
// crosses the member the same flow's small probe crosses, from the flow's
// source port and, for IPv6, with its label; an ICMPv6 echo pair carries
// the label on both echoes, each label on one member.
func TestSmallAndFullSizeKeepsTheFlowInECMPLab(t *testing.T) {
	lab := newFlowLab(t)
	cfg := HTTPConfig{Port: hello.DefaultPort, Path: hello.Path}
	small, both := NewFlowHTTPProbe(cfg), NewSmallAndFullSizeHTTPProbe(cfg)
	size := FullSizeBody(1500)
	for _, family := range []int{4, 6} {
		t.Run(fmt.Sprintf("http/ipv%d", family), func(t *testing.T) {
			flows, err := Flows(fmt.Sprintf("server/ipv%d", family), 8, DefaultFlowPorts)
			if err != nil {
				t.Fatal(err)
			}
			if err := lab.Reset(); err != nil {
				t.Fatal(err)
			}
			for i, o := range probeFlows(t, lab, small, labServer(family), flows, 5*time.Second) {
				if o.Result != ResultSuccess {
					t.Fatalf("small probe over flow %v: %+v", flows[i], o)
				}
			}
			want := membersOf(t, lab, flows)
			if err := lab.Reset(); err != nil {
				t.Fatal(err)
			}
			exchange := func(ctx context.Context, ip netip.Addr, f Flow) Outcome {
				o := both(ctx, ip, size, f)
				if !o.SmallKnown || o.FullSize.Result != ResultSuccess {
					return Outcome{Result: ResultError, Err: fmt.Errorf("small %+v known %v, full size %+v", o.Small, o.SmallKnown, o.FullSize)}
				}
				return o.Small
			}
			for i, o := range probeFlows(t, lab, exchange, labServer(family), flows, 5*time.Second) {
				if o.Result != ResultSuccess {
					t.Fatalf("exchange over flow %v: %+v", flows[i], o)
				}
			}
			if got := membersOf(t, lab, flows); !slices.Equal(got, want) {
				t.Errorf("exchanges crossed members %v, the small probes of the same flows %v", got, want)
			}
			if family == 4 {
				return
			}
			labels, err := lab.Seen(testbin.SeenFlowLabel)
			if err != nil {
				t.Fatal(err)
			}
			if len(labels) != len(flows) {
				t.Errorf("%d flow labels crossed the members, want the %d of the flows: %v", len(labels), len(flows), labels)
			}
		})
	}
	// The daemon's engines both lease the labels: the small probes' (its
	// flow probes) and the full-size one's (the pair), privileged or not.
	if out, err := exec.Command("ip", "netns", "exec", lab.Client, "sysctl", "-q", "-w", "net.ipv4.ping_group_range=0 2147483647").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, privileged := range []bool{true, false} {
		t.Run(fmt.Sprintf("icmp/ipv6/privileged=%v", privileged), func(t *testing.T) {
			if err := lab.Reset(); err != nil {
				t.Fatal(err)
			}
			labels := make([]uint32, 8)
			for i := range labels {
				labels[i] = FlowLabel(i)
			}
			var small, pair *ICMPEngine
			err := lab.In(lab.Client, func() (err error) {
				if small, err = NewICMPEngine(ICMPConfig{Privileged: privileged}); err != nil {
					return err
				}
				if pair, err = NewICMPEngine(ICMPConfig{Privileged: privileged, DontFragment: true}); err != nil {
					return err
				}
				for range 2 {
					for _, l := range labels {
						ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
						o := small.ProbeFlow(ctx, testbin.ECMPServer6, l)
						s, f := pair.ProbeSmallAndSize(ctx, testbin.ECMPServer6, 1500, l)
						cancel()
						if o.Result != ResultSuccess || s.Result != ResultSuccess || f.Result != ResultSuccess {
							return fmt.Errorf("label %#x: flow probe %+v, small %+v, full size %+v", l, o, s, f)
						}
					}
				}
				return nil
			})
			for _, e := range []*ICMPEngine{small, pair} {
				if e != nil {
					defer e.Close()
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			seen, err := lab.Seen(testbin.SeenFlowLabel)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range labels {
				if len(seen[l]) != 1 {
					t.Errorf("label %#x crossed members %v, want one", l, seen[l])
				}
			}
			// A full-size echo without the label would add the kernel's.
			if len(seen) != len(labels) {
				t.Errorf("%d labels crossed the members, sent %d: %v", len(seen), len(labels), seen)
			}
		})
	}
}
