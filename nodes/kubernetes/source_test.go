package kubernetes

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/connectivity-exporter/connectivity_exporter/nodes"
)

// kubeHarness runs a Source on a fake clientset: Load, then
// Watch in the background, with every callback turned into a channel.
type kubeHarness struct {
	t       *testing.T
	client  *fake.Clientset
	src     *Source
	log     *kubeLog
	updates chan []nodes.Node
	fails   chan error
	evals   chan uint64 // the events count each evaluation started with
	cancel  context.CancelFunc
	done    chan struct{}
	loaded  []nodes.Node
}

func newKubeHarness(t *testing.T, cfg Config, objs ...runtime.Object) *kubeHarness {
	t.Helper()
	h := &kubeHarness{
		t:       t,
		client:  fake.NewClientset(objs...),
		log:     &kubeLog{},
		updates: make(chan []nodes.Node, 100),
		fails:   make(chan error, 100),
		evals:   make(chan uint64, 1000),
		done:    make(chan struct{}),
	}
	h.src = NewSource(h.client, cfg, h.log.logger())
	h.src.afterEvaluate = func(events uint64) { h.evals <- events }
	return h
}

// start loads (which must succeed) and starts Watch.
func (h *kubeHarness) start() *kubeHarness {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), kubeWait)
	defer cancel()
	list, err := h.src.Load(ctx)
	if err != nil {
		h.t.Fatalf("Load: %v", err)
	}
	h.loaded = list
	h.watch()
	return h
}

func (h *kubeHarness) watch() {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() {
		defer close(h.done)
		h.src.Watch(ctx, func(l []nodes.Node) { h.updates <- l }, func(err error) { h.fails <- err })
	}()
	h.t.Cleanup(h.stop)
}

// stop ends Watch and waits for it (and so for the informer) to finish.
func (h *kubeHarness) stop() {
	h.cancel()
	select {
	case <-h.done:
	case <-time.After(kubeWait):
		h.t.Error("Watch did not return after its context ended")
	}
}

func (h *kubeHarness) wantUpdate(want ...nodes.Node) {
	h.t.Helper()
	select {
	case got := <-h.updates:
		if !reflect.DeepEqual(got, want) {
			h.t.Fatalf("update:\n got %v\nwant %v", got, want)
		}
	case err := <-h.fails:
		h.t.Fatalf("fail(%v), want update %v", err, want)
	case <-time.After(kubeWait):
		h.t.Fatalf("no update, want %v", want)
	}
}

func (h *kubeHarness) wantFail(contains string) error {
	h.t.Helper()
	select {
	case err := <-h.fails:
		if !strings.Contains(err.Error(), contains) {
			h.t.Fatalf("fail(%v), want an error containing %q", err, contains)
		}
		return err
	case got := <-h.updates:
		h.t.Fatalf("update(%v), want fail containing %q", got, contains)
	case <-time.After(kubeWait):
		h.t.Fatalf("no fail, want one containing %q", contains)
	}
	return nil
}

// settle waits until Watch has evaluated the cache as it is after every
// event delivered so far, then checks that no callback was called.
func (h *kubeHarness) settle() {
	h.t.Helper()
	h.settleAfter(h.src.events.Load())
}

// settleAfter waits for an evaluation that started after the source had
// seen at least n events, and checks that no callback was called.
func (h *kubeHarness) settleAfter(n uint64) {
	h.t.Helper()
	deadline := time.After(kubeWait)
	for {
		select {
		case seen := <-h.evals:
			if seen >= n {
				h.wantQuiet()
				return
			}
		case got := <-h.updates:
			h.t.Fatalf("unexpected update(%v)", got)
		case err := <-h.fails:
			h.t.Fatalf("unexpected fail(%v)", err)
		case <-deadline:
			h.t.Fatalf("no evaluation after event %d", n)
		}
	}
}

func (h *kubeHarness) wantQuiet() {
	h.t.Helper()
	select {
	case got := <-h.updates:
		h.t.Fatalf("unexpected update(%v)", got)
	case err := <-h.fails:
		h.t.Fatalf("unexpected fail(%v)", err)
	default:
	}
}

func (h *kubeHarness) nodes() kubeNodeClient { return h.client.CoreV1().Nodes() }

// kubeNodeClient is the part of the typed Nodes client the tests use.
type kubeNodeClient interface {
	Create(context.Context, *corev1.Node, metav1.CreateOptions) (*corev1.Node, error)
	Update(context.Context, *corev1.Node, metav1.UpdateOptions) (*corev1.Node, error)
	Delete(context.Context, string, metav1.DeleteOptions) error
	Get(context.Context, string, metav1.GetOptions) (*corev1.Node, error)
}

func (h *kubeHarness) create(n *corev1.Node) {
	h.t.Helper()
	if _, err := h.nodes().Create(context.Background(), n, metav1.CreateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

// edit gets the node, changes it and updates it.
func (h *kubeHarness) edit(name string, change func(*corev1.Node)) {
	h.t.Helper()
	n, err := h.nodes().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	change(n)
	if _, err := h.nodes().Update(context.Background(), n, metav1.UpdateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

func (h *kubeHarness) delete(name string) {
	h.t.Helper()
	if err := h.nodes().Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

var (
	kubeA = nodes.Node{Name: "a", HostIP: addr("198.18.0.1")}
	kubeB = nodes.Node{Name: "b", HostIP: addr("198.18.0.2")}
	kubeC = nodes.Node{Name: "c", HostIP: addr("198.18.0.3")}
)

func TestKubernetesLoadSortsAndFilters(t *testing.T) {
	h := newKubeHarness(t, Config{},
		kubeIP4("c", "198.18.0.3"),
		kubeIP4("a", "198.18.0.1"),
		kubeIP4("b", "198.18.0.2", kubeHealth("198.19.0.2")),
		kubeIP4("cordoned", "198.18.0.4", kubeCordoned),
		kubeTestNode("external-only", []string{"ExternalIP=198.18.1.5"}),
	)
	defer h.src.Close()
	list, err := h.src.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b := kubeB
	b.HealthIP = addr("198.19.0.2")
	cordoned := nodes.Node{Name: "cordoned", HostIP: addr("198.18.0.4"), Leaving: nodes.LeavingCordoned}
	if want := []nodes.Node{kubeA, b, kubeC, cordoned}; !reflect.DeepEqual(list, want) {
		t.Errorf("Load:\n got %v\nwant %v", list, want)
	}
	logs := h.log.String()
	for _, want := range []string{
		`level=warn msg="Kubernetes node skipped: no usable InternalIP address (has ExternalIP=198.18.1.5, Hostname=external-only)" node=external-only`,
		`level=info msg="Kubernetes node leaving (cordoned): listed, not probed" node=cordoned`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s\nlog:\n%s", want, logs)
		}
	}
}

func TestKubernetesWatchAddUpdateDelete(t *testing.T) {
	h := newKubeHarness(t, Config{}, kubeIP4("a", "198.18.0.1")).start()
	if want := []nodes.Node{kubeA}; !reflect.DeepEqual(h.loaded, want) {
		t.Fatalf("Load = %v, want %v", h.loaded, want)
	}
	h.settle() // Load followed by Watch reports nothing until a change

	h.create(kubeIP4("b", "198.18.0.2"))
	h.wantUpdate(kubeA, kubeB)

	h.edit("b", func(n *corev1.Node) { n.Status.Addresses[0].Address = "198.18.0.20" })
	h.wantUpdate(kubeA, nodes.Node{Name: "b", HostIP: addr("198.18.0.20")})

	h.delete("a")
	h.wantUpdate(nodes.Node{Name: "b", HostIP: addr("198.18.0.20")})
	h.settle()
}

func TestKubernetesWatchHealthIPAnnotation(t *testing.T) {
	h := newKubeHarness(t, Config{}, kubeIP4("a", "198.18.0.1"), kubeIP4("b", "198.18.0.2")).start()
	withHealth := func(n nodes.Node, ip string) nodes.Node { n.HealthIP = addr(ip); return n }

	h.edit("a", kubeHealth("198.19.0.1"))
	h.wantUpdate(withHealth(kubeA, "198.19.0.1"), kubeB)

	h.edit("a", kubeHealth("198.19.0.11"))
	h.wantUpdate(withHealth(kubeA, "198.19.0.11"), kubeB)

	// Other annotations are not the list's business.
	h.edit("a", kubeWithAnnotation("example.com/other", "x"))
	h.settle()

	// Invalid: the node stays, without endpoint paths, and it is logged.
	h.edit("a", kubeHealth("198.19.0.x"))
	h.wantUpdate(kubeA, kubeB)
	if want := `annotation connectivity-exporter.io/health-ip=\"198.19.0.x\": not an IP address" node=a`; !strings.Contains(h.log.String(), want) {
		t.Errorf("log lacks %s\nlog:\n%s", want, h.log.String())
	}

	h.edit("a", kubeHealth("198.19.0.1"))
	h.wantUpdate(withHealth(kubeA, "198.19.0.1"), kubeB)

	h.edit("a", func(n *corev1.Node) { delete(n.Annotations, DefaultHealthIPAnnotation) })
	h.wantUpdate(kubeA, kubeB)
}

func TestKubernetesCustomAnnotation(t *testing.T) {
	h := newKubeHarness(t, Config{HealthIPAnnotation: "example.com/health"},
		kubeIP4("a", "198.18.0.1", kubeHealth("198.19.0.9"), kubeWithAnnotation("example.com/health", "198.19.0.1"))).start()
	want := kubeA
	want.HealthIP = addr("198.19.0.1")
	if !reflect.DeepEqual(h.loaded, []nodes.Node{want}) {
		t.Errorf("Load = %v, want %v", h.loaded, []nodes.Node{want})
	}
}

func TestKubernetesNotReady(t *testing.T) {
	testKubernetesPolicy(t, func(policy string) Config { return Config{NotReady: policy} },
		kubeNotReady, func(n *corev1.Node) { kubeSetReady(n, corev1.ConditionTrue) },
		map[string]func(nodes.Node) (nodes.Node, bool){
			Include: func(n nodes.Node) (nodes.Node, bool) { n.NotReady = true; return n, true },
			Exclude: func(nodes.Node) (nodes.Node, bool) { return nodes.Node{}, false },
		}, nil)
}

func TestKubernetesCordoned(t *testing.T) {
	testKubernetesPolicy(t, func(policy string) Config { return Config{Cordoned: policy, LocalNode: "a"} },
		kubeCordoned, // kubectl drain
		func(n *corev1.Node) { n.Spec.Unschedulable = false }, // kubectl uncordon
		map[string]func(nodes.Node) (nodes.Node, bool){
			Include: func(n nodes.Node) (nodes.Node, bool) { return n, true },
			Exclude: func(n nodes.Node) (nodes.Node, bool) { n.Leaving = nodes.LeavingCordoned; return n, true },
		},
		func(h *kubeHarness) {
			a := kubeA
			a.Leaving = nodes.LeavingCordoned // the local node is listed as leaving too, and still probes itself
			h.edit("a", kubeCordoned)
			h.wantUpdate(a, markedB(nodes.LeavingCordoned), markedC(nodes.LeavingCordoned))
		})
}

func markedB(leaving string) nodes.Node { n := kubeB; n.Leaving = leaving; return n }
func markedC(leaving string) nodes.Node { n := kubeC; n.Leaving = leaving; return n }

// Each taint that says a node is leaving marks it so, whatever the
// cordon policy; a deletion candidate (a soft taint) and the node
// lifecycle controller's unreachable taint do not.
func TestKubernetesLeavingTaints(t *testing.T) {
	for _, tc := range []struct {
		taint string
		want  string
	}{
		{TaintToBeDeletedByClusterAutoscaler, nodes.LeavingAutoscaler},
		{TaintOutOfService, nodes.LeavingOutOfService},
		{"DeletionCandidateOfClusterAutoscaler", ""},
		{corev1.TaintNodeUnreachable, ""},
	} {
		t.Run(tc.taint, func(t *testing.T) {
			taint := func(n *corev1.Node) {
				n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: tc.taint, Effect: corev1.TaintEffectNoSchedule})
			}
			h := newKubeHarness(t, Config{Cordoned: Include}, kubeIP4("a", "198.18.0.1"), kubeIP4("b", "198.18.0.2")).start()
			h.edit("b", taint)
			if tc.want == "" {
				h.settle()
				return
			}
			h.wantUpdate(kubeA, markedB(tc.want))
			h.edit("b", func(n *corev1.Node) { n.Spec.Taints = nil })
			h.wantUpdate(kubeA, kubeB)
		})
	}
}

// testKubernetesPolicy checks a policy (NotReady, Cordoned) that cfg sets
// to include or exclude nodes that mark applies to: marked says what a
// marked node becomes under each policy (kept, and how, or left out).
// Node c starts marked; then b is marked and c unmarked. Under exclude,
// excluded (if set) runs once b is marked, instead of the unmarking.
func testKubernetesPolicy(t *testing.T, cfg func(policy string) Config, mark, unmark func(*corev1.Node),
	marked map[string]func(nodes.Node) (nodes.Node, bool), excluded func(*kubeHarness)) {
	for _, policy := range []string{Include, Exclude} {
		t.Run(policy, func(t *testing.T) {
			h := newKubeHarness(t, cfg(policy),
				kubeIP4("a", "198.18.0.1"), kubeIP4("b", "198.18.0.2"), kubeIP4("c", "198.18.0.3", mark)).start()
			with := func(n nodes.Node, isMarked bool) []nodes.Node {
				if !isMarked {
					return []nodes.Node{n}
				}
				if m, keep := marked[policy](n); keep {
					return []nodes.Node{m}
				}
				return nil
			}
			list := func(bMarked, cMarked bool) []nodes.Node {
				return append(append([]nodes.Node{kubeA}, with(kubeB, bMarked)...), with(kubeC, cMarked)...)
			}
			// expect waits for next, or for nothing when it is no change.
			expect := func(prev, next []nodes.Node) {
				t.Helper()
				if reflect.DeepEqual(prev, next) {
					h.settle()
					return
				}
				h.wantUpdate(next...)
			}
			if want := list(false, true); !reflect.DeepEqual(h.loaded, want) {
				t.Fatalf("Load = %v, want %v", h.loaded, want)
			}
			h.edit("b", mark)
			expect(list(false, true), list(true, true))
			if excluded != nil && policy == Exclude {
				excluded(h)
				return
			}
			h.edit("c", unmark)
			expect(list(true, true), list(true, false))
		})
	}
}

func TestKubernetesHeartbeatDoesNotUpdate(t *testing.T) {
	h := newKubeHarness(t, Config{}, kubeIP4("a", "198.18.0.1"), kubeIP4("b", "198.18.0.2")).start()
	h.settle()
	before := h.src.events.Load()
	h.edit("a", func(n *corev1.Node) {
		for i := range n.Status.Conditions {
			n.Status.Conditions[i].LastHeartbeatTime = metav1.Date(2026, 11, 21, 12, 0, 40, 0, time.UTC)
		}
		n.Status.Images = append(n.Status.Images, corev1.ContainerImage{Names: []string{"pulled:1"}, SizeBytes: 1})
	})
	h.settleAfter(before + 1) // the heartbeat was evaluated, and nothing was reported
	h.create(kubeIP4("c", "198.18.0.3"))
	h.wantUpdate(kubeA, kubeB, kubeC)
}

func TestKubernetesBurstYieldsOneUpdate(t *testing.T) {
	h := newKubeHarness(t, Config{}, kubeIP4("a", "198.18.0.1"))
	// Long enough that the five creates below, microseconds apart, land
	// in one window however slow the machine (the test waits it out once).
	h.src.debounce = 2 * time.Second
	h.start()
	h.settle()
	var want []nodes.Node
	want = append(want, kubeA)
	for i := 2; i <= 6; i++ {
		name := string(rune('a' + i - 1))
		ip := "198.18.0." + string(rune('0'+i))
		h.create(kubeIP4(name, ip))
		want = append(want, nodes.Node{Name: name, HostIP: addr(ip)})
	}
	h.wantUpdate(want...)
	h.settle()
}

func TestKubernetesNodeWithoutAddressIsSkipped(t *testing.T) {
	h := newKubeHarness(t, Config{AddressType: "ExternalIP"},
		kubeTestNode("a", []string{"InternalIP=198.18.0.1", "ExternalIP=198.18.1.1"})).start()
	h.create(kubeTestNode("b", []string{"InternalIP=198.18.0.2"})) // no ExternalIP: skipped, list unchanged
	h.settle()
	h.edit("b", func(n *corev1.Node) { n.Labels = map[string]string{"example.com/pool": "blue"} })
	h.settle()
	// Logged once although it was evaluated again.
	if n := strings.Count(h.log.String(), "node=b"); n != 1 {
		t.Errorf("node b logged %d times, want once:\n%s", n, h.log.String())
	}
	h.edit("b", func(n *corev1.Node) {
		n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: "198.18.1.2"})
	})
	h.wantUpdate(nodes.Node{Name: "a", HostIP: addr("198.18.1.1")}, nodes.Node{Name: "b", HostIP: addr("198.18.1.2")})
}

func TestKubernetesIPv6DualStack(t *testing.T) {
	h := newKubeHarness(t, Config{IPFamily: IPFamilyIPv6},
		kubeTestNode("a", []string{"InternalIP=198.18.0.1", "InternalIP=2001:db8::1"}, kubeHealth("2001:db8:1::1")),
		kubeTestNode("b", []string{"InternalIP=2001:db8::2", "InternalIP=198.18.0.2"}),
	).start()
	want := []nodes.Node{
		{Name: "a", HostIP: addr("2001:db8::1"), HealthIP: addr("2001:db8:1::1")},
		{Name: "b", HostIP: addr("2001:db8::2")},
	}
	if !reflect.DeepEqual(h.loaded, want) {
		t.Errorf("Load:\n got %v\nwant %v", h.loaded, want)
	}
}

func TestKubernetesInvalidListFailsOnceAndRecovers(t *testing.T) {
	h := newKubeHarness(t, Config{},
		kubeIP4("a", "198.18.0.1", kubeHealth("198.19.0.1")), kubeIP4("b", "198.18.0.2")).start()
	// Two nodes claiming one health IP: Validate rejects the whole list.
	h.edit("b", kubeHealth("198.19.0.1"))
	if err := h.wantFail("duplicates health_ip"); nodes.IsTransient(err) {
		t.Errorf("a rejected list reported as transient: %v", err)
	}
	h.edit("b", kubeWithAnnotation("example.com/other", "x")) // still the same bad list: not reported again
	h.settle()
	h.edit("b", func(n *corev1.Node) { delete(n.Annotations, DefaultHealthIPAnnotation) })
	a := kubeA
	a.HealthIP = addr("198.19.0.1")
	h.wantUpdate(a, kubeB) // the same list as before the error, reported again
}

func TestKubernetesLoadInvalidList(t *testing.T) {
	h := newKubeHarness(t, Config{NotReady: Exclude}, kubeIP4("a", "198.18.0.1", kubeNotReady))
	defer h.src.Close()
	_, err := h.src.Load(context.Background())
	if err == nil || !strings.Contains(err.Error(), "node list from Kubernetes: node list is empty") {
		t.Fatalf("Load = %v, want the empty list error", err)
	}
}

// kubeFlakyAPI makes the fake's list and watch of resource ("nodes" when
// empty) fail while failing is set, and lets a test end the watch that is
// running.
type kubeFlakyAPI struct {
	resource string
	failing  atomic.Bool
	lists    atomic.Int32 // failed lists
	mu       sync.Mutex
	watches  []watch.Interface
}

func (f *kubeFlakyAPI) install(client *fake.Clientset) {
	resource := f.resource
	if resource == "" {
		resource = "nodes"
	}
	client.PrependReactor("list", resource, func(k8stesting.Action) (bool, runtime.Object, error) {
		if f.failing.Load() {
			f.lists.Add(1)
			return true, nil, errors.New("list refused by test")
		}
		return false, nil, nil
	})
	client.PrependWatchReactor(resource, func(action k8stesting.Action) (bool, watch.Interface, error) {
		if f.failing.Load() {
			return true, nil, errors.New("watch refused by test")
		}
		wa := action.(k8stesting.WatchActionImpl)
		w, err := client.Tracker().Watch(wa.GetResource(), wa.GetNamespace(), wa.ListOptions)
		if err == nil {
			f.mu.Lock()
			f.watches = append(f.watches, w)
			f.mu.Unlock()
		}
		return true, w, err
	})
}

// breakWatch makes the API fail and ends the running watch, as a lost
// connection to the API server does.
func (f *kubeFlakyAPI) breakWatch() {
	f.failing.Store(true)
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, w := range f.watches {
		w.Stop()
	}
	f.watches = nil
}

func TestKubernetesAPIErrorKeepsLastList(t *testing.T) {
	h := newKubeHarness(t, Config{}, kubeIP4("a", "198.18.0.1"), kubeIP4("b", "198.18.0.2"))
	var api kubeFlakyAPI
	api.install(h.client)
	h.start()
	h.settle()

	api.breakWatch()
	// The informer retries by itself, and no update will say it is over.
	if err := h.wantFail("watching Kubernetes nodes: "); !nodes.IsTransient(err) {
		t.Errorf("a watch error not reported as transient: %v", err)
	}
	// The cache, and so the list, is what it was: nothing but errors
	// while the API is down, however often the informer retries.
	before := h.src.events.Load()
	api.failing.Store(false)
	// The informer lists again after its backoff: the same nodes, so
	// events but no update.
	h.settleAllowingFails(before + 1)

	h.create(kubeIP4("c", "198.18.0.3"))
	h.wantUpdateAllowingFails(kubeA, kubeB, kubeC)
}

// drainFails discards fail calls left from a period of API errors.
func (h *kubeHarness) drainFails() {
	for {
		select {
		case <-h.fails:
		default:
			return
		}
	}
}

// settleAllowingFails is settleAfter for a time when the API was failing:
// fail calls are expected and dropped, updates are not.
func (h *kubeHarness) settleAllowingFails(n uint64) {
	h.t.Helper()
	deadline := time.After(kubeWait)
	for {
		select {
		case seen := <-h.evals:
			if seen >= n {
				h.drainFails()
				h.wantQuiet()
				return
			}
		case <-h.fails:
		case got := <-h.updates:
			h.t.Fatalf("unexpected update(%v) while the list did not change", got)
		case <-deadline:
			h.t.Fatalf("the informer did not list again after the API recovered")
		}
	}
}

func (h *kubeHarness) wantUpdateAllowingFails(want ...nodes.Node) {
	h.t.Helper()
	deadline := time.After(kubeWait)
	for {
		select {
		case got := <-h.updates:
			if !reflect.DeepEqual(got, want) {
				h.t.Fatalf("update:\n got %v\nwant %v", got, want)
			}
			return
		case <-h.fails:
		case <-deadline:
			h.t.Fatalf("no update, want %v", want)
		}
	}
}

func TestKubernetesLoadTimesOutWithLastError(t *testing.T) {
	h := newKubeHarness(t, Config{}, kubeIP4("a", "198.18.0.1"))
	var api kubeFlakyAPI
	api.failing.Store(true)
	api.install(h.client)
	defer h.src.Close()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		// The second list starts after the first one's error was handled.
		for api.lists.Load() < 2 {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
	}()
	_, err := h.src.Load(ctx)
	want := "waiting for the Kubernetes node list: context canceled (last error: watching Kubernetes nodes: "
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "list refused by test") {
		t.Fatalf("Load = %v, want %q... with the list error", err, want)
	}
	// Logged as it happened, not only when Load gives up.
	if want := `msg="Kubernetes API error before the first complete list, retrying" err="watching Kubernetes nodes: failed to list *v1.Node: list refused by test"`; !strings.Contains(h.log.String(), want) {
		t.Errorf("log lacks %s:\n%s", want, h.log.String())
	}
}

func TestKubernetesWatchWithoutLoad(t *testing.T) {
	h := newKubeHarness(t, Config{}, kubeIP4("b", "198.18.0.2"), kubeIP4("a", "198.18.0.1"))
	h.watch()
	h.wantUpdate(kubeA, kubeB) // the first complete list, once
	h.settle()
}

func TestKubernetesClosed(t *testing.T) {
	h := newKubeHarness(t, Config{}, kubeIP4("a", "198.18.0.1")).start()
	h.stop() // Watch returning stops the informer
	if _, err := h.src.Load(context.Background()); !errors.Is(err, errClosed) {
		t.Errorf("Load after Watch returned = %v, want %v", err, errClosed)
	}
	var failed error
	h.src.Watch(context.Background(), nil, func(err error) { failed = err })
	if !errors.Is(failed, errClosed) {
		t.Errorf("Watch after Close failed with %v, want %v", failed, errClosed)
	}
	h.src.Close() // again: fine

	never := NewSource(fake.NewClientset(), Config{}, nil)
	never.Close() // never started: fine
}

// An API server that never answers (client-go retries connection refused
// silently) is reported while there is no first list: Watch asks why at
// its pace, and reports the answer as a transient error.
func TestKubernetesSaysWhyThereIsNoListYet(t *testing.T) {
	h := newKubeHarness(t, Config{}, kubeIP4("a", "198.18.0.1"))
	block := make(chan struct{})
	t.Cleanup(func() { close(block) }) // after Watch stopped (cleanups run last first)
	h.client.PrependReactor("list", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
		<-block
		return true, nil, errors.New("ended")
	})
	h.client.PrependWatchReactor("nodes", func(k8stesting.Action) (bool, watch.Interface, error) {
		<-block
		return true, nil, errors.New("ended")
	})
	h.src.unsynced = 20 * time.Millisecond
	h.src.reach = func(context.Context) error {
		return errors.New("dial tcp 127.0.0.1:6443: connect: connection refused")
	}
	h.watch()
	if err := h.wantFail("no node list from the Kubernetes API yet: dial tcp 127.0.0.1:6443: connect: connection refused"); !nodes.IsTransient(err) {
		t.Errorf("%v is not transient: the last good list (none yet) stays, nothing is rejected", err)
	}
}
