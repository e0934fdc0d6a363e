//go:build linux

package prober

import (
	"encoding/binary"
	"net/netip"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// recvErr is one entry of a socket's error queue: an ICMP error about one
// of its packets.
type recvErr struct {
	errno        syscall.Errno
	origin       uint8 // SO_EE_ORIGIN_*
	icmpType     uint8
	icmpCode     uint8
	from         netip.Addr // the router (or host) that sent the error; invalid if not given
	quotedLength int        // bytes of the offending packet quoted back (the data read with the entry)
}

// parseRecvErr finds the extended error among the control messages oob
// read with MSG_ERRQUEUE (IP_RECVERR or IPV6_RECVERR) and decodes it and
// the address of its sender.
func parseRecvErr(oob []byte) (recvErr, bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return recvErr{}, false
	}
	for _, m := range msgs {
		ok := m.Header.Level == unix.SOL_IP && m.Header.Type == unix.IP_RECVERR ||
			m.Header.Level == unix.SOL_IPV6 && m.Header.Type == unix.IPV6_RECVERR
		if !ok || len(m.Data) < sizeofSockExtendedErr {
			continue
		}
		d := m.Data
		e := recvErr{
			errno:    syscall.Errno(binary.NativeEndian.Uint32(d[0:4])),
			origin:   d[4],
			icmpType: d[5],
			icmpCode: d[6],
		}
		e.from = offender(d[sizeofSockExtendedErr:])
		return e, true
	}
	return recvErr{}, false
}

// offender decodes the sockaddr after a sock_extended_err: AF_INET or
// AF_INET6, anything else (AF_UNSPEC: no sender) invalid.
func offender(sa []byte) netip.Addr {
	if len(sa) < 2 {
		return netip.Addr{}
	}
	switch binary.NativeEndian.Uint16(sa[0:2]) {
	case unix.AF_INET:
		if len(sa) >= 8 {
			return netip.AddrFrom4([4]byte(sa[4:8]))
		}
	case unix.AF_INET6:
		if len(sa) >= 24 {
			return netip.AddrFrom16([16]byte(sa[8:24])).Unmap()
		}
	}
	return netip.Addr{}
}

// sizeofSockExtendedErr is the size of struct sock_extended_err, which the
// sender's address follows (SO_EE_OFFENDER).
const sizeofSockExtendedErr = 16

// ICMP types of the errors a trace reads.
const (
	icmpv4TimeExceeded = 11
	icmpv4Unreachable  = 3
	icmpv6Unreachable  = 1
	icmpv6TooBig       = 2
	icmpv6TimeExceeded = 3
)

// kind says what e means for a trace: a router whose TTL ran out, a
// router or host that refused, or nothing a trace reads (a local error).
func (e recvErr) kind() (HopKind, bool) {
	switch e.origin {
	case unix.SO_EE_ORIGIN_ICMP:
		switch e.icmpType {
		case icmpv4TimeExceeded:
			return HopTimeExceeded, true
		case icmpv4Unreachable:
			return HopUnreachable, true
		}
	case unix.SO_EE_ORIGIN_ICMP6:
		switch e.icmpType {
		case icmpv6TimeExceeded:
			return HopTimeExceeded, true
		case icmpv6Unreachable, icmpv6TooBig:
			return HopUnreachable, true
		}
	}
	return "", false
}

// answer is what e means for the probe of a trace to dst.
func (e recvErr) answer(dst netip.Addr, rtt time.Duration) (hopAnswer, bool) {
	k, ok := e.kind()
	if !ok {
		return hopAnswer{}, false
	}
	if k == HopUnreachable && e.from == dst {
		// The destination itself refused: it was reached.
		k = HopDestination
	}
	return hopAnswer{kind: k, from: e.from, rtt: rtt}, true
}

// readErrQueue reads one entry of fd's error queue, and the start of the
// packet it quotes into quoted (which may be nil).
func readErrQueue(fd int, quoted []byte) (recvErr, int, bool) {
	var oob [256]byte
	n, oobn, _, _, err := unix.Recvmsg(fd, quoted, oob[:], unix.MSG_ERRQUEUE|unix.MSG_DONTWAIT)
	if err != nil {
		return recvErr{}, 0, false
	}
	e, ok := parseRecvErr(oob[:oobn])
	e.quotedLength = n
	return e, n, ok
}
