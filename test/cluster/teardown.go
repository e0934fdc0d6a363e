package cluster

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Teardown removes the cluster whose directory is dir: it kills every
// process in its namespaces or cgroups (containers included), unmounts what
// is mounted under dir, deletes the namespaces and cgroups, removes the
// cluster's entries in the host paths the kubelet, libcni and containerd's
// shims write (/var/log/containers, /var/lib/cni/results,
// /run/containerd/s) and then dir. It works after a crash: all it needs is
// dir's state file. A dir without one is not a cluster's, and is left.
func Teardown(dir string) error {
	s, err := loadState(dir)
	if err != nil {
		return err
	}
	var errs []error
	errs = append(errs, killMatching(s.Netns, "/"+s.Cgroup))
	errs = append(errs, unmountUnder(dir))
	for _, ns := range s.Netns {
		if _, err := os.Stat("/run/netns/" + ns); err == nil {
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				errs = append(errs, fmt.Errorf("ip netns del %s: %w: %s", ns, err, out))
			}
		}
	}
	errs = append(errs, removeCgroups(s.Cgroup))
	errs = append(errs, cleanHostPaths(s))
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return os.RemoveAll(dir)
}

// nsInode is the inode of a network namespace file, how /proc/PID/ns/net
// identifies it.
func nsInode(path string) (uint64, bool) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0, false
	}
	return st.Ino, true
}

// killMatching SIGKILLs, until none is left, every process in one of the
// named network namespaces or in a cgroup under cgroupPrefix: the daemons
// live in the namespaces, the containers (whatever their namespace) in the
// kubelets' cgroups.
func killMatching(netns []string, cgroupPrefix string) error {
	inodes := map[uint64]bool{}
	for _, ns := range netns {
		if ino, ok := nsInode("/run/netns/" + ns); ok {
			inodes[ino] = true
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		pids := matchingPIDs(inodes, cgroupPrefix)
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v survive SIGKILL", pids)
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func matchingPIDs(inodes map[uint64]bool, cgroupPrefix string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if ino, ok := nsInode(fmt.Sprintf("/proc/%d/ns/net", pid)); ok && inodes[ino] {
			pids = append(pids, pid)
			continue
		}
		if inCgroup(pid, cgroupPrefix) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// inCgroup reports whether pid is in a cgroup at or under prefix in any
// hierarchy.
func inCgroup(pid int, prefix string) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && (parts[2] == prefix || strings.HasPrefix(parts[2], prefix+"/")) {
			return true
		}
	}
	return false
}

// unmountUnder lazily unmounts every mount point under dir, deepest first
// (overlay root filesystems, pod volumes, containerd's netns bind mounts).
func unmountUnder(dir string) error {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	defer f.Close()
	var points []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		p := unescapeMountPath(fields[4])
		if p == dir || strings.HasPrefix(p, dir+"/") {
			points = append(points, p)
		}
	}
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	var errs []error
	for _, p := range points {
		if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// unescapeMountPath undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountPath(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// cgroupRoots are the hierarchies' mount points: every v1 controller and
// the unified one.
func cgroupRoots() []string {
	entries, _ := os.ReadDir("/sys/fs/cgroup")
	var roots []string
	for _, e := range entries {
		p := filepath.Join("/sys/fs/cgroup", e.Name())
		if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
			roots = append(roots, p)
		}
	}
	return roots
}

// removeCgroups removes name's cgroup directories in every hierarchy,
// children first.
func removeCgroups(name string) error {
	var errs []error
	for _, root := range cgroupRoots() {
		top := filepath.Join(root, name)
		var dirs []string
		_ = filepath.WalkDir(top, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			if err := removeCgroupDir(dirs[i]); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// removeCgroupDir retries: a killed process leaves its cgroup a moment later.
func removeCgroupDir(dir string) error {
	var err error
	for range 50 {
		if err = syscall.Rmdir(dir); err == nil || errors.Is(err, syscall.ENOENT) {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("rmdir %s: %w", dir, err)
}

// cleanHostPaths removes the cluster's entries in the host paths that cannot
// be moved into its directory, and those directories if that leaves them
// empty (nothing else uses them).
func cleanHostPaths(s *state) error {
	var errs []error
	// The kubelets' symlinks to their pods' logs.
	links, _ := filepath.Glob("/var/log/containers/*.log")
	for _, l := range links {
		if target, err := os.Readlink(l); err == nil && strings.HasPrefix(target, s.Dir+"/") {
			errs = append(errs, removeIfExists(l))
		}
	}
	// libcni's result cache, one file per pod and network (containerd's
	// own cni-loopback too): those of the cluster's pods name a network
	// namespace under its directory.
	results, _ := filepath.Glob("/var/lib/cni/results/*")
	for _, r := range results {
		var cached struct {
			Netns string `json:"netns"`
		}
		data, err := os.ReadFile(r)
		if err == nil && json.Unmarshal(data, &cached) == nil && strings.HasPrefix(cached.Netns, s.Dir+"/") {
			errs = append(errs, removeIfExists(r))
		}
	}
	// Shim sockets are named by a hash of containerd's socket, namespace
	// and container id; those made since the cluster started that nobody
	// listens on any more are its shims'. The kubelets' device plugin
	// socket has a fixed path.
	socks, _ := filepath.Glob("/run/containerd/s/*")
	socks = append(socks, "/var/lib/kubelet/device-plugins/kubelet.sock")
	for _, sock := range socks {
		fi, err := os.Stat(sock)
		if err != nil || fi.ModTime().Before(s.Started) {
			continue
		}
		if c, err := net.DialTimeout("unix", sock, time.Second); err == nil {
			c.Close()
			continue
		}
		errs = append(errs, removeIfExists(sock))
	}
	for _, d := range []string{"/var/lib/cni/results", "/var/lib/cni", "/run/containerd/s", "/run/containerd",
		"/var/lib/kubelet/device-plugins", "/var/lib/kubelet", "/var/log/containers"} {
		_ = syscall.Rmdir(d) // only if empty
	}
	return errors.Join(errs...)
}

func removeIfExists(p string) error {
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
