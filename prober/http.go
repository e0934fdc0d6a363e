package prober

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"syscall"
	"time"
)

// maxHelloBody bounds what is read of a /hello answer: a peer that streams
// an endless body must not hold the probe or the memory.
const maxHelloBody = 4 << 10

// HTTPConfig sets where /hello is asked for.
type HTTPConfig struct {
	Port int
	Path string
	// NetHTTP uses net/http's client instead of the minimal HTTP/1.1 GET.
	// Both classify /hello answers alike (net/http also decodes a chunked
	// answer, which no responder sends and the minimal GET refuses);
	// net/http costs about 1.5 times the CPU per probe
	// (see BENCHMARKS.md). Kept as a fallback and for comparison.
	NetHTTP bool
}

// NewHTTPProbe returns a ProbeFunc that GETs http://ip:port/path over a fresh
// TCP connection (no keep-alive, so every probe tests the path) and classifies
// the result. Redirects, non-200 answers, malformed answers and bodies over
// 4 KiB are errors.
//
// The minimal GET's RTT, on Linux, is the kernel's handshake RTT (TCP_INFO)
// plus the time from writing the request to the kernel's receive timestamp
// of the answer's last bytes, so the prober's own delay before it writes is
// left out; if the SYN was sent again, it is the whole time since the
// connect, so the loss shows. Elsewhere, and with net/http, the RTT runs
// from dialling to the end of the body.
func NewHTTPProbe(cfg HTTPConfig) ProbeFunc {
	if cfg.NetHTTP {
		return newNetHTTPProbe(cfg)
	}
	return newHTTPGetter(cfg).probe
}

// NewMTUHTTPProbe returns what GETs path?size=N on a fresh connection
// and checks that exactly N body bytes (at most MaxFullSizeBody) come: the
// HTTP half of the full-size probes.
func NewMTUHTTPProbe(cfg HTTPConfig) func(ctx context.Context, ip netip.Addr, size int) Outcome {
	return newHTTPGetter(cfg).getSize
}

func newNetHTTPProbe(cfg HTTPConfig) ProbeFunc {
	client := &http.Client{
		Transport: &http.Transport{
			DisableKeepAlives:      true,
			DisableCompression:     true,
			Proxy:                  nil, // probes go to the peer, never through a proxy
			DialContext:            (&net.Dialer{}).DialContext,
			MaxResponseHeaderBytes: 16 << 10,
		},
		// A redirect is not a /hello answer: report it, do not follow it.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	port := strconv.Itoa(cfg.Port)
	return func(ctx context.Context, ip netip.Addr) Outcome {
		url := "http://" + net.JoinHostPort(ip.String(), port) + cfg.Path
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return Outcome{Result: ResultError, Err: err}
		}
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return classifyHTTPError(err, false)
		}
		n, err := io.Copy(io.Discard, io.LimitReader(resp.Body, maxHelloBody+1))
		resp.Body.Close()
		rtt := time.Since(start)
		if err != nil {
			return classifyHTTPError(err, false)
		}
		if n > maxHelloBody {
			return Outcome{Result: ResultError, Err: fmt.Errorf("answer body over %d bytes", maxHelloBody)}
		}
		if resp.StatusCode != http.StatusOK {
			return Outcome{Result: ResultError, Err: fmt.Errorf("HTTP status %d", resp.StatusCode)}
		}
		return Outcome{Result: ResultSuccess, RTT: rtt}
	}
}

// classifyHTTPError classifies a failed GET. ctxDone says the probe's
// context has ended, which makes any other failure than a refusal a timeout.
func classifyHTTPError(err error, ctxDone bool) Outcome {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return Outcome{Result: ResultRefused, Err: errHTTPRefused}
	case ctxDone, errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return Outcome{Result: ResultTimeout, Err: errHTTPTimeout}
	default:
		return Outcome{Result: ResultError, Err: err}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
