//go:build linux

package prober

import (
	"io"
	"net"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// answerReader reads a TCP connection with recvmsg, keeping the kernel's
// receive timestamp of the latest data: the end of the answer is when its
// last bytes reached the host, not when this process got round to reading
// them (probes started together wait for each other, and for scrapes and
// the garbage collector).
type answerReader struct {
	rc     syscall.RawConn
	p      []byte
	n      int
	err    error
	oob    [64]byte
	lastTS int64 // Unix ns; 0 if the kernel gave none
	readFn func(fd uintptr) bool
}

func newAnswerReader() *answerReader {
	r := &answerReader{}
	r.readFn = r.read // bound once: the reader is pooled
	return r
}

// reset prepares r for conn; if the kernel will not timestamp, conn is read
// as usual and the RTT falls back to the process's clock.
func (r *answerReader) reset(conn *net.TCPConn) io.Reader {
	r.lastTS, r.rc = 0, nil
	rc, err := conn.SyscallConn()
	if err != nil {
		return conn
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	}); err != nil || serr != nil {
		return conn
	}
	r.rc = rc
	return r
}

func (r *answerReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.p, r.n, r.err = p, 0, nil
	if err := r.rc.Read(r.readFn); err != nil {
		return 0, err // the deadline, or the connection closed
	}
	r.p = nil
	if r.err != nil {
		return 0, r.err
	}
	if r.n == 0 {
		return 0, io.EOF
	}
	return r.n, nil
}

func (r *answerReader) read(fd uintptr) bool {
	n, oobn, _, _, err := unix.Recvmsg(int(fd), r.p, r.oob[:], unix.MSG_DONTWAIT)
	if err == unix.EAGAIN {
		return false
	}
	if err == unix.EINTR {
		return r.read(fd)
	}
	r.n, r.err = n, err
	if err != nil {
		r.err = &net.OpError{Op: "read", Net: "tcp", Err: err}
	} else if n > 0 && oobn > 0 {
		if ts := kernelTimestamp(r.oob[:oobn]); ts != 0 {
			r.lastTS = ts
		}
	}
	return true
}

// rtt is from start to the kernel's timestamp of the answer's last bytes,
// unless that is missing or the wall clock jumped; then to now.
func (r *answerReader) rtt(start time.Time) time.Duration {
	mono := time.Since(start)
	if r.lastTS != 0 {
		if k := time.Duration(r.lastTS - start.UnixNano()); k > 0 && k <= mono {
			return k
		}
	}
	return mono
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
