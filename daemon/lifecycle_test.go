package daemon

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
	"github.com/connectivity-exporter/connectivity_exporter/exitcode"
	"github.com/connectivity-exporter/connectivity_exporter/nodes"
	"github.com/connectivity-exporter/connectivity_exporter/status"
	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// laterSource is a node source that delivers nothing until its test sends
// a list, like a Kubernetes API server that is unreachable.
type laterSource struct {
	lists chan []nodes.Node
}

func (s *laterSource) Load(ctx context.Context) ([]nodes.Node, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func (s *laterSource) Watch(ctx context.Context, update func([]nodes.Node), _ func(error)) {
	for {
		select {
		case <-ctx.Done():
			return
		case l := <-s.lists:
			update(l)
		}
	}
}

// get fetches path from the web server: its status code and body.
func (td *testDaemon) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(strings.TrimSuffix(td.metricsURL, "/metrics") + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// Without a node list (the API server unreachable) the daemon serves from
// the start and says it has none: /-/healthy 200, /-/ready 503,
// connectivity_node_list_loaded 0 and no connectivity_nodes, status exits
// 1 saying so. It does not exit. Once a list comes it probes, and turns
// ready after its first full sweep.
func TestDaemonServesBeforeTheFirstNodeList(t *testing.T) {
	src := &laterSource{lists: make(chan []nodes.Node)}
	td := startTestDaemonWith(t, "", func(c *Config) { c.ProbeInterval = 300 * time.Millisecond }, func(d *Deps) {
		d.NodeSource = func(*Config) (nodes.Source, func(), error) { return src, func() {}, nil }
	})
	testbin.Eventually(t, 10*time.Second, "the state the test waits for", func() error {
		why := func() string {
			if code, body := td.get(t, "/-/healthy"); code != http.StatusOK {
				return "/-/healthy: " + body
			}
			return ""
		}()
		return testbin.Holds(why == "", why)
	})
	// Long enough for a daemon that would give up or crash to have done so.
	time.Sleep(500 * time.Millisecond)
	if code, body := td.get(t, "/-/ready"); code != http.StatusServiceUnavailable || !strings.Contains(body, "no node list yet") {
		t.Errorf("/-/ready without a node list: %d %q, want 503 saying no node list yet", code, body)
	}
	m := td.metrics()
	if !strings.Contains(m, `connectivity_node_list_loaded{source="node-1"} 0`) || strings.Contains(m, "connectivity_nodes{") ||
		strings.Contains(m, "connectivity_peers{") {
		t.Errorf("/metrics without a node list: want node_list_loaded 0 and no node or path series:\n%s", grep(m, "connectivity_node", "connectivity_peers"))
	}
	if !strings.Contains(m, "go_goroutines") {
		t.Errorf("/metrics without a node list lacks the process metrics")
	}
	code, out := td.status(t, status.CLIOptions{})
	if code != exitcode.Unhealthy || !strings.Contains(out, "no node list yet") {
		t.Errorf("status without a node list: exit %d, want %d saying no node list yet:\n%s", code, exitcode.Unhealthy, out)
	}
	if r, err := admin.NewClient(td.socket).Status(context.Background()); err != nil || !r.NoNodeList {
		t.Errorf("report without a node list: %+v, %v; want NoNodeList", r, err)
	}

	list, err := nodes.ParseFile([]byte(nodesYAML(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	src.lists <- list
	td.waitHealthy(t)
	testbin.Eventually(t, 10*time.Second, "the state the test waits for", func() error {
		why := func() string {
			code, body := td.get(t, "/-/ready")
			if code != http.StatusOK {
				return "/-/ready: " + body
			}
			m := td.metrics()
			if !strings.Contains(m, `connectivity_node_list_loaded{source="node-1"} 1`) || !strings.Contains(m, `connectivity_nodes{source="node-1"} 2`) {
				return "metrics: " + grep(m, "connectivity_node")
			}
			return ""
		}()
		return testbin.Holds(why == "", why)
	})
}

// Ready means one full sweep done: with a long interval, the daemon has
// a list at once but is not ready before its first sweep ends.
func TestDaemonReadyAfterTheFirstSweep(t *testing.T) {
	td := startTestDaemon(t, nodesYAML(1, 2, 3), func(c *Config) { c.ProbeInterval = 2 * time.Second })
	testbin.Eventually(t, 10*time.Second, "the state the test waits for", func() error {
		why := func() string {
			if code, _ := td.get(t, "/-/healthy"); code != http.StatusOK {
				return "not serving"
			}
			return ""
		}()
		return testbin.Holds(why == "", why)
	})
	start := time.Now()
	code, body := td.get(t, "/-/ready")
	if time.Since(start) < time.Second && (code != http.StatusServiceUnavailable || !strings.Contains(body, "probing its peers for the first time")) {
		t.Errorf("/-/ready during the first sweep: %d %q, want 503 saying it is probing", code, body)
	}
	testbin.Eventually(t, 10*time.Second, "the state the test waits for", func() error {
		why := func() string {
			if code, body := td.get(t, "/-/ready"); code != http.StatusOK {
				return body
			}
			return ""
		}()
		return testbin.Holds(why == "", why)
	})
}

// A node list change keeps every path known at every scrape: a health
// endpoint that moves to a new IP keeps its series (the old verdict until
// the new address's first result), and the new address is probed at
// once, long before its slot in the next cycle.
func TestDaemonSeriesStayThroughAHealthIPChange(t *testing.T) {
	td := startTestDaemon(t, nodesYAML(1, 2), func(c *Config) { c.ProbeInterval, c.ProbeTimeout = time.Second, time.Second })
	td.waitHealthy(t)
	series := []string{
		`connectivity_peer_reachable{family="ipv4",path="endpoint",peer="node-2",protocol="icmp",source="node-1"} 1`,
		`connectivity_peer_reachable{family="ipv4",path="endpoint",peer="node-2",protocol="http",source="node-1"} 1`,
	}
	testbin.Eventually(t, 10*time.Second, "the state the test waits for", func() error {
		why := func() string {
			m := td.metrics()
			for _, s := range series {
				if !strings.Contains(m, s) {
					return "missing " + s
				}
			}
			return ""
		}()
		return testbin.Holds(why == "", why)
	})
	// The new address answers after 400 ms: scrapes meanwhile would find
	// the paths unknown, had they not kept the old verdict.
	td.net.setSlow("198.19.0.22", 400*time.Millisecond)
	changed := time.Now()
	td.writeNodes(t, strings.Replace(nodesYAML(1, 2), "198.19.0.2\n", "198.19.0.22\n", 1))
	scrapes := 0
	testbin.Eventually(t, 10*time.Second, "the state the test waits for", func() error {
		why := func() string {
			m := td.metrics()
			scrapes++
			for _, s := range series {
				if !strings.Contains(m, s) {
					t.Errorf("scrape %d after the change: %s absent or not 1:\n%s", scrapes, s, grep(m, `peer="node-2"`))
				}
			}
			if st, _ := admin.NewClient(td.socket).Status(context.Background()); !newAddressAnswered(st, "198.19.0.22", changed) {
				return "the new address has not answered yet"
			}
			return ""
		}()
		return testbin.Holds(why == "", why)
	})
	t.Logf("%d scrapes until both paths had probed the new address, the series present at each", scrapes)
}

// newAddressAnswered says whether node-2's endpoint at ip has answered on
// both protocols since since (only the new address's results are kept).
func newAddressAnswered(r admin.Report, ip string, since time.Time) bool {
	for _, n := range r.Nodes {
		if n.Name == "node-2" && n.Endpoint != nil && n.Endpoint.IP == ip {
			e := n.Endpoint
			return e.ICMP.Result == "success" && e.HTTP.Result == "success" && e.ICMP.LastProbed.After(since) && e.HTTP.LastProbed.After(since)
		}
	}
	return false
}
