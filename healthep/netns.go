package healthep

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// netnsDir is where `ip netns` keeps its bind mounts (/var/run links here).
const netnsDir = "/run/netns"

// nsID identifies a network namespace independent of its name.
type nsID struct{ dev, ino uint64 }

func netnsPath(name string) string { return filepath.Join(netnsDir, name) }

// createNetns creates a named network namespace the way `ip netns add` does
// and returns an open handle to it. No thread of the caller changes netns.
func createNetns(name string) (netns.NsHandle, error) {
	if err := ensureNetnsDir(); err != nil {
		return netns.None(), err
	}
	path := netnsPath(name)
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return netns.None(), fmt.Errorf("create netns %q: %w", name, err)
	}
	_ = f.Close()
	if err := onFreshThread(func() error { return unshareAndBind(path) }); err != nil {
		_ = os.Remove(path)
		return netns.None(), fmt.Errorf("create netns %q: %w", name, err)
	}
	h, err := netns.GetFromPath(path)
	if err != nil {
		_ = deleteNetns(name)
		return netns.None(), fmt.Errorf("open netns %q: %w", name, err)
	}
	return h, nil
}

// unshareAndBind moves the calling (locked) thread into a new netns, pins it
// at path and moves the thread back.
func unshareAndBind(path string) error {
	orig, err := netns.Get()
	if err != nil {
		return err
	}
	defer orig.Close()
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("unshare: %w", err)
	}
	self := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
	bindErr := unix.Mount(self, path, "none", unix.MS_BIND, "")
	if err := netns.Set(orig); err != nil {
		return errThreadTainted{err}
	}
	if bindErr != nil {
		return fmt.Errorf("bind mount: %w", bindErr)
	}
	return nil
}

// ensureNetnsDir makes /run/netns a shared mount point, as iproute2 does, so
// that adding or deleting a namespace is seen in other mount namespaces.
func ensureNetnsDir() error {
	if err := os.MkdirAll(netnsDir, 0o755); err != nil {
		return err
	}
	err := unix.Mount("", netnsDir, "none", unix.MS_SHARED|unix.MS_REC, "")
	if errors.Is(err, unix.EINVAL) { // not a mount point yet
		if err := unix.Mount(netnsDir, netnsDir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind %s onto itself: %w", netnsDir, err)
		}
		err = unix.Mount("", netnsDir, "none", unix.MS_SHARED|unix.MS_REC, "")
	}
	if err != nil {
		return fmt.Errorf("make %s shared: %w", netnsDir, err)
	}
	return nil
}

// deleteNetns removes the name; the namespace itself goes away once nothing
// (sockets, links, handles) holds it any more. A missing name is not an error.
func deleteNetns(name string) error {
	path := netnsPath(name)
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil &&
		!errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount netns %q: %w", name, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove netns %q: %w", name, err)
	}
	return nil
}

// namedNetnsID tells which namespace the name currently points to.
func namedNetnsID(name string) (nsID, error) {
	var st unix.Stat_t
	if err := unix.Stat(netnsPath(name), &st); err != nil {
		return nsID{}, err
	}
	return nsID{dev: st.Dev, ino: st.Ino}, nil
}

func handleID(h netns.NsHandle) (nsID, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(h), &st); err != nil {
		return nsID{}, err
	}
	return nsID{dev: st.Dev, ino: st.Ino}, nil
}

// inNetns runs fn with its thread switched into ns.
func inNetns(ns netns.NsHandle, fn func() error) error {
	return onFreshThread(func() error {
		orig, err := netns.Get()
		if err != nil {
			return err
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			return fmt.Errorf("enter netns: %w", err)
		}
		fnErr := fn()
		if err := netns.Set(orig); err != nil {
			return errThreadTainted{err}
		}
		return fnErr
	})
}

// errThreadTainted means a thread could not return to its original netns.
type errThreadTainted struct{ err error }

func (e errThreadTainted) Error() string { return "restore original netns: " + e.err.Error() }
func (e errThreadTainted) Unwrap() error { return e.err }

// onFreshThread runs fn on its own locked goroutine. If fn leaves the thread
// in a foreign netns, the goroutine exits still locked and Go discards the
// thread instead of reusing it for unrelated work.
func onFreshThread(fn func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		err := fn()
		var tainted errThreadTainted
		if !errors.As(err, &tainted) {
			runtime.UnlockOSThread()
		}
		done <- err
	}()
	return <-done
}
