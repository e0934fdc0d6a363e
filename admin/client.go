package admin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

const (
	// DefaultTimeout bounds the requests that only read state.
	DefaultTimeout = 10 * time.Second
	// DefaultProbeTimeout waits as long as the server may take to answer
	// a synchronous probe.
	DefaultProbeTimeout = probeWriteTimeout
	// maxAnswer bounds what is read of an answer: a report of 10,000 nodes
	// is well under it, a runaway or hostile peer of the socket is not.
	maxAnswer = 32 << 20
)

// errTimedOut marks the client's own deadline, to tell it from the caller's.
var errTimedOut = errors.New("admin client timeout")

// Client talks to the daemon's admin API over its unix socket.
type Client struct {
	socket       string
	http         *http.Client
	probeTimeout time.Duration
}

// ClientOption changes a Client's defaults.
type ClientOption func(*Client)

// NewClient returns a client of the daemon listening on socketPath.
func NewClient(socketPath string, opts ...ClientOption) *Client {
	c := &Client{socket: socketPath, probeTimeout: DefaultProbeTimeout}
	for _, o := range opts {
		o(c)
	}
	var d net.Dialer
	c.http = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", socketPath)
		},
		Proxy:                  nil, // the socket is local; never go through a proxy
		DisableKeepAlives:      true,
		DisableCompression:     true,
		MaxResponseHeaderBytes: 16 << 10,
	}}
	return c
}

// Ping checks that the daemon serves the admin API.
func (c *Client) Ping(ctx context.Context) error {
	body, err := c.do(ctx, http.MethodGet, pathHealthz, DefaultTimeout)
	if err != nil {
		return err
	}
	if string(bytes.TrimSpace(body)) != "ok" {
		return fmt.Errorf("the daemon answered %s with %q instead of \"ok\"", pathHealthz, truncate(string(body), 60))
	}
	return nil
}

// Status returns the daemon's latest results.
func (c *Client) Status(ctx context.Context) (Report, error) {
	return call[Report](ctx, c, http.MethodGet, pathStatus, DefaultTimeout)
}

// Probe makes the daemon probe every path now and returns the results.
func (c *Client) Probe(ctx context.Context) (Report, error) {
	return call[Report](ctx, c, http.MethodPost, pathProbe, c.probeTimeout)
}

// Info describes the daemon.
func (c *Client) Info(ctx context.Context) (Info, error) {
	return call[Info](ctx, c, http.MethodGet, pathInfo, DefaultTimeout)
}

// StatusError is the daemon's answer other than 200 OK: its code and the
// message it gave.
type StatusError struct {
	Code    int
	Message string
	what    string
}

func (e *StatusError) Error() string { return e.what + ": " + e.Message }

// call sends one request and decodes its JSON answer.
func call[T any](ctx context.Context, c *Client, method, path string, timeout time.Duration) (T, error) {
	var v T
	body, err := c.do(ctx, method, path, timeout)
	if err != nil {
		return v, err
	}
	if err := decodeStrict(body, &v); err != nil {
		var zero T
		return zero, fmt.Errorf("cannot decode the daemon's answer to %s %s: %w", method, path, err)
	}
	return v, nil
}

// do sends one request and returns the body of a 200 answer.
func (c *Client) do(ctx context.Context, method, path string, timeout time.Duration) ([]byte, error) {
	parent := ctx
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, errTimedOut)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://connectivity-exporter"+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err == nil {
		defer resp.Body.Close()
		var body []byte
		body, err = io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
		switch {
		case err != nil:
		case len(body) > maxAnswer:
			return nil, fmt.Errorf("the daemon's answer to %s %s is larger than %d bytes", method, path, maxAnswer)
		case resp.StatusCode != http.StatusOK:
			return nil, &StatusError{Code: resp.StatusCode, Message: truncate(string(bytes.TrimSpace(body)), 200),
				what: fmt.Sprintf("the daemon answered %s %s with %s", method, path, resp.Status)}
		default:
			return body, nil
		}
	}
	switch {
	case parent.Err() != nil:
		return nil, fmt.Errorf("%s %s interrupted: %w", method, path, context.Cause(parent))
	case errors.Is(context.Cause(ctx), errTimedOut):
		return nil, &reachError{
			msg:  fmt.Sprintf("the connectivity_exporter daemon on %s did not answer %s %s within %s", c.socket, method, path, timeout),
			errs: []error{context.DeadlineExceeded},
		}
	}
	if derr := dialError(c.socket, err); derr != nil {
		return nil, derr
	}
	return nil, fmt.Errorf("talking to the connectivity_exporter daemon on %s: %w", c.socket, err)
}
