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
