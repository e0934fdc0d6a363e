package main

import (
	"testing"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/connectivity-exporter/connectivity_exporter/prober"
)

// The README promises that, at the default --probe.mtu.every, an MTU black
// hole of a whole path is reported within 5 minutes of appearing at any
// --probe.interval up to 4 minutes: the next full-size turn, at most
// --probe.mtu.every later, and its confirmation sent at once, each lost
// after a timeout (prober.FullSizeDetectionBound).
// TestSchedulerFindsABlackHoleWithinTheBound checks the scheduler keeps to
// the turns; this, that the default keeps the sum under the promise.
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
	defaultInterval, err := time.ParseDuration(defaults["probe.interval"])
	if err != nil {
		t.Fatalf("--probe.interval default: %v", err)
	}
	timeout, err := time.ParseDuration(defaults["probe.timeout"])
	if err != nil {
		t.Fatalf("--probe.timeout default: %v", err)
	}
	for _, interval := range []time.Duration{defaultInterval, time.Second, 5 * time.Second, 30 * time.Second, time.Minute, 90 * time.Second, 2 * time.Minute, 3 * time.Minute, 4 * time.Minute} {
		every, err := parseMTUEvery(defaults["probe.mtu.every"], interval)
		if err != nil || every < 1 {
			t.Fatalf("--probe.mtu.every default %q (%v): full-size probes must be on by default", defaults["probe.mtu.every"], err)
		}
		worst := prober.FullSizeDetectionBound(every, interval, timeout)
		if worst > 5*time.Minute {
			t.Errorf("at --probe.interval=%s a black hole is reported up to %s after it appears (a turn every %d intervals, then %d lost × %s), over the 5 minutes promised",
				interval, worst, every, prober.MTULossThreshold, timeout)
		}
	}
}

func TestParseMTUEvery(t *testing.T) {
	for _, tc := range []struct {
		value    string
		interval time.Duration
		want     int
		wantErr  bool
	}{
		{"4m", 15 * time.Second, 16, false},
		{"4m", time.Minute, 4, false},
		{"4m", 50 * time.Second, 4, false}, // rounded down: never further apart than asked
		{"4m", 10 * time.Minute, 1, false}, // at least one interval
		{"0", 15 * time.Second, 0, false},
		{"0s", 15 * time.Second, 0, false},
		{"4", 15 * time.Second, 4, false}, // a number counts intervals, as before
		{"1", time.Minute, 1, false},
		{"-1", 15 * time.Second, 0, true},
		{"-4m", 15 * time.Second, 0, true},
		{"4 minutes", 15 * time.Second, 0, true},
		{"", 15 * time.Second, 0, true},
	} {
		got, err := parseMTUEvery(tc.value, tc.interval)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("parseMTUEvery(%q, %s) = %d, %v; want %d, error %v", tc.value, tc.interval, got, err, tc.want, tc.wantErr)
		}
	}
}
