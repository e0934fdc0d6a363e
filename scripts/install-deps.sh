#!/usr/bin/env bash
# Installs what the tests and the demo need on a Debian machine: the network
# tools that build the lab, a real Prometheus and Alertmanager, podman with
# runc (the container test; crun refuses this kind of machine's mixed cgroup
# layout), and the Go modules of every module in the tree (tools/ holds
# golangci-lint's). Run as root. Skips apt when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(iproute2 nftables curl iputils-ping prometheus prometheus-alertmanager podman runc)
tools=(ip nft curl ping prometheus promtool prometheus-alertmanager podman runc)
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
for m in tools tools/bench; do (cd "$m" && go mod download); done
# test/kubeapi's own module: the kube-apiserver and etcd (about 135 MB).
(cd test/kubeapi && go mod download)
# test/cluster's own module: the kube binaries (the same versions as
# test/kubeapi's), containerd, the CNI plugins and etcd.
(cd test/cluster && go mod download)
