GO       ?= go
BINARY   := connectivity_exporter
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
VPKG     := github.com/prometheus/common/version
LDFLAGS  := -s -w -X $(VPKG).Version=$(VERSION) -X $(VPKG).Revision=$(REVISION) \
            -X $(VPKG).Branch=main -X $(VPKG).BuildUser=make
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
# The modules beside the main one: the tools and the bench harness.
MODULES  := tools tools/bench test/kubeapi

.PHONY: all build image test unit lint fuzz demo deps bench clean

all: build test

build:
	$(BUILD) -o $(BINARY) .

image: build
	$(ENGINE) build --build-arg BASE=$(BASE) -t $(IMAGE) .

# Every check: lint, then unit tests, and as root the network ones
# (namespaces, real Prometheus); then test/kubeapi, a real kube-apiserver,
# in a module of its own so that k8s.io/kubernetes stays out of go.mod
# (-vet=off: vet of its ~1,500 dependency packages takes minutes; no -race:
# it adds nothing the main module's tests lack, and the cold build takes
# 8+ minutes without it).
test: deps lint build
	$(GO) test -race -count=1 -timeout 20m ./...
	cd test/kubeapi && $(GO) test -vet=off -count=1 -timeout 15m ./...
	scripts/fuzz.sh

# Unit tests only (no root needed; the network tests skip themselves).
unit:
	$(GO) test -race -count=1 -short ./...

# Every fuzz target briefly (FUZZTIME, default 10s each).
fuzz:
	scripts/fuzz.sh

# gofmt, go vet and golangci-lint on every module, and go.mod and go.sum as
# `go mod tidy` would write them.
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); [ -z "$$out" ] || { echo "gofmt needed:"; echo "$$out"; exit 1; }
	$(GO) vet ./...
	cd tools/bench && $(GO) vet ./...
	$(GOLANGCI_LINT) ./...
	cd tools/bench && $(GOLANGCI_LINT) ./...
	$(GO) mod tidy -diff
	@! $(GO) list -deps ./status ./hello | grep -q netlink || { echo "status and hello must not link netlink (go list -deps ./status ./hello)"; exit 1; }
	@! $(GO) list -deps ./status ./admin ./plan ./prober ./collector | grep -q '^k8s.io/' || { echo "status, admin, plan, prober and collector must not link k8s.io (go list -deps ./status ./admin ./plan ./prober ./collector); Kubernetes stays in nodes/kubernetes"; exit 1; }
	for m in $(MODULES); do (cd $$m && $(GO) mod tidy -diff) || exit 1; done

demo: deps build
	scripts/demo.sh

# Probing cost next to fping, smokeping_prober and blackbox_exporter, up to 5,000
# simulated peers (root, about 10 minutes); rewrites the figures in BENCHMARKS.md.
bench:
	GO=$(GO) tools/bench/run.sh

deps:
	scripts/install-deps.sh

clean:
	rm -f $(BINARY)
