#!/usr/bin/env bash
# `make release`: what a release publishes, in $DIST:
#   connectivity_exporter-$VERSION.linux-$ARCH.tar.gz  one per platform: a
#       directory of the same name holding the static binary, LICENSE,
#       README.md and examples/ (the layout of node_exporter's tarballs)
#   sha256sums.txt                                     `sha256sum -c` checks them
# and the multi-arch image $IMAGE:$VERSION: a manifest list with one image
# per platform, each the Dockerfile on $BASE with that platform's binary.
# The Makefile passes every variable; run it through make.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${GO:?} ${BINARY:?} ${VERSION:?} ${LDFLAGS:?} ${PLATFORMS:?} ${DIST:?} ${ENGINE:?} ${BASE:?} ${IMAGE:?}"

# The tarballs' file times: the commit's, as the build date, so that one
# commit packs the same bytes.
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
mkdir -p "$DIST"
tarballs=()
for platform in $PLATFORMS; do
	os=${platform%/*} arch=${platform#*/}
	name=$BINARY-$VERSION.$os-$arch
	stage=$DIST/$name
	rm -rf "$stage"
	mkdir -p "$stage"
	echo ">> building $platform"
	CGO_ENABLED=0 GOOS=$os GOARCH=$arch "$GO" build -trimpath -ldflags "$LDFLAGS" -o "$stage/$BINARY" .
	cp LICENSE README.md "$stage/"
	cp -r examples "$stage/examples"
	tar --create --gzip --file "$DIST/$name.tar.gz" --directory "$DIST" \
		--sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" "$name"
	tarballs+=("$name.tar.gz")
done
(cd "$DIST" && sha256sum "${tarballs[@]}" >sha256sums.txt)
echo ">> $DIST/sha256sums.txt"
cat "$DIST/sha256sums.txt"

# The image: the build context of each platform is its staged directory,
# which holds what the Dockerfile copies (the binary and LICENSE). The
# list is made afresh, so that a rerun does not add a second image of a
# platform to it.
if "$ENGINE" manifest exists "$IMAGE:$VERSION" 2>/dev/null; then
	"$ENGINE" manifest rm "$IMAGE:$VERSION" >/dev/null
fi
"$ENGINE" manifest create "$IMAGE:$VERSION" >/dev/null
for platform in $PLATFORMS; do
	arch=${platform#*/}
	tag=$IMAGE:$VERSION-$arch
	echo ">> image $tag ($platform on $BASE)"
	"$ENGINE" build --quiet --platform "$platform" --build-arg BASE="$BASE" \
		--file Dockerfile --tag "$tag" "$DIST/$BINARY-$VERSION.${platform%/*}-$arch" >/dev/null
	"$ENGINE" manifest add "$IMAGE:$VERSION" "containers-storage:$tag" >/dev/null
done
echo ">> image $IMAGE:$VERSION: $PLATFORMS"
