#!/usr/bin/env bash
# Runs every fuzz target of the module briefly, one after the other.
#
#   scripts/fuzz.sh                  each target for $FUZZTIME (default 100000x)
#   FUZZTIME=2000000x scripts/fuzz.sh longer
#   scripts/fuzz.sh ./nodes          only the targets under these packages
#
# Targets are found by their `func FuzzX(f *testing.F)` line, so new ones
# join without editing this script. The budgets are counts of executions,
# not durations: with a duration, go1.26's coordinator can fail a target
# with a bare "context deadline exceeded" when the deadline falls while a
# worker minimizes a new input (go.dev/issue/75804, fixed in Go 1.27); that
# is what failed CI on 2026-12-06, no input at fault. Minimizing is bounded
# by a count too ($FUZZMINIMIZE, default 2000x), or one long input stalls
# the run for up to a minute. Each run is killed after $FUZZ_TIMEOUT
# (default 300s), so a hanging input still fails.
# A failing input is written to the package's testdata/fuzz/FuzzX/, where
# `go test` replays it from then on: commit it with the fix.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZTIME=${FUZZTIME:-100000x}
FUZZMINIMIZE=${FUZZMINIMIZE:-2000x}
FUZZ_TIMEOUT=${FUZZ_TIMEOUT:-300}
GO=${GO:-go}
roots=("$@")
[ ${#roots[@]} -gt 0 ] || roots=(.)

failed=()
ran=0
while IFS=: read -r file name; do
	pkg=./$(dirname "${file#./}")
	echo "== $name in $pkg ($FUZZTIME)"
	ran=$((ran + 1))
	if ! timeout --kill-after=10 "$FUZZ_TIMEOUT" \
		"$GO" test -run='^$' -fuzz="^${name}\$" -fuzztime="$FUZZTIME" -fuzzminimizetime="$FUZZMINIMIZE" "$pkg"; then
		failed+=("$name in $pkg")
	fi
done < <(grep -rHoE --include='*_test.go' --exclude-dir=.git --exclude-dir=vendor \
	'^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' "${roots[@]}" |
	sed -E 's/:func (Fuzz[A-Za-z0-9_]*).*/:\1/' | sort)

if [ "$ran" -eq 0 ]; then
	echo "fuzz: no fuzz targets found under ${roots[*]}" >&2
	exit 1
fi
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz: ${#failed[@]} of $ran targets failed:" >&2
	printf '  %s\n' "${failed[@]}" >&2
	exit 1
fi
echo "fuzz: all $ran targets passed"
