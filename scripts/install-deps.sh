#!/usr/bin/env bash
# Installs what the tests and the demo need on a Debian machine: the network
# tools that build the lab, podman with runc (the container test; crun
# refuses this kind of machine's mixed cgroup layout), the Go modules of every
# module in the tree (tools/ holds golangci-lint's, tools/helm helm's), and
# Prometheus and Alertmanager built from the versions pinned in
# tools/prometheus and tools/alertmanager into .bin/
# (scripts/build-prometheus.sh; rebuilt only when the pin changes).
# Run as root. Skips apt when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(iproute2 nftables curl iputils-ping podman runc systemd)
tools=(ip nft curl ping podman runc systemd-analyze)
missing=0
for t in "${tools[@]}"; do command -v "$t" >/dev/null || missing=1; done
if [ "$missing" = 1 ]; then
	[ "$(id -u)" = 0 ] || { echo "install-deps: run as root to install: ${packages[*]}" >&2; exit 1; }
	export DEBIAN_FRONTEND=noninteractive
	apt-get update
	apt-get install -y --no-install-recommends "${packages[@]}"
fi
command -v go >/dev/null || { echo "install-deps: Go is not installed (https://go.dev/doc/install; go.mod says which version)" >&2; exit 1; }
go mod download
for m in tools tools/helm tools/bench tools/prometheus tools/alertmanager; do (cd "$m" && go mod download); done
# test/kubeapi's own module: the kube-apiserver and etcd (about 135 MB), and
# prometheus-operator at the pinned version, whose CRDs test/kubeapi
# installs (about 27 MB unpacked).
(cd test/kubeapi && go mod download &&
	go mod download github.com/prometheus-operator/prometheus-operator@"$(cat prometheus-operator.version)")
# prometheus, promtool, alertmanager and amtool into .bin/, where the tests
# look first.
# test/cluster's own module: the kube binaries (the same versions as
# test/kubeapi's), containerd, the CNI plugins and etcd.
(cd test/cluster && go mod download)
scripts/build-prometheus.sh
