package routemtu

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// countingLookup counts reads of the routing table.
type countingLookup struct{ reads map[netip.Addr]int }

func (c *countingLookup) expected(ip netip.Addr) (int, error) {
	c.reads[ip]++
	if ip.Is6() {
		return 0, fmt.Errorf("no route to %s", ip)
	}
	return 1500 + c.reads[ip], nil
}
func (c *countingLookup) current(netip.Addr) (int, error) { return 1400, nil }
func (c *countingLookup) close()                          {}

func TestTableCachesAndRefreshes(t *testing.T) {
	now := time.Unix(1000, 0)
	l := &countingLookup{reads: map[netip.Addr]int{}}
	r := newTable(time.Minute, func() time.Time { return now }, l)
	a, b := netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2")
	for range 3 {
		if m, err := r.Expected(a); m != 1501 || err != nil {
			t.Fatalf("Expected(a) = %d, %v; want 1501 from the first read", m, err)
		}
	}
	if m, _ := r.Expected(b); m != 1501 {
		t.Fatalf("Expected(b) = %d, want its own read", m)
	}
	now = now.Add(time.Minute)
	if m, _ := r.Expected(a); m != 1502 {
		t.Fatalf("after the refresh period: %d, want a fresh read (1502)", m)
	}
	if _, ok := r.cache[b]; ok {
		t.Error("a destination not asked for during a whole period is still cached")
	}
	if _, err := r.Expected(netip.MustParseAddr("2001:db8::1")); err == nil {
		t.Error("a failed lookup gave no error")
	}
	if r.Current(a) != 1400 {
		t.Error("Current is not read afresh")
	}
}

// The real routing table: this host's own address leaves by lo, whose MTU
// (65536) is capped to the largest IP packet.
func TestTableReadsTheRoutingTable(t *testing.T) {
	r := New(time.Minute)
	defer r.Close()
	m, err := r.Expected(netip.MustParseAddr("127.0.0.1"))
	if err != nil {
		t.Fatalf("reading the route to 127.0.0.1 (every Linux host has one, by lo): %v", err)
	}
	if m != MaxIPPacket {
		t.Errorf("expected MTU towards 127.0.0.1 = %d, want lo's, capped to %d", m, MaxIPPacket)
	}
	if c := r.Current(netip.MustParseAddr("127.0.0.1")); c != 0 && c < 1280 {
		t.Errorf("current MTU towards 127.0.0.1 = %d", c)
	}
}

func BenchmarkTable(b *testing.B) {
	lo := netip.MustParseAddr("127.0.0.1")
	r := New(time.Hour)
	defer r.Close()
	b.Run("expected-cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := r.Expected(lo); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("current", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = r.Current(lo) // 0 on loopback: no learned path MTU
		}
	})
}
