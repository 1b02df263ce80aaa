#!/usr/bin/env bash
# Build the small image every test runs (busybox-static in an OCI layout), with
# no registry needed. Outputs under .cache/testbed/images/ (or $1):
#   oci/                 OCI image layout, tag "latest" (skopeo/umoci name: oci/:latest)
#   busybox.tar          docker-archive of the same image, for `ctr images import`
#   busybox-oci.tar      OCI archive (tar of the layout), for oci-archive: sources
# Rebuilt only when this script or busybox changes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-"$here/../../.cache/testbed/images"}
mkdir -p "$out"
out=$(cd "$out" && pwd)
# Contents only: sha256sum prints the path too, and callers give it relative or absolute.
stamp="$(cat "$0" /bin/busybox | sha256sum | cut -c1-16)"
if [ -f "$out/.stamp" ] && [ "$(cat "$out/.stamp")" = "$stamp" ] && [ -f "$out/busybox.tar" ]; then
  echo "test image up to date: $out"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rm -rf "$out/oci" "$out/busybox.tar" "$out/busybox-oci.tar"
umoci init --layout "$out/oci"
umoci new --image "$out/oci:latest"
umoci unpack --rootless --image "$out/oci:latest" "$work/bundle" >/dev/null
rootfs="$work/bundle/rootfs"
mkdir -p "$rootfs"/{bin,sbin,etc,tmp,proc,sys,dev,root,var,run,usr/bin,usr/sbin}
cp /bin/busybox "$rootfs/bin/busybox"
# Relative links, so the applets resolve inside any rootfs path.
for applet in $(/bin/busybox --list); do
  [ "$applet" = busybox ] && continue
  [ -e "$rootfs/bin/$applet" ] || ln -s busybox "$rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$rootfs/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\n' > "$rootfs/etc/group"
chmod 1777 "$rootfs/tmp"
umoci repack --image "$out/oci:latest" "$work/bundle" >/dev/null
umoci config --image "$out/oci:latest" --config.cmd /bin/sh \
  --config.env PATH=/usr/sbin:/usr/bin:/sbin:/bin --config.workingdir / >/dev/null
umoci gc --layout "$out/oci"
skopeo copy -q "oci:$out/oci:latest" "docker-archive:$out/busybox.tar:ocistack.test/busybox:latest"
tar -C "$out/oci" -cf "$out/busybox-oci.tar" .
echo "$stamp" > "$out/.stamp"
echo "test image built: $out ($(du -sh "$out/busybox.tar" | cut -f1))"
