package prober

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// TestICMPFlowLabelsSpreadInECMPLab: ICMPv6 echoes with flow labels, from
// the engine's raw and unprivileged sockets, reach several members of a
// group that hashes the label, each label always the same member, and
// every echo carries its label.
func TestICMPFlowLabelsSpreadInECMPLab(t *testing.T) {
	lab := newFlowLab(t) // IPv6: 5-tuple and flow label hashed
	// Unprivileged ICMP sockets for every group, root's included.
	if out, err := exec.Command("ip", "netns", "exec", lab.Client, "sysctl", "-q", "-w", "net.ipv4.ping_group_range=0 2147483647").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	labels := make([]uint32, 16)
	for i := range labels {
		labels[i] = uint32(0x100 + 0x3779*i)
	}
	for _, privileged := range []bool{true, false} {
		t.Run(fmt.Sprintf("privileged=%v", privileged), func(t *testing.T) {
			if err := lab.Reset(); err != nil {
				t.Fatal(err)
			}
			var e *ICMPEngine
			if err := lab.In(lab.Client, func() (err error) {
				e, err = NewICMPEngine(ICMPConfig{Privileged: privileged})
				if err != nil {
					return err
				}
				// The IPv6 socket opens on the first IPv6 probe: here, in
				// the client's namespace.
				for range 2 {
					for _, l := range labels {
						ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
						o := e.ProbeFlow(ctx, testbin.ECMPServer6, l)
						cancel()
						if o.Result != ResultSuccess {
							return fmt.Errorf("label %#x: %+v", l, o)
						}
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			seen, err := lab.Seen(testbin.SeenFlowLabel)
			if err != nil {
				t.Fatal(err)
			}
			members := map[int]bool{}
			for _, l := range labels {
				if len(seen[l]) != 1 {
					t.Errorf("label %#x crossed members %v, want one", l, seen[l])
					continue
				}
				members[seen[l][0]] = true
			}
			if len(seen) != len(labels) {
				t.Errorf("%d labels crossed the members, sent %d: %v", len(seen), len(labels), seen)
			}
			if len(members) < 2 {
				t.Errorf("16 labels all crossed one member: %v", seen)
			}
		})
	}
}

// TestICMPProbeFlowLoopback: labelled echoes to ::1 come back, with as
// many labels as an unprivileged socket may lease; a label over 19 bits is
// refused before anything is sent.
func TestICMPProbeFlowLoopback(t *testing.T) {
	e, err := NewICMPEngine(ICMPConfig{Privileged: isRoot()})
	if err != nil {
		t.Skipf("no ICMP socket: %v", err)
	}
	defer e.Close()
	for l := range uint32(32) {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		o := e.ProbeFlow(ctx, netip.MustParseAddr("::1"), 0x100+l)
		cancel()
		if o.Result != ResultSuccess {
			t.Fatalf("label %#x: %+v", 0x100+l, o)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	if o := e.ProbeFlow(ctx, netip.MustParseAddr("::1"), 0x80000); !errors.Is(o.Err, ErrFlowSetup) {
		t.Errorf("label 0x80000: %+v, want ErrFlowSetup", o)
	}
}
