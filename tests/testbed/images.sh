#!/usr/bin/env bash
# Build the test bed's host images: Debian minbase + systemd + python3, booting
# /sbin/init under podman, tagged localhost/ocistack-host:<suite>. An image is
# rebuilt only when its recipe (this file) changes: the recipe hash is a label.
#   tests/testbed/images.sh                 bookworm and trixie
#   tests/testbed/images.sh trixie          one suite
#   tests/testbed/images.sh forky-binaries  containerd 2.1 / runc 1.3 binaries from
#                                           Debian forky's .debs, into .cache/testbed/forky/
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cache="$root/.cache/testbed"
mkdir -p "$cache"
IMAGE_REPO=${OCISTACK_HOST_IMAGE:-localhost/ocistack-host}
MIRROR=${OCISTACK_DEBIAN_MIRROR:-http://deb.debian.org/debian}
PACKAGES=systemd,systemd-sysv,dbus,python3,python3-apt,iproute2,ca-certificates,procps,iputils-ping,gnupg
recipe_hash=$(sha256sum "$0" | cut -c1-12)

build_host_image() {
  local suite=$1 image="$IMAGE_REPO:$1"
  if [ "$(podman image inspect --format '{{index .Labels "ocistack.recipe"}}' "$image" 2>/dev/null)" = "$recipe_hash" ]; then
    echo "host image up to date: $image"
    return
  fi
  local work t0 old_id
  t0=$(date +%s)
  old_id=$(podman image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
  work=$(mktemp -d "$cache/build-$suite.XXXXXX")
  # The hooks: units a container host must not start; no machine-id baked in; apt
  # lists are empty (mmdebstrap cleans them): an update stamp dated 1970 makes
  # Ansible's cache_valid_time refresh them.
  mmdebstrap --quiet --variant=minbase --include="$PACKAGES" \
    --customize-hook='chroot "$1" systemctl mask systemd-modules-load.service getty@tty1.service console-getty.service systemd-firstboot.service' \
    --customize-hook='echo "ocistack-host" > "$1/etc/hostname"' \
    --customize-hook='rm -f "$1/etc/machine-id" && touch "$1/etc/machine-id"' \
    --customize-hook='touch -d @0 "$1/var/lib/apt/periodic/update-success-stamp"' \
    "$suite" "$work/rootfs.tar" "$MIRROR"
  podman import --quiet \
    --change 'CMD ["/sbin/init"]' --change 'ENV container=podman' \
    --change 'STOPSIGNAL SIGRTMIN+3' \
    --change "LABEL ocistack.recipe=$recipe_hash" \
    "$work/rootfs.tar" "$image" >/dev/null
  rm -rf "$work"
  # The replaced image is now untagged: drop it unless a host still uses it.
  [ -z "$old_id" ] || podman rmi "$old_id" >/dev/null 2>&1 || true
  echo "host image built: $image ($(($(date +%s) - t0))s)"
}

# Debian forky's Release file has expired, and forky's systemd no longer boots on
# cgroup v1; its containerd/runc binaries still run in a trixie host.
fetch_forky_binaries() {
  local out="$cache/forky"
  if [ -f "$out/.stamp" ] && [ "$(cat "$out/.stamp")" = "$recipe_hash" ]; then
    echo "forky binaries up to date: $out"
    return
  fi
  local apt_dir="$cache/apt-forky"
  rm -rf "$apt_dir" "$out"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$out/debs"
  echo "deb $MIRROR forky main" > "$apt_dir/sources.list"
  local opts=(
    -o Dir::Etc::SourceList="$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache="$apt_dir"
    -o Acquire::Check-Valid-Until=false -o APT::Get::List-Cleanup=false -qq
  )
  apt-get "${opts[@]}" update
  (cd "$out/debs" && apt-get "${opts[@]}" download containerd runc)
  local deb
  for deb in "$out"/debs/*.deb; do
    dpkg-deb -x "$deb" "$out/root"
  done
  dpkg-deb -f "$out"/debs/containerd_*.deb Version > "$out/containerd.version"
  dpkg-deb -f "$out"/debs/runc_*.deb Version > "$out/runc.version"
  rm -rf "$apt_dir"
  echo "$recipe_hash" > "$out/.stamp"
  echo "forky binaries: containerd $(cat "$out/containerd.version"), runc $(cat "$out/runc.version") in $out/root"
}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(bookworm trixie)
for t in "${targets[@]}"; do
  case "$t" in
    bookworm | trixie) build_host_image "$t" ;;
    forky-binaries) fetch_forky_binaries ;;
    *) echo "unknown image: $t (bookworm, trixie, forky-binaries)" >&2; exit 2 ;;
  esac
done
