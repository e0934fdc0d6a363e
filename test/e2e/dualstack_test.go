package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// startDualStackLab is startLab with an IPv4 and an IPv6 address (from
// 2001:db8::/32) on every host and health endpoint.
func startDualStackLab(t *testing.T, k int) *lab {
	t.Setenv("LAB_IPV6", "1") // lab.sh reads it from the environment
	return startLab(t, k)
}

// An IPv6-only FORWARD drop on node-2 (an nft ip6 table in its namespace):
// other nodes see only node-2's IPv6 endpoint paths fail, on /metrics and
// in status, whose diagnosis names IPv6; IPv4 stays green.
func TestIPv6ForwardDropCutsOnlyIPv6Endpoints(t *testing.T) {
	l := startDualStackLab(t, 3)
	for peer := 1; peer <= 3; peer++ {
		for _, family := range []string{"ipv4", "ipv6"} {
			l.expectFamilyPaths(peer, family, allPaths, 1, converge)
		}
	}
	l.mustRun("fault", "forward-drop6", "2")
	l.expectFamilyPaths(2, "ipv6", endpointPaths, 0, converge)
	l.expectFamilyPaths(2, "ipv6", hostPaths, 1, time.Second)
	l.expectFamilyPaths(2, "ipv4", allPaths, 1, time.Second)
	l.expectFamilyPaths(3, "ipv6", allPaths, 1, time.Second)

	// The aggregates say the same: one IPv6 endpoint path per protocol
	// unreachable from node-1, no IPv4 one.
	mfs, _, err := l.metrics(1)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		family string
		want   float64
	}{{"ipv6", 1}, {"ipv4", 0}} {
		for _, protocol := range []string{"icmp", "http"} {
			match := map[string]string{"path": "endpoint", "protocol": protocol, "family": tc.family, "status": "unreachable"}
			if v, ok := mfs.Value("connectivity_peers", match); !ok || v != tc.want {
				t.Errorf("node-1: connectivity_peers%v = %v (present %v), want %v", match, v, ok, tc.want)
			}
		}
	}

	l.expectDiagnosis(1, 2, "IPv6 traffic is dropped inside node-2 before it reaches endpoints")
	r, _, err := l.status(1)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range r.Nodes {
		switch {
		case n.Host == nil || n.DualStackHost == nil || n.Endpoint == nil || n.DualStackEndpoint == nil:
			t.Errorf("%s lacks a family in the report: %+v", n.Name, n)
		case n.Name == "node-2":
			if n.DualStackEndpoint.ICMP.Status != "unreachable" || n.Endpoint.ICMP.Status != "reachable" {
				t.Errorf("node-2 endpoint ICMP: IPv4 %s, IPv6 %s; want reachable, unreachable", n.Endpoint.ICMP.Status, n.DualStackEndpoint.ICMP.Status)
			}
		case n.Diagnosis != "":
			t.Errorf("%s diagnosed %q under a fault of node-2", n.Name, n.Diagnosis)
		}
	}
	text, code := l.statusText(1)
	for _, want := range []string{"Endpoint connectivity to 198.19.0.2:", "Endpoint connectivity to 2001:db8:1::2:", "Diagnosis: IPv6 traffic is dropped inside node-2"} {
		if !strings.Contains(text, want) {
			t.Errorf("status text lacks %q:\n%s", want, text)
		}
	}
	if code == 0 {
		t.Errorf("status exited 0 with node-2's IPv6 endpoints unreachable:\n%s", text)
	}

	l.mustRun("clear", "forward-drop6", "2")
	l.expectFamilyPaths(2, "ipv6", allPaths, 1, converge)
}

// A single-stack lab has no family="ipv6" series at all: the aggregates of
// a family exist only when something of it is probed.
func TestSingleStackLabHasNoIPv6Series(t *testing.T) {
	l := startLab(t, 2)
	l.expectPaths(2, allPaths, 1, converge)
	_, body, err := l.metrics(1)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(body, `family="ipv6"`) {
		t.Errorf("an IPv4-only lab exports family=\"ipv6\" series:\n%s", grepLines(body, `family="ipv6"`))
	}
	if !strings.Contains(body, fmt.Sprintf(`connectivity_peers{family="ipv4",path="endpoint",protocol="http",source="node-1",status="reachable"} %d`, 2)) {
		t.Errorf("connectivity_peers of ipv4 endpoint http not 2 reachable:\n%s", grepLines(body, "connectivity_peers{"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// Through a real Prometheus with the shipped rules: an IPv6-only FORWARD
// drop fires ConnectivityEndpointUnreachable and the verdict
// ConnectivityNodeEndpointsCutOff for node-2 with family="ipv6", and
// nothing about node-2's IPv4.
func TestPrometheusIPv6OnlyFault(t *testing.T) {
	requirePrometheus(t)
	l := startDualStackLab(t, 3)
	dir := t.TempDir()
	am := startAlertmanager(t, dir, testbin.StartAlertReceiver(t).URL)
	prom := startPrometheus(t, dir, "dual", testbin.WriteRules(t, dir, testbin.RulePace{For: "10s"}), am, true)
	for peer := 1; peer <= 3; peer++ {
		for _, family := range []string{"ipv4", "ipv6"} {
			l.expectFamilyPaths(peer, family, allPaths, 1, converge)
		}
	}
	testbin.Eventually(t, converge, "Prometheus scraping all three exporters", func() error {
		v, err := prom.Query(`count(up{job="connectivity"} == 1)`)
		return testbin.Holds(err == nil && len(v) == 1 && v[0].Value == 3, fmt.Sprint(v, err))
	})

	l.mustRun("fault", "forward-drop6", "2")
	var firing []testbin.PromAlert
	testbin.Eventually(t, 90*time.Second, `ConnectivityEndpointUnreachable{family="ipv6"} firing for node-2`, func() error {
		alerts, err := prom.Alerts()
		if err != nil {
			return err
		}
		firing = firing[:0]
		ok := false
		for _, a := range alerts {
			if a.Labels["peer"] != "node-2" {
				continue
			}
			firing = append(firing, a)
			ok = ok || a.Labels["alertname"] == "ConnectivityEndpointUnreachable" && a.Labels["family"] == "ipv6" && a.State == "firing"
		}
		return testbin.Holds(ok, fmt.Sprint(firing))
	})
	// Two of two probers see it: the verdict names node-2's IPv6 too.
	testbin.Eventually(t, 60*time.Second, `ConnectivityNodeEndpointsCutOff{family="ipv6"} firing for node-2`, func() error {
		alerts, err := prom.Alerts()
		if err != nil {
			return err
		}
		for _, a := range alerts {
			if a.Labels["alertname"] == "ConnectivityNodeEndpointsCutOff" && a.Labels["peer"] == "node-2" && a.Labels["family"] == "ipv6" && a.State == "firing" {
				return nil
			}
		}
		return testbin.Holds(false, fmt.Sprint(alerts))
	})
	// Let the other rules catch up (for: is 10s here), then nothing about
	// node-2 may fire but those two, and only for IPv6.
	time.Sleep(15 * time.Second)
	alerts, err := prom.Alerts()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range alerts {
		name := a.Labels["alertname"]
		if a.Labels["peer"] == "node-2" && (name != "ConnectivityEndpointUnreachable" && name != "ConnectivityNodeEndpointsCutOff" || a.Labels["family"] != "ipv6") {
			t.Errorf("unexpected alert under an IPv6-only drop: %v (%s)", a.Labels, a.State)
		}
	}
}
