package prober

import (
	"fmt"
	"net/netip"
	"time"
)

// A trace follows one flow of a path hop by hop: probes with the flow's
// identity (a TCP SYN from its source port and with its IPv6 flow label,
// or an ICMP echo with its flow label) and a TTL (hop limit) of 1, 2, ...,
// so that every probe takes the same member of every equal-cost group as
// the flow's own probes, and the router where the TTL runs out answers
// "time exceeded". Where a flow is black-holed, the last hop that answers
// (and the first silent one after it) says which member drops it.

// TraceConfig bounds a Tracer.
type TraceConfig struct {
	// MaxTTL is the largest TTL tried; 0 is DefaultTraceMaxTTL.
	MaxTTL int
	// HopTimeout is how long one probe waits for its answer; 0 is 1s.
	HopTimeout time.Duration
	// MaxSilent ends a trace after this many silent TTLs in a row (no
	// answer to any attempt); 0 is 3.
	MaxSilent int
	// Attempts is how many probes a TTL gets before it counts as silent
	// (the next only after a silent one); 0 is 1. Routers rate limit
	// their ICMP errors (Linux: a burst of 6, then 1 a second per
	// destination), so tracing many flows at once needs more than one.
	Attempts int
	// Timeout bounds a whole trace; 0 is MaxTTL hop timeouts.
	Timeout time.Duration
	// Rate is how many probes a second the Tracer sends at most, over
	// all its traces; 0 is DefaultTraceRate.
	Rate float64
	// Port is the TCP destination port of HTTP flows (the /hello port).
	Port uint16
	// PrivilegedICMP traces ICMP flows with a raw socket (CAP_NET_RAW)
	// instead of an unprivileged ping socket, as ICMPConfig.Privileged.
	PrivilegedICMP bool
}

// Defaults of TraceConfig.
const (
	DefaultTraceMaxTTL = 16
	DefaultTraceRate   = 20
	maxTraceTTL        = 64
)

func (c TraceConfig) withDefaults() TraceConfig {
	if c.MaxTTL == 0 {
		c.MaxTTL = DefaultTraceMaxTTL
	}
	if c.HopTimeout == 0 {
		c.HopTimeout = time.Second
	}
	if c.MaxSilent == 0 {
		c.MaxSilent = 3
	}
	if c.Attempts == 0 {
		c.Attempts = 1
	}
	if c.Timeout == 0 {
		c.Timeout = time.Duration(c.MaxTTL) * c.HopTimeout
	}
	if c.Rate == 0 {
		c.Rate = DefaultTraceRate
	}
	return c
}

// Validate reports the first field of c (after defaults) that is out of
// range.
func (c TraceConfig) Validate() error {
	c = c.withDefaults()
	switch {
	case c.MaxTTL < 1 || c.MaxTTL > maxTraceTTL:
		return fmt.Errorf("trace max TTL %d: want 1 to %d", c.MaxTTL, maxTraceTTL)
	case c.HopTimeout < 0:
		return fmt.Errorf("trace hop timeout %s: want more than 0", c.HopTimeout)
	case c.MaxSilent < 1:
		return fmt.Errorf("trace max silent hops %d: want at least 1", c.MaxSilent)
	case c.Attempts < 1 || c.Attempts > 10:
		return fmt.Errorf("trace attempts %d: want 1 to 10", c.Attempts)
	case c.Timeout < 0:
		return fmt.Errorf("trace timeout %s: want more than 0", c.Timeout)
	case c.Rate < 0:
		return fmt.Errorf("trace rate %g: want more than 0", c.Rate)
	}
	return nil
}

// HopKind says what answered a probe of one TTL.
type HopKind string

const (
	// HopTimeExceeded: a router on the way answered "time exceeded".
	HopTimeExceeded HopKind = "time_exceeded"
	// HopUnreachable: a router answered "destination unreachable"; the
	// trace ends there.
	HopUnreachable HopKind = "unreachable"
	// HopDestination: the destination itself answered (a SYN-ACK or a
	// reset, an echo reply).
	HopDestination HopKind = "destination"
	// HopSilent: nothing answered any attempt in time.
	HopSilent HopKind = "silent"
	// HopError: the probe could not be sent from here (a local error:
	// the flow's port taken, a socket refused); it says nothing about
	// the path.
	HopError HopKind = "error"
)

// Hop is what one TTL of a trace found.
type Hop struct {
	TTL  int
	Kind HopKind
	// Addr is the address that answered; invalid when silent or error.
	Addr netip.Addr
	// RTT is the time to the answer; 0 when none.
	RTT time.Duration
	// Error says why a HopError probe could not be sent.
	Error string
}

// Answered reports whether something on the path answered this TTL.
func (h Hop) Answered() bool { return h.Addr.IsValid() }

// TraceResult is one trace of one flow.
type TraceResult struct {
	Protocol Protocol
	Dst      netip.Addr
	Flow     Flow
	Started  time.Time
	Duration time.Duration
	// Hops has one entry per TTL tried, TTL 1 first.
	Hops []Hop
	// Reached is true when the destination answered.
	Reached bool
	// LastHop is the last address that answered (the destination when
	// reached), LastHopTTL its TTL; invalid and 0 when nothing did.
	LastHop    netip.Addr
	LastHopTTL int
	// Err says why the trace could not run at all, or ended early (its
	// deadline, the daemon stopping); empty otherwise.
	Err string
}

// FirstSilentTTL is the first silent TTL after the last hop that
// answered: where the flow goes dark; 0 when there is none.
func (r TraceResult) FirstSilentTTL() int {
	for _, h := range r.Hops {
		if h.TTL > r.LastHopTTL && h.Kind == HopSilent {
			return h.TTL
		}
	}
	return 0
}
