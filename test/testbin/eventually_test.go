package testbin

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestEventuallyWaitsForTheCondition(t *testing.T) {
	var calls atomic.Int32
	f := &fakeTB{}
	f.run(func(tb testing.TB) {
		Eventually(tb, time.Minute, "the third call", func() error {
			if calls.Add(1) < 3 {
				return errors.New("too early")
			}
			return nil
		})
	})
	if f.fatal != "" || calls.Load() != 3 {
		t.Errorf("fatal %q after %d calls: want success at the third", f.fatal, calls.Load())
	}
}

func TestEventuallyFailsWithWhatItLastSaw(t *testing.T) {
	f := &fakeTB{}
	n := 0
	f.run(func(tb testing.TB) {
		Eventually(tb, 0, "ready", func() error { n++; return Holds(false, "seen "+strings.Repeat("x", n)) })
	})
	if !strings.Contains(f.fatal, "still not ready") || !strings.HasSuffix(f.fatal, "seen "+strings.Repeat("x", n)) {
		t.Errorf("failure %q: want what and the last thing seen", f.fatal)
	}
}

func TestHolds(t *testing.T) {
	if err := Holds(true, "anything"); err != nil {
		t.Errorf("Holds(true) = %v", err)
	}
	if err := Holds(false, "x=1"); err == nil || err.Error() != "x=1" {
		t.Errorf("Holds(false, x=1) = %v", err)
	}
	if err := Holds(false, ""); err == nil {
		t.Error("Holds(false, \"\") = nil")
	}
}

func TestBufferConcurrentWrites(t *testing.T) {
	var b Buffer
	done := make(chan struct{})
	for range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 100 {
				_, _ = b.Write([]byte("ab"))
			}
		}()
	}
	for range 4 {
		<-done
	}
	if got := b.String(); len(got) != 800 || strings.Count(got, "ab") != 400 {
		t.Errorf("%d bytes, %d pairs: want 800, 400", len(got), strings.Count(got, "ab"))
	}
}
