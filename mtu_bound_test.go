package main

import (
	"strconv"
	"testing"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/connectivity-exporter/connectivity_exporter/prober"
)

// The README promises that, at the defaults, an MTU black hole is reported
// within 5 minutes of appearing: MTULossThreshold full-size probes lost in
// a row, each path's a full-size turn every --probe.mtu.every intervals,
// and the last one's timeout. TestSchedulerFindsABlackHoleWithinTheBound
// checks the scheduler keeps to the turns; this, that the defaults keep
// the sum under the promise.
func TestDefaultsFindMTUBlackHolesWithinFiveMinutes(t *testing.T) {
	app := kingpin.New(appName, "")
	addDaemonCommand(app)
	defaults := map[string]string{}
	for _, c := range app.Model().Commands {
		if c.FullCommand != "daemon" {
			continue
		}
		for _, f := range c.Flags {
			if len(f.Default) > 0 {
				defaults[f.Name] = f.Default[0]
			}
		}
	}
	interval, err := time.ParseDuration(defaults["probe.interval"])
	if err != nil {
		t.Fatalf("--probe.interval default: %v", err)
	}
	timeout, err := time.ParseDuration(defaults["probe.timeout"])
	if err != nil {
		t.Fatalf("--probe.timeout default: %v", err)
	}
	every, err := strconv.Atoi(defaults["probe.mtu.every"])
	if err != nil || every < 1 {
		t.Fatalf("--probe.mtu.every default %q: full-size probes must be on by default", defaults["probe.mtu.every"])
	}
	worst := time.Duration(prober.MTULossThreshold*every)*interval + timeout
	if worst > 5*time.Minute {
		t.Errorf("at the defaults a black hole is reported up to %s after it appears (%d lost × every %d × %s + %s), over the 5 minutes promised",
			worst, prober.MTULossThreshold, every, interval, timeout)
	}
}
