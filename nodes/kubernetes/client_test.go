package kubernetes

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/connectivity-exporter/connectivity_exporter/nodes"
)

func TestNewKubernetesClientFromKubeconfig(t *testing.T) {
	// A local stand-in for the API server that answers one node list and
	// records what the client asked for.
	var mu sync.Mutex
	var req *http.Request
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		req = r.Clone(context.Background())
		mu.Unlock()
		if r.URL.Path != "/api/v1/nodes" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(corev1.NodeList{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "NodeList"},
			Items:    []corev1.Node{*kubeIP4("node-1", "198.18.0.1")},
		})
	}))
	defer srv.Close()

	client, err := NewClient(kubeconfigFor(t, srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	list, err := client.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || list.Items[0].Name != "node-1" {
		t.Errorf("list = %+v", list.Items)
	}
	mu.Lock()
	defer mu.Unlock()
	if got := req.Header.Get("Authorization"); got != "Bearer test-token" {
		t.Errorf("Authorization = %q, want the kubeconfig's token", got)
	}
	if got := req.Header.Get("User-Agent"); got != "connectivity-exporter" {
		t.Errorf("User-Agent = %q", got)
	}
	if got := req.Header.Get("Accept"); !strings.HasPrefix(got, "application/vnd.kubernetes.protobuf") || !strings.Contains(got, "application/json") {
		t.Errorf("Accept = %q, want protobuf first and JSON as fallback", got)
	}
}

func TestNewKubernetesClientErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	if _, err := NewClient(missing); err == nil || !strings.Contains(err.Error(), "kubeconfig "+missing+": ") {
		t.Errorf("missing kubeconfig: err = %v", err)
	}
	// Outside a pod (no KUBERNETES_SERVICE_HOST), in-cluster must say so.
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBERNETES_SERVICE_PORT", "")
	if _, err := NewClient(""); err == nil || !strings.Contains(err.Error(), "in-cluster Kubernetes configuration") {
		t.Errorf("in-cluster outside a pod: err = %v", err)
	}
}

// kubeAPIServer is a minimal stand-in for the API server's Node and Pod
// endpoints, enough for informers over real HTTP and JSON: LIST and WATCH
// (streamed, with or without the initial events) of nodes and of the pods
// of one namespace.
type kubeAPIServer struct {
	t      *testing.T
	mu     sync.Mutex
	nodes  []corev1.Node
	pods   []corev1.Pod // in namespace kubeHealthNS
	events chan string  // node watch events to stream, as JSON lines
	paths  []string
}

func (a *kubeAPIServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.paths = append(a.paths, r.Method+" "+r.URL.RequestURI())
	nodes := slices.Clone(a.nodes)
	pods := slices.Clone(a.pods)
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	podsPath := "/api/v1/namespaces/" + kubeHealthNS + "/pods"
	switch {
	case r.Method == http.MethodGet && r.URL.Path == podsPath && r.URL.Query().Get("watch") == "":
		_ = json.NewEncoder(w).Encode(corev1.PodList{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PodList"},
			ListMeta: metav1.ListMeta{ResourceVersion: "10"},
			Items:    pods,
		})
	case r.Method == http.MethodGet && r.URL.Path == podsPath:
		w.WriteHeader(http.StatusOK)
		if r.URL.Query().Get("sendInitialEvents") == "true" {
			for _, p := range pods {
				p.APIVersion, p.Kind = "v1", "Pod"
				a.writeEvent(w, "ADDED", p)
			}
			a.writeEvent(w, "BOOKMARK", corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: metav1.ObjectMeta{
				ResourceVersion: "10", Annotations: map[string]string{metav1.InitialEventsAnnotationKey: "true"}}})
		}
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/nodes" && r.URL.Query().Get("watch") == "":
		_ = json.NewEncoder(w).Encode(corev1.NodeList{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "NodeList"},
			ListMeta: metav1.ListMeta{ResourceVersion: "10"},
			Items:    nodes,
		})
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/nodes":
		flusher := w.(http.Flusher)
		w.WriteHeader(http.StatusOK)
		if r.URL.Query().Get("sendInitialEvents") == "true" {
			for _, n := range nodes {
				n.APIVersion, n.Kind = "v1", "Node"
				a.writeEvent(w, "ADDED", n)
			}
			a.writeEvent(w, "BOOKMARK", corev1.Node{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Node"}, ObjectMeta: metav1.ObjectMeta{
				ResourceVersion: "10", Annotations: map[string]string{metav1.InitialEventsAnnotationKey: "true"}}})
		}
		flusher.Flush()
		for {
			select {
			case <-r.Context().Done():
				return
			case ev := <-a.events:
				_, _ = io.WriteString(w, ev+"\n")
				flusher.Flush()
			}
		}
	default:
		http.NotFound(w, r)
	}
}

// writeEvent writes a watch event of obj, which has its kind set.
func (a *kubeAPIServer) writeEvent(w io.Writer, typ string, obj any) {
	data, err := json.Marshal(map[string]any{"type": typ, "object": obj})
	if err != nil {
		a.t.Error(err)
	}
	_, _ = w.Write(append(data, '\n'))
}

func (a *kubeAPIServer) send(typ string, n *corev1.Node) {
	var buf bytes.Buffer
	o := *n
	o.APIVersion, o.Kind = "v1", "Node"
	a.writeEvent(&buf, typ, o)
	a.events <- strings.TrimSpace(buf.String())
}

// TestKubernetesSourceOverHTTP runs the source with a real client against
// a local HTTP server: the request paths, JSON decoding of lists and of a
// streamed watch, which the fake clientset skips.
func TestKubernetesSourceOverHTTP(t *testing.T) {
	n1 := kubeIP4("node-1", "198.18.0.1")
	n1.ResourceVersion = "9"
	pod := kubeTestPod("health-1", "node-1", 0, []string{"198.19.0.1"})
	pod.ResourceVersion = "8"
	api := &kubeAPIServer{t: t, nodes: []corev1.Node{*n1}, pods: []corev1.Pod{*pod}, events: make(chan string, 10)}
	srv := httptest.NewTLSServer(api)
	defer srv.Close()
	client, err := NewClient(kubeconfigFor(t, srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	src := NewSource(client, Config{HealthPodNamespace: kubeHealthNS}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), kubeWait)
	defer cancel()
	list, err := src.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []nodes.Node{{Name: "node-1", HostIP: addr("198.18.0.1"), HealthIP: addr("198.19.0.1")}}
	if !reflect.DeepEqual(list, want) {
		t.Fatalf("Load = %v, want %v", list, want)
	}

	updates := make(chan []nodes.Node, 10)
	done := make(chan struct{})
	wctx, stop := context.WithCancel(context.Background())
	go func() {
		defer close(done)
		src.Watch(wctx, func(l []nodes.Node) { updates <- l }, func(err error) { t.Errorf("fail(%v)", err) })
	}()
	n2 := kubeIP4("node-2", "198.18.0.2")
	n2.ResourceVersion = "11"
	api.send("ADDED", n2)
	select {
	case got := <-updates:
		want = append(want, nodes.Node{Name: "node-2", HostIP: addr("198.18.0.2")})
		if !reflect.DeepEqual(got, want) {
			t.Errorf("update %v, want %v", got, want)
		}
	case <-time.After(kubeWait):
		t.Fatal("no update after a watch event")
	}
	stop()
	<-done

	api.mu.Lock()
	defer api.mu.Unlock()
	// A WATCH of all nodes and of the health pods of one namespace, by
	// label (client-go streams the initial list over it,
	// sendInitialEvents, where the server can; else it LISTs first), and
	// nothing else: no polling, no other resource, no pods of the cluster.
	watched := map[string]bool{}
	podsPrefix := "GET /api/v1/namespaces/" + kubeHealthNS + "/pods?"
	selector := "labelSelector=" + url.QueryEscape(DefaultHealthPodSelector)
	for _, p := range api.paths {
		switch {
		case strings.HasPrefix(p, "GET /api/v1/nodes"):
			watched["nodes"] = watched["nodes"] || strings.Contains(p, "watch=true")
		case strings.HasPrefix(p, podsPrefix) && strings.Contains(p, selector):
			watched["pods"] = watched["pods"] || strings.Contains(p, "watch=true")
		default:
			t.Errorf("unexpected request %s", p)
		}
	}
	if !watched["nodes"] || !watched["pods"] {
		t.Errorf("requests %v: want a WATCH of /api/v1/nodes and of the health pods", api.paths)
	}
}

func kubeconfigFor(t *testing.T, server string) string {
	t.Helper()
	tmpl := readTestdata(t, "kubeconfig.yaml")
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(tmpl), "SERVER", server)), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestKubernetesNamespace(t *testing.T) {
	plain := kubeconfigFor(t, "https://198.18.0.1:6443")
	data, err := os.ReadFile(plain)
	if err != nil {
		t.Fatal(err)
	}
	withNS := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(withNS, []byte(strings.Replace(string(data), "      cluster: test\n", "      cluster: test\n      namespace: monitoring\n", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ kubeconfig, want string }{
		{plain, "default"},
		{withNS, "monitoring"},
	} {
		if got, err := Namespace(tt.kubeconfig); err != nil || got != tt.want {
			t.Errorf("Namespace(%s) = %q, %v; want %q", filepath.Base(tt.kubeconfig), got, err, tt.want)
		}
	}
	missing := filepath.Join(t.TempDir(), "missing")
	if _, err := Namespace(missing); err == nil || !strings.Contains(err.Error(), "namespace of kubeconfig "+missing) {
		t.Errorf("missing kubeconfig: err = %v", err)
	}
}
