package main

import (
	"testing"

	"github.com/alecthomas/kingpin/v2"
)

// The defaults come from constants in the packages that own them; users
// and the manifests rely on their values, so they are spelled out here.
func TestFlagDefaultsStayTheSame(t *testing.T) {
	app := kingpin.New(appName, "")
	addLogFlags(app)
	addDaemonCommand(app)
	addHelloCommand(app)
	addCLICommands(app)
	defaults := map[string]map[string]string{} // command -> flag -> default
	for _, c := range app.Model().Commands {
		defaults[c.FullCommand] = map[string]string{}
		for _, f := range c.Flags {
			if len(f.Default) > 0 {
				defaults[c.FullCommand][f.Name] = f.Default[0]
			}
		}
	}
	tests := []struct{ cmd, flag, want string }{
		{"daemon", "hello.listen-address", ":4240"},
		{"daemon", "health-endpoint.netns", "connectivity-health"},
		{"daemon", "health-endpoint.interface", "cx_health"},
		{"daemon", "health-endpoint.check-interval", "5s"},
		{"daemon", "nodes.file.poll-interval", "5s"},
		{"daemon", "admin.socket", "/run/connectivity_exporter/admin.sock"},
		{"daemon", "probe.interval", "15s"},
		{"daemon", "probe.timeout", "2s"},
		{"daemon", "probe.mtu", "0"},
		{"daemon", "probe.mtu.endpoint", "0"},
		{"daemon", "probe.mtu.every", "4m"},
		{"daemon", "probe.flows", "8"},
		{"daemon", "probe.mtu.refresh", "5m0s"},
		{"daemon", "nodes.kubernetes.health-pods", "true"},
		{"hello", "hello.listen-address", ":4240"},
		{"status", "admin.socket", "/run/connectivity_exporter/admin.sock"},
		{"trace", "admin.socket", "/run/connectivity_exporter/admin.sock"},
		{"trace", "flows", "0"},
	}
	for _, tc := range tests {
		got, ok := defaults[tc.cmd][tc.flag]
		if !ok {
			t.Errorf("%s --%s: no such flag, or no default", tc.cmd, tc.flag)
			continue
		}
		if got != tc.want {
			t.Errorf("%s --%s default %q, want %q", tc.cmd, tc.flag, got, tc.want)
		}
	}
}
