package testbin

import (
	"fmt"
	"runtime"
	"testing"
)

// fakeTB records what a helper does to its test: a failure or a skip ends
// the goroutine, as it would end the test.
type fakeTB struct {
	testing.TB
	fatal, skip string
	errors      []string
	cleanups    []func()
}

func (f *fakeTB) Helper()                   {}
func (f *fakeTB) Cleanup(fn func())         { f.cleanups = append(f.cleanups, fn) }
func (f *fakeTB) Errorf(s string, a ...any) { f.errors = append(f.errors, fmt.Sprintf(s, a...)) }
func (f *fakeTB) Fatal(a ...any)            { f.fatal = fmt.Sprint(a...); runtime.Goexit() }
func (f *fakeTB) Fatalf(s string, a ...any) {
	f.fatal = fmt.Sprintf(s, a...)
	runtime.Goexit()
}
func (f *fakeTB) Skip(a ...any) { f.skip = fmt.Sprint(a...); runtime.Goexit() }

// run calls fn with f on a goroutine of its own, then f's cleanups, last
// first.
func (f *fakeTB) run(fn func(testing.TB)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}
