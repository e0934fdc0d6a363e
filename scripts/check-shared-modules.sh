#!/usr/bin/env bash
# test/kubeapi and test/cluster build the same Kubernetes packages (the API
# server in the test binary, the kube binaries of the cluster). They share
# Go's build cache only if every module those packages come from has the
# same version in both go.mod files: this fails, naming the modules, when
# one was raised in one module only (go get, or a new requirement there).
set -euo pipefail
cd "$(dirname "$0")/.."
deps() {
	(cd "$1" && go list -deps -f '{{with .Module}}{{.Path}}@{{if .Replace}}{{.Replace.Version}}{{else}}{{.Version}}{{end}}{{end}}' \
		k8s.io/kubernetes/cmd/kube-apiserver | grep -v '^github.com/connectivity-exporter/' | sort -u)
}
if ! out=$(diff <(deps test/kubeapi) <(deps test/cluster)); then
	echo "test/kubeapi (<) and test/cluster (>) build kube-apiserver from different module versions:" >&2
	echo "$out" >&2
	echo "require the higher version in both go.mod files" >&2
	exit 1
fi
