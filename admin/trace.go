package admin

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Traces: POST /v1/trace?node=NAME[&flows=N] traces every flow of every
// path to NAME now (the trace command), with the daemon's privileges and
// flows, and answers with a TraceReport.

const pathTrace = "/v1/trace"

const (
	// MaxTraceDuration bounds an on-demand trace on the server.
	MaxTraceDuration = 2 * time.Minute
	// traceWriteTimeout leaves room after it for the answer.
	traceWriteTimeout = MaxTraceDuration + 30*time.Second
	// MaxTraceFlows bounds the flows per path a request may ask for.
	MaxTraceFlows = 64
)

// ErrUnknownNode is wrapped by a Tracer's error (and the client's) when
// the node to trace is not in the daemon's node list; the error's text
// starts with its own, which is how the client tells the daemon's 404 from
// an older daemon's (no /v1/trace).
var ErrUnknownNode = errors.New("unknown node")

// ErrNotTraceable is wrapped when the node is known but there is nothing
// to trace: it is not probed from here (outside --probe.peers, leaving,
// a passive daemon), or the daemon has no node list yet.
var ErrNotTraceable = errors.New("nothing to trace")

// Tracer is the part of a Backend that traces on demand. A Backend
// without it answers POST /v1/trace with 501.
type Tracer interface {
	// Trace traces every flow of every path to node; flows is the number
	// of flows per path (0: the daemon's own). It must return soon after
	// ctx ends.
	Trace(ctx context.Context, node string, flows int) (TraceReport, error)
}

// TraceReport is the answer to POST /v1/trace.
type TraceReport struct {
	LocalNode string `json:"local_node"`
	Node      string `json:"node"`
	// Flows is the number of flows per path traced (IPv4 ICMP paths have
	// one: nothing in an IPv4 echo is hashed but the addresses).
	Flows    int         `json:"flows"`
	Started  time.Time   `json:"started"`
	Duration Duration    `json:"duration"`
	Traces   []FlowTrace `json:"traces"`
}

// FlowTrace is one trace of one flow of one path: the hops that answered
// each TTL, the last one that did, and whether the node was reached.
type FlowTrace struct {
	Path     string `json:"path"`     // host or endpoint
	Protocol string `json:"protocol"` // icmp or http
	Family   string `json:"family"`   // ipv4 or ipv6
	IP       string `json:"ip"`
	// Flow is the flow's index among its path's flows; SourcePort (HTTP)
	// and FlowLabel (IPv6) its identity.
	Flow       int    `json:"flow"`
	SourcePort int    `json:"source_port,omitempty"`
	FlowLabel  uint32 `json:"flow_label,omitempty"`
	Reached    bool   `json:"reached"`
	// LastHop is the last address that answered (the node itself when
	// reached), LastHopTTL its TTL; FirstSilentTTL the first TTL after it
	// that nothing answered (where the flow goes dark), 0 if none.
	LastHop        string     `json:"last_hop,omitempty"`
	LastHopTTL     int        `json:"last_hop_ttl,omitempty"`
	FirstSilentTTL int        `json:"first_silent_ttl,omitempty"`
	Hops           []TraceHop `json:"hops"`
	Started        time.Time  `json:"started,omitzero"`
	Duration       Duration   `json:"duration"`
	// Error says why the trace could not run, or ended early.
	Error string `json:"error,omitempty"`
}

// TraceHop is what one TTL of a trace found.
type TraceHop struct {
	TTL int `json:"ttl"`
	// Kind is time_exceeded, unreachable, destination, silent or error.
	Kind  string   `json:"kind"`
	Addr  string   `json:"addr,omitempty"`
	RTT   Duration `json:"rtt,omitempty"`
	Error string   `json:"error,omitempty"`
}

// Trace asks the daemon to trace every flow of every path to node now;
// flows 0 uses the daemon's flows per path. An unknown node is an error
// wrapping ErrUnknownNode, a node with nothing to trace ErrNotTraceable.
func (c *Client) Trace(ctx context.Context, node string, flows int) (TraceReport, error) {
	q := url.Values{"node": {node}}
	if flows > 0 {
		q.Set("flows", strconv.Itoa(flows))
	}
	r, err := call[TraceReport](ctx, c, http.MethodPost, pathTrace+"?"+q.Encode(), traceWriteTimeout)
	var se *StatusError
	if errors.As(err, &se) {
		switch {
		case se.Code == http.StatusNotFound && strings.HasPrefix(se.Message, ErrUnknownNode.Error()):
			err = &reachError{msg: se.Message, errs: []error{ErrUnknownNode, err}}
		case se.Code == http.StatusNotFound:
			err = &reachError{msg: "the daemon cannot trace: it is older than the trace command (" + se.Message + ")", errs: []error{err}}
		case se.Code == http.StatusConflict:
			err = &reachError{msg: se.Message, errs: []error{ErrNotTraceable, err}}
		}
	}
	return r, err
}

// traceHandler serves POST /v1/trace, one trace at a time.
func traceHandler(b Backend, writeJSONFn func(http.ResponseWriter, any)) http.HandlerFunc {
	slot := make(chan struct{}, 1)
	return func(w http.ResponseWriter, r *http.Request) {
		tr, ok := b.(Tracer)
		if !ok {
			http.Error(w, "this daemon cannot trace", http.StatusNotImplemented)
			return
		}
		node := r.URL.Query().Get("node")
		if node == "" {
			http.Error(w, "no node to trace: give ?node=NAME", http.StatusBadRequest)
			return
		}
		flows := 0
		if s := r.URL.Query().Get("flows"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > MaxTraceFlows {
				http.Error(w, "flows "+strconv.Quote(s)+": want 1 to "+strconv.Itoa(MaxTraceFlows), http.StatusBadRequest)
				return
			}
			flows = n
		}
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(traceWriteTimeout))
		ctx, cancel := context.WithTimeout(r.Context(), MaxTraceDuration)
		defer cancel()
		select {
		case slot <- struct{}{}:
		case <-ctx.Done():
			http.Error(w, "gave up waiting for another trace to finish", http.StatusServiceUnavailable)
			return
		}
		defer func() { <-slot }()
		rep, err := tr.Trace(ctx, node, flows)
		switch {
		case errors.Is(err, ErrUnknownNode):
			http.Error(w, err.Error(), http.StatusNotFound)
		case errors.Is(err, ErrNotTraceable):
			http.Error(w, err.Error(), http.StatusConflict)
		case err != nil:
			http.Error(w, err.Error(), http.StatusInternalServerError)
		case r.Context().Err() != nil:
			http.Error(w, "the daemon is shutting down, or the request was cancelled", http.StatusServiceUnavailable)
		default:
			writeJSONFn(w, rep)
		}
	}
}
