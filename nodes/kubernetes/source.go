package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	clientset "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/connectivity-exporter/connectivity_exporter/nodes"
)

// DefaultDebounce is how long a Source collects Node
// and health pod events before it derives the list again: a rollout or a
// node pool scaling up changes many nodes (and pods) at once, and that
// should make one new list, not one per object.
const DefaultDebounce = 200 * time.Millisecond

// DefaultUnsyncedCheck is how often a Source without a first complete
// list asks the API server why: client-go retries an unreachable API
// server without a word, and an exporter that waits for it should say so
// on /metrics (connectivity_discovery_errors_total) and in its log.
const DefaultUnsyncedCheck = 5 * time.Second

// errClosed is returned by Load after Close or a finished Watch.
var errClosed = errors.New("kubernetes node source is closed")

// Source is a Source that derives the node list from the
// cluster's Node objects and the health pods (see Config for
// how), through two shared informers: one LIST each, then a WATCH that the
// informer keeps alive, so the API server sends changes instead of being
// polled. The pod informer lists only the health pods (one namespace, one
// label selector), so RBAC needs to grant pods only in that namespace;
// with Config.NoHealthPods there is no pod informer at all.
//
// The informers start with the first Load or Watch and stop when Watch
// returns or Close is called; the source cannot be started again after
// that.
type Source struct {
	cfg       Config
	logger    log.Logger
	informer  cache.SharedIndexInformer // Node objects
	pods      cache.SharedIndexInformer // health pods; nil with Config.NoHealthPods
	synced    []cache.DoneChecker       // one per informer
	allSynced chan struct{}             // closed once every informer has synced
	initErr   error                     // setting up an informer failed (cannot happen before it runs)
	debounce  time.Duration
	// unsynced is how long Watch waits for the first complete list
	// before it asks the API server why (and then again at that pace);
	// reach is that question.
	unsynced time.Duration
	reach    func(ctx context.Context) error

	// afterEvaluate, when set (by tests), is called after Watch derived
	// the list and decided whether to report it, with the number of Node
	// and pod events the informers had delivered when it started, so
	// that tests can wait for the evaluation that follows an event
	// instead of sleeping.
	afterEvaluate func(events uint64)
	events        atomic.Uint64 // Node and pod events delivered so far

	changed chan struct{} // the cache changed since the last evaluation; capacity 1
	errs    chan error    // a watch error to report; capacity 1, later ones are coalesced

	life    sync.Mutex
	started bool
	closed  bool
	cancel  context.CancelFunc
	stopped chan struct{} // closed when the informers have stopped

	mu          sync.Mutex
	lastWatch   error               // the latest watch error, for Load's timeout
	reported    []nodes.Node        // the last list handed out by Load or update
	reportedErr string              // the last list error handed to fail, "" after a good list
	notes       map[string]kubeNote // what was last logged per node
	noHealth    int                 // nodes without a health IP, as last logged; -1 before
}

// NewSource returns a source that watches the Node objects and
// the health pods of the cluster client talks to. cfg is assumed valid
// (see Validate); empty fields take their defaults.
func NewSource(client clientset.Interface, cfg Config, logger log.Logger) *Source {
	if logger == nil {
		logger = log.NewNopLogger()
	}
	cfg = cfg.withDefaults()
	s := &Source{
		cfg:       cfg,
		logger:    logger,
		informer:  coreinformers.NewNodeInformer(client, cfg.Resync, cache.Indexers{}),
		allSynced: make(chan struct{}),
		debounce:  DefaultDebounce,
		unsynced:  DefaultUnsyncedCheck,
		reach: func(ctx context.Context) error {
			_, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{Limit: 1})
			return err
		},
		changed:  make(chan struct{}, 1),
		errs:     make(chan error, 1),
		stopped:  make(chan struct{}),
		notes:    map[string]kubeNote{},
		noHealth: -1,
	}
	signal := func() {
		s.events.Add(1)
		select {
		case s.changed <- struct{}{}:
		default: // a signal is pending already; one evaluation sees both
		}
	}
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { signal() },
		UpdateFunc: func(any, any) { signal() },
		DeleteFunc: func(any) { signal() },
	}
	type watched struct {
		informer  cache.SharedIndexInformer
		transform cache.TransformFunc
		what      string
	}
	informers := []watched{{s.informer, cfg.kubeStrip, "nodes"}}
	if !cfg.NoHealthPods {
		s.pods = coreinformers.NewFilteredPodInformer(client, cfg.HealthPodNamespace, cfg.Resync, cache.Indexers{},
			func(o *metav1.ListOptions) { o.LabelSelector = cfg.HealthPodSelector })
		informers = append(informers, watched{s.pods, kubeStripPod, "health pods"})
	}
	for _, inf := range informers {
		reg, err := inf.informer.AddEventHandler(handler)
		s.initErr = errors.Join(s.initErr, err,
			inf.informer.SetTransform(inf.transform),
			inf.informer.SetWatchErrorHandlerWithContext(s.watchError(inf.what)))
		if reg != nil {
			s.synced = append(s.synced, reg.HasSyncedChecker())
		}
	}
	return s
}

// watchError returns the watch error handler of the informer of what
// ("nodes", "health pods"). The informer retries by itself with a
// backoff, keeping its cache (so the last list stays); this only makes
// the error visible.
func (s *Source) watchError(what string) cache.WatchErrorHandlerWithContext {
	return func(ctx context.Context, _ *cache.Reflector, err error) {
		switch {
		case ctx.Err() != nil, errors.Is(err, context.Canceled):
			return // stopping
		case apierrors.IsResourceExpired(err), apierrors.IsGone(err), errors.Is(err, io.EOF):
			return // routine: the informer lists again or reconnects
		case errors.Is(err, io.ErrUnexpectedEOF):
			level.Debug(s.logger).Log("msg", "Kubernetes "+what+" watch closed, reconnecting", "err", err)
			return
		}
		s.watchFailed(&nodes.TransientError{Err: fmt.Errorf("watching Kubernetes %s: %w", what, err)})
	}
}

// watchFailed keeps err for Load's timeout and hands it to Watch. Before
// the first complete list nobody else would say anything until Load times
// out, so it is logged here then: an RBAC error shows at once.
func (s *Source) watchFailed(err error) {
	s.mu.Lock()
	s.lastWatch = err
	s.mu.Unlock()
	select {
	case <-s.allSynced:
	default:
		level.Warn(s.logger).Log("msg", "Kubernetes API error before the first complete list, retrying", "err", err)
	}
	select {
	case s.errs <- err:
	default: // one is pending; the informer's backoff paces the rest
	}
}

// start runs the informers unless they run already.
func (s *Source) start() error {
	if s.initErr != nil {
		return fmt.Errorf("kubernetes node source: %w", s.initErr)
	}
	s.life.Lock()
	defer s.life.Unlock()
	if s.closed {
		return errClosed
	}
	if !s.started {
		s.started = true
		ctx, cancel := context.WithCancel(context.Background())
		s.cancel = cancel
		go func() {
			defer close(s.stopped)
			var wg sync.WaitGroup
			wg.Go(func() { s.informer.RunWithContext(ctx) })
			if s.pods != nil {
				wg.Go(func() { s.pods.RunWithContext(ctx) })
			}
			wg.Go(func() {
				for _, c := range s.synced {
					select {
					case <-c.Done():
					case <-ctx.Done():
						return
					}
				}
				close(s.allSynced)
			})
			wg.Wait()
		}()
	}
	return nil
}

// Close stops the informers and waits until they have stopped, at most
// closeWait. It is safe to
// call more than once, and needed only when Watch was never run.
func (s *Source) Close() {
	s.life.Lock()
	started := s.started
	s.closed = true
	if s.cancel != nil {
		s.cancel()
	}
	s.life.Unlock()
	if !started {
		return
	}
	// An informer that backs off from an unreachable API server sleeps
	// without looking at its context (client-go's watch-list retry), up
	// to half a minute: do not hold a SIGTERM up for that.
	t := time.NewTimer(closeWait)
	defer t.Stop()
	select {
	case <-s.stopped:
	case <-t.C:
		level.Debug(s.logger).Log("msg", "Kubernetes informers still backing off; not waiting for them")
	}
}

// closeWait bounds how long Close waits for the informers to stop.
const closeWait = 2 * time.Second

// Load waits until the informers have listed every node and health pod
// (bounded by ctx) and returns the validated list. If ctx ends first, the error says so
// and includes the latest error from the API server, if any.
func (s *Source) Load(ctx context.Context) ([]nodes.Node, error) {
	if err := s.start(); err != nil {
		return nil, err
	}
	select {
	case <-s.allSynced:
	case <-s.stopped:
		return nil, errClosed
	case <-ctx.Done():
		s.mu.Lock()
		last := s.lastWatch
		s.mu.Unlock()
		if last != nil {
			return nil, fmt.Errorf("waiting for the Kubernetes node list: %w (last error: %w)", ctx.Err(), last)
		}
		return nil, fmt.Errorf("waiting for the Kubernetes node list: %w", ctx.Err())
	}
	// Errors before the sync are superseded by it; Watch should not
	// report them afterwards.
	select {
	case <-s.errs: //nolint:errcheck // dropped on purpose, as said above
	default:
	}
	list, err := s.current()
	if s.record(list, err); err != nil {
		return nil, err
	}
	return slices.Clone(list), nil
}

// Watch follows the informer until ctx ends, then stops it. It calls
// update with the new list when the list derived from the Node objects
// changed (so a heartbeat or any change to a field the list does not use
// calls nothing), at most once per debounce interval; and fail with watch
// errors and with lists that do not validate (each distinct one once).
// After an error the informer keeps retrying with its cached nodes, so
// the last list stays in force. Changes are relative to what the last
// Load or update handed out, so Load followed by Watch reports nothing
// until the nodes change. The callbacks run on Watch's goroutine; run one
// Watch at a time per source.
func (s *Source) Watch(ctx context.Context, update func([]nodes.Node), fail func(error)) {
	if update == nil {
		update = func([]nodes.Node) {}
	}
	if fail == nil {
		fail = func(error) {}
	}
	if err := s.start(); err != nil {
		fail(err)
		return
	}
	defer s.Close()

	synced := (<-chan struct{})(s.allSynced)
	// client-go retries an unreachable API server (connection refused)
	// silently inside the informers; until the first complete list,
	// check now and then and report why there is none.
	unsynced := time.NewTicker(s.unsynced)
	defer unsynced.Stop()
	var debounce *time.Timer
	var due <-chan time.Time // non-nil while changes wait for the debounce
	defer func() {
		if debounce != nil {
			debounce.Stop()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.stopped:
			return
		case err := <-s.errs:
			fail(err)
		case <-unsynced.C:
			if synced == nil {
				unsynced.Stop()
				continue
			}
			if err := s.whyUnsynced(ctx); err != nil {
				fail(err)
			}
		case <-synced:
			// Changes seen before the sync are held back (a partial list
			// is not the cluster); look now that the list is complete.
			synced = nil
			unsynced.Stop()
			s.evaluate(update, fail)
		case <-s.changed:
			if due == nil {
				// A fixed window from the first change, not reset by
				// later ones, so a steady stream of changes still
				// yields a list every debounce interval.
				if debounce == nil {
					debounce = time.NewTimer(s.debounce)
				} else {
					debounce.Reset(s.debounce)
				}
				due = debounce.C
			}
		case <-due:
			due = nil
			if synced == nil {
				s.evaluate(update, fail)
			}
		}
	}
}

// whyUnsynced asks the API server for one node, bounded by the check
// interval, and says why there is no complete list yet: the error of
// that request, or nil when the API server answers (the informers are
// only slow).
func (s *Source) whyUnsynced(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.unsynced)
	defer cancel()
	err := s.reach(ctx)
	if err == nil || ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return nil
	}
	return &nodes.TransientError{Err: fmt.Errorf("no node list from the Kubernetes API yet: %w", err)}
}

// evaluate derives the list and reports it if it differs from the last
// one reported.
func (s *Source) evaluate(update func([]nodes.Node), fail func(error)) {
	if s.afterEvaluate != nil {
		seen := s.events.Load()
		defer s.afterEvaluate(seen)
	}
	list, err := s.current()
	if !s.record(list, err) {
		return
	}
	if err != nil {
		fail(err)
		return
	}
	update(slices.Clone(list))
}

// record makes list, or err, what was last handed out, and reports
// whether that differs from what was handed out before.
func (s *Source) record(list []nodes.Node, err error) (changed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		changed = err.Error() != s.reportedErr
		s.reported, s.reportedErr = nil, err.Error()
	} else {
		changed = s.reportedErr != "" || s.reported == nil || !slices.Equal(list, s.reported)
		s.reported, s.reportedErr = list, ""
	}
	return changed
}

// current derives the list from the informers' caches, validates it and
// logs what changed about excluded or unusable nodes.
func (s *Source) current() ([]nodes.Node, error) {
	var pods map[string]kubeHealthPod
	if s.pods != nil {
		pods = s.cfg.kubeHealthPods(storeObjects[*corev1.Pod](s.pods))
	}
	list, notes := s.cfg.kubeNodes(storeObjects[*corev1.Node](s.informer), pods)
	s.logNotes(notes)
	s.logNoHealth(list)
	if err := nodes.Validate(list); err != nil {
		return nil, fmt.Errorf("node list from Kubernetes: %w", err)
	}
	return list, nil
}

// storeObjects is what the informer's cache holds, as T.
func storeObjects[T any](inf cache.SharedIndexInformer) []T {
	items := inf.GetStore().List()
	out := make([]T, 0, len(items))
	for _, it := range items {
		if o, ok := it.(T); ok {
			out = append(out, o)
		}
	}
	return out
}

// logNoHealth logs how many nodes have no health IP when that number
// changes: one line for the cluster, not one per node, because before the
// health DaemonSet is installed (or when the selector is wrong) that is
// every node.
func (s *Source) logNoHealth(list []nodes.Node) {
	n := 0
	for _, node := range list {
		if !node.HasHealthEndpoint() {
			n++
		}
	}
	s.mu.Lock()
	changed := n != s.noHealth
	s.noHealth = n
	s.mu.Unlock()
	switch {
	case !changed || n == 0:
	case s.cfg.NoHealthPods:
		level.Info(s.logger).Log("msg", "nodes without a health IP annotation are probed on the host paths only (no health pods, as configured)",
			"nodes_without", n, "nodes", len(list), "annotation", s.cfg.HealthIPAnnotation)
	default:
		level.Info(s.logger).Log("msg", "nodes without a health endpoint are probed on the host paths only: they have no Running health pod (and no health IP annotation)",
			"nodes_without", n, "nodes", len(list), "namespace", s.cfg.HealthPodNamespace, "selector", s.cfg.HealthPodSelector)
	}
}

// logNotes logs each node's note when it is new or changed, so that a
// node that stays unusable is logged once, not on every evaluation.
func (s *Source) logNotes(notes map[string]kubeNote) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, n := range notes {
		if s.notes[name] == n {
			continue
		}
		l := level.Info(s.logger)
		if n.warn {
			l = level.Warn(s.logger)
		}
		l.Log("msg", "Kubernetes node "+n.msg, "node", name)
	}
	s.notes = notes
}
