package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alecthomas/kingpin/v2"

	"github.com/connectivity-exporter/connectivity_exporter/exitcode"
)

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := write("good.yaml", "nodes:\n  - {name: node-1, host_ip: 198.18.0.1, health_ip: 198.19.0.1}\n  - {name: node-2, host_ip: 198.18.0.2}\n")
	badKey := write("bad.yaml", "nodes:\n  - name: node-1\n    hostip: 198.18.0.1\n")
	badWeb := write("web.yml", "tls_server_config:\n  cert_file: /nonexistent.crt\n")
	tests := []struct {
		name       string
		args       []string
		want       int
		wantOut    string
		wantErrOut string
	}{
		{"good file", []string{"--node.name=node-1", "--nodes.file=" + good}, exitcode.OK,
			"node list " + good + ": ok, 2 nodes, 2 probed from this node node-1 (host 198.18.0.1, health endpoint 198.19.0.1)", ""},
		{"--health-endpoint.ip overrides the file's", []string{"--node.name=node-2", "--nodes.file=" + good, "--health-endpoint.ip=198.19.0.9"}, exitcode.OK,
			"this node node-2 (host 198.18.0.2, health endpoint 198.19.0.9)", ""},
		{"--probe.peers", []string{"--node.name=node-1", "--nodes.file=" + good, "--probe.peers=1", "--probe.passive"}, exitcode.OK,
			"2 nodes, 0 probed", ""},
		{"a bad key names its line", []string{"--node.name=node-1", "--nodes.file=" + badKey}, exitcode.Failure,
			"flags: ok", `line 3: unknown key "hostip"`},
		{"this node not in the list", []string{"--node.name=node-3", "--nodes.file=" + good}, exitcode.Failure,
			"flags: ok", `this node "node-3" (--node.name) is not in the node list`},
		{"a missing file", []string{"--node.name=node-1", "--nodes.file=" + filepath.Join(dir, "none.yaml")}, exitcode.Failure,
			"", "no such file"},
		{"a bad flag value", []string{"--node.name=node-1", "--nodes.file=" + good, "--probe.interval=0s"}, exitcode.Usage,
			"", "--probe.interval must be positive"},
		{"a bad web config", []string{"--node.name=node-1", "--nodes.file=" + good, "--web.config.file=" + badWeb}, exitcode.Failure,
			"flags: ok", "--web.config.file " + badWeb},
		{"Kubernetes is not asked", []string{"--node.name=node-1", "--nodes.kubernetes"}, exitcode.OK,
			"node list: from the Kubernetes API, not asked", ""},
		{"passive without a list", []string{"--node.name=node-1", "--probe.passive"}, exitcode.OK,
			"node list: none (--probe.passive)", ""},
		// What the full-size turns' spacing promises.
		{"full-size probes at the defaults", []string{"--node.name=node-1", "--nodes.file=" + good}, exitcode.OK,
			"full-size probes: every 16 intervals of 15s (4m0s); an MTU black hole of a whole path is found within 4m4s", ""},
		{"full-size probes every 4 intervals of 1m", []string{"--node.name=node-1", "--nodes.file=" + good, "--probe.interval=1m"}, exitcode.OK,
			"every 4 intervals of 1m0s (4m0s); an MTU black hole of a whole path is found within 4m4s", ""},
		{"full-size probes off", []string{"--node.name=node-1", "--nodes.file=" + good, "--probe.mtu.every=0"}, exitcode.OK,
			"full-size probes: off", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			app := kingpin.New(appName, "")
			d := addDaemonCommand(app)
			check := addConfigCheckFlag(d)
			if _, err := app.Parse(append([]string{"--config.check"}, tc.args...)); err != nil {
				t.Fatal(err)
			}
			if !*check {
				t.Fatal("--config.check did not set the flag")
			}
			var stdout, stderr bytes.Buffer
			if got := d.checkConfig(&stdout, &stderr); got != tc.want {
				t.Errorf("exit %d, want %d; stdout:\n%s\nstderr:\n%s", got, tc.want, &stdout, &stderr)
			}
			if !strings.Contains(stdout.String(), tc.wantOut) {
				t.Errorf("stdout lacks %q:\n%s", tc.wantOut, &stdout)
			}
			if !strings.Contains(stderr.String(), tc.wantErrOut) {
				t.Errorf("stderr lacks %q:\n%s", tc.wantErrOut, &stderr)
			}
			if tc.want == exitcode.OK && stderr.Len() > 0 {
				t.Errorf("stderr of a good check:\n%s", &stderr)
			}
		})
	}
}
