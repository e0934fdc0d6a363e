package prober

import (
	"encoding/binary"
	"net/netip"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// cmsg is one control message as the kernel writes it.
func cmsg(level, typ int32, data []byte) []byte {
	b := make([]byte, unix.CmsgSpace(len(data)))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = level, typ
	h.SetLen(unix.CmsgLen(len(data)))
	copy(b[unix.CmsgLen(0):], data)
	return b
}

// extErr is a struct sock_extended_err followed by the sender's address
// (sockaddr_in or sockaddr_in6), or AF_UNSPEC when from is invalid.
func extErr(errno syscall.Errno, origin, typ, code uint8, from netip.Addr) []byte {
	b := make([]byte, sizeofSockExtendedErr)
	binary.NativeEndian.PutUint32(b[0:4], uint32(errno))
	b[4], b[5], b[6] = origin, typ, code
	switch {
	case from.Is4():
		sa := make([]byte, 16)
		binary.NativeEndian.PutUint16(sa[0:2], unix.AF_INET)
		a := from.As4()
		copy(sa[4:8], a[:])
		b = append(b, sa...)
	case from.Is6():
		sa := make([]byte, 28)
		binary.NativeEndian.PutUint16(sa[0:2], unix.AF_INET6)
		a := from.As16()
		copy(sa[8:24], a[:])
		b = append(b, sa...)
	default:
		b = append(b, make([]byte, 16)...) // AF_UNSPEC
	}
	return b
}

func TestParseRecvErr(t *testing.T) {
	r4 := netip.MustParseAddr("198.18.0.1")
	r6 := netip.MustParseAddr("2001:db8:1:2::2")
	dst4 := netip.MustParseAddr("198.19.0.1")
	dst6 := netip.MustParseAddr("2001:db8:ffff::1")
	timestamp := cmsg(unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, make([]byte, 16))
	for _, c := range []struct {
		name string
		oob  []byte
		dst  netip.Addr
		ok   bool // a recvErr is found
		from netip.Addr
		kind HopKind // "" when it means nothing to a trace
	}{
		{"ipv4 time exceeded", cmsg(unix.SOL_IP, unix.IP_RECVERR, extErr(unix.EHOSTUNREACH, unix.SO_EE_ORIGIN_ICMP, 11, 0, r4)), dst4, true, r4, HopTimeExceeded},
		{"ipv6 time exceeded", cmsg(unix.SOL_IPV6, unix.IPV6_RECVERR, extErr(unix.EHOSTUNREACH, unix.SO_EE_ORIGIN_ICMP6, 3, 0, r6)), dst6, true, r6, HopTimeExceeded},
		{"ipv4 unreachable from a router", cmsg(unix.SOL_IP, unix.IP_RECVERR, extErr(unix.EHOSTUNREACH, unix.SO_EE_ORIGIN_ICMP, 3, 13, r4)), dst4, true, r4, HopUnreachable},
		{"ipv6 unreachable from a router", cmsg(unix.SOL_IPV6, unix.IPV6_RECVERR, extErr(unix.EACCES, unix.SO_EE_ORIGIN_ICMP6, 1, 1, r6)), dst6, true, r6, HopUnreachable},
		{"ipv4 port unreachable from the destination", cmsg(unix.SOL_IP, unix.IP_RECVERR, extErr(unix.ECONNREFUSED, unix.SO_EE_ORIGIN_ICMP, 3, 3, dst4)), dst4, true, dst4, HopDestination},
		{"ipv6 unreachable from the destination", cmsg(unix.SOL_IPV6, unix.IPV6_RECVERR, extErr(unix.ECONNREFUSED, unix.SO_EE_ORIGIN_ICMP6, 1, 4, dst6)), dst6, true, dst6, HopDestination},
		{"ipv6 packet too big", cmsg(unix.SOL_IPV6, unix.IPV6_RECVERR, extErr(unix.EMSGSIZE, unix.SO_EE_ORIGIN_ICMP6, 2, 0, r6)), dst6, true, r6, HopUnreachable},
		{"ipv4-mapped sender of an ipv6 socket", cmsg(unix.SOL_IPV6, unix.IPV6_RECVERR, extErr(unix.EHOSTUNREACH, unix.SO_EE_ORIGIN_ICMP, 11, 0, netip.AddrFrom16(r4.As16()))), dst4, true, r4, HopTimeExceeded},
		{"after another control message", append(timestamp, cmsg(unix.SOL_IP, unix.IP_RECVERR, extErr(unix.EHOSTUNREACH, unix.SO_EE_ORIGIN_ICMP, 11, 0, r4))...), dst4, true, r4, HopTimeExceeded},
		{"a local error (no ICMP)", cmsg(unix.SOL_IP, unix.IP_RECVERR, extErr(unix.EMSGSIZE, unix.SO_EE_ORIGIN_LOCAL, 0, 0, netip.Addr{})), dst4, true, netip.Addr{}, ""},
		{"an ICMP type a trace does not read", cmsg(unix.SOL_IP, unix.IP_RECVERR, extErr(unix.EPROTO, unix.SO_EE_ORIGIN_ICMP, 12, 0, r4)), dst4, true, r4, ""},
		{"an ICMPv6 echo reply type is no error", cmsg(unix.SOL_IPV6, unix.IPV6_RECVERR, extErr(0, unix.SO_EE_ORIGIN_ICMP6, 129, 0, r6)), dst6, true, r6, ""},
		{"no extended error", timestamp, dst4, false, netip.Addr{}, ""},
		{"truncated extended error", cmsg(unix.SOL_IP, unix.IP_RECVERR, make([]byte, 8)), dst4, false, netip.Addr{}, ""},
		{"truncated control message", cmsg(unix.SOL_IP, unix.IP_RECVERR, extErr(unix.EHOSTUNREACH, unix.SO_EE_ORIGIN_ICMP, 11, 0, r4))[:10], dst4, false, netip.Addr{}, ""},
		{"nothing", nil, dst4, false, netip.Addr{}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, ok := parseRecvErr(c.oob)
			if ok != c.ok {
				t.Fatalf("found %v, want %v", ok, c.ok)
			}
			if !ok {
				return
			}
			if e.from != c.from {
				t.Errorf("from %v, want %v", e.from, c.from)
			}
			a, ok := e.answer(c.dst, time.Millisecond)
			if ok != (c.kind != "") || a.kind != c.kind {
				t.Fatalf("answer %+v (%v), want kind %q", a, ok, c.kind)
			}
			if ok && (a.from != c.from || a.rtt != time.Millisecond) {
				t.Errorf("answer %+v: want from %v with the RTT", a, c.from)
			}
		})
	}
}

func TestQuotedEcho(t *testing.T) {
	var pkt4, pkt6 [icmpPacketLen]byte
	buildEchoRequest(&pkt4, false, 7, 42, 0xfeed)
	buildEchoRequest(&pkt6, true, 7, 43, 0xfeed)
	for _, c := range []struct {
		name string
		msg  []byte
		v6   bool
		seq  uint16
		ok   bool
	}{
		{"ipv4 echo", pkt4[:], false, 42, true},
		{"ipv6 echo", pkt6[:], true, 43, true},
		{"ipv4 echo quoted in 8 bytes: no token to check", pkt4[:8], false, 42, true},
		{"another process's token", append(append([]byte{}, pkt4[:8]...), 1, 2, 3, 4, 5, 6, 7, 8), false, 0, false},
		{"ipv6 echo on an ipv4 socket", pkt6[:], false, 0, false},
		{"a TCP header", []byte{0xec, 0x60, 0x10, 0x90, 0, 0, 0, 1}, false, 0, false},
		{"too short", pkt4[:6], false, 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			seq, ok := quotedEcho(c.msg, c.v6, 0xfeed)
			if ok != c.ok || seq != c.seq {
				t.Errorf("seq %d %v, want %d %v", seq, ok, c.seq, c.ok)
			}
		})
	}
}
