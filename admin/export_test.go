package admin

import "time"

// DialErrorForTest exposes dialError to the external tests.
var DialErrorForTest = dialError

// WithProbeTimeout bounds Probe (default DefaultProbeTimeout), so that a
// test need not wait for the default.
func WithProbeTimeout(d time.Duration) ClientOption { return func(c *Client) { c.probeTimeout = d } }
