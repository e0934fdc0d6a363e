#!/bin/sh
# Runs the probing benchmarks (root): builds the exporter and the harness
# (its own module, beside the exporter's),
# then cxbench builds the cxbPID-prober and cxbPID-peers namespaces (a prefix
# per run, so that two benches at once keep apart), measures and writes the
# figures into BENCHMARKS.md. About 10 minutes; bounded to 15.
# The namespaces are removed at the end, also on failure or Ctrl-C.
set -eu
cd "$(dirname "$0")/../.."
GO=${GO:-go}
[ "$(id -u)" = 0 ] || { echo "bench: needs root (network namespaces, raw sockets)" >&2; exit 1; }
tmp=$(mktemp -d)
CXB_NETNS_PREFIX=cxb$$
export CXB_NETNS_PREFIX
cleanup() {
	for ns in "$CXB_NETNS_PREFIX-prober" "$CXB_NETNS_PREFIX-peers"; do
		if [ -e "/run/netns/$ns" ]; then
			for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
			ip netns del "$ns" 2>/dev/null || true
		fi
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
missing=""
for t in fping prometheus-smokeping-prober prometheus-blackbox-exporter ping; do
	command -v "$t" >/dev/null || missing="$missing $t"
done
[ -z "$missing" ] || echo "bench: not installed:$missing (apt-get install -y fping prometheus-smokeping-prober prometheus-blackbox-exporter iputils-ping); those rows are skipped" >&2
CGO_ENABLED=0 $GO build -o "$tmp/connectivity_exporter" .
(cd tools/bench && $GO build -o "$tmp/cxbench" ./cmd/cxbench)
"$tmp/cxbench" run -exporter "$tmp/connectivity_exporter" -out BENCHMARKS.md "$@"
