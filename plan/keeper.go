package plan

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/connectivity-exporter/connectivity_exporter/nodes"
	"github.com/connectivity-exporter/connectivity_exporter/prober"
)

// DefaultLoadTimeout bounds reading the first node list of a source that
// answers at once (a node file): a problem is then a start error. The
// Kubernetes API is not loaded this way: the daemon serves while it waits
// for it (NewWaitingKeeper).
const DefaultLoadTimeout = time.Minute

// Reporter is told what becomes of node lists (collector.Metrics is one).
// It is the collector's one way to learn of plans, so that no order among
// the keeper's consumers matters.
type Reporter interface {
	// SetNodes is the number of nodes in the list in force.
	SetNodes(n int)
	// DiscoveryError counts a list that could not be loaded or was rejected.
	DiscoveryError()
	// SetDiscoveryRejected is true while a rejected list is what the
	// source offers; the last good list stays in force meanwhile.
	SetDiscoveryRejected(rejected bool)
	// SetFamilies and SetPeerZones are the address families of the
	// targets and the zone of each probed peer of every plan put in force,
	// told before the plan reaches any consumer: the metrics of a new
	// family or zone exist before a consumer (the scheduler) probes it.
	SetFamilies(families []prober.Family)
	SetPeerZones(zones map[string]string)
}

// Load reads the first node list from source within timeout and makes the
// first Plan of it; any problem is an error for the daemon to exit with.
// A nil source (a passive daemon without a node list) is the Empty plan.
func Load(ctx context.Context, cfg Config, source nodes.Source, timeout time.Duration) (*Plan, error) {
	if source == nil {
		return Empty(cfg), nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	list, err := source.Load(ctx)
	if err != nil {
		return nil, err
	}
	return New(cfg, list)
}

// Keeper is the one owner of the Plan in force, in the way of
// blackbox_exporter's SafeConfig: it takes every new node list, checks it,
// keeps the last good plan when a list is bad, reports both, and hands each
// new plan to its consumers.
type Keeper struct {
	cfg      Config
	reporter Reporter
	logger   log.Logger

	current atomic.Pointer[Plan]
	loaded  chan struct{} // closed once a plan is in force

	// mu orders plan changes, so that consumers see plans in the order
	// they were stored.
	mu        sync.Mutex
	consumers []func(*Plan)
}

// NewKeeper starts with first in force and reports it.
func NewKeeper(first *Plan, reporter Reporter, logger log.Logger) *Keeper {
	k := &Keeper{cfg: first.cfg, reporter: reporter, logger: logger, loaded: make(chan struct{})}
	k.current.Store(first)
	close(k.loaded)
	k.report(first)
	return k
}

// NewWaitingKeeper starts with no plan: the first good list that Update
// gets (from Watch) makes the first one. Meanwhile Current is nil and
// errors are reported as with a plan in force. A daemon on Kubernetes
// starts this way, so that it serves while the API server is away.
func NewWaitingKeeper(cfg Config, reporter Reporter, logger log.Logger) *Keeper {
	return &Keeper{cfg: cfg, reporter: reporter, logger: logger, loaded: make(chan struct{})}
}

// report tells the reporter of p, a plan now in force.
func (k *Keeper) report(p *Plan) {
	k.reporter.SetNodes(p.Len())
	k.reporter.SetDiscoveryRejected(false)
	k.reporter.SetFamilies(p.Families())
	k.reporter.SetPeerZones(p.ProbedZones())
}

// Current is the plan in force; nil before the first one.
func (k *Keeper) Current() *Plan { return k.current.Load() }

// Loaded is closed once a plan is in force.
func (k *Keeper) Loaded() <-chan struct{} { return k.loaded }

// OnChange hands the plan in force to consume now (if there is one) and
// every new plan later.
func (k *Keeper) OnChange(consume func(*Plan)) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.consumers = append(k.consumers, consume)
	if p := k.current.Load(); p != nil {
		consume(p)
	}
}

// Update makes list the list in force, or rejects it (keeping the last good
// plan) when this node is not in it.
func (k *Keeper) Update(list []nodes.Node) error {
	p, err := New(k.cfg, list)
	if err != nil {
		k.reporter.DiscoveryError()
		k.reporter.SetDiscoveryRejected(true)
		level.Error(k.logger).Log("msg", "new node list rejected, keeping the last good one (if any)", "err", err)
		return err
	}
	level.Info(k.logger).Log("msg", "node list changed", "nodes", p.Len(), "probed", p.Probed())
	k.mu.Lock()
	defer k.mu.Unlock()
	first := k.current.Swap(p) == nil
	k.report(p)
	if first {
		close(k.loaded)
	}
	for _, consume := range k.consumers {
		consume(p)
	}
	return nil
}

// Fail records a list the source could not load; the last good plan stays.
func (k *Keeper) Fail(err error) {
	k.reporter.DiscoveryError()
	// A transient error (a watch that broke and is retried) is no rejected
	// list: no new list would clear the mark, so only a bad list sets it.
	if !nodes.IsTransient(err) {
		k.reporter.SetDiscoveryRejected(true)
	}
	level.Error(k.logger).Log("msg", "node list could not be loaded, keeping the last good one (if any)", "err", err)
}

// Watch feeds every list and error of source to Update and Fail until ctx
// ends.
func (k *Keeper) Watch(ctx context.Context, source nodes.Source) {
	source.Watch(ctx, func(l []nodes.Node) { _ = k.Update(l) }, k.Fail)
}
