//go:build linux

package prober

import (
	"io"
	"net"
	"runtime"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// answerReader reads a TCP connection with recvmsg, keeping the kernel's
// receive timestamp of the latest data: the end of the answer is when its
// last bytes reached the host, not when this process got round to reading
// them (probes started together wait for each other, and for scrapes and
// the garbage collector).
type answerReader struct {
	rc  syscall.RawConn
	n   int
	err error
	// recvmsg is called directly, as in icmpSocket, because x/sys/unix's
	// Recvmsg allocates a sockaddr per call. oob is made of words: the
	// kernel's control messages are read in place and need word alignment.
	oob    [8]uint64
	iov    unix.Iovec
	msg    unix.Msghdr
	lastTS int64 // Unix ns; 0 if the kernel gave none
	readFn func(fd uintptr) bool
	// handshake is the kernel's measure of the connection's SYN to
	// SYN-ACK time; 0 if unknown or if a SYN had to be sent again (then
	// the connection took the whole time since start to be made).
	handshake time.Duration
	sent      time.Time // just before the request was written
	info      unix.TCPInfo
}

func newAnswerReader() *answerReader {
	r := &answerReader{}
	r.readFn = r.read // bound once: the reader is pooled
	r.msg.Iov = &r.iov
	r.msg.SetIovlen(1)
	r.msg.Control = (*byte)(unsafe.Pointer(&r.oob[0]))
	return r
}

// reset prepares r for conn, just connected; if the kernel will not
// timestamp, conn is read as usual and the RTT falls back to the process's
// clock.
func (r *answerReader) reset(conn *net.TCPConn) io.Reader {
	r.lastTS, r.rc, r.handshake, r.sent = 0, nil, 0, time.Time{}
	rc, err := conn.SyscallConn()
	if err != nil {
		return conn
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); serr == nil {
			r.handshake = r.handshakeRTT(fd)
		}
	}); err != nil || serr != nil {
		return conn
	}
	r.rc = rc
	return r
}

// handshakeRTT reads the connection's RTT as the kernel measured it from
// the SYN-ACK; 0 if a segment (the SYN) was sent again, since the RTT then
// comes from the retransmission and would hide the loss.
func (r *answerReader) handshakeRTT(fd uintptr) time.Duration {
	// Into r.info, not unix.GetsockoptTCPInfo's fresh one: no allocation.
	size := uint32(unix.SizeofTCPInfo)
	_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, fd, unix.IPPROTO_TCP, unix.TCP_INFO,
		uintptr(unsafe.Pointer(&r.info)), uintptr(unsafe.Pointer(&size)), 0)
	if errno != 0 || r.info.Total_retrans != 0 || r.info.Retransmits != 0 {
		return 0
	}
	return time.Duration(r.info.Rtt) * time.Microsecond
}

// requestSent marks the moment the request is written.
func (r *answerReader) requestSent() { r.sent = time.Now() }

// wakeAfter asks the kernel to report the connection readable only once n
// bytes are queued (SO_RCVLOWAT), or at its end: a full-size answer then
// costs one wake-up instead of one per segment. Best effort.
func (r *answerReader) wakeAfter(n int) {
	if r.rc == nil {
		return
	}
	_ = r.rc.Control(func(fd uintptr) { _ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVLOWAT, n) })
}

func (r *answerReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.iov.Base = &p[0]
	r.iov.SetLen(len(p))
	r.n, r.err = 0, nil
	err := r.rc.Read(r.readFn)
	r.iov.Base = nil // the pooled reader keeps no caller's buffer alive
	if err != nil {
		return 0, err // the deadline, or the connection closed
	}
	if r.err != nil {
		return 0, r.err
	}
	if r.n == 0 {
		return 0, io.EOF
	}
	return r.n, nil
}

func (r *answerReader) read(fd uintptr) bool {
	r.msg.SetControllen(int(unsafe.Sizeof(r.oob)))
	r.msg.Flags = 0
	n, _, errno := unix.Syscall(unix.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&r.msg)), unix.MSG_DONTWAIT)
	switch errno {
	case 0:
	case unix.EAGAIN:
		return false
	case unix.EINTR:
		return r.read(fd)
	default:
		r.err = &net.OpError{Op: "read", Net: "tcp", Err: errno}
		return true
	}
	r.n = int(n)
	if r.n > 0 {
		if ts := kernelTimestamp(controlMessages(r.oob[:], &r.msg)); ts != 0 {
			r.lastTS = ts
		}
	}
	return true
}

// rtt is the time from start until the kernel's timestamp of the
// answer's last bytes, less the prober's own delay between the connection
// being made and the request being written: a probe started in a batch
// waits its turn for a CPU there, which says nothing about the path. So:
// the kernel's handshake RTT plus the time from request to answer. Without
// a handshake RTT, all from start; without the timestamp, or if the wall
// clock jumped, until now.
func (r *answerReader) rtt(start time.Time) time.Duration {
	return answerRTT(time.Since(start), start, r.sent, r.lastTS, r.handshake)
}

// answerRTT: elapsed is the monotonic time since start; lastTS the
// answer's kernel timestamp in Unix ns or 0; handshake 0 if unknown.
func answerRTT(elapsed time.Duration, start, sent time.Time, lastTS int64, handshake time.Duration) time.Duration {
	if lastTS == 0 {
		return elapsed
	}
	whole := time.Duration(lastTS - start.UnixNano())
	if whole <= 0 || whole > elapsed {
		return elapsed // the wall clock jumped
	}
	if handshake > 0 && !sent.IsZero() {
		if answer := time.Duration(lastTS - sent.UnixNano()); answer > 0 && handshake+answer < whole {
			return handshake + answer
		}
	}
	return whole
}

// holdTimestamps keeps the kernel's receive timestamps switched on while g
// lives. Timestamping is a system-wide switch counted over the sockets
// that asked for it, and turning it on or off patches kernel code: a
// connection that is alone in asking would flip it twice per probe, which
// costs more than the probe. One idle socket that asks for as long as the
// prober exists keeps the switch on; it is closed when g is collected.
func holdTimestamps(g *httpGetter) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return
	}
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1) != nil {
		unix.Close(fd)
		return
	}
	runtime.AddCleanup(g, func(fd int) { unix.Close(fd) }, fd)
}
