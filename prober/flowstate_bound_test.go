package prober

import (
	"fmt"
	"math/bits"
	"testing"
)

// Every flow that always fails is confirmed failing (past the threshold)
// within a bounded number of intervals, whichever flows fail and wherever
// the rotation stands when the fault begins: the "fresh failure probes
// the next flow first" rule and the down/recovered cycle it causes when
// most flows fail must not starve a flow. Over every set of k failing
// flows of 8 (and 4), the worst measured is 17 intervals for 4 of 8 and
// 26 for 7 of 8 at threshold 2 (31 at threshold 3); the bound asserted is
// F + k*(threshold+1). And a peer that goes down while k flows already
// fail is unreachable within threshold + k intervals (a failing flow's
// probe in the rotation says nothing new), also when so many flows fail
// that fewer than threshold still answer. Threshold 1 is left out: there
// one failure of a flow that answered is the peer down, so no flow can
// fail on its own.
func TestFlowFailuresConfirmedWithinBound(t *testing.T) {
	for _, threshold := range []int{2, 3, 4} {
		for _, flows := range []int{4, 8} {
			t.Run(fmt.Sprintf("threshold %d, %d flows", threshold, flows), func(t *testing.T) {
				for mask := 1; mask < 1<<flows-1; mask++ {
					k := bits.OnesCount(uint(mask))
					bad := func(i int) bool { return mask&(1<<i) != 0 }
					for start := range flows {
						bound := flows + k*(threshold+1)
						intervals := start + bound + 3*flows
						downAt := intervals - 2*flows
						states, probed, _ := simulatePath(t, flows, threshold, intervals, func(i, n int) bool {
							return n > start && bad(i) || n > downAt
						})
						confirmed := map[int]int{}
						for n, st := range states[:downAt] {
							for _, f := range st.Flows.Failing {
								if _, ok := confirmed[f.Index]; !ok {
									confirmed[f.Index] = n + 1 - start
								}
							}
						}
						for i := range flows {
							at, ok := confirmed[i]
							switch {
							case !bad(i) && ok:
								t.Fatalf("flows %08b failing from interval %d: flow %d answers, yet failing after %d", mask, start+1, i, at)
							case bad(i) && !ok:
								t.Fatalf("flows %08b failing from interval %d: flow %d never failing in %d intervals (probed %v)", mask, start+1, i, downAt-start, probed)
							case bad(i) && at > bound:
								t.Fatalf("flows %08b failing from interval %d: flow %d failing after %d intervals, want within %d (probed %v)", mask, start+1, i, at, bound, probed)
							}
						}
						if st := states[downAt-1]; st.Status != StatusReachable || len(st.Flows.Failing) != k {
							t.Fatalf("flows %08b: before the peer goes down, status %s with %d failing flows, want reachable with %d", mask, st.Status, len(st.Flows.Failing), k)
						}
						down := firstInterval(states[downAt:], func(st PathState) bool { return st.Status == StatusUnreachable })
						if down == 0 || down > threshold+k {
							t.Fatalf("flows %08b failing, then the peer down: unreachable after %d intervals, want within %d (probed %v)", mask, down, threshold+k, probed[downAt:])
						}
					}
				}
			})
		}
	}
}
