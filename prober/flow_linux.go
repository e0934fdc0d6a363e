//go:build linux

package prober

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The IPv6 flow label manager (linux/in6.h), which x/sys/unix lacks.
const (
	ipv6FlowLabelMgr = 32 // IPV6_FLOWLABEL_MGR
	ipv6FlowInfoSend = 33 // IPV6_FLOWINFO_SEND
	ipv6FlActionGet  = 0  // IPV6_FL_A_GET
	ipv6FlFlagCreate = 1  // IPV6_FL_F_CREATE
	ipv6FlShareUser  = 3  // IPV6_FL_S_USER: any socket of the same user may share the label
)

// in6FlowLabelReq is struct in6_flowlabel_req.
type in6FlowLabelReq struct {
	Dst     [16]byte
	Label   uint32 // network byte order
	Action  uint8
	Share   uint8
	Flags   uint16
	Expires uint16
	Linger  uint16
	_       uint32
}

// control sets f's identity on a socket before it connects. With a flow
// label it connects too: the kernel takes a TCP socket's label only from
// the address given to connect (sin6_flowinfo), which net.Dialer cannot
// fill in; net.Dialer's own connect then finds the connection under way
// (EALREADY) or made (EISCONN) and waits for it as usual.
func (f Flow) control(addr netip.AddrPort) func(ctx context.Context, network, address string, c syscall.RawConn) error {
	return func(_ context.Context, _, _ string, c syscall.RawConn) error {
		var err error
		if cerr := c.Control(func(fd uintptr) { _, err = f.setup(int(fd), addr) }); cerr != nil {
			return cerr
		}
		return err
	}
}

// setup gives the socket fd f's identity; connected says whether it
// connected the socket too (IPv6 with a flow label), a connection that
// may still be under way on a non-blocking socket.
func (f Flow) setup(fd int, addr netip.AddrPort) (connected bool, err error) {
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return false, setupError("SO_REUSEADDR", err)
	}
	// Close with a reset: no TIME_WAIT on the flow's 4-tuple.
	if err := unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0}); err != nil {
		return false, setupError("SO_LINGER", err)
	}
	// Kernels before 6.1 lack SO_TXREHASH; they rehash only with
	// net.core.txrehash, which an administrator can turn off.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TXREHASH, unix.SOCK_TXREHASH_DISABLED); err != nil && !errors.Is(err, unix.ENOPROTOOPT) {
		return false, setupError("SO_TXREHASH", err)
	}
	ip := addr.Addr().Unmap()
	if ip.Is4() {
		if err := unix.Bind(fd, &unix.SockaddrInet4{Port: int(f.SourcePort)}); err != nil {
			return false, setupError(fmt.Sprintf("binding source port %d", f.SourcePort), err)
		}
		return false, nil
	}
	if err := unix.Bind(fd, &unix.SockaddrInet6{Port: int(f.SourcePort)}); err != nil {
		return false, setupError(fmt.Sprintf("binding source port %d", f.SourcePort), err)
	}
	if f.FlowLabel == 0 {
		return false, nil
	}
	if f.FlowLabel > maxFlowLabel {
		return false, fmt.Errorf("%w: flow label %#x over %#x", ErrFlowSetup, f.FlowLabel, maxFlowLabel)
	}
	if err := leaseFlowLabel(fd, ip, f.FlowLabel); err != nil {
		return false, err
	}
	label := htonl(f.FlowLabel)
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, ipv6FlowInfoSend, 1); err != nil {
		return false, setupError("IPV6_FLOWINFO_SEND", err)
	}
	sa := unix.RawSockaddrInet6{Family: unix.AF_INET6, Port: htons(addr.Port()), Flowinfo: label, Addr: ip.As16()}
	_, _, errno := unix.Syscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&sa)), unsafe.Sizeof(sa))
	if errno != 0 && errno != unix.EINPROGRESS {
		// Refused or unreachable at once: reported as the dial's error,
		// since a second connect would go out without the label.
		return false, errno
	}
	return true, nil
}

// leaseFlowLabel leases label for the socket fd from the flow label
// manager, shared with the user's other sockets (which may hold it too).
func leaseFlowLabel(fd int, dst netip.Addr, label uint32) error {
	req := in6FlowLabelReq{Dst: dst.As16(), Label: htonl(label), Action: ipv6FlActionGet, Share: ipv6FlShareUser, Flags: ipv6FlFlagCreate}
	if _, _, errno := unix.Syscall6(unix.SYS_SETSOCKOPT, uintptr(fd), unix.IPPROTO_IPV6, ipv6FlowLabelMgr,
		uintptr(unsafe.Pointer(&req)), unsafe.Sizeof(req), 0); errno != 0 {
		return setupError(fmt.Sprintf("leasing flow label %#05x", label), errno)
	}
	return nil
}

func setupError(what string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrFlowSetup, what, err)
}

// htonl and htons turn v into network byte order in memory.
func htonl(v uint32) uint32 { return binary.NativeEndian.Uint32(binary.BigEndian.AppendUint32(nil, v)) }

func htons(v uint16) uint16 { return binary.NativeEndian.Uint16(binary.BigEndian.AppendUint16(nil, v)) }
