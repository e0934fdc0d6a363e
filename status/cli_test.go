package status_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
	"github.com/connectivity-exporter/connectivity_exporter/admin/admintest"
	"github.com/connectivity-exporter/connectivity_exporter/exitcode"
	"github.com/connectivity-exporter/connectivity_exporter/status"
)

type backend struct {
	status, probe admin.Report
	info          admin.Info
	calls         atomic.Int32
}

func (b *backend) Status() admin.Report               { b.calls.Add(1); return b.status }
func (b *backend) Probe(context.Context) admin.Report { b.calls.Add(1); return b.probe }
func (b *backend) Info() admin.Info                   { b.calls.Add(1); return b.info }

func sampleInfo() admin.Info {
	return admin.Info{
		Version: "0.1.0", Revision: "abc123", Started: t0.Add(-time.Hour),
		Nodes: 3, LocalNode: "node-1",
		HealthEndpoint: admin.HealthEndpointInfo{Enabled: true, IP: "198.19.0.1", Netns: "connectivity-health", Up: true, Restarts: 1},
		LastCycle:      admin.CycleInfo{Start: t0.Add(-15 * time.Second), Duration: admin.Duration(14*time.Second + 870*time.Millisecond), Targets: 10},
	}
}

// adminClient serves b on a unix socket, as the daemon does, and returns a
// client of it.
func adminClient(t *testing.T, b admin.Backend) *admin.Client {
	t.Helper()
	return admin.NewClient(admintest.Serve(t, b, nil))
}

// missingDaemon returns a client of a socket that does not exist, and its path.
func missingDaemon(t *testing.T) (*admin.Client, string) {
	sock := filepath.Join(t.TempDir(), "admin.sock")
	return admin.NewClient(sock), sock
}

func TestRun(t *testing.T) {
	b := &backend{
		status: scenario(row{"node-1", "RRRR"}, row{"node-2", "RRTT"}),
		probe:  scenario(row{"node-1", "RRRR"}, row{"node-2", "RRRR"}),
	}
	c := adminClient(t, b)
	for _, tc := range []struct {
		name     string
		opts     status.CLIOptions
		code     int
		contains string
	}{
		{"latest results, unhealthy", status.CLIOptions{}, 1, "Diagnosis: traffic is dropped inside node-2"},
		{"explicit text", status.CLIOptions{Output: "text"}, 1, "Cluster health:   1/2 reachable"},
		{"probe now, healthy", status.CLIOptions{Probe: true}, 0, "2 healthy nodes omitted"},
		{"probe now, verbose", status.CLIOptions{Probe: true, Verbose: true}, 0, "  node-2:\n    Host connectivity to 198.18.0.2:"},
		{"json includes the diagnosis", status.CLIOptions{Output: "json"}, 1, `"diagnosis": "traffic is dropped inside node-2`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := status.Run(context.Background(), &out, &errOut, c, tc.opts)
			if code != tc.code || !strings.Contains(out.String(), tc.contains) || errOut.Len() != 0 {
				t.Errorf("Run = %d, stdout:\n%s\nstderr: %q\nwant %d and stdout containing %q", code, &out, &errOut, tc.code, tc.contains)
			}
			if tc.opts.Output == "json" {
				var r admin.Report
				if err := json.Unmarshal(out.Bytes(), &r); err != nil || len(r.Nodes) != 2 {
					t.Errorf("json output does not decode into a report: %v", err)
				}
			}
		})
	}
}

func TestCLIUsageErrors(t *testing.T) {
	b := &backend{}
	c := adminClient(t, b)
	const want = "Error: unknown output format \"yaml\": use -o text or -o json\n"
	for name, run := range map[string]func(w, errw *bytes.Buffer) int{
		"status": func(w, errw *bytes.Buffer) int {
			return status.Run(context.Background(), w, errw, c, status.CLIOptions{Output: "yaml"})
		},
		"get": func(w, errw *bytes.Buffer) int { return status.Get(context.Background(), w, errw, c, "yaml") },
	} {
		var out, errOut bytes.Buffer
		if code := run(&out, &errOut); code != exitcode.Usage || errOut.String() != want || out.Len() != 0 {
			t.Errorf("%s -o yaml = %d, stdout %q, stderr %q; want 2 and %q", name, code, &out, &errOut, want)
		}
	}
	if n := b.calls.Load(); n != 0 {
		t.Errorf("the daemon was asked %d times despite a usage error", n)
	}
}

// brokenStdout fails every write, as a closed pipe does.
type brokenStdout struct{}

func (brokenStdout) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

// An answer that cannot be written exits with its own code, not the one of
// an unhealthy node (1), whatever the answer was: healthy here.
func TestCLIOutputErrors(t *testing.T) {
	b := &backend{
		status: scenario(row{"node-1", "RRRR"}, row{"node-2", "RRRR"}),
		info:   sampleInfo(),
	}
	c := adminClient(t, b)
	for name, run := range map[string]func(errw *bytes.Buffer) int{
		"status": func(errw *bytes.Buffer) int {
			return status.Run(context.Background(), brokenStdout{}, errw, c, status.CLIOptions{})
		},
		"status -o json": func(errw *bytes.Buffer) int {
			return status.Run(context.Background(), brokenStdout{}, errw, c, status.CLIOptions{Output: "json"})
		},
		"ping": func(errw *bytes.Buffer) int { return status.Ping(context.Background(), brokenStdout{}, errw, c) },
		"get":  func(errw *bytes.Buffer) int { return status.Get(context.Background(), brokenStdout{}, errw, c, "") },
	} {
		var errOut bytes.Buffer
		if code := run(&errOut); code != exitcode.Output || !strings.Contains(errOut.String(), "broken pipe") {
			t.Errorf("%s to a broken stdout = %d, stderr %q; want %d and the write error", name, code, &errOut, exitcode.Output)
		}
	}
}

func TestCLIDaemonNotRunning(t *testing.T) {
	c, sock := missingDaemon(t)
	want := "Error: cannot reach the connectivity_exporter daemon: " + sock + " does not exist; is the daemon running? start it with: connectivity_exporter --node.name=... --nodes.file=...\n"
	for name, run := range map[string]func(w, errw *bytes.Buffer) int{
		"status": func(w, errw *bytes.Buffer) int {
			return status.Run(context.Background(), w, errw, c, status.CLIOptions{})
		},
		"status --probe": func(w, errw *bytes.Buffer) int {
			return status.Run(context.Background(), w, errw, c, status.CLIOptions{Probe: true})
		},
		"ping": func(w, errw *bytes.Buffer) int { return status.Ping(context.Background(), w, errw, c) },
		"get":  func(w, errw *bytes.Buffer) int { return status.Get(context.Background(), w, errw, c, "") },
	} {
		var out, errOut bytes.Buffer
		if code := run(&out, &errOut); code != exitcode.Unreachable || errOut.String() != want || out.Len() != 0 {
			t.Errorf("%s = %d, stdout %q, stderr %q; want 3 and %q", name, code, &out, &errOut, want)
		}
	}
}

func TestPing(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := status.Ping(context.Background(), &out, &errOut, adminClient(t, &backend{})); code != 0 || out.String() != "OK\n" || errOut.Len() != 0 {
		t.Errorf("Ping = %d, stdout %q, stderr %q; want 0 and OK", code, &out, &errOut)
	}
}

func TestGet(t *testing.T) {
	b := &backend{info: sampleInfo()}
	c := adminClient(t, b)

	var out, errOut bytes.Buffer
	if code := status.Get(context.Background(), &out, &errOut, c, "json"); code != 0 || errOut.Len() != 0 {
		t.Fatalf("Get -o json = %d, stderr %q", code, &errOut)
	}
	var info admin.Info
	if err := json.Unmarshal(out.Bytes(), &info); err != nil || info.Version != "0.1.0" || info.Uptime.Std() < time.Hour {
		t.Errorf("Get -o json gave %+v, %v; want the daemon's info with an uptime from Started", info, err)
	}

	out.Reset()
	if code := status.Get(context.Background(), &out, &errOut, c, "text"); code != 0 || !strings.Contains(out.String(), "Version:          0.1.0 (revision abc123)\n") {
		t.Errorf("Get -o text = %d:\n%s", code, &out)
	}
}

// The uptime the server computes changes with the clock, so the text
// layout is checked by rendering directly.
func TestRenderInfoTextGolden(t *testing.T) {
	noEndpoint := sampleInfo()
	noEndpoint.HealthEndpoint = admin.HealthEndpointInfo{}
	noEndpoint.LastCycle = admin.CycleInfo{}
	down := sampleInfo()
	down.HealthEndpoint.Up, down.HealthEndpoint.Restarts = false, 7
	down.HealthEndpoint.LastError = "GET http://198.19.0.1:4240/hello: connection refused"
	dual := sampleInfo()
	dual.HealthEndpoint.DualStackIP = "2001:db8:1::1"
	for name, info := range map[string]admin.Info{"info": sampleInfo(), "info_no_endpoint": noEndpoint, "info_endpoint_down": down, "info_dual_stack": dual} {
		info.Uptime = admin.Duration(time.Hour)
		var buf bytes.Buffer
		if err := status.RenderInfoText(&buf, info); err != nil {
			t.Fatal(err)
		}
		golden(t, "get_"+name, buf.Bytes())
	}
}
