package main

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/alecthomas/kingpin/v2"
)

func TestParseHealthIPs(t *testing.T) {
	tests := []struct {
		name          string
		values        []string
		first, second string // "" for none
		wantErr       string
	}{
		{name: "none"},
		{name: "one", values: []string{"198.19.0.1"}, first: "198.19.0.1"},
		{name: "one IPv6", values: []string{"2001:db8::1"}, first: "2001:db8::1"},
		{name: "repeated, IPv4 first", values: []string{"2001:db8::1", "198.19.0.1"}, first: "198.19.0.1", second: "2001:db8::1"},
		{name: "comma list", values: []string{"198.19.0.1, 2001:db8::1"}, first: "198.19.0.1", second: "2001:db8::1"},
		{name: "two IPv4", values: []string{"198.19.0.1,198.19.0.2"},
			wantErr: "--health-endpoint.ip: 198.19.0.1,198.19.0.2 given, want one address or one of each family (IPv4 and IPv6)"},
		{name: "three", values: []string{"198.19.0.1", "2001:db8::1", "2001:db8::2"},
			wantErr: "--health-endpoint.ip: 198.19.0.1,2001:db8::1,2001:db8::2 given, want one address or one of each family (IPv4 and IPv6)"},
		{name: "not an IP", values: []string{"198.19.0.1,x"}, wantErr: `--health-endpoint.ip "x" is not an IP address`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := daemonFlags{healthIPs: tt.values}
			err := f.parseHealthIPs()
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("parseHealthIPs error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			show := func(ip netip.Addr) string {
				if !ip.IsValid() {
					return ""
				}
				return ip.String()
			}
			if show(f.HealthIP) != tt.first || show(f.DualStackHealthIP) != tt.second {
				t.Errorf("got %q, %q; want %q, %q", show(f.HealthIP), show(f.DualStackHealthIP), tt.first, tt.second)
			}
		})
	}
}

func TestProbeFlagsValidate(t *testing.T) {
	tests := []struct {
		args []string
		want string // "" means valid
	}{
		{nil, ""},
		{[]string{"--probe.mtu=1500", "--probe.mtu.endpoint=1450", "--probe.mtu.every=1"}, ""},
		{[]string{"--probe.mtu=65535", "--probe.mtu.every=0"}, ""},
		{[]string{"--probe.mtu=1279"}, "--probe.mtu must be 0 (from the route) or from 1280 to 65535, got 1279"},
		{[]string{"--probe.mtu=65536"}, "--probe.mtu must be 0"},
		{[]string{"--probe.mtu.endpoint=100"}, "--probe.mtu.endpoint must be 0 or from 1280 to 65535, got 100"},
		{[]string{"--probe.mtu.every=-1"}, "--probe.mtu.every must not be negative, got -1"},
		{[]string{"--probe.flows=0"}, "--probe.flows must be from 1 (no flows) to 32, got 0"},
		{[]string{"--probe.flows=33"}, "--probe.flows must be from 1 (no flows) to 32, got 33"},
		{[]string{"--probe.flows=1"}, ""},
		{[]string{"--probe.flows=32"}, ""},
		{[]string{"--probe.mtu.refresh=0s"}, "--probe.mtu.refresh must be positive"},
		// The pace is checked once, by prober.Config.Validate, with
		// messages that name the flags.
		{[]string{"--probe.interval=0s"}, "--probe.interval must be positive, got 0s"},
		{[]string{"--probe.timeout=-1s"}, "--probe.timeout must be positive, got -1s"},
		{[]string{"--probe.max-in-flight=0"}, "--probe.max-in-flight must be at least 1, got 0"},
		{[]string{"--probe.mtu.every=-2"}, "--probe.mtu.every must not be negative, got -2"},
		// A duration spaces the turns by time; a number counts intervals.
		{[]string{"--probe.mtu.every=4m"}, ""},
		{[]string{"--probe.mtu.every=0s"}, ""},
		{[]string{"--probe.mtu.every=-1m"}, "--probe.mtu.every must not be negative, got -1m0s"},
		{[]string{"--probe.mtu.every=often"}, `--probe.mtu.every "often" is neither a duration`},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			validateDaemonFlags(t, append([]string{"--nodes.file=x"}, tc.args...), tc.want)
		})
	}
}

// TestHealthPodsFlag: --no-nodes.kubernetes.health-pods says there are no
// health pods; the flags that only mean something with them are refused
// beside it, so that a namespace or selector given there does not
// silently do nothing.
func TestHealthPodsFlag(t *testing.T) {
	tests := []struct {
		args         []string
		noHealthPods bool
		want         string // "" means valid
	}{
		{nil, false, ""},
		{[]string{"--nodes.kubernetes.health-pods"}, false, ""},
		{[]string{"--nodes.kubernetes.health-pods.namespace=cx", "--nodes.kubernetes.health-pods.grace=1m"}, false, ""},
		{[]string{"--no-nodes.kubernetes.health-pods"}, true, ""},
		{[]string{"--no-nodes.kubernetes.health-pods", "--nodes.kubernetes.health-ip-annotation=example.com/ip"}, true, ""},
		{[]string{"--no-nodes.kubernetes.health-pods", "--nodes.kubernetes.health-pods.namespace=cx"}, true,
			"--nodes.kubernetes.health-pods.namespace has no effect with --no-nodes.kubernetes.health-pods"},
		{[]string{"--no-nodes.kubernetes.health-pods", "--nodes.kubernetes.health-pods.selector=app=x"}, true,
			"--nodes.kubernetes.health-pods.selector has no effect"},
		// Given, even at its default value: the user meant health pods.
		{[]string{"--no-nodes.kubernetes.health-pods", "--nodes.kubernetes.health-pods.grace=2m"}, true,
			"--nodes.kubernetes.health-pods.grace has no effect"},
		// With health pods their namespace is checked.
		{[]string{"--nodes.kubernetes.health-pods.namespace=Not_A_Namespace"}, false, "is not a namespace name"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			d := validateDaemonFlags(t, append([]string{"--nodes.kubernetes"}, tc.args...), tc.want)
			if tc.want == "" && d.flags.Kube.NoHealthPods != tc.noHealthPods {
				t.Errorf("Kube.NoHealthPods = %v, want %v", d.flags.Kube.NoHealthPods, tc.noHealthPods)
			}
			if tc.want == "" && d.flags.UsesHealthPod() == tc.noHealthPods {
				t.Errorf("UsesHealthPod = %v with NoHealthPods %v", d.flags.UsesHealthPod(), tc.noHealthPods)
			}
		})
	}
}

// validateDaemonFlags parses `daemon --node.name=n args...` and validates
// the flags, failing t unless the error contains want ("": no error). It
// returns the command, to read the values validated.
func validateDaemonFlags(t *testing.T, args []string, want string) *daemonCommand {
	t.Helper()
	app := kingpin.New("test", "")
	d := addDaemonCommand(app)
	if _, err := app.Parse(append([]string{"daemon", "--node.name=n"}, args...)); err != nil {
		t.Fatal(err)
	}
	err := d.flags.validate()
	switch {
	case want == "" && err != nil:
		t.Fatalf("error %v, want none", err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Fatalf("error %v, want %q", err, want)
	}
	return d
}
