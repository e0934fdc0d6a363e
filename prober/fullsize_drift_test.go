package prober

import (
	"context"
	"testing"
)

// TestFullSizeTurnsCoverEveryFlow follows healthy paths whose flows rotate
// once a cycle (flow c mod flows in cycle c) and checks that their
// full-size turns fall on every flow within 4*flows*every cycles, never
// come more than every cycles apart, and are at most 1/15 more than one
// in every.
func TestFullSizeTurnsCoverEveryFlow(t *testing.T) {
	for _, tc := range []struct {
		name         string
		flows, every int
	}{
		{"defaults at 15 s (4m): 8 flows, every 16", 8, 16},
		{"defaults at 1 min (4m): 8 flows, every 4", 8, 4},
		{"8 flows, every 8", 8, 8},
		{"4 flows, every 4", 4, 4},
		{"8 flows, every 2", 8, 2},
		{"coprime: 8 flows, every 3", 8, 3},
		{"6 flows, every 4", 6, 4},
		{"2 flows, every 8", 2, 8},
		{"every cycle", 8, 1},
		{"one flow", 1, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Scheduler{cfg: Config{MTUProbeEvery: tc.every, MTUProbe: func(context.Context, Target) MTUOutcome { return MTUOutcome{} }}}
			s.cfg.Flows = tc.flows
			window := 4 * tc.flows * tc.every
			cycles := 10 * window
			for _, target := range []int{0, 1, 5} {
				seen := map[int]bool{}
				last, turns := -1, 0
				for c := range cycles {
					if !s.mtuProbeDue(c, target) {
						continue
					}
					turns++
					if last >= 0 && c-last > tc.every {
						t.Fatalf("target %d: full-size turns at cycles %d and %d, more than %d apart", target, last, c, tc.every)
					}
					last = c
					if c < window {
						seen[c%tc.flows] = true
					}
				}
				if len(seen) != tc.flows {
					t.Errorf("target %d: full-size turns in the first %d cycles fell on flows %v, want all %d", target, window, seen, tc.flows)
				}
				if most := cycles/tc.every + cycles/(tc.every*(minFullSizeGroup-1)) + 1; turns > most {
					t.Errorf("target %d: %d full-size turns in %d cycles, want at most %d", target, turns, cycles, most)
				}
			}
		})
	}
}
