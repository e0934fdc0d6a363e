package testbin

import (
	"errors"
	"testing"
	"time"
)

// pollEvery is how often Eventually checks again: often enough that a
// condition that holds is seen within a fraction of a second, rarely
// enough that a scrape per check costs little on a loaded machine.
const pollEvery = 250 * time.Millisecond

// Eventually checks cond until it returns nil and returns how long that
// took; after within, it fails the test with what and cond's last error,
// which says what it saw.
func Eventually(t testing.TB, within time.Duration, what string, cond func() error) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		err := cond()
		if err == nil {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("after %s, still not %s: %v", within, what, err)
			return 0
		}
		time.Sleep(pollEvery)
	}
}

// Holds is a condition's verdict for Eventually: nil when ok, else an
// error that is seen, what the condition found instead.
func Holds(ok bool, seen string) error {
	if ok {
		return nil
	}
	if seen == "" {
		seen = "condition false"
	}
	return errors.New(seen)
}
