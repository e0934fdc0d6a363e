package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// buildLockPath is the file held while the binaries and the exporter are
// built and orphans are swept, so that clusters started at once (parallel
// tests, a test beside `make cluster-up`) build each binary once, one
// after the other, and tear an orphan down once.
func buildLockPath() string {
	return filepath.Join(os.TempDir(), "connectivity-exporter-cluster-build.lock")
}

// withBuildLock runs build while holding buildLockPath's lock. flock
// locks belong to the open file, so two goroutines of one process exclude
// each other too.
func withBuildLock(build func() error) error {
	f, err := os.OpenFile(buildLockPath(), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("build lock: %w", err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("build lock %s: %w", buildLockPath(), err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN) //nolint:errcheck // closing the file unlocks it anyway
	return build()
}
