# The image holds the binary that `make build` made (a static CGO_ENABLED=0
# build in the repository's root), on a base given as a build argument:
#
#   make build
#   podman build --build-arg BASE=gcr.io/distroless/static-debian12 -t connectivity-exporter .
#
# (or `make image`). One build definition, the Makefile's, so nothing to
# keep in step. The binary needs nothing from the base: no libc, no CA
# certificates (the API server's CA comes with the service account), no
# /etc/passwd (users are numeric). BASE=scratch works as well; the default
# adds CA certificates, tzdata and /etc/passwd for people who debug with
# them.
ARG BASE=gcr.io/distroless/static-debian12
FROM ${BASE}
COPY connectivity_exporter /connectivity_exporter
COPY LICENSE /license/LICENSE
# Root by default: in a static node list setup the daemon builds the health
# endpoint's network namespace, which needs real root. The manifests in
# deploy/kubernetes/ set each container's user themselves.
USER 0:0
# 9240: /metrics (--web.listen-address); 4240: /hello (--hello.listen-address).
EXPOSE 9240 4240
ENTRYPOINT ["/connectivity_exporter"]
