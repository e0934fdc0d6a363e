package healthep

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
)

// Reporter receives the endpoint's state, typically for the
// connectivity_health_endpoint_* metrics.
type Reporter interface {
	SetHealthEndpointUp(up bool)
	HealthEndpointRestarted()
}

// Status is a snapshot of the controller's view, for the admin API.
type Status struct {
	Config    Config
	Up        bool
	Restarts  uint64 // rebuilds after a built endpoint was found broken
	LastError string // empty when the last check or build succeeded
}

// Controller keeps one health endpoint alive: it builds it, checks it every
// CheckInterval and rebuilds it when any part is gone or broken.
type Controller struct {
	cfg     Config
	rep     Reporter
	logger  log.Logger
	client  *http.Client
	running atomic.Bool

	mu     sync.Mutex
	status Status

	// Owned by the goroutine in Run.
	ep      *endpoint
	built   bool   // an endpoint existed before, so the next build is a restart
	lastErr string // last logged failure, to log repeats at debug level only
}

// NewController validates cfg. A nil logger discards logs.
func NewController(cfg Config, rep Reporter, logger log.Logger) (*Controller, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if rep == nil {
		return nil, errors.New("healthep: nil Reporter")
	}
	if logger == nil {
		logger = log.NewNopLogger()
	}
	return &Controller{
		cfg:    cfg,
		rep:    rep,
		logger: log.With(logger, "component", "healthep", "netns", cfg.Netns, "ip", cfg.IP.String()),
		client: newCheckClient(cfg.CheckTimeout),
		status: Status{Config: cfg},
	}, nil
}

// Run removes leftovers of an earlier run, builds the endpoint and keeps it
// healthy until ctx ends; then it removes everything it created. Build and
// check failures are logged, reported and retried, never returned; the error
// is only about what shutdown could not remove.
func (c *Controller) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return errors.New("healthep: controller is already running")
	}
	defer c.running.Store(false)

	if err := Cleanup(c.cfg); err != nil {
		level.Warn(c.logger).Log("msg", "could not remove leftovers of an earlier run", "err", err)
	}
	c.step(ctx)
	ticker := time.NewTicker(c.cfg.CheckInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return c.shutdown()
		case <-ticker.C:
			c.step(ctx)
		}
	}
}

// Status returns a snapshot of the controller's state.
func (c *Controller) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}

// step checks the endpoint and rebuilds it when needed.
func (c *Controller) step(ctx context.Context) {
	if c.ep != nil {
		err := c.check(ctx)
		if err == nil {
			c.report(true, nil)
			return
		}
		if ctx.Err() != nil {
			return // shutting down, not a failure of the endpoint
		}
		level.Warn(c.logger).Log("msg", "health endpoint check failed, rebuilding", "err", err)
		c.lastErr = ""
		c.report(false, err)
		if terr := c.ep.teardown(); terr != nil {
			level.Warn(c.logger).Log("msg", "tearing down the broken health endpoint", "err", terr)
		}
		c.ep = nil
	}
	start := time.Now()
	ep, err := buildEndpoint(ctx, c.cfg, c.logger)
	if err != nil {
		if ctx.Err() == nil {
			c.logFailure("could not build health endpoint, retrying next interval", err)
		}
		c.report(false, err)
		return
	}
	c.ep = ep
	restarted := c.built
	c.built = true
	c.lastErr = ""
	if restarted {
		c.mu.Lock()
		c.status.Restarts++
		c.mu.Unlock()
		c.rep.HealthEndpointRestarted()
	}
	level.Info(c.logger).Log("msg", "health endpoint created", "interface", c.cfg.HostInterface,
		"restart", restarted, "took", time.Since(start).Round(time.Millisecond))
	// Verify at once so that up=1 is reported without waiting an interval;
	// a failure here is only reported, the next interval decides on a rebuild.
	err = c.check(ctx)
	if err != nil && ctx.Err() == nil {
		c.logFailure("new health endpoint failed its first check", err)
	}
	c.report(err == nil, err)
}

func (c *Controller) check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.CheckTimeout)
	defer cancel()
	return c.ep.check(ctx, c.client)
}

func (c *Controller) shutdown() error {
	var err error
	if c.ep != nil {
		err = c.ep.teardown()
		c.ep = nil
	}
	c.report(false, nil)
	if err != nil {
		level.Error(c.logger).Log("msg", "could not remove health endpoint completely", "err", err)
		return fmt.Errorf("healthep: shutdown: %w", err)
	}
	level.Info(c.logger).Log("msg", "health endpoint removed")
	return nil
}

func (c *Controller) report(up bool, err error) {
	c.mu.Lock()
	c.status.Up = up
	c.status.LastError = ""
	if err != nil {
		c.status.LastError = err.Error()
	}
	c.mu.Unlock()
	c.rep.SetHealthEndpointUp(up)
}

// logFailure logs an error once and its repeats at debug level, so that a
// node that cannot host the endpoint does not flood the log every interval.
func (c *Controller) logFailure(msg string, err error) {
	lvl := level.Error
	if err.Error() == c.lastErr {
		lvl = level.Debug
	}
	c.lastErr = err.Error()
	lvl(c.logger).Log("msg", msg, "err", err)
}
