package testbin

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestLabAddr(t *testing.T) {
	for _, tc := range []struct {
		ip   string
		want bool
	}{
		{"198.18.0.1", true}, {"198.19.255.254", true}, {"2001:db8:1::1", true},
		{"127.0.0.1", true}, {"::1", true},
		{"198.20.0.1", false}, {"10.0.0.1", false}, {"2001:db9::1", false}, {"8.8.8.8", false},
	} {
		if got := LabAddr(netip.MustParseAddr(tc.ip)); got != tc.want {
			t.Errorf("LabAddr(%s) = %v, want %v", tc.ip, got, tc.want)
		}
	}
}

// Two namespaces on a veth: a listener in one is reached from the other,
// in both families, and the namespaces are gone after the test.
func TestLabVeth(t *testing.T) {
	const a, b = "cxt-tb-a", "cxt-tb-b"
	t.Run("lab", func(t *testing.T) {
		l := NewLab(t)
		l.Netns(a)
		l.Netns(b)
		l.Veth(End{Netns: a, Dev: "v0", Addrs: []string{"198.18.77.1/24", "2001:db8:77::1/64"}, MTU: 1400},
			End{Netns: b, Dev: "v0", Addrs: []string{"198.18.77.2/24", "2001:db8:77::2/64"}})
		if out := IP(t, "-n", a, "link", "show", "v0"); !strings.Contains(out, "mtu 1400") {
			t.Errorf("v0 in %s: %s", a, out)
		}
		for _, addr := range []string{"198.18.77.2:7000", "[2001:db8:77::2]:7000"} {
			var ln net.Listener
			if err := InNetns(b, func() (err error) { ln, err = net.Listen("tcp", addr); return err }); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			c, err := DialIn(ctx, a, "tcp", addr)
			cancel()
			if err != nil {
				t.Errorf("dial %s from %s: %v", addr, a, err)
			} else {
				c.Close()
			}
			ln.Close()
		}
		if !NetnsExists(a) {
			t.Errorf("%s not listed", a)
		}
	})
	if NetnsExists(a) || NetnsExists(b) {
		t.Error("the lab's namespaces survived the test")
	}
}

func TestLabRefusesAnAddressOutsideTheLabRanges(t *testing.T) {
	f := &fakeTB{TB: t}
	f.run(func(tb testing.TB) { (&Lab{t: tb}).Addr("none", "v0", "10.1.2.3/24") })
	if !strings.Contains(f.fatal, "outside") {
		t.Errorf("fatal %q: want a refusal", f.fatal)
	}
}
