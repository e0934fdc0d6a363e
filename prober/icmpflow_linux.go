//go:build linux

package prober

import (
	"net/netip"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// flowLabels are the labels a socket holds.
type flowLabels struct {
	mu     sync.Mutex
	leased map[uint32]bool
}

// lease leases label on the socket of rc once, and turns on sending the
// flow information given with each destination.
func (l *flowLabels) lease(rc syscall.RawConn, dst netip.Addr, label uint32) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.leased[label] {
		return nil
	}
	var err error
	if cerr := rc.Control(func(fd uintptr) {
		if len(l.leased) == 0 {
			if err = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, ipv6FlowInfoSend, 1); err != nil {
				err = setupError("IPV6_FLOWINFO_SEND", err)
				return
			}
		}
		err = leaseFlowLabel(int(fd), dst, label)
	}); cerr != nil {
		return cerr
	}
	if err != nil {
		return err
	}
	if l.leased == nil {
		l.leased = map[uint32]bool{}
	}
	l.leased[label] = true
	return nil
}

// sendtoRaw6 sends b to sa, flow information included: unix.Sendto's
// SockaddrInet6 has no field for it.
func sendtoRaw6(fd uintptr, b []byte, sa *unix.RawSockaddrInet6) error {
	_, _, errno := unix.Syscall6(unix.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), 0,
		uintptr(unsafe.Pointer(sa)), unsafe.Sizeof(*sa))
	if errno != 0 {
		return errno
	}
	return nil
}
