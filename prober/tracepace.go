package prober

import (
	"context"
	"net/netip"
	"sync"
	"time"
)

// flowLockKey names the flow of a trace.
type flowLockKey struct {
	proto Protocol
	dst   netip.Addr
	flow  Flow
}

// flowLocks lets one trace of a flow run at a time.
type flowLocks struct {
	mu   sync.Mutex
	held map[flowLockKey]chan struct{} // closed when released
}

// lock waits until no trace of k runs, or ctx ends.
func (l *flowLocks) lock(ctx context.Context, k flowLockKey) (func(), error) {
	for {
		l.mu.Lock()
		ch, busy := l.held[k]
		if !busy {
			ch = make(chan struct{})
			l.held[k] = ch
			l.mu.Unlock()
			return func() {
				l.mu.Lock()
				delete(l.held, k)
				l.mu.Unlock()
				close(ch)
			}, nil
		}
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// pacer spaces the probes of every trace of a Tracer at least 1/rate
// apart.
type pacer struct {
	gap  time.Duration
	mu   sync.Mutex
	next time.Time
}

func newPacer(rate float64) *pacer {
	return &pacer{gap: time.Duration(float64(time.Second) / rate)}
}

// wait takes the next free slot and sleeps until it, or returns ctx's
// error.
func (p *pacer) wait(ctx context.Context) error {
	p.mu.Lock()
	now := time.Now()
	at := p.next
	if at.Before(now) {
		at = now
	}
	p.next = at.Add(p.gap)
	p.mu.Unlock()
	d := time.Until(at)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
