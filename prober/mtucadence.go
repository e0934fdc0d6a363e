package prober

import "time"

// FullSizeTurnEvery is how many intervals apart a path's full-size turns
// are when they are spaced by time (--probe.mtu.every=4m): spacing rounded
// down to whole intervals, so that turns are never further apart than
// asked, and at least one.
func FullSizeTurnEvery(spacing, interval time.Duration) int {
	if interval <= 0 || spacing < interval {
		return 1
	}
	return int(spacing / interval)
}

// FullSizeDetectionBound is the longest an MTU black hole of a whole path
// goes unreported with full-size turns every `every` intervals: it opens
// right after a turn, the next turn's probe is lost after the timeout, and
// its confirmation, sent at once over the same flow, is lost after another
// (MTULossThreshold lost in a row). Round trips of the small probes come on
// top. A member of an equal-cost group that drops only large packets is
// found once a turn goes over a flow that crosses it (fullSizeSpan: every
// flow within about flows turns).
func FullSizeDetectionBound(every int, interval, timeout time.Duration) time.Duration {
	return time.Duration(every)*interval + MTULossThreshold*timeout
}
