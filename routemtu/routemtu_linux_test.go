//go:build linux

package routemtu

import (
	"crypto/rand"
	"encoding/hex"
	"net/netip"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// In a namespace of its own: a route with an MTU metric gives it; one
// without gives its interface's MTU, read once per interface and refresh
// period, not once per destination.
func TestTableReadsRouteAndInterfaceMTUs(t *testing.T) {
	lab := testbin.NewLab(t)
	var id [3]byte
	_, _ = rand.Read(id[:])
	ns := "cxrm" + hex.EncodeToString(id[:])
	lab.Netns(ns)
	for _, args := range [][]string{
		{"-n", ns, "link", "add", "d0", "mtu", "1400", "type", "veth", "peer", "name", "d1", "mtu", "1400"},
		{"-n", ns, "link", "set", "d0", "up"},
		{"-n", ns, "link", "set", "d1", "up"},
		{"-n", ns, "addr", "add", "198.18.9.1/24", "dev", "d0"},
		{"-n", ns, "route", "add", "198.19.0.0/24", "via", "198.18.9.2", "dev", "d0"},
		{"-n", ns, "route", "add", "198.19.1.0/24", "via", "198.18.9.2", "dev", "d0", "mtu", "1300"},
	} {
		testbin.IP(t, args...)
	}
	expect := func(r *Table, ip string, want int) {
		t.Helper()
		if m, err := r.Expected(netip.MustParseAddr(ip)); err != nil || m != want {
			t.Errorf("Expected(%s) = %d, %v; want %d", ip, m, err, want)
		}
	}
	err := testbin.InNetns(ns, func() error {
		r := New(time.Hour)
		defer r.Close()
		expect(r, "198.19.0.5", 1400) // the interface's
		expect(r, "198.19.1.5", 1300) // the route's metric
		testbin.IP(t, "-n", ns, "link", "set", "d0", "mtu", "1450")
		// Another destination by the same interface: its MTU as read
		// within the period.
		expect(r, "198.19.0.6", 1400)
		fresh := New(time.Hour)
		defer fresh.Close()
		expect(fresh, "198.19.0.6", 1450)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
