package daemon

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	sloggokit "github.com/tjhop/slog-gokit"
	"log/slog"
)

// newWebServer serves the metrics, /-/healthy and /-/ready (notReady
// says why the daemon is not ready, "" when it is), and a landing page
// that links to them.
func newWebServer(reg *prometheus.Registry, f *Config, logger log.Logger, notReady func() string) (*http.Server, error) {
	mux := http.NewServeMux()
	healthHandlers(mux, f.TelemetryPath, notReady)
	mux.Handle(f.TelemetryPath, promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		EnableOpenMetrics: true,
		Registry:          reg, // counts scrape errors in promhttp_metric_handler_errors_total
		Timeout:           10 * time.Second,
	}))
	if f.TelemetryPath != "/" {
		landing, err := web.NewLandingPage(web.LandingConfig{
			Name:        Name,
			Description: "Full-mesh connectivity probes: host and health endpoint, ICMP and HTTP",
			Version:     version.Info(),
			Links: []web.LandingLinks{
				{Address: f.TelemetryPath, Text: "Metrics"},
				{Address: "/-/healthy", Text: "Healthy"},
				{Address: "/-/ready", Text: "Ready"},
			},
		})
		if err != nil {
			return nil, fmt.Errorf("landing page: %w", err)
		}
		mux.Handle("/", landing)
	}
	return &http.Server{
		ErrorLog:          HTTPErrorLog(logger),
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       time.Minute,
	}, nil
}

func serveWeb(srv *http.Server, f *Config, logger log.Logger) error {
	err := web.ListenAndServe(srv, f.Web, slogFrom(logger))
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// slogFrom bridges go-kit to the *slog.Logger that exporter-toolkit takes.
func slogFrom(logger log.Logger) *slog.Logger {
	return slog.New(sloggokit.NewGoKitHandler(log.With(logger, "component", "web"), slog.LevelDebug))
}
