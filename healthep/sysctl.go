package healthep

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Files under /proc/sys/net belong to the netns of the thread that opens them,
// so these helpers act on the daemon's netns unless run via inNetns.

func readSysctl(name string) (string, error) {
	b, err := os.ReadFile(filepath.Join("/proc/sys", name))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// ensureSysctl writes value only when it differs, so that a read-only
// /proc/sys (common in containers) is fine when the node is already set up.
func ensureSysctl(name, value string) error {
	cur, err := readSysctl(name)
	if err != nil {
		return fmt.Errorf("read sysctl %s: %w", name, err)
	}
	if cur == value {
		return nil
	}
	if err := os.WriteFile(filepath.Join("/proc/sys", name), []byte(value), 0o644); err != nil {
		return fmt.Errorf("set sysctl %s=%s: %w", name, value, err)
	}
	return nil
}
