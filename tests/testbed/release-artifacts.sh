#!/usr/bin/env bash
# Release-style artifacts for the binary/local install tests, made from the binaries in Debian's
# packages (no upstream release can be downloaded here). Shapes follow the upstream releases:
#   containerd/v<V>/containerd-<V>-linux-amd64.tar.gz   bin/containerd, bin/containerd-shim-runc-v2, bin/ctr, ...
#   runc/v<V>/runc.amd64                                 the runc binary
#   cni/v<V>/cni-plugins-linux-amd64-v<V>.tgz           ./bridge, ./host-local, ./loopback, ...
# Sources: bookworm (containerd 1.6, CNI plugins), trixie (containerd 1.7, runc 1.1, CNI plugins), forky
# (containerd 2.1, runc 1.3; tests/testbed/images.sh forky-binaries). Tarballs are reproducible (sorted, mtime 0,
# gzip -n), so their sha256 stays the same between runs; SHA256SUMS and versions.env list them.
#   tests/testbed/release-artifacts.sh          build into .cache/testbed/releases (cached by this file's hash)
#   tests/testbed/release-artifacts.sh --print  print the directory
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cache="$root/.cache/testbed"
out="$cache/releases"
MIRROR=${OCISTACK_DEBIAN_MIRROR:-http://deb.debian.org/debian}
recipe_hash=$(cat "$0" "$here/images.sh" | sha256sum | cut -c1-12)

if [ "${1:-}" = "--print" ]; then
  echo "$out"
  exit 0
fi
if [ -f "$out/.stamp" ] && [ "$(cat "$out/.stamp")" = "$recipe_hash" ]; then
  echo "release artifacts up to date: $out"
  exit 0
fi

# download SUITE PACKAGE... : the .debs of one Debian suite, unpacked into $work/SUITE/root.
download() {
  local suite=$1
  shift
  local apt_dir="$work/apt-$suite"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$work/$suite/debs"
  echo "deb $MIRROR $suite main" > "$apt_dir/sources.list"
  local opts=(
    -o Dir::Etc::SourceList="$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache="$apt_dir"
    -o Acquire::Check-Valid-Until=false -o APT::Get::List-Cleanup=false -o APT::Sandbox::User=root -qq
  )
  apt-get "${opts[@]}" update
  (cd "$work/$suite/debs" && apt-get "${opts[@]}" download "$@")
  local deb
  for deb in "$work/$suite"/debs/*.deb; do
    dpkg-deb -x "$deb" "$work/$suite/root"
  done
}

# upstream_version DEB: "1.7.24~ds1-6+b4" -> "1.7.24"
upstream_version() {
  dpkg-deb -f "$1" Version | sed -E 's/^[0-9]+://; s/[~+-].*$//'
}

# reproducible_tar DIR OUT: a gzip tarball of DIR's content that is byte-identical between runs.
reproducible_tar() {
  tar -C "$1" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - . | gzip -n -9 > "$2"
}

containerd_tarball() {
  local bindir=$1 version=$2 stage="$work/stage-containerd-$2"
  mkdir -p "$stage/bin" "$out/containerd/v$version"
  local b
  for b in containerd containerd-shim-runc-v2 ctr containerd-shim containerd-shim-runc-v1; do
    [ -x "$bindir/$b" ] && install -m 0755 "$bindir/$b" "$stage/bin/$b"
  done
  reproducible_tar "$stage" "$out/containerd/v$version/containerd-$version-linux-amd64.tar.gz"
  echo "CONTAINERD_${version//./_}=$version" >> "$out/versions.env"
}

runc_binary() {
  local binary=$1 version=$2
  mkdir -p "$out/runc/v$version"
  install -m 0755 "$binary" "$out/runc/v$version/runc.amd64"
  echo "RUNC_${version//./_}=$version" >> "$out/versions.env"
}

cni_tarball() {
  local dir=$1 version=$2 stage="$work/stage-cni-$2"
  mkdir -p "$stage" "$out/cni/v$version"
  cp -a "$dir"/. "$stage"/
  reproducible_tar "$stage" "$out/cni/v$version/cni-plugins-linux-amd64-v$version.tgz"
  echo "CNI_${version//./_}=$version" >> "$out/versions.env"
}

t0=$(date +%s)
bash "$here/images.sh" forky-binaries >/dev/null
mkdir -p "$cache"
work=$(mktemp -d "$cache/releases-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
rm -rf "$out"
mkdir -p "$out"
: > "$out/versions.env"

download bookworm containerd containernetworking-plugins
download trixie containerd runc containernetworking-plugins

containerd_tarball "$work/bookworm/root/usr/bin" "$(upstream_version "$work"/bookworm/debs/containerd_*.deb)"
containerd_tarball "$work/trixie/root/usr/bin" "$(upstream_version "$work"/trixie/debs/containerd_*.deb)"
forky_containerd=$(sed -E 's/[~+-].*$//' "$cache/forky/containerd.version")
containerd_tarball "$cache/forky/root/usr/bin" "$forky_containerd"

runc_binary "$work/trixie/root/usr/sbin/runc" "$(upstream_version "$work"/trixie/debs/runc_*.deb)"
runc_binary "$cache/forky/root/usr/sbin/runc" "$(sed -E 's/[~+-].*$//' "$cache/forky/runc.version")"

cni_tarball "$work/bookworm/root/usr/lib/cni" "$(upstream_version "$work"/bookworm/debs/containernetworking-plugins_*.deb)"
cni_tarball "$work/trixie/root/usr/lib/cni" "$(upstream_version "$work"/trixie/debs/containernetworking-plugins_*.deb)"

sort -u -o "$out/versions.env" "$out/versions.env"
(cd "$out" && find . -type f \( -name '*.tar.gz' -o -name '*.tgz' -o -name 'runc.*' \) | sort | xargs sha256sum > SHA256SUMS)
echo "$recipe_hash" > "$out/.stamp"
echo "release artifacts built in $out ($(($(date +%s) - t0))s):"
cat "$out/SHA256SUMS"
