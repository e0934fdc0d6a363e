package kubeapi

import (
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// apiAddr is where the API server is reached from inside a lab namespace.
const apiAddr = "127.0.0.1:6443"

// metricsAddr is where the exporter serves /metrics, inside its namespace.
const metricsAddr = "127.0.0.1:9240"

// writeKubeconfig writes a kubeconfig for the API server as seen from a
// lab namespace, authenticating with token, in namespace ns.
func writeKubeconfig(t *testing.T, admin *rest.Config, token, ns string) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["lab"] = &clientcmdapi.Cluster{
		Server:                   "https://" + apiAddr,
		CertificateAuthorityData: admin.TLSClientConfig.CAData,
		TLSServerName:            admin.TLSClientConfig.ServerName,
	}
	cfg.AuthInfos["exporter"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["lab"] = &clientcmdapi.Context{Cluster: "lab", AuthInfo: "exporter", Namespace: ns}
	cfg.CurrentContext = "lab"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// apiForward makes the API server reachable at apiAddr inside netns.
func apiForward(t *testing.T, admin *rest.Config, netns string) {
	t.Helper()
	host := strings.TrimPrefix(admin.Host, "https://")
	forwardInto(t, netns, apiAddr, host)
}

// exporter is a running exporter binary in a lab namespace.
type exporter struct {
	*proc
	netns  string
	socket string // its admin socket, for the status command
	client *http.Client
}

func startExporter(t *testing.T, netns, kubeconfig, node string, env []string, extra ...string) *exporter {
	t.Helper()
	socket := filepath.Join(t.TempDir(), "admin.sock")
	args := append([]string{
		"--nodes.kubernetes", "--nodes.kubernetes.kubeconfig=" + kubeconfig, "--node.name=" + node,
		"--admin.socket=" + socket,
		"--web.listen-address=" + metricsAddr, "--hello.listen-address=:4240",
		"--probe.interval=1s", "--probe.timeout=500ms", "--probe.failure-threshold=1",
		"--metrics.per-peer=all",
	}, extra...)
	e := &exporter{proc: start(t, netns, env, args...), netns: netns, socket: socket}
	e.client = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			return testbin.DialIn(ctx, netns, "tcp", addr)
		},
	}}
	return e
}

// get fetches path from the exporter's web server: its status and body.
func (e *exporter) get(path string) (int, string) {
	return e.getAt(metricsAddr, path)
}

// getAt fetches path from addr inside the exporter's namespace.
func (e *exporter) getAt(addr, path string) (int, string) {
	resp, err := e.client.Get("http://" + addr + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// view is one scrape, queried.
type view struct{ testbin.Metrics }

// scrape reads /metrics.
func (e *exporter) scrape() (view, error) {
	m, _, err := testbin.ScrapeMetrics(e.client, "http://"+metricsAddr+"/metrics")
	return view{m}, err
}

// get is the value of the first series of name with all the labels given
// as "key=value".
func (v view) get(name string, labels ...string) (float64, bool) {
	s := v.Find(name, labelMap(labels))
	if len(s) == 0 {
		return 0, false
	}
	return s[0].Value, true
}

func (v view) count(name string, labels ...string) int {
	return len(v.Find(name, labelMap(labels)))
}

func labelMap(labels []string) map[string]string {
	m := map[string]string{}
	for _, l := range labels {
		k, v, _ := strings.Cut(l, "=")
		m[k] = v
	}
	return m
}

// paths says what /metrics shows of one peer: its reachability gauge per
// path and protocol ("host/icmp" -> 1), absent while unknown or when the
// path does not exist.
func (v view) paths(peer string) map[string]float64 {
	out := map[string]float64{}
	for _, s := range v.Find("connectivity_peer_reachable", map[string]string{"peer": peer}) {
		out[s.Labels["path"]+"/"+s.Labels["protocol"]] = s.Value
	}
	return out
}

// allReachable is what paths returns for a peer whose four paths work.
var allReachable = map[string]float64{"host/icmp": 1, "host/http": 1, "endpoint/icmp": 1, "endpoint/http": 1}

// hostOnly is what paths returns for a reachable peer without a health IP.
var hostOnly = map[string]float64{"host/icmp": 1, "host/http": 1}

// within waits until cond holds on a scrape, at most limit, and returns
// how long that took. cond returns what is still wrong, or "".
func (e *exporter) within(t *testing.T, limit time.Duration, what string, cond func(view) string) time.Duration {
	t.Helper()
	defer e.logOnFailure(t)
	d := testbin.Eventually(t, limit, what+" shown on /metrics", func() error {
		if e.exited() {
			t.Fatalf("%s: the exporter exited: %v", what, e.err)
		}
		v, err := e.scrape()
		if err != nil {
			return err
		}
		wrong := cond(v)
		return testbin.Holds(wrong == "", wrong)
	})
	t.Logf("%s: shown on /metrics after %s", what, d.Round(10*time.Millisecond))
	return d
}

// logOnFailure logs the exporter's output if t has failed; deferred, it
// runs on t.Fatal too.
func (e *exporter) logOnFailure(t *testing.T) {
	if t.Failed() {
		t.Logf("exporter output:\n%s", e.output)
	}
}
