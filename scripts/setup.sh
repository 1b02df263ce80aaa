#!/usr/bin/env bash
# Prepare this machine to run the demo and the tests: Debian packages, podman
# defaults that work without CAP_SYS_RESOURCE, a virtualenv with pinned tools,
# and the collection linked where Ansible and Python find it.
# Safe to run again: every step checks before it acts.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

APT_PACKAGES=(
  podman golang-github-containernetworking-plugin-dnsname runc crun containerd containernetworking-plugins uidmap
  runsc mmdebstrap skopeo umoci busybox-static docker-registry
  iproute2 apache2-utils openssl python3-venv make git curl ca-certificates
  qemu-system-x86 openssh-client
)

stage "apt packages"
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

stage "podman defaults"
# crun (podman's default) fails on hybrid cgroups here, and raising rlimits
# needs CAP_SYS_RESOURCE, which this machine does not grant.
mkdir -p /etc/containers/containers.conf.d
cat > /etc/containers/containers.conf.d/50-ocistack-testbed.conf <<'CONF'
[engine]
runtime = "runc"
[containers]
default_ulimits = ["nofile=4096:8192", "nproc=8192:8192"]
CONF

stage "virtualenv"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
want=$(sha256sum requirements/*.txt | sha256sum | cut -c1-16)
if [ "$(cat .venv/.requirements-hash 2>/dev/null)" != "$want" ]; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -r requirements/test.txt
  echo "$want" > .venv/.requirements-hash
fi

stage "collection path"
# Ansible and Python import the collection as ansible_collections.ocistack.engine:
# point that name at this checkout so edits are live without a rebuild.
mkdir -p .cache/collections/ansible_collections/ocistack
ln -sfn "$ROOT" .cache/collections/ansible_collections/ocistack/engine

stage "ansible-test pip bootstrap"
# ansible-test downloads get-pip.py for each sanity venv from a host that is not
# reachable here; it looks in this cache first. Our stand-in uses ensurepip.
write_get_pip_stub

echo "setup done"
