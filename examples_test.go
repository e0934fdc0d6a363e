package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/connectivity-exporter/connectivity_exporter/exitcode"
	"github.com/connectivity-exporter/connectivity_exporter/nodes"
	"github.com/connectivity-exporter/connectivity_exporter/privileges"
	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

const (
	exampleNodes   = "examples/nodes.yaml"
	exampleService = "examples/systemd/connectivity_exporter.service"
	exampleSocket  = "examples/systemd/connectivity_exporter.socket"
	exampleDefault = "examples/systemd/connectivity_exporter.default"
	// installedNodes is where the unit reads the node list from.
	installedNodes = "/etc/connectivity_exporter/nodes.yaml"
)

// The example node list parses strictly, shows every form (single, dual
// stack, IPv6 only, with and without health IP and zone), and each of its
// nodes passes --config.check as the local node.
func TestExampleNodeList(t *testing.T) {
	data, err := os.ReadFile(exampleNodes)
	if err != nil {
		t.Fatal(err)
	}
	list, err := nodes.ParseFile(data)
	if err != nil {
		t.Fatalf("%s: %v", exampleNodes, err)
	}
	var dual, v6only, noHealth, zoned bool
	for _, n := range list {
		dual = dual || (len(n.HostIPs()) == 2 && len(n.HealthIPs()) == 2)
		v6only = v6only || (len(n.HostIPs()) == 1 && n.HostIPs()[0].Is6())
		noHealth = noHealth || len(n.HealthIPs()) == 0
		zoned = zoned || n.Zone != ""
		for _, ip := range append(n.HostIPs(), n.HealthIPs()...) {
			if !documentationAddr(ip.String()) {
				t.Errorf("%s: %s has %s, outside 198.18.0.0/15 and 2001:db8::/32", exampleNodes, n.Name, ip)
			}
		}
		t.Run(n.Name, func(t *testing.T) {
			if code := run([]string{"--config.check", "--node.name=" + n.Name, "--nodes.file=" + exampleNodes}); code != exitcode.OK {
				t.Errorf("--config.check as %s exited %d", n.Name, code)
			}
		})
	}
	if !dual || !v6only || !noHealth || !zoned {
		t.Errorf("%s lacks an example: dual stack %v, IPv6 only %v, no health IP %v, zone %v", exampleNodes, dual, v6only, noHealth, zoned)
	}
}

func documentationAddr(ip string) bool {
	return strings.HasPrefix(ip, "198.18.") || strings.HasPrefix(ip, "198.19.") || strings.HasPrefix(ip, "2001:db8:")
}

// The unit's command line, with the flags of the example defaults file,
// passes the daemon's real flag parser and --config.check: a renamed or
// removed flag fails here, not on a user's machine.
func TestSystemdUnitFlags(t *testing.T) {
	args := unitArgs(t)
	if !slices.Contains(args, "--web.systemd-socket") {
		t.Errorf("ExecStart %q lacks --web.systemd-socket, which the socket unit is for", args)
	}
	i := slices.Index(args, "--nodes.file="+installedNodes)
	if i < 0 {
		t.Fatalf("ExecStart %q does not read %s", args, installedNodes)
	}
	args[i] = "--nodes.file=" + exampleNodes // the installed file is the example
	tests := []struct {
		name  string
		extra []string
		want  int
	}{
		{"as installed", nil, exitcode.OK},
		{"a flag the daemon does not know", []string{"--nodes.fiel=x"}, exitcode.Usage},
		{"a node missing from the list", []string{"--node.name=node-9"}, exitcode.Failure},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			full := append(slices.Clone(args), "--config.check")
			if !slices.ContainsFunc(tc.extra, func(a string) bool { return strings.HasPrefix(a, "--node.name=") }) {
				full = append(full, "--node.name=node-1") // the hostname, on a real node
			}
			full = append(full, tc.extra...)
			if code := run(full); code != tc.want {
				t.Errorf("run(%q) = %d, want %d", full, code, tc.want)
			}
		})
	}
}

// The unit's capability bounding set is what the daemon needs with a
// health endpoint and raw ICMP, no more and no less.
func TestSystemdUnitCapabilities(t *testing.T) {
	got := strings.Fields(unitSetting(t, exampleService, "CapabilityBoundingSet"))
	var want []string
	for _, c := range (privileges.Needs{HealthEndpoint: true, RawICMP: true}).Caps() {
		want = append(want, strings.ToUpper(c.String()))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("CapabilityBoundingSet=%s, want %s", strings.Join(got, " "), strings.Join(want, " "))
	}
	if port := unitSetting(t, exampleSocket, "ListenStream"); port != "9240" {
		t.Errorf("the socket listens on %q, want the metrics port 9240", port)
	}
}

// systemd-analyze verify finds nothing to say about the units: no unknown
// key, no bad value. It needs no running systemd; the ExecStart binary is
// this test's, as verify only checks that it can be executed.
func TestSystemdUnitsVerify(t *testing.T) {
	analyze := testbin.NeedTool(t, "systemd-analyze", "apt-get install -y systemd")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var units []string
	for _, src := range []string{exampleService, exampleSocket} {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		data = bytes.ReplaceAll(data, []byte("/usr/local/bin/connectivity_exporter"), []byte(self))
		dst := filepath.Join(dir, filepath.Base(src))
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			t.Fatal(err)
		}
		units = append(units, dst)
	}
	cmd := exec.Command(analyze, append([]string{"verify", "--man=no"}, units...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, stderr.String())
	}
}

// unitArgs is the unit's ExecStart without the binary, with
// $CONNECTIVITY_EXPORTER_ARGS replaced as systemd replaces it (split on
// white space) from the example defaults file.
func unitArgs(t *testing.T) []string {
	t.Helper()
	env := map[string]string{}
	for _, line := range unitLines(t, exampleDefault) {
		if key, value, ok := strings.Cut(line, "="); ok {
			env[key] = strings.Trim(value, `"`)
		}
	}
	fields := strings.Fields(unitSetting(t, exampleService, "ExecStart"))
	if len(fields) == 0 || fields[0] != "/usr/local/bin/connectivity_exporter" {
		t.Fatalf("ExecStart %q does not run /usr/local/bin/connectivity_exporter", fields)
	}
	var args []string
	for _, f := range fields[1:] {
		if name, ok := strings.CutPrefix(f, "$"); ok {
			value, found := env[name]
			if !found {
				t.Fatalf("ExecStart uses $%s, which %s does not set", name, exampleDefault)
			}
			args = append(args, strings.Fields(value)...)
			continue
		}
		args = append(args, f)
	}
	return args
}

// unitSetting is the value of key in a unit file; it fails the test unless
// the key is set exactly once.
func unitSetting(t *testing.T, path, key string) string {
	t.Helper()
	var values []string
	for _, line := range unitLines(t, path) {
		if v, ok := strings.CutPrefix(line, key+"="); ok {
			values = append(values, v)
		}
	}
	if len(values) != 1 {
		t.Fatalf("%s sets %s %d times, want once", path, key, len(values))
	}
	return values[0]
}

// unitLines are the settings of a unit or environment file: comments and
// blank lines left out, backslash continuations joined.
func unitLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	var cont strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if cont.Len() == 0 && (line == "" || line[0] == '#' || line[0] == ';') {
			continue
		}
		if body, ok := strings.CutSuffix(line, `\`); ok {
			cont.WriteString(body + " ")
			continue
		}
		cont.WriteString(line)
		lines = append(lines, cont.String())
		cont.Reset()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}
