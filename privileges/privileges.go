// Package privileges drops the Linux capabilities the daemon no longer needs
// once it has opened its sockets, so that a bug exploited later (in the
// HTTP servers, the node list parser, the Kubernetes client) runs with as
// little of root's power as the health endpoint allows.
//
// Capabilities are per thread in Linux; the libcap Go package applies every
// change to all threads of the process (through its psx package, with or
// without cgo), which a plain capset(2) from Go would not.
package privileges

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
	"kernel.org/pub/linux/libs/security/libcap/cap"
)

// Needs says what the daemon still does after setup.
type Needs struct {
	// HealthEndpoint: the endpoint is checked and rebuilt at runtime, and
	// removed on SIGTERM: netns (unshare, bind mount, setns) needs
	// CAP_SYS_ADMIN; veth, addresses, routes and net sysctls need
	// CAP_NET_ADMIN.
	HealthEndpoint bool
	// RawICMP: raw ICMP sockets are opened after setup. pro-bing opens one
	// per probe; an engine that opens its sockets once at start needs it
	// only until then (keep it if it opens, say, its IPv6 socket lazily).
	// Unprivileged ICMP (--no-probe.icmp.privileged) needs none.
	RawICMP bool
	// LowPort: a port below 1024 is bound after setup, e.g. the health
	// endpoint's /hello (bound again at every rebuild) or a web server
	// that listens in its own goroutine.
	LowPort bool
}

// Caps lists the capabilities n needs, in ascending order.
func (n Needs) Caps() []cap.Value {
	var out []cap.Value
	if n.LowPort {
		out = append(out, cap.NET_BIND_SERVICE)
	}
	if n.HealthEndpoint {
		out = append(out, cap.NET_ADMIN, cap.SYS_ADMIN)
	}
	if n.RawICMP {
		out = append(out, cap.NET_RAW)
	}
	slices.Sort(out)
	return out
}

// Result says what Drop did, for the log.
type Result struct {
	// Kept are the capabilities still permitted and effective.
	Kept []cap.Value
	// Missing were asked to be kept but were not permitted to begin with:
	// what needs them will fail (e.g. no CAP_SYS_ADMIN: no health endpoint).
	Missing []cap.Value
	// Dropped were permitted before and are not any more.
	Dropped []cap.Value
	// BoundingDropped is false when the bounding set could not be reduced
	// because CAP_SETPCAP was not permitted (e.g. not running as root);
	// nothing was permitted that a later execve could regain then anyway,
	// and no_new_privs stops setuid and file capabilities.
	BoundingDropped bool
}

// String is one line for the log.
func (r Result) String() string {
	return fmt.Sprintf("kept=%s dropped=%d missing=%s bounding_set_reduced=%v",
		names(r.Kept), len(r.Dropped), names(r.Missing), r.BoundingDropped)
}

func names(vs []cap.Value) string {
	if len(vs) == 0 {
		return "none"
	}
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = v.String()
	}
	return strings.Join(s, ",")
}

// Drop reduces every thread of the process to the capabilities in keep that
// it holds now: effective and permitted become keep ∩ permitted, inheritable
// and ambient become empty, the bounding set becomes keep (when CAP_SETPCAP
// allows), and no_new_privs is set, so that nothing can be regained, not
// even through execve. It is irreversible; call it once setup is done.
func Drop(keep ...cap.Value) (Result, error) {
	before := cap.GetProc()
	var r Result
	for v := cap.Value(0); v < cap.MaxBits(); v++ {
		permitted, err := before.GetFlag(cap.Permitted, v)
		if err != nil {
			return r, err
		}
		switch wanted := slices.Contains(keep, v); {
		case wanted && permitted:
			r.Kept = append(r.Kept, v)
		case wanted:
			r.Missing = append(r.Missing, v)
		case permitted:
			r.Dropped = append(r.Dropped, v)
		}
	}
	for _, v := range keep {
		if v >= cap.MaxBits() {
			r.Missing = append(r.Missing, v) // unknown to this kernel
		}
	}

	if ok, _ := before.GetFlag(cap.Permitted, cap.SETPCAP); ok {
		if err := dropBounding(before, keep); err != nil {
			return r, err
		}
		r.BoundingDropped = true
	}
	if err := cap.ResetAmbient(); err != nil {
		return r, fmt.Errorf("clearing the ambient capabilities: %w", err)
	}
	if _, err := cap.Prctlw(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return r, fmt.Errorf("setting no_new_privs: %w", err)
	}
	final := cap.NewSet()
	if err := final.SetFlag(cap.Permitted, true, r.Kept...); err != nil {
		return r, err
	}
	if err := final.SetFlag(cap.Effective, true, r.Kept...); err != nil {
		return r, err
	}
	if err := final.SetProc(); err != nil {
		return r, fmt.Errorf("setting capabilities to %s: %w", names(r.Kept), err)
	}
	// Trust, but verify: a kernel or library surprise must not leave the
	// daemon believing it is confined when it is not.
	if diff, err := cap.GetProc().Cf(final); err != nil || diff != 0 {
		return r, errors.Join(err, fmt.Errorf("capabilities are %s after dropping, want %s", cap.GetProc(), final))
	}
	return r, nil
}

// dropBounding removes every capability but keep from the bounding set, with
// CAP_SETPCAP raised in the effective set for the time it takes.
func dropBounding(before *cap.Set, keep []cap.Value) error {
	raised, err := before.Dup()
	if err != nil {
		return err
	}
	if err := raised.SetFlag(cap.Effective, true, cap.SETPCAP); err != nil {
		return err
	}
	if err := raised.SetProc(); err != nil {
		return fmt.Errorf("raising CAP_SETPCAP: %w", err)
	}
	for v := cap.Value(0); v < cap.MaxBits(); v++ {
		if slices.Contains(keep, v) {
			continue
		}
		if in, err := cap.GetBound(v); err != nil || !in {
			continue
		}
		if err := cap.DropBound(v); err != nil {
			return fmt.Errorf("dropping %s from the bounding set: %w", v, err)
		}
	}
	return nil
}

// AnyLowPort tells whether any of the listen addresses ("host:port") has a
// port below 1024, which needs CAP_NET_BIND_SERVICE to bind. An address that
// does not parse counts as low: keeping a capability is the safe mistake.
func AnyLowPort(addrs ...string) bool {
	for _, a := range addrs {
		_, port, err := net.SplitHostPort(a)
		if err != nil {
			return true
		}
		p, err := strconv.Atoi(port)
		if err != nil || (p > 0 && p < 1024) {
			return true
		}
	}
	return false
}
