#!/usr/bin/env bash
# The newcomer's demo: three nodes in network namespaces, each running the
# exporter with its own health endpoint. Shows what node-1 sees, then breaks
# node-3 the classic way (FORWARD chain with policy drop) and shows again.
# Everything is torn down on exit, also on Ctrl-C. DEMO_HOLD=1 keeps the lab
# up until Ctrl-C so you can look around (curl http://198.18.0.1:9240/metrics).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "demo: needs root, it creates network namespaces: sudo make demo" >&2; exit 1; }

export LAB_PREFIX=cxdemo LAB_DIR=/tmp/cxdemo LAB_BIN=./connectivity_exporter
export LAB_ARGS="--probe.interval=2s --probe.timeout=1s --health-endpoint.check-interval=2s"
lab=test/lab/lab.sh
trap '$lab down' EXIT
trap 'exit 130' INT TERM

show() {
	local title=$1
	shift
	echo
	echo "=== $title"
	echo "\$ connectivity_exporter status $*"
	./connectivity_exporter status "$@" --admin.socket="$LAB_DIR/node-1/admin.sock" || true
}

"$lab" up 3
echo "waiting two probe cycles..."
sleep 5
show "what node-1 sees: every path of every node reachable" --verbose
echo
echo "=== node-1's /metrics (connectivity_peer_reachable):"
"$lab" metrics 1 | grep '^connectivity_peer_reachable' | sed 's/^/  /'

echo
echo "=== breaking node-3: nft FORWARD chain with policy drop inside it"
"$lab" fault forward-drop 3
sleep 9
show "what node-1 sees now: node-3's host answers, its endpoint does not (healthy nodes omitted)"

if [ -n "${DEMO_HOLD:-}" ]; then
	echo
	echo "lab is up (DEMO_HOLD): metrics at http://198.18.0.{1,2,3}:9240/metrics; Ctrl-C tears it down"
	while :; do sleep 60; done
fi
