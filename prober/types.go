// Package prober schedules and runs the ICMP and HTTP probes of every path of
// every peer, and keeps their results.
package prober

import (
	"context"
	"net/netip"
	"time"
)

// Path says which address of a peer is probed.
type Path string

const (
	// PathHost probes the peer's host IP.
	PathHost Path = "host"
	// PathEndpoint probes the peer's health endpoint IP.
	PathEndpoint Path = "endpoint"
)

// Protocol says how a path is probed.
type Protocol string

const (
	// ProtocolICMP is an ICMP echo.
	ProtocolICMP Protocol = "icmp"
	// ProtocolHTTP is GET http://<ip>:<port>/hello over a fresh connection.
	ProtocolHTTP Protocol = "http"
)

// Result classifies one probe.
type Result string

const (
	ResultSuccess Result = "success"
	ResultTimeout Result = "timeout"
	ResultRefused Result = "refused"
	ResultError   Result = "error"
)

// Results lists every Result, in the order metrics expose them.
var Results = [...]Result{ResultSuccess, ResultTimeout, ResultRefused, ResultError}

// Status is what a path is reported as, after the failure threshold.
type Status string

const (
	StatusReachable   Status = "reachable"
	StatusUnreachable Status = "unreachable"
	StatusUnknown     Status = "unknown"
)

// Statuses lists every Status, in the order metrics expose them.
var Statuses = [...]Status{StatusReachable, StatusUnreachable, StatusUnknown}

// Target is one probed path of one peer.
type Target struct {
	Peer     string
	Path     Path
	Protocol Protocol
	IP       netip.Addr
}

// SeriesKey is what the metrics of a target are labelled with: a
// target's address may change (a health pod replaced) while its series
// go on.
type SeriesKey struct {
	Peer     string
	Path     Path
	Protocol Protocol
	Family   Family
}

// SeriesKey is t's series.
func (t Target) SeriesKey() SeriesKey {
	return SeriesKey{Peer: t.Peer, Path: t.Path, Protocol: t.Protocol, Family: t.Family()}
}

// Outcome is what one probe found.
type Outcome struct {
	Result Result
	// RTT is set for successes only.
	RTT time.Duration
	// Err says why a probe did not succeed; nil on success.
	Err error
}

// ProbeFunc probes one address. It must return by ctx's deadline.
type ProbeFunc func(ctx context.Context, ip netip.Addr) Outcome
