#!/usr/bin/env bash
# The collection's execution environment (ansible-builder 3, execution-environment.yml): the image
# AWX, AAP and ansible-navigator run ocistack.engine in.
#   scripts/ee.sh          the base image (when its recipe changed), then the EE image
#   scripts/ee.sh base     only the base image: localhost/ocistack-ee-base:bookworm
#   scripts/ee.sh build    only the EE image: localhost/ocistack-engine-ee:<galaxy.yml version>
# The EE image is built from the collection tarball (ansible-galaxy collection build), so what runs
# in it is the collection as users install it. Outputs: .cache/ee/ (tarball, build context,
# build.env with the image name, build time and size).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
use_project_env "$ROOT"

cache="$ROOT/.cache/ee"
mkdir -p "$cache"
BASE_IMAGE=${OCISTACK_EE_BASE_IMAGE:-localhost/ocistack-ee-base:bookworm}
MIRROR=${OCISTACK_DEBIAN_MIRROR:-http://deb.debian.org/debian}
version=$(sed -n 's/^version: *//p' galaxy.yml)
EE_IMAGE=${OCISTACK_EE_IMAGE:-localhost/ocistack-engine-ee:$version}

# ansible-builder's generated stages call "$PKGMGR install -y PKG..." and "$PKGMGR clean all" (dnf's
# words). On Debian this stands in for dnf: lists are fetched right before an install (in the same
# layer, so a cached layer never holds stale lists) and removed again by clean.
PKGMGR_WRAPPER='#!/bin/sh
# ansible-builder package_manager_path on Debian (written by ocistack.engine scripts/ee.sh).
set -eu
cmd=${1:-}
[ $# -eq 0 ] || shift
case "$cmd" in
  install)
    [ "${1:-}" != -y ] || shift
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
    ;;
  clean)
    apt-get clean
    rm -rf /var/lib/apt/lists/*
    ;;
  *) exec apt-get "$cmd" "$@" ;;
esac'

# Debian minbase with what ansible-builder's stages run: python3 with pip (Debian disables
# ensurepip for the system python, so execution-environment.yml skips builder's pip bootstrap),
# venv (its assemble step makes one), bash for the entrypoint, CA certificates for pip. No docs,
# man pages or translations; /usr merged by the hook rather than the usrmerge package (and its perl).
build_base() {
  local work=$1
  mmdebstrap --quiet --variant=minbase --include=python3,python3-pip,python3-venv,ca-certificates \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --customize-hook='printf "%s\n" "$PKGMGR_WRAPPER" > "$1/usr/local/sbin/ee-pkgmgr" && chmod 0755 "$1/usr/local/sbin/ee-pkgmgr"' \
    --customize-hook='rm -f "$1/etc/machine-id" && touch "$1/etc/machine-id"' \
    bookworm "$work/rootfs.tar" "$MIRROR"
  # pip uses certifi's bundle unless told otherwise: point it at the system's, which also holds
  # the CAs the building machine's administrator added (see ee_build).
  podman import --quiet \
    --change 'CMD ["/bin/bash"]' \
    --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
    --change "LABEL ocistack.recipe=$recipe_hash" \
    "$work/rootfs.tar" "$BASE_IMAGE" >/dev/null
}
export PKGMGR_WRAPPER
recipe_hash=$(printf '%s\n' "$MIRROR" "$PKGMGR_WRAPPER" "$(declare -f build_base)" | sha256sum | cut -c1-12)

ee_base() {
  if [ "$(podman image inspect --format '{{index .Labels "ocistack.recipe"}}' "$BASE_IMAGE" 2>/dev/null)" = "$recipe_hash" ]; then
    echo "EE base image up to date: $BASE_IMAGE"
    return
  fi
  local work t0 old_id
  t0=$(date +%s)
  old_id=$(podman image inspect --format '{{.Id}}' "$BASE_IMAGE" 2>/dev/null || true)
  work=$(mktemp -d "$cache/base.XXXXXX")
  build_base "$work" || { rm -rf "$work"; return 1; }
  rm -rf "$work"
  [ -z "$old_id" ] || podman rmi "$old_id" >/dev/null 2>&1 || true
  echo "EE base image built: $BASE_IMAGE ($(($(date +%s) - t0))s, $(podman image inspect --format '{{.Size}}' "$BASE_IMAGE") bytes)"
}

ee_build() {
  local t0 t1 size old_id
  t0=$(date +%s)
  old_id=$(podman image inspect --format '{{.Id}}' "$EE_IMAGE" 2>/dev/null || true)
  # execution-environment.yml installs this tarball; a fixed name keeps the definition version-free.
  rm -rf "$cache/dist" "$cache/context"
  ansible-galaxy collection build --force --output-path "$cache/dist" . >/dev/null || return
  mv "$cache/dist"/ocistack-engine-"$version".tar.gz "$cache/ocistack-engine.tar.gz" || return
  ansible-builder create --file execution-environment.yml --context "$cache/context" --output-filename Containerfile -v 1 || return
  # pip inside the build verifies PyPI against the system bundle (PIP_CERT in the base image): lend
  # it this machine's bundle, which carries any local CA (a TLS-inspecting proxy's), for the build
  # only; the image keeps Debian's.
  local mounts=()
  [ ! -r /etc/ssl/certs/ca-certificates.crt ] || mounts=(-v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro)
  podman build "${mounts[@]}" --tag "$EE_IMAGE" --file "$cache/context/Containerfile" "$cache/context" 2>&1 \
    | tee "$cache/build.log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || return
  t1=$(date +%s)
  # The image it replaced and earlier builds' galaxy/builder stage images are left untagged: every
  # image made from the base carries its recipe label, so they are found by it and removed, except
  # those this build made or reused (named in its log): the next build's layer cache.
  [ -z "$old_id" ] || [ "$old_id" = "$(podman image inspect --format '{{.Id}}' "$EE_IMAGE")" ] \
    || podman rmi "$old_id" >/dev/null 2>&1 || true
  local id
  for id in $(podman images -q --no-trunc --filter dangling=true --filter "label=ocistack.recipe=$recipe_hash"); do
    id=${id#sha256:}
    grep -q "${id:0:11}" "$cache/build.log" || podman rmi "$id" >/dev/null 2>&1 || true
  done
  size=$(podman image inspect --format '{{.Size}}' "$EE_IMAGE") || return
  printf 'EE_IMAGE=%s\nEE_BUILD_SECONDS=%s\nEE_SIZE_BYTES=%s\n' "$EE_IMAGE" "$((t1 - t0))" "$size" > "$cache/build.env"
  echo "EE image built: $EE_IMAGE ($((t1 - t0))s, $((size / 1000000)) MB)"
}

case "${1:-all}" in
  base) ee_base ;;
  build) ee_build ;;
  all) ee_base && ee_build ;;
  *) sed -n '2,9p' "$0" >&2; exit 2 ;;
esac
