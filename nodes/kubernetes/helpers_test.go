package kubernetes

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"
)

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// readTestdata is the file name of testdata/.
func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// kubeWait bounds a wait in these tests. It is generous: the tests wait on
// events, and this only stops a broken test.
const kubeWait = 20 * time.Second

// kubeTestNode builds a Ready, schedulable Node with the given addresses
// ("InternalIP=198.18.0.1", "ExternalIP=...") and options applied.
func kubeTestNode(name string, addrs []string, opts ...func(*corev1.Node)) *corev1.Node {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name)},
		Status: corev1.NodeStatus{
			Conditions: []corev1.NodeCondition{
				{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse},
				{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
					LastHeartbeatTime: metav1.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)},
			},
		},
	}
	for _, a := range addrs {
		typ, ip, _ := strings.Cut(a, "=")
		n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeAddressType(typ), Address: ip})
	}
	n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeHostName, Address: name})
	for _, o := range opts {
		o(n)
	}
	return n
}

func kubeWithAnnotation(key, value string) func(*corev1.Node) {
	return func(n *corev1.Node) {
		if n.Annotations == nil {
			n.Annotations = map[string]string{}
		}
		n.Annotations[key] = value
	}
}

func kubeHealth(ip string) func(*corev1.Node) {
	return kubeWithAnnotation(DefaultHealthIPAnnotation, ip)
}

func kubeNotReady(n *corev1.Node) { kubeSetReady(n, corev1.ConditionFalse) }

func kubeSetReady(n *corev1.Node, status corev1.ConditionStatus) {
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == corev1.NodeReady {
			n.Status.Conditions[i].Status = status
		}
	}
}

func kubeCordoned(n *corev1.Node) { n.Spec.Unschedulable = true }

// kubeIP4 is an InternalIP node in the test range.
func kubeIP4(name, ip string, opts ...func(*corev1.Node)) *corev1.Node {
	return kubeTestNode(name, []string{"InternalIP=" + ip}, opts...)
}

// kubeLog collects what a source logs, for tests that check it.
type kubeLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *kubeLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *kubeLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *kubeLog) logger() log.Logger { return log.NewLogfmtLogger(l) }

// kubeTestdata decodes a NodeList from nodes/testdata/kubernetes, strictly:
// a typo in a fixture must not silently drop a field.
func kubeTestdata(t *testing.T, name string) []*corev1.Node {
	t.Helper()
	data := readTestdata(t, name)
	var list corev1.NodeList
	if err := yaml.UnmarshalStrict(data, &list); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	out := make([]*corev1.Node, len(list.Items))
	for i := range list.Items {
		out[i] = &list.Items[i]
	}
	return out
}
