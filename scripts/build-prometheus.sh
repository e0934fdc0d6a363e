#!/usr/bin/env bash
# Builds the Prometheus and Alertmanager the tests run into .bin/, where the
# tests look first (test/testbin.NeedTool): prometheus and promtool at the
# version pinned in tools/prometheus/go.mod, alertmanager and amtool at the
# one in tools/alertmanager/go.mod (two modules: their dependencies do not
# agree, automemlimit for one). A stamp of those go.mod and go.sum files keeps
# the binaries until a pin changes: the cold build takes minutes.
#
# Tags: remove_all_sd drops every service discovery but file and http from
# Prometheus, enable_kubernetes_sd brings Kubernetes back (a real-cluster test
# needs it). Without builtinassets Prometheus serves no web UI, only the API,
# /-/ready and the rest the tests use; the Go module does not ship the built
# UI anyway (it is made with npm).
set -euo pipefail
cd "$(dirname "$0")/.."

bin=.bin
stamp="$bin/prometheus.stamp"
pins=(tools/prometheus/go.mod tools/prometheus/go.sum tools/alertmanager/go.mod tools/alertmanager/go.sum)
want=$(cat "${pins[@]}" scripts/build-prometheus.sh | sha256sum | cut -d' ' -f1)
have=$(cat "$stamp" 2>/dev/null || true)
if [ "$want" = "$have" ] && [ -x "$bin/prometheus" ] && [ -x "$bin/promtool" ] &&
	[ -x "$bin/alertmanager" ] && [ -x "$bin/amtool" ]; then
	exit 0
fi

command -v go >/dev/null || { echo "build-prometheus: Go is not installed" >&2; exit 1; }
mkdir -p "$bin"
rm -f "$stamp"
echo "build-prometheus: building Prometheus and Alertmanager (tools/prometheus, tools/alertmanager) into $bin/: a few minutes, once" >&2
start=$(date +%s)
out=$(cd "$bin" && pwd)
root=$(pwd)

# module DIR FORMAT PATH: go list -m in the module at DIR.
module() { (cd "$1" && go list -m -f "$2" "$3"); }
# build DIR VERSION PACKAGES...: a static, stripped build in the module at
# DIR, stamped with VERSION as the projects' own builds do (their VERSION
# files), so that --version and the *_build_info metrics say what runs.
vpkg=github.com/prometheus/common/version
build() {
	local dir=$1 version=$2
	shift 2
	(cd "$dir" && CGO_ENABLED=0 go build -trimpath \
		-ldflags "-s -w -X $vpkg.Version=$version -X $vpkg.Branch=pinned -X $vpkg.BuildUser=build-prometheus.sh" \
		-tags remove_all_sd,enable_kubernetes_sd -o "$out/" "$@")
}

(cd tools/prometheus && go mod download)
prom=$(module tools/prometheus '{{.Dir}}' github.com/prometheus/prometheus)
build tools/prometheus "$(cat "$prom/VERSION")" \
	github.com/prometheus/prometheus/cmd/prometheus github.com/prometheus/prometheus/cmd/promtool

# Alertmanager's module ships its web UI's sources but not the built assets
# that its ui package embeds (//go:embed app/dist, made with npm), so it does
# not build as it comes. The build runs in a copy of tools/alertmanager (same
# go.mod and go.sum) that replaces the pinned Alertmanager with a copy of it
# (the module cache's, verified against go.sum) holding a placeholder page
# there: the API, all the tests use, is untouched.
(cd tools/alertmanager && go mod download)
am=$(module tools/alertmanager '{{.Dir}}' github.com/prometheus/alertmanager)
am_version=$(module tools/alertmanager '{{.Version}}' github.com/prometheus/alertmanager)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$am" "$work/alertmanager"
chmod -R u+w "$work/alertmanager"
for ui in elm mantine; do
	mkdir -p "$work/alertmanager/ui/app/dist/$ui"
	echo '<!doctype html><title>Alertmanager</title><p>Built without the web UI (scripts/build-prometheus.sh); the API is at /api/v2/.</p>' \
		>"$work/alertmanager/ui/app/dist/$ui/index.html"
done
mkdir "$work/build"
cp "$root/tools/alertmanager/go.mod" "$root/tools/alertmanager/go.sum" "$work/build/"
(cd "$work/build" && go mod edit -replace "github.com/prometheus/alertmanager@$am_version=../alertmanager")
build "$work/build" "$(cat "$am/VERSION")" \
	github.com/prometheus/alertmanager/cmd/alertmanager github.com/prometheus/alertmanager/cmd/amtool

echo "$want" >"$stamp"
echo "build-prometheus: built in $(($(date +%s) - start))s: $("$bin/prometheus" --version 2>&1 | head -1); $("$bin/alertmanager" --version 2>&1 | head -1)" >&2
