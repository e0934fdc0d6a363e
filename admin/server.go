package admin

import (
	"bytes"
	"context"
	"encoding/json"
	stdlog "log"
	"net/http"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
)

// API paths, shared by the server and the client.
const (
	pathHealthz = "/v1/healthz"
	pathStatus  = "/v1/status"
	pathProbe   = "/v1/status/probe"
	pathInfo    = "/v1/info"
)

const (
	// MaxProbeDuration bounds a synchronous probe on the server: the
	// context given to Backend.Probe ends after it, so a huge cluster or a
	// stuck prober cannot hold a request forever.
	MaxProbeDuration = 5 * time.Minute
	// probeWriteTimeout leaves room after MaxProbeDuration for the probes
	// in flight to end (each by the probe timeout) and for the answer.
	probeWriteTimeout = MaxProbeDuration + time.Minute
	// writeTimeout bounds the other endpoints, which only read state.
	writeTimeout = 30 * time.Second
)

// NewServer returns the admin API server; serve it on the listener from
// Listen. Synchronous probes run one at a time: a second --probe waits for
// the first instead of doubling the load on every peer.
func NewServer(b Backend, logger log.Logger) *http.Server {
	probeSlot := make(chan struct{}, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+pathHealthz, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET "+pathStatus, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, logger, b.Status())
	})
	mux.HandleFunc("GET "+pathInfo, func(w http.ResponseWriter, _ *http.Request) {
		info := b.Info()
		if !info.Started.IsZero() {
			info.Uptime = Duration(time.Since(info.Started).Round(time.Second))
		}
		writeJSON(w, logger, info)
	})
	mux.HandleFunc("POST "+pathProbe, func(w http.ResponseWriter, r *http.Request) {
		// The server-wide write timeout fits the other endpoints, not a
		// probe. (The read deadline needs no change: net/http clears it
		// once the request has been read.)
		if err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(probeWriteTimeout)); err != nil {
			level.Warn(logger).Log("msg", "cannot extend the write deadline of a probe request", "err", err)
		}
		ctx, cancel := context.WithTimeout(r.Context(), MaxProbeDuration)
		defer cancel()
		select {
		case probeSlot <- struct{}{}:
		case <-ctx.Done():
			http.Error(w, "gave up waiting for another synchronous probe to finish", http.StatusServiceUnavailable)
			return
		}
		defer func() { <-probeSlot }()
		start := time.Now()
		rep := b.Probe(ctx)
		level.Debug(logger).Log("msg", "synchronous probe done", "duration", time.Since(start), "cancelled", ctx.Err() != nil)
		if r.Context().Err() != nil {
			// The client has gone, or the daemon is shutting down: say so
			// rather than send an empty 200 the CLI cannot decode.
			http.Error(w, "the daemon is shutting down, or the request was cancelled", http.StatusServiceUnavailable)
			return
		}
		writeJSON(w, logger, rep)
	})
	mux.Handle("POST "+pathTrace, traceHandler(b, func(w http.ResponseWriter, v any) { writeJSON(w, logger, v) }))
	return &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          stdlog.New(log.NewStdlibAdapter(level.Error(logger)), "", 0),
	}
}

// writeJSON encodes v before writing anything, so that an encoding error
// becomes a 500 rather than a truncated answer.
func writeJSON(w http.ResponseWriter, logger log.Logger, v any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		level.Error(logger).Log("msg", "cannot encode admin API answer", "err", err)
		http.Error(w, "cannot encode answer: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if _, err := w.Write(buf.Bytes()); err != nil {
		level.Debug(logger).Log("msg", "cannot write admin API answer", "err", err)
	}
}
