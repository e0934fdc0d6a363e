//go:build linux

package prober

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The probes of a trace read their answers unprivileged: with IP_RECVERR
// (IPV6_RECVERR) the kernel queues the ICMP error a router sends about a
// socket's packet on that socket's error queue, with the router's address
// (SO_EE_OFFENDER). A TCP SYN's socket gets it while it connects (and the
// connect fails: EHOSTUNREACH); a ping socket, or a raw ICMP socket, gets
// it for its echo requests. Each trace has sockets of its own: the TTL is
// a socket option, which a socket shared with other probes cannot change.

func openHopProber(proto Protocol, dst netip.Addr, f Flow, cfg TraceConfig) (hopProber, error) {
	switch proto {
	case ProtocolHTTP:
		if cfg.Port == 0 {
			return nil, errors.New("trace: no TCP port to trace HTTP flows to")
		}
		return &tcpHops{dst: netip.AddrPortFrom(dst, cfg.Port), flow: f}, nil
	case ProtocolICMP:
		return openICMPHops(dst, f.FlowLabel, cfg.PrivilegedICMP)
	}
	return nil, errTraceProtocol
}

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

func setTTL(fd int, v6 bool, ttl int) error {
	if v6 {
		return os.NewSyscallError("setsockopt IPV6_UNICAST_HOPS", unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS, ttl))
	}
	return os.NewSyscallError("setsockopt IP_TTL", unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TTL, ttl))
}

func setRecvErr(fd int, v6 bool) error {
	if v6 {
		return os.NewSyscallError("setsockopt IPV6_RECVERR", unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVERR, 1))
	}
	return os.NewSyscallError("setsockopt IP_RECVERR", unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_RECVERR, 1))
}

// pollFile hands a non-blocking fd to Go's poller, with ctx's deadline.
func pollFile(ctx context.Context, fd int) (*os.File, syscall.RawConn, error) {
	f := os.NewFile(uintptr(fd), "trace")
	if dl, ok := ctx.Deadline(); ok {
		if err := f.SetDeadline(dl); err != nil {
			f.Close()
			return nil, nil, err
		}
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, rc, nil
}

// tcpHops traces an HTTP flow with SYNs: a socket per TTL, from the
// flow's source port and with its flow label (Flow.setup), which is reset
// when the probe ends.
type tcpHops struct {
	dst  netip.AddrPort
	flow Flow
}

func (*tcpHops) close() {}

func (t *tcpHops) probe(ctx context.Context, ttl, _ int) hopAnswer {
	v6 := t.dst.Addr().Is6()
	af := unix.AF_INET
	if v6 {
		af = unix.AF_INET6
	}
	fd, err := unix.Socket(af, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return hopAnswer{kind: HopError, err: os.NewSyscallError("socket", err)}
	}
	if err := setTTL(fd, v6, ttl); err != nil {
		unix.Close(fd)
		return hopAnswer{kind: HopError, err: err}
	}
	if err := setRecvErr(fd, v6); err != nil {
		unix.Close(fd)
		return hopAnswer{kind: HopError, err: err}
	}
	start := time.Now()
	connected, err := t.flow.setup(fd, t.dst)
	if err == nil && !connected {
		err = unix.Connect(fd, sockaddr(t.dst))
		if errors.Is(err, unix.EINPROGRESS) {
			err = nil
		}
	}
	if err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.ECONNREFUSED) {
			return hopAnswer{kind: HopDestination, from: t.dst.Addr(), rtt: time.Since(start)}
		}
		return hopAnswer{kind: HopError, err: fmt.Errorf("connect from %s: %w", t.flow, err)}
	}
	f, rc, err := pollFile(ctx, fd)
	if err != nil {
		unix.Close(fd)
		return hopAnswer{kind: HopError, err: err}
	}
	defer f.Close() // SO_LINGER 0: a reset if it connected, nothing on the wire otherwise
	var a hopAnswer
	werr := rc.Write(func(fd uintptr) bool {
		soerr, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR)
		if err != nil {
			a = hopAnswer{kind: HopError, err: os.NewSyscallError("getsockopt SO_ERROR", err)}
			return true
		}
		if soerr == 0 {
			if _, err := unix.Getpeername(int(fd)); err != nil {
				return false // not connected yet: a spurious wake-up
			}
			a = hopAnswer{kind: HopDestination, from: t.dst.Addr(), rtt: time.Since(start)}
			return true
		}
		rtt := time.Since(start)
		if e, _, ok := readErrQueue(int(fd), nil); ok {
			if ans, ok := e.answer(t.dst.Addr(), rtt); ok {
				a = ans
				return true
			}
		}
		switch syscall.Errno(soerr) {
		case unix.ECONNREFUSED:
			a = hopAnswer{kind: HopDestination, from: t.dst.Addr(), rtt: rtt} // a reset: the port is closed, the host is there
		case unix.ETIMEDOUT:
			a = hopAnswer{kind: HopSilent}
		default:
			a = hopAnswer{kind: HopUnreachable, err: syscall.Errno(soerr)}
		}
		return true
	})
	if werr != nil {
		if errors.Is(werr, os.ErrDeadlineExceeded) {
			return hopAnswer{kind: HopSilent}
		}
		return hopAnswer{kind: HopError, err: werr}
	}
	return a
}

func sockaddr(ap netip.AddrPort) unix.Sockaddr {
	if ap.Addr().Is4() {
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	}
	return &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
}

// icmpHops traces an ICMP flow with echo requests from one socket of its
// own: a ping socket, or a raw one (CAP_NET_RAW) filtered to echo
// replies. The flow's identity is its IPv6 flow label; the echo
// identifier is no part of it (no fabric hashes it: docs/ecmp.md).
type icmpHops struct {
	file  *os.File
	rc    syscall.RawConn
	fd    int
	v6    bool
	raw   bool
	id    uint16
	token uint64
	dst   netip.Addr
	label uint32
	seq   uint16
}

func openICMPHops(dst netip.Addr, label uint32, raw bool) (*icmpHops, error) {
	var r [10]byte
	if _, err := rand.Read(r[:]); err != nil {
		return nil, err
	}
	h := &icmpHops{v6: dst.Is6(), raw: raw, dst: dst, label: label,
		id: binary.BigEndian.Uint16(r[0:2]), token: binary.BigEndian.Uint64(r[2:10])}
	af, proto, typ := unix.AF_INET, unix.IPPROTO_ICMP, unix.SOCK_DGRAM
	if h.v6 {
		af, proto = unix.AF_INET6, unix.IPPROTO_ICMPV6
	}
	if raw {
		typ = unix.SOCK_RAW
	}
	fd, err := unix.Socket(af, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		if raw {
			return nil, fmt.Errorf("trace: raw ICMP socket (needs CAP_NET_RAW): %w", err)
		}
		return nil, fmt.Errorf("trace: unprivileged ICMP socket (needs a group in net.ipv4.ping_group_range): %w", err)
	}
	if err := h.setup(fd); err != nil {
		unix.Close(fd)
		return nil, err
	}
	h.fd = fd
	if h.file, h.rc, err = pollFile(context.Background(), fd); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return h, nil
}

func (h *icmpHops) setup(fd int) error {
	if err := setRecvErr(fd, h.v6); err != nil {
		return err
	}
	switch {
	case h.raw && h.v6:
		// Only echo replies reach the receive queue; errors come by the
		// error queue, which no filter touches.
		var f unix.ICMPv6Filter
		for i := range f.Data {
			f.Data[i] = ^uint32(0)
		}
		f.Data[icmpv6EchoReply>>5] &^= 1 << (icmpv6EchoReply & 31)
		if err := unix.SetsockoptICMPv6Filter(fd, unix.SOL_ICMPV6, unix.ICMPV6_FILTER, &f); err != nil {
			return os.NewSyscallError("setsockopt ICMPV6_FILTER", err)
		}
	case h.raw:
		raw := echoReplyFilter(h.id)
		prog := make([]unix.SockFilter, len(raw))
		for i, ins := range raw {
			prog[i] = unix.SockFilter{Code: ins.Op, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}
		}
		fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
		if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog); err != nil {
			return os.NewSyscallError("setsockopt SO_ATTACH_FILTER", err)
		}
	}
	if h.v6 && h.label != 0 {
		if h.label > maxFlowLabel {
			return fmt.Errorf("%w: flow label %#x over %#x", ErrFlowSetup, h.label, maxFlowLabel)
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, ipv6FlowInfoSend, 1); err != nil {
			return setupError("IPV6_FLOWINFO_SEND", err)
		}
		if err := leaseFlowLabel(fd, h.dst, h.label); err != nil {
			return err
		}
	}
	return nil
}

func (h *icmpHops) close() { h.file.Close() }

func (h *icmpHops) probe(ctx context.Context, ttl, _ int) hopAnswer {
	if err := setTTL(h.fd, h.v6, ttl); err != nil {
		return hopAnswer{kind: HopError, err: err}
	}
	h.seq++
	seq := h.seq
	var pkt [icmpPacketLen]byte
	buildEchoRequest(&pkt, h.v6, h.id, seq, h.token)
	if dl, ok := ctx.Deadline(); ok {
		if err := h.file.SetReadDeadline(dl); err != nil {
			return hopAnswer{kind: HopError, err: err}
		}
	}
	start := time.Now()
	if err := h.send(pkt[:]); err != nil {
		return hopAnswer{kind: HopError, err: err}
	}
	var a hopAnswer
	var buf [1500]byte
	rerr := h.rc.Read(func(fd uintptr) bool {
		for {
			// The error queue first: ICMP errors about our echoes.
			if e, n, ok := readErrQueue(int(fd), buf[:]); ok {
				if qseq, ok := quotedEcho(buf[:n], h.v6, h.token); ok && qseq == seq {
					if ans, ok := e.answer(h.dst, time.Since(start)); ok {
						a = ans
						return true
					}
				}
				continue // about an earlier probe of this trace, or not an ICMP error
			}
			n, from, err := unix.Recvfrom(int(fd), buf[:], unix.MSG_DONTWAIT)
			switch {
			case errors.Is(err, unix.EAGAIN):
				return false
			case err != nil:
				continue // a pending socket error, reported with the queue entry already read
			}
			msg := buf[:n]
			if h.raw && !h.v6 {
				var ok bool
				if msg, ok = stripIPv4Header(msg); !ok {
					continue
				}
			}
			rseq, token, ok := parseEchoReply(msg, h.v6, h.id, h.raw)
			if ok && rseq == seq && token == h.token && sockaddrAddr(from) == h.dst {
				a = hopAnswer{kind: HopDestination, from: h.dst, rtt: time.Since(start)}
				return true
			}
		}
	})
	if rerr != nil {
		if errors.Is(rerr, os.ErrDeadlineExceeded) {
			return hopAnswer{kind: HopSilent}
		}
		return hopAnswer{kind: HopError, err: rerr}
	}
	return a
}

func (h *icmpHops) send(pkt []byte) error {
	var err error
	cerr := h.rc.Write(func(fd uintptr) bool {
		if h.v6 && h.label != 0 {
			sa := unix.RawSockaddrInet6{Family: unix.AF_INET6, Flowinfo: htonl(h.label), Addr: h.dst.As16()}
			err = sendtoRaw6(fd, pkt, &sa)
		} else {
			err = unix.Sendto(int(fd), pkt, 0, sockaddr(netip.AddrPortFrom(h.dst, 0)))
		}
		return !errors.Is(err, unix.EAGAIN)
	})
	if cerr != nil {
		return cerr
	}
	if err != nil {
		return os.NewSyscallError("sendto", err)
	}
	return nil
}

// quotedEcho reads the sequence number of the echo request an ICMP error
// quotes (msg starts at its ICMP header, as the error queue gives it). A
// router that quotes only 8 bytes leaves out the token, which is then not
// checked.
func quotedEcho(msg []byte, v6 bool, token uint64) (uint16, bool) {
	want := byte(icmpv4EchoRequest)
	if v6 {
		want = icmpv6EchoRequest
	}
	if len(msg) < icmpHeaderLen || msg[0] != want {
		return 0, false
	}
	if len(msg) >= icmpPacketLen && binary.BigEndian.Uint64(msg[8:16]) != token {
		return 0, false
	}
	return binary.BigEndian.Uint16(msg[6:8]), true
}

func sockaddrAddr(sa unix.Sockaddr) netip.Addr {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrFrom4(sa.Addr)
	case *unix.SockaddrInet6:
		return netip.AddrFrom16(sa.Addr).Unmap()
	}
	return netip.Addr{}
}
