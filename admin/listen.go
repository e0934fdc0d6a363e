package admin

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// socketMode lets root and the socket's group use the API, nobody else:
// status results map the cluster's network.
const socketMode = 0o660

// staleCheckTimeout bounds the dial that tells a live socket from a stale one.
const staleCheckTimeout = time.Second

// Listen listens on the unix socket path for the admin API. It creates the
// socket's directory, replaces a socket file left behind by a daemon that
// died, and refuses to take over a socket another daemon still serves. A lock
// file next to the socket (path + ".lock", held until the listener is closed)
// keeps two daemons starting at once from both deciding the file is stale.
func Listen(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("admin socket directory: %w", err)
	}
	lock, err := lockSocket(path)
	if err != nil {
		return nil, err
	}
	ln, err := listenUnix(path)
	if err != nil {
		lock.Close()
		return nil, err
	}
	if err := os.Chmod(path, socketMode); err != nil {
		ln.Close()
		lock.Close()
		return nil, fmt.Errorf("admin socket %s: %w", path, err)
	}
	return &lockedListener{Listener: ln, lock: lock}, nil
}

// lockSocket takes an exclusive, non-blocking flock on path + ".lock". The
// kernel releases it when the daemon dies, so a crash never leaves it held.
func lockSocket(path string) (*os.File, error) {
	f, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("admin socket lock: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, inUseError(path)
		}
		return nil, fmt.Errorf("admin socket lock %s.lock: %w", path, err)
	}
	return f, nil
}

// listenUnix listens on path, removing what is there only if it is a socket
// nobody answers on.
func listenUnix(path string) (net.Listener, error) {
	ln, err := listenRestricted(path)
	if !errors.Is(err, syscall.EADDRINUSE) {
		if err != nil {
			return nil, fmt.Errorf("admin socket: %w", err)
		}
		return ln, nil
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return nil, fmt.Errorf("admin socket %s exists and is not a socket: remove it or choose another --admin.socket", path)
	}
	// A daemon that does not take the lock (an older version) may still
	// serve it: only a socket that refuses connections is stale.
	if c, err := net.DialTimeout("unix", path, staleCheckTimeout); err == nil {
		c.Close()
		return nil, inUseError(path)
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		return nil, fmt.Errorf("admin socket %s exists and cannot be checked: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("removing stale admin socket: %w", err)
	}
	ln, err = listenRestricted(path)
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	return ln, nil
}

// listenRestricted creates the socket file with socketMode from the start.
// bind(2) gives it the mode of the socket's inode minus the umask, 0777 by
// default: under umask 0 anyone could connect in the moment before the
// Chmod in Listen, and keep that connection. On Linux, fchmod on the
// socket before bind sets that mode.
func listenRestricted(path string) (net.Listener, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		if cerr := c.Control(func(fd uintptr) { err = syscall.Fchmod(int(fd), socketMode) }); cerr != nil {
			return cerr
		}
		return err
	}}
	return lc.Listen(context.Background(), "unix", path)
}

func inUseError(path string) error {
	return fmt.Errorf("admin socket %s is in use by another running connectivity_exporter daemon: stop it first or choose another --admin.socket", path)
}

// lockedListener releases the socket lock when the listener is closed; the
// socket file itself is removed by the unix listener's Close.
type lockedListener struct {
	net.Listener
	lock *os.File
}

func (l *lockedListener) Close() error {
	err := l.Listener.Close()
	if lerr := l.lock.Close(); err == nil {
		err = lerr
	}
	return err
}
