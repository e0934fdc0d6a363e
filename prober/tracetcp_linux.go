//go:build linux

package prober

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

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
