# syntax=docker/dockerfile:1
#
# docker build \
#   --build-arg VERSION="$(git describe --tags --always --dirty)" \
#   --build-arg REVISION="$(git rev-parse HEAD)" \
#   -t connectivity-exporter .
#
# The build stage runs on the builder's own platform and cross-compiles, so
# `docker buildx build --platform linux/amd64,linux/arm64` needs no emulation.
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
WORKDIR /src
# Modules first: a change to the source does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG TARGETOS=linux
ARG TARGETARCH
ARG VERSION=dev
ARG REVISION=unknown
# The same static build as `make build` (the Makefile's BUILD and LDFLAGS;
# deploy/dockerfile_test.go keeps them in step), plus -s -w: no symbol
# table and DWARF, a third smaller; panics still show functions and lines.
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath \
      -ldflags "-s -w -X github.com/prometheus/common/version.Version=${VERSION} -X github.com/prometheus/common/version.Revision=${REVISION} -X github.com/prometheus/common/version.Branch=main -X github.com/prometheus/common/version.BuildUser=docker" \
      -o /connectivity_exporter .

# Static binary, so a static base: no shell, no package manager, only CA
# certificates, tzdata and /etc/passwd.
FROM gcr.io/distroless/static-debian12
COPY --from=build /connectivity_exporter /connectivity_exporter
# Root, on purpose: creating the health endpoint's network namespace and
# its bind mount needs real root (CAP_SYS_ADMIN in the host's user
# namespace), so the :nonroot variant cannot work. The DaemonSet drops
# every capability of root but NET_RAW, NET_ADMIN and SYS_ADMIN.
USER 0:0
# 9240: /metrics (--web.listen-address); 4240: /hello (--hello.listen-address).
EXPOSE 9240 4240
ENTRYPOINT ["/connectivity_exporter"]
