// Package ecmp_test finds out, in a lab of network namespaces, what the
// Linux kernel's ECMP hashing does with the identifiers a prober can vary:
// the ICMP echo identifier and sequence number, the TCP source port, and
// (IPv6) the flow label. docs/ecmp.md holds the table these tests assert.
package ecmp_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// values is how many values of one identifier each row tries: with 4
// members, the chance that 16 values all land on one member by luck is
// 4^-15.
const values = 16

// spread is what varying one identifier did: how many members the values
// reached, and whether one value ever took two members (a new socket with
// the same identifiers hashed elsewhere).
type spread struct {
	members  int
	unstable bool
}

func (s spread) String() string {
	return fmt.Sprintf("%d members, unstable=%v", s.members, s.unstable)
}

// TestECMPHashing: one row per family, hash policy and identifier, found
// in a 4-member lab (kernel 6.18). TCP sport: a new socket each time; flow
// label: a leased label on ICMPv6 echo (raw socket), and on TCP from one
// fixed source port (prober.Flow).
//
//	family policy              ICMP id  ICMP seq  TCP sport  ICMPv6 label  TCP label
//	ipv4   0 (L3)              same     same      same       -             -
//	ipv4   1 (L4)              same     same      unstable   -             -
//	ipv4   3 (5-tuple fields)  same     same      moves      -             -
//	ipv6   0 (L3 + flow label) same     same      unstable   moves         moves
//	ipv6   1 (L4)              same     same      unstable   same          unstable
//	ipv6   3 (5-tuple fields)  same     same      moves      same          same
//	ipv6   3 (5-tuple + label) same     same      unstable   moves         moves
//
// "same": every value took one member; "moves": values reach several
// members, each value always the same one; "unstable": the same value
// took another member from another socket (policy 1: the socket's random
// hash; IPv6 with the label hashed: the socket's random auto flow label).
// ICMP echo has no ports to hash, so nothing in an echo spreads it; only
// an IPv6 flow label does, where the label is hashed.
func TestECMPHashing(t *testing.T) {
	testbin.SkipShort(t, "builds an ECMP lab")
	lab := testbin.NewECMPLab(t, testbin.ECMPConfig{})
	stop := serve(t, lab)
	defer stop()

	fiveTuple := testbin.HashPolicy{Policy: 3, Fields: testbin.HashFiveTuple}
	withLabel := testbin.HashPolicy{Policy: 3, Fields: testbin.HashFiveTuple | testbin.HashFlowLabel}
	same, moves, unstable := spread{members: 1}, spread{members: -1}, spread{members: -1, unstable: true}
	none := spread{}
	for _, tc := range []struct {
		family         int
		policy         testbin.HashPolicy
		id, seq, sport spread
		// IPv6: the flow label varied, on ICMPv6 echo and on TCP from
		// one source port.
		icmpLabel, tcpLabel spread
	}{
		{4, testbin.HashPolicy{Policy: 0}, same, same, same, none, none},
		{4, testbin.HashPolicy{Policy: 1}, same, same, unstable, none, none},
		{4, fiveTuple, same, same, moves, none, none},
		{6, testbin.HashPolicy{Policy: 0}, same, same, unstable, moves, moves},
		{6, testbin.HashPolicy{Policy: 1}, same, same, unstable, same, unstable},
		{6, fiveTuple, same, same, moves, same, same},
		{6, withLabel, same, same, unstable, moves, moves},
	} {
		t.Run(fmt.Sprintf("ipv%d/%s", tc.family, tc.policy), func(t *testing.T) {
			if err := lab.SetHashPolicy(tc.family, tc.policy); err != nil {
				t.Fatal(err)
			}
			id, seq := icmpSpread(t, lab, tc.family)
			sport := tcpSpread(t, lab, tc.family)
			t.Logf("ICMP id: %v; ICMP seq: %v; TCP sport: %v", id, seq, sport)
			check(t, "ICMP id", id, tc.id)
			check(t, "ICMP seq", seq, tc.seq)
			check(t, "TCP sport", sport, tc.sport)
			if tc.family == 6 {
				icmpLabel, tcpLabel := icmpLabelSpread(t, lab), tcpLabelSpread(t, lab)
				t.Logf("ICMPv6 flow label: %v; TCP flow label: %v", icmpLabel, tcpLabel)
				check(t, "ICMPv6 flow label", icmpLabel, tc.icmpLabel)
				check(t, "TCP flow label", tcpLabel, tc.tcpLabel)
			}
		})
	}
}

// check compares a measured spread with the expected one; members -1
// means "more than one".
func check(t *testing.T, what string, got, want spread) {
	t.Helper()
	switch {
	case want.members == 1 && got.members != 1:
		t.Errorf("%s: %v, want every value on one member", what, got)
	case want.members == -1 && got.members < 2:
		t.Errorf("%s: %v, want values spread over members", what, got)
	case got.unstable != want.unstable:
		t.Errorf("%s: %v, want unstable=%v", what, got, want.unstable)
	}
}

func serverIP(family int) netip.Addr {
	if family == 6 {
		return testbin.ECMPServer6
	}
	return testbin.ECMPServer4
}

// serve accepts TCP connections on the server's port 80 and closes them.
func serve(t *testing.T, lab *testbin.ECMPLab) func() {
	t.Helper()
	var lns []net.Listener
	if err := lab.In(lab.Server, func() error {
		for _, a := range []string{"198.19.0.1:80", "[2001:db8:ffff::1]:80"} {
			ln, err := net.Listen("tcp", a)
			if err != nil {
				return err
			}
			lns = append(lns, ln)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, ln := range lns {
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
	return func() {
		for _, ln := range lns {
			ln.Close()
		}
	}
}

// icmpSpread sends echoes that vary the identifier, then echoes that vary
// the sequence number, each value twice, and reports where they went.
func icmpSpread(t *testing.T, lab *testbin.ECMPLab, family int) (id, seq spread) {
	t.Helper()
	network, laddr, proto := "ip4:icmp", "0.0.0.0", 1
	var echo, reply icmp.Type = ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply
	idKey, seqKey := testbin.SeenICMPID4, testbin.SeenICMPSeq4
	if family == 6 {
		network, laddr, proto = "ip6:ipv6-icmp", "::", 58
		echo, reply = ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply
		idKey, seqKey = testbin.SeenICMPID6, testbin.SeenICMPSeq6
	}
	var c *icmp.PacketConn
	if err := lab.In(lab.Client, func() (err error) {
		c, err = icmp.ListenPacket(network, laddr)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dst := &net.IPAddr{IP: serverIP(family).AsSlice()}
	ping := func(id, seq int) {
		b, err := (&icmp.Message{Type: echo, Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte("ecmp")}}).Marshal(nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.WriteTo(b, dst); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 1500)
		for {
			n, _, err := c.ReadFrom(buf)
			if err != nil {
				t.Fatalf("echo id %d seq %d: %v", id, seq, err)
			}
			m, err := icmp.ParseMessage(proto, buf[:n])
			if err != nil || m.Type != reply {
				continue
			}
			if e, ok := m.Body.(*icmp.Echo); ok && e.ID == id && e.Seq == seq {
				return
			}
		}
	}
	measure := func(key string, send func(v int)) spread {
		if err := lab.Reset(); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			for v := range values {
				send(1000 + 37*v)
			}
		}
		return seen(t, lab, key, values)
	}
	id = measure(idKey, func(v int) { ping(v, 7) })
	seq = measure(seqKey, func(v int) { ping(4242, v) })
	return id, seq
}

// tcpSpread connects from values source ports, each twice with a new
// socket, and reports where the connections went.
func tcpSpread(t *testing.T, lab *testbin.ECMPLab, family int) spread {
	t.Helper()
	if err := lab.Reset(); err != nil {
		t.Fatal(err)
	}
	dst := netip.AddrPortFrom(serverIP(family), 80).String()
	for range 2 {
		for v := range values {
			port := 20000 + 37*v
			if err := lab.In(lab.Client, func() error {
				d := net.Dialer{LocalAddr: &net.TCPAddr{Port: port}, Timeout: 2 * time.Second}
				c, err := d.DialContext(context.Background(), "tcp", dst)
				if err != nil {
					return err
				}
				// A reset, not a close: no TIME_WAIT, so the port is
				// free for the next round at once.
				_ = c.(*net.TCPConn).SetLinger(0)
				return c.Close()
			}); err != nil {
				t.Fatalf("source port %d: %v", port, err)
			}
		}
	}
	return seen(t, lab, testbin.SeenTCPSourcePort, values)
}

// seen reads which members forwarded each value of key; every value must
// have crossed some member.
func seen(t *testing.T, lab *testbin.ECMPLab, key string, want int) spread {
	t.Helper()
	got, err := lab.Seen(key)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != want {
		t.Fatalf("%s: %d values seen by the members, sent %d: %v", key, len(got), want, got)
	}
	var s spread
	var members []int
	for _, ms := range got {
		if len(ms) > 1 {
			s.unstable = true
		}
		for _, m := range ms {
			if !slices.Contains(members, m) {
				members = append(members, m)
			}
		}
	}
	s.members = len(members)
	return s
}
