package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/prober"
)

// defaultMTUEvery is --probe.mtu.every's default: a full-size turn per path
// every 4 minutes, so that a black hole is found within 4 minutes and two
// timeouts (prober.FullSizeDetectionBound) at any --probe.interval up to 4
// minutes, for a fraction of what a turn every few intervals cost.
const defaultMTUEvery = "4m"

// parseMTUEvery reads --probe.mtu.every: a duration (4m) spaces a path's
// full-size turns by time, rounded down to whole intervals (at least one);
// a plain number, as before, counts intervals. It returns the turns'
// spacing in intervals, 0 for none.
func parseMTUEvery(value string, interval time.Duration) (int, error) {
	value = strings.TrimSpace(value)
	if n, err := strconv.Atoi(value); err == nil {
		if n < 0 {
			return 0, fmt.Errorf("--probe.mtu.every must not be negative, got %d", n)
		}
		return n, nil
	}
	d, err := time.ParseDuration(value)
	switch {
	case err != nil:
		return 0, fmt.Errorf("--probe.mtu.every %q is neither a duration (4m: a full-size turn per path that often) nor a number of intervals (4; 0 turns full-size probes off)", value)
	case d < 0:
		return 0, fmt.Errorf("--probe.mtu.every must not be negative, got %s", d)
	case d == 0:
		return 0, nil
	}
	return prober.FullSizeTurnEvery(d, interval), nil
}
