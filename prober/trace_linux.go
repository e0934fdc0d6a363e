//go:build linux

package prober

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"syscall"

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

func sockaddr(ap netip.AddrPort) unix.Sockaddr {
	if ap.Addr().Is4() {
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	}
	return &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
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
