package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kingpin/v2"
)

// The old names of renamed flags still work for a release, hidden from
// --help; an old and a new name given with different values are an error.
func TestRenamedFlagsKeepTheirOldNames(t *testing.T) {
	base := []string{"daemon", "--node.name=node-1", "--nodes.file=nodes.yaml"}
	tests := []struct {
		name    string
		args    []string
		check   func(f *daemonFlags) bool
		wantErr string // "" for none
		wantOld []string
	}{
		{"--kubeconfig", []string{"--kubeconfig=/k"}, func(f *daemonFlags) bool { return f.Kube.Kubeconfig == "/k" }, "", []string{"--kubeconfig (now --nodes.kubernetes.kubeconfig)"}},
		{"--nodes.kubernetes.kubeconfig", []string{"--nodes.kubernetes.kubeconfig=/k"}, func(f *daemonFlags) bool { return f.Kube.Kubeconfig == "/k" }, "", nil},
		{"--passive", []string{"--passive"}, func(f *daemonFlags) bool { return f.Passive }, "", []string{"--passive (now --probe.passive)"}},
		{"--probe.passive", []string{"--probe.passive"}, func(f *daemonFlags) bool { return f.Passive }, "", nil},
		{"--healthep.ip twice", []string{"--healthep.ip=198.19.0.1", "--healthep.ip=2001:db8::1"},
			func(f *daemonFlags) bool {
				return f.HealthIP.String() == "198.19.0.1" && f.DualStackHealthIP.String() == "2001:db8::1"
			}, "", []string{"--healthep.ip (now --health-endpoint.ip)"}},
		{"--healthep.netns", []string{"--healthep.netns=h"}, func(f *daemonFlags) bool { return f.HealthNetns == "h" }, "", []string{"--healthep.netns (now --health-endpoint.netns)"}},
		{"--healthep.interface", []string{"--healthep.interface=v"}, func(f *daemonFlags) bool { return f.HealthInterface == "v" }, "", []string{"--healthep.interface (now --health-endpoint.interface)"}},
		{"--healthep.check-interval", []string{"--healthep.check-interval=7s"}, func(f *daemonFlags) bool { return f.HealthCheckInterval == 7*time.Second }, "", []string{"--healthep.check-interval (now --health-endpoint.check-interval)"}},
		{"defaults without either", nil, func(f *daemonFlags) bool { return f.HealthNetns == "connectivity-health" && !f.Passive }, "", nil},
		{"both names, the same value", []string{"--healthep.netns=h", "--health-endpoint.netns=h"}, func(f *daemonFlags) bool { return f.HealthNetns == "h" }, "", []string{"--healthep.netns (now --health-endpoint.netns)"}},
		{"both names, different values", []string{"--kubeconfig=/a", "--nodes.kubernetes.kubeconfig=/b"}, nil,
			"--kubeconfig is the old name of --nodes.kubernetes.kubeconfig: give one of them (or the same value to both)", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			app := kingpin.New("test", "")
			d := addDaemonCommand(app)
			if _, err := app.Parse(append(slices.Clone(base), tc.args...)); err != nil {
				t.Fatal(err)
			}
			old, err := d.check()
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(&d.flags) {
				t.Errorf("%v did not set the value: %+v", tc.args, d.flags.Config)
			}
			if !slices.Equal(old, tc.wantOld) {
				t.Errorf("old names used %q, want %q", old, tc.wantOld)
			}
		})
	}
}

func TestOldFlagNamesAreHidden(t *testing.T) {
	app := kingpin.New(appName, "")
	addDaemonCommand(app)
	for _, c := range app.Model().Commands {
		for _, f := range c.Flags {
			old := f.Name == "kubeconfig" || f.Name == "passive" || strings.HasPrefix(f.Name, "healthep.")
			if old != f.Hidden {
				t.Errorf("--%s: hidden %v, want %v", f.Name, f.Hidden, old)
			}
		}
	}
}
