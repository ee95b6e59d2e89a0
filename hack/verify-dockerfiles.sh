#!/usr/bin/env bash
# Builds the generated Dockerfiles with buildah (no Docker engine needed;
# run as root) and compares each image with the one make packages builds
# for this machine's architecture (hack/verify-dockerfiles). Opt-in: make
# verify-dockerfiles; CI does not run it (it needs buildah and, for
# golang:1.26, a registry).
#
# Without a registry, GO_IMAGE_FROM_HOST=1 stands in a local image of the
# same name for the build stage's golang:1.26: this machine's Go toolchain
# (GOROOT), sh, mkdir and tar with their libraries, the module cache and
# build cache mounted. Everything else in the Dockerfiles is built as
# written.
set -euo pipefail

command -v buildah >/dev/null || { echo "verify-dockerfiles: needs buildah (Debian: apt-get install buildah), run as root" >&2; exit 1; }
out=${VERIFY_DIR:-_output/verify-dockerfiles}
arch=$(go env GOARCH)
version=${VERSION:?set VERSION (semver)}
revision=${REVISION:-$(git rev-parse HEAD)}
mkdir -p "$out"
out=$(cd "$out" && pwd)
# Storage of its own, so it neither needs nor touches the system's.
buildah=(buildah --storage-driver vfs --root "$out/storage" --runroot "$out/run")
# chroot isolation: RUN without cgroups or namespaces a container
# environment may not offer.
bud=(--isolation chroot)

go_image=$(sed -n 's/^FROM --platform=\$BUILDPLATFORM \([^ ]*\) AS build$/\1/p' Dockerfile)
[[ -n "$go_image" ]] || { echo "verify-dockerfiles: no build stage image in Dockerfile" >&2; exit 1; }
if ! "${buildah[@]}" inspect --type image "$go_image" >/dev/null 2>&1 && ! "${buildah[@]}" pull -q "docker.io/library/$go_image" >/dev/null; then
  [[ "${GO_IMAGE_FROM_HOST:-}" == 1 ]] || { echo "verify-dockerfiles: cannot pull $go_image; GO_IMAGE_FROM_HOST=1 stands in this machine's Go toolchain" >&2; exit 1; }
  goroot=$(go env GOROOT)
  echo "verify-dockerfiles: $go_image from this machine: $(go version), $goroot"
  c=$("${buildah[@]}" from scratch)
  root=$("${buildah[@]}" mount "$c")
  mkdir -p "$root/usr/local" "$root/bin" "$root/tmp" "$root/etc/ssl/certs" && chmod 1777 "$root/tmp"
  cp -a "$goroot" "$root/usr/local/go"
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
  for t in sh mkdir tar; do
    bin=$(readlink -f "$(command -v "$t")")
    cp "$bin" "$root/bin/$t"
    for l in $(ldd "$bin" | grep -o '/[^ ]*'); do mkdir -p "$root$(dirname "$l")" && cp -L "$l" "$root$l"; done
  done
  "${buildah[@]}" config --env PATH=/usr/local/go/bin:/bin --env GOPATH=/go --env GOTOOLCHAIN=local \
    --env GOPROXY="$(go env GOPROXY)" --env GOFLAGS= "$c"
  "${buildah[@]}" umount "$c" >/dev/null
  "${buildah[@]}" commit -q "$c" "docker.io/library/$go_image" >/dev/null
  "${buildah[@]}" rm "$c" >/dev/null
  bud+=(--pull-never -v "$(go env GOMODCACHE):/go/pkg/mod" -v "$(go env GOCACHE):/root/.cache/go-build")
fi

make --no-print-directory packages ARCHS="$arch" VERSION="$version" REVISION="$revision" BUILD_DIR="$out/packages" XPKG_DIR="$out/xpkg" >/dev/null
go run ./hack/verify-dockerfiles --buildah "${buildah[*]}" --bud-flags "${bud[*]}" --build-dir "$out/packages" \
  --arch "$arch" --version "$version" --revision "$revision" --out "$out"
