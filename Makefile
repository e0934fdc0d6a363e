GO       ?= go
BINARY   := connectivity_exporter
# Version stamps, as promu stamps Prometheus' binaries (.promu.yml):
# prometheus/common/version's variables, shown by --version and in
# connectivity_exporter_build_info. The version is the tag without its "v"
# (v1.2.0 -> 1.2.0); the build date is the commit's (SOURCE_DATE_EPOCH if
# set), so that one commit builds the same bytes wherever it is built.
# `:=` so that git runs once per make, not once per use.
VERSION    ?= $(or $(shell git describe --tags --always --dirty 2>/dev/null | sed 's/^v//'),dev)
REVISION   ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BRANCH     ?= $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)
BUILD_USER ?= make
BUILD_DATE ?= $(shell date -u -d @$${SOURCE_DATE_EPOCH:-$$(git log -1 --format=%ct 2>/dev/null || date +%s)} +%Y%m%d-%H:%M:%S)
VERSION    := $(VERSION)
REVISION   := $(REVISION)
BRANCH     := $(BRANCH)
BUILD_DATE := $(BUILD_DATE)
VPKG     := github.com/prometheus/common/version
LDFLAGS  := -s -w -X $(VPKG).Version=$(VERSION) -X $(VPKG).Revision=$(REVISION) \
            -X $(VPKG).Branch=$(BRANCH) -X $(VPKG).BuildUser=$(BUILD_USER) \
            -X $(VPKG).BuildDate=$(BUILD_DATE)
# Static (no libc), so the image's base can be anything, scratch included:
# the Dockerfile copies this binary.
BUILD    := CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)"
# `make image`: the binary of `make build` on BASE, tagged IMAGE (the name
# the manifests and kustomization.yaml use).
ENGINE   ?= podman
BASE     ?= gcr.io/distroless/static-debian12
IMAGE    ?= connectivity-exporter
# golangci-lint at the version pinned in tools/go.mod, whose dependencies stay
# out of the main go.mod. -modfile keeps the working directory, so it lints the
# module it is run in.
GOLANGCI_LINT = $(GO) tool -modfile=$(CURDIR)/tools/go.mod golangci-lint run --config $(CURDIR)/.golangci.yml
# helm v4 at the version pinned in tools/helm/go.mod, a module of its own
# (its Kubernetes dependencies stay out of the main go.mod and tools/go.mod);
# go tool builds it once into the build cache.
HELM      = $(GO) tool -modfile=$(CURDIR)/tools/helm/go.mod helm
CHART    := deploy/helm/connectivity-exporter
# The modules beside the main one: the tools, helm, the bench harness, the
# pinned Prometheus and Alertmanager, the real API server's tests and the
# real cluster's.
MODULES  := tools tools/helm tools/bench tools/prometheus tools/alertmanager test/kubeapi test/cluster

.PHONY: all build image release test unit lint generate fuzz demo cluster-up cluster-down deps bench clean

all: build test

build:
	$(BUILD) -o $(BINARY) .

image: build
	$(ENGINE) build --build-arg BASE=$(BASE) -t $(IMAGE) .

# `make release`: static binaries for each of PLATFORMS, built as `make
# build` builds, packed in DIST as connectivity_exporter-VERSION.linux-ARCH.tar.gz
# (binary, LICENSE, README.md, examples/) with DIST/sha256sums.txt, and the
# multi-arch image IMAGE:VERSION (a podman manifest list of one image per
# platform, on BASE). `podman manifest push --all IMAGE:VERSION
# docker://REGISTRY/...` publishes it. See scripts/release.sh.
PLATFORMS ?= linux/amd64 linux/arm64
DIST      ?= dist
release:
	GO="$(GO)" BINARY="$(BINARY)" VERSION="$(VERSION)" LDFLAGS="$(LDFLAGS)" \
	PLATFORMS="$(PLATFORMS)" DIST="$(DIST)" ENGINE="$(ENGINE)" BASE="$(BASE)" IMAGE="$(IMAGE)" \
	scripts/release.sh

# Every check: lint, every fuzz target briefly, then the tests: unit tests
# and as root the network ones (namespaces, real Prometheus); and
# test/kubeapi, a real kube-apiserver, in a module of its own so that
# k8s.io/kubernetes stays out of go.mod (-vet=off: vet of its ~1,500
# dependency packages takes minutes; no -race: it adds nothing the main
# module's tests lack, and the cold build takes 8+ minutes without it); and
# test/cluster, a real multi-node cluster (its own module too; its test
# binary holds only the harness, so -race costs little: the first run
# builds the kube binaries, containerd, the CNI plugins and etcd, about 20
# minutes on 2 idle cores, sharing the build cache with test/kubeapi; then
# about 10 minutes for its tests: each of the three long ones runs its
# own cluster, side by side, -parallel 3; they mostly wait on timers).
# CX_TEST_STRICT=1 turns a skip for a missing tool or root into a failure
# (test/testbin); testsummary fails on any other skip but ALLOWED_SKIPS
# (the helper processes the tests and benchmarks re-execute) and ends with the skips and
# "N passed, N failed, N skipped" over the three modules.
TESTSUMMARY   := $(CURDIR)/.cache/testsummary
ALLOWED_SKIPS := ^(TestHelperProcess|TestPrivilegesHelper|TestHelloServerProcess)$$
test: deps lint build
	scripts/fuzz.sh
	$(GO) build -o $(TESTSUMMARY) ./test/testbin/cmd/testsummary
	CX_TEST_STRICT=1 $(TESTSUMMARY) -allow-skip '$(ALLOWED_SKIPS)' \
		$(GO) test -race -count=1 -timeout 30m -json ./... -- \
		$(GO) -C test/kubeapi test -vet=off -count=1 -timeout 15m -json ./... -- \
		$(GO) -C test/cluster test -race -count=1 -parallel 3 -timeout 60m -json .

# Unit tests only (no root needed; the network tests skip themselves).
unit:
	$(GO) test -race -count=1 -short ./...

# Every fuzz target briefly (FUZZTIME, default 100000x: a count of executions each).
fuzz:
	scripts/fuzz.sh

# The dashboards and rules, rendered from mixin/templates with the default
# configuration (job="connectivity"): into dashboards/ and alerts/, and into
# the Helm chart's files/. `go run ./mixin -h` renders them for another setup.
HELM_FILES := $(CHART)/files
generate:
	$(GO) run ./mixin -dashboards dashboards -rules alerts
	$(GO) run ./mixin -out $(HELM_FILES)

# gofmt, go vet and golangci-lint on every module, go.mod and go.sum as
# `go mod tidy` would write them, the generated dashboards and rules as
# `make generate` would write them, and helm lint of the chart (go test
# ./deploy/helm/ checks its rendering against deploy/kubernetes/).
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); [ -z "$$out" ] || { echo "gofmt needed:"; echo "$$out"; exit 1; }
	$(GO) vet ./...
	cd tools/bench && $(GO) vet ./...
	$(GOLANGCI_LINT) ./...
	cd tools/bench && $(GOLANGCI_LINT) ./...
	cd test/cluster && $(GO) vet . ./cmd/localcluster ./cmd/pause && $(GOLANGCI_LINT) . ./cmd/localcluster ./cmd/pause
	$(GO) mod tidy -diff
	@! $(GO) list -deps ./status ./hello | grep -q netlink || { echo "status and hello must not link netlink (go list -deps ./status ./hello)"; exit 1; }
	@! $(GO) list -deps ./status ./admin ./plan ./prober ./collector | grep -q '^k8s.io/' || { echo "status, admin, plan, prober and collector must not link k8s.io (go list -deps ./status ./admin ./plan ./prober ./collector); Kubernetes stays in nodes/kubernetes"; exit 1; }
	for m in $(MODULES); do (cd $$m && $(GO) mod tidy -diff) || exit 1; done
	$(GO) run ./mixin -check -dashboards dashboards -rules alerts
	$(GO) run ./mixin -check -out $(HELM_FILES)
	$(HELM) lint --strict $(CHART)
	$(HELM) lint --strict $(CHART) --set podMonitor.enabled=true --set serviceMonitor.enabled=true --set prometheusRule.enabled=true
	scripts/check-shared-modules.sh

demo: deps build
	scripts/demo.sh

# A local Kubernetes cluster (as root): 3 nodes, each a network namespace
# with its own containerd and kubelet, with deploy/kubernetes applied; it
# stays up for a look until `make cluster-down`. The first run builds the
# kube binaries, containerd, the CNI plugins and etcd (about 20 minutes on
# 2 cores); later runs take seconds. test/cluster's harness does both.
CLUSTER_NODES ?= 3
cluster-up: deps build
	cd test/cluster && $(GO) run ./cmd/localcluster -nodes $(CLUSTER_NODES) up

cluster-down:
	cd test/cluster && $(GO) run ./cmd/localcluster down

# Probing cost next to fping, smokeping_prober and blackbox_exporter, up to 5,000
# simulated peers (root, about 10 minutes); rewrites the figures in BENCHMARKS.md.
bench:
	GO=$(GO) tools/bench/run.sh

deps:
	scripts/install-deps.sh

clean:
	rm -f $(BINARY)
	rm -rf dist
