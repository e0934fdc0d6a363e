//go:build linux

package prober

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// icmpSocket is one ICMP socket shared by every probe of an address family.
type icmpSocket struct {
	// oob comes first and is made of words: the kernel's control messages
	// are read in place and need word alignment.
	oob [16]uint64

	v6    bool
	raw   bool   // raw sockets get the IPv4 header and every echo reply of the host
	id    uint16 // the echo identifier; only checked on raw sockets
	demux *icmpDemux
	conn  *icmp.PacketConn
	rc    syscall.RawConn

	// Receive state, used by the receive goroutine only. recvmsg is called
	// directly because syscall and x/sys/unix allocate a Sockaddr per call.
	buf    [1500]byte
	name   unix.RawSockaddrInet6 // large enough for an IPv4 address too
	iov    unix.Iovec
	msg    unix.Msghdr
	readFn func(fd uintptr) bool
	err    syscall.Errno

	labels flowLabels // the IPv6 flow labels leased for ProbeFlow
}

// icmpWaiterSys is the per-waiter send state; pooled with the waiter.
type icmpWaiterSys struct {
	sock *icmpSocket
	sa4  unix.SockaddrInet4
	sa6  unix.SockaddrInet6
	sa   unix.Sockaddr
	// raw6 is the address of an IPv6 echo with a flow label, which
	// unix.SockaddrInet6 cannot carry; used when labelled.
	raw6     unix.RawSockaddrInet6
	labelled bool
	err      error
	writeFn  func(fd uintptr) bool
}

func newICMPWaiter() *icmpWaiter {
	w := &icmpWaiter{ch: make(chan time.Duration, 1)}
	w.sys.writeFn = w.write // bound once: no closure per probe
	return w
}

func openICMPSocket(v6, privileged, dontFragment bool, id uint16, d *icmpDemux) (*icmpSocket, error) {
	network, addr := "udp4", "0.0.0.0"
	switch {
	case v6 && privileged:
		network, addr = "ip6:ipv6-icmp", "::"
	case v6:
		network, addr = "udp6", "::"
	case privileged:
		network = "ip4:icmp"
	}
	c, err := icmp.ListenPacket(network, addr)
	if err != nil {
		if privileged {
			return nil, fmt.Errorf("raw ICMP socket (needs CAP_NET_RAW): %w", err)
		}
		return nil, fmt.Errorf("unprivileged ICMP socket (needs a group in net.ipv4.ping_group_range): %w", err)
	}
	s := &icmpSocket{v6: v6, raw: privileged, id: id, demux: d, conn: c}
	var pc net.PacketConn
	if v6 {
		p := c.IPv6PacketConn()
		pc = p.PacketConn
		if privileged {
			// Only echo replies reach this socket, not every ICMPv6 message.
			var f ipv6.ICMPFilter
			f.SetAll(true)
			f.Accept(ipv6.ICMPTypeEchoReply)
			err = p.SetICMPFilter(&f)
		}
	} else {
		p := c.IPv4PacketConn()
		pc = p.PacketConn
		if privileged {
			// A raw socket sees every ICMP packet of the host: let the
			// kernel drop all but our own echo replies.
			err = p.SetBPF(echoReplyFilter(id))
		}
	}
	if err == nil {
		s.rc, err = pc.(syscall.Conn).SyscallConn()
	}
	if err == nil {
		var serr error
		err = s.rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
			// Best effort: replies come in bursts when many probes start together.
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 1<<20)
		})
		if err == nil && serr != nil {
			err = os.NewSyscallError("setsockopt SO_TIMESTAMPNS", serr)
		}
		if err == nil && dontFragment {
			err = s.rc.Control(func(fd uintptr) { serr = setDontFragment(int(fd), v6) })
			if err == nil {
				err = serr
			}
		}
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	s.iov.Base = &s.buf[0]
	s.iov.SetLen(len(s.buf))
	s.msg.Name = (*byte)(unsafe.Pointer(&s.name))
	s.msg.Iov = &s.iov
	s.msg.SetIovlen(1)
	s.msg.Control = (*byte)(unsafe.Pointer(&s.oob[0]))
	s.readFn = s.readAll
	return s, nil
}

// setDontFragment makes every packet of the socket leave whole with DF
// set: the kernel refuses (EMSGSIZE) what is larger than the interface's
// MTU or the path MTU it has learned, and never fragments locally. IPv6
// routers never fragment; this also stops the kernel from fragmenting.
func setDontFragment(fd int, v6 bool) error {
	if v6 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, unix.IPV6_PMTUDISC_DO); err != nil {
			return os.NewSyscallError("setsockopt IPV6_MTU_DISCOVER", err)
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_DONTFRAG, 1); err != nil {
			return os.NewSyscallError("setsockopt IPV6_DONTFRAG", err)
		}
		return nil
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DO); err != nil {
		return os.NewSyscallError("setsockopt IP_MTU_DISCOVER", err)
	}
	return nil
}

// echoReplyFilter accepts IPv4 packets that carry an ICMP echo reply with
// identifier id.
func echoReplyFilter(id uint16) []bpf.RawInstruction {
	prog, err := bpf.Assemble([]bpf.Instruction{
		bpf.LoadMemShift{Off: 0},                              // X = IP header length
		bpf.LoadIndirect{Off: 0, Size: 1},                     // ICMP type
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0, SkipFalse: 3}, // echo reply
		bpf.LoadIndirect{Off: 4, Size: 2},                     // identifier
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(id), SkipFalse: 1},
		bpf.RetConstant{Val: 0xffff},
		bpf.RetConstant{Val: 0},
	})
	if err != nil {
		panic(err) // a fixed program: cannot fail
	}
	return prog
}

func (s *icmpSocket) close() error { return s.conn.Close() }

// receive reads replies until the socket is closed.
func (s *icmpSocket) receive() {
	for {
		if err := s.rc.Read(s.readFn); err != nil {
			return // closed
		}
		if s.err == unix.EBADF {
			return
		}
		s.err = 0 // a transient error (ENOMEM, an ICMP error queued on the socket): go on
	}
}

// readAll reads every reply queued, then asks the poller to wait for more.
func (s *icmpSocket) readAll(fd uintptr) bool {
	for {
		s.msg.Namelen = uint32(unsafe.Sizeof(s.name))
		s.msg.SetControllen(int(unsafe.Sizeof(s.oob)))
		s.msg.Flags = 0
		n, _, errno := unix.Syscall(unix.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&s.msg)), unix.MSG_DONTWAIT)
		switch errno {
		case 0:
		case unix.EAGAIN:
			return false
		case unix.EINTR:
			continue
		default:
			s.err = errno
			return true
		}
		now := s.demux.monoNow()
		s.handle(s.buf[:n], controlMessages(s.oob[:], &s.msg), now)
	}
}

// controlMessages is what recvmsg wrote of msg's control buffer, oob.
func controlMessages(oob []uint64, msg *unix.Msghdr) []byte {
	n := min(int(msg.Controllen), 8*len(oob))
	return unsafe.Slice((*byte)(unsafe.Pointer(&oob[0])), n)
}

func (s *icmpSocket) handle(pkt, oob []byte, nowMono int64) {
	msg := pkt
	if s.raw && !s.v6 {
		var ok bool
		if msg, ok = stripIPv4Header(pkt); !ok {
			return
		}
	}
	seq, token, ok := parseEchoReply(msg, s.v6, s.id, s.raw)
	if !ok {
		return
	}
	var src netip.Addr
	if s.v6 {
		src = netip.AddrFrom16(s.name.Addr)
	} else {
		src = netip.AddrFrom4((*unix.RawSockaddrInet4)(unsafe.Pointer(&s.name)).Addr)
	}
	s.demux.deliver(src, seq, token, kernelTimestamp(oob), nowMono)
}

// kernelTimestamp finds SCM_TIMESTAMPNS among the control messages: when
// the reply reached the host, in Unix ns; 0 if absent.
func kernelTimestamp(oob []byte) int64 {
	for len(oob) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < unix.SizeofCmsghdr || l > len(oob) {
			return 0
		}
		if h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_TIMESTAMPNS {
			data := oob[unix.CmsgLen(0):l]
			if len(data) < int(unsafe.Sizeof(unix.Timespec{})) {
				return 0
			}
			return (*unix.Timespec)(unsafe.Pointer(&data[0])).Nano()
		}
		next := unix.CmsgSpace(l - unix.CmsgLen(0))
		if next > len(oob) {
			return 0
		}
		oob = oob[next:]
	}
	return 0
}

// send writes w's echo request to ip, with IPv6 flow label label unless 0.
func (s *icmpSocket) send(w *icmpWaiter, ip netip.Addr, label uint32) error {
	if w.out == nil {
		w.out = w.pkt[:]
	}
	buildEchoRequestOf(w.out, s.v6, s.id, w.seq, w.token)
	w.sys.labelled = false
	if s.v6 && label != 0 {
		if err := s.labels.lease(s.rc, ip, label); err != nil {
			return err
		}
		w.sys.raw6 = unix.RawSockaddrInet6{Family: unix.AF_INET6, Flowinfo: htonl(label), Addr: ip.As16()}
		w.sys.labelled = true
	} else if s.v6 {
		w.sys.sa6.Addr = ip.As16()
		w.sys.sa6.ZoneId = 0
		if z := ip.Zone(); z != "" {
			if ifi, err := net.InterfaceByName(z); err == nil {
				w.sys.sa6.ZoneId = uint32(ifi.Index)
			}
		}
		w.sys.sa = &w.sys.sa6
	} else {
		w.sys.sa4.Addr = ip.As4()
		w.sys.sa = &w.sys.sa4
	}
	w.sys.sock = s
	w.sys.err = nil
	if err := s.rc.Write(w.sys.writeFn); err != nil {
		return err
	}
	if w.sys.err != nil {
		return os.NewSyscallError("sendto", w.sys.err)
	}
	return nil
}

func (w *icmpWaiter) write(fd uintptr) bool {
	// The send time is taken as close to the send as possible, once for
	// both clocks: time.Now reads the monotonic one too.
	now := time.Now()
	w.sentWall.Store(now.UnixNano())
	w.sentMono.Store(int64(now.Sub(w.sys.sock.demux.start)))
	var err error
	if w.sys.labelled {
		err = sendtoRaw6(fd, w.out, &w.sys.raw6)
	} else {
		err = unix.Sendto(int(fd), w.out, 0, w.sys.sa)
	}
	if errors.Is(err, unix.EAGAIN) {
		return false
	}
	w.sys.err = err
	return true
}
