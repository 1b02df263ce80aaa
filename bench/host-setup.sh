#!/usr/bin/env bash
# Runs INSIDE the benchmark's test host (bench/run.sh copies it in with the test image):
# installs the three engines as Debian ships them, makes each run nested in a podman
# container on this machine, starts a plain-HTTP registry on localhost:5000 and loads
# the test image into every engine. Idempotent: a second run only checks.
set -euo pipefail
archive=${1:-/root/busybox.tar}
image=ocistack.test/busybox:latest
export DEBIAN_FRONTEND=noninteractive

if ! command -v dockerd >/dev/null || ! command -v podman >/dev/null || ! command -v docker-registry >/dev/null; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends \
    containerd runc docker.io podman crun conmon fuse-overlayfs catatonit \
    docker-registry python3-requests ca-certificates >/dev/null
fi

# dockerd inside a test host: cgroup v1 with the host's cgroup namespace fails to mount
# /sys/fs/cgroup/docker/<id> (TESTBED.md); a private cgroup namespace works.
mkdir -p /etc/docker
want_daemon='{"default-cgroupns-mode": "private"}'
if [ "$(cat /etc/docker/daemon.json 2>/dev/null)" != "$want_daemon" ]; then
  echo "$want_daemon" > /etc/docker/daemon.json
  systemctl restart docker
fi

# podman: runc (crun cannot set up cgroups here), cgroupfs (no systemd cgroup delegation in
# a nested host), overlay storage on the /var/lib/containers volume.
mkdir -p /etc/containers
cat > /etc/containers/containers.conf <<'EOF'
[containers]
default_ulimits = ["nofile=4096:8192", "nproc=8192:8192"]
# Same cgroup v1 trap as dockerd: the host cgroup namespace cannot be mounted nested.
cgroupns = "private"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
cat > /etc/containers/storage.conf <<'EOF'
[storage]
driver = "overlay"
runroot = "/run/containers/storage"
graphroot = "/var/lib/containers/storage"
EOF

# Distribution with its own config: Debian's default one asks for htpasswd auth from a directory.
mkdir -p /etc/docker/registry
cat > /etc/docker/registry/config.yml <<'EOF'
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: /var/lib/docker-registry}, delete: {enabled: true}}
http: {addr: "127.0.0.1:5000"}
EOF
systemctl restart docker-registry
systemctl is-active --quiet containerd docker docker-registry

for _ in $(seq 1 50); do
  curl -fs http://127.0.0.1:5000/v2/ >/dev/null 2>&1 && break
  python3 -c 'import urllib.request; urllib.request.urlopen("http://127.0.0.1:5000/v2/")' 2>/dev/null && break
  sleep 0.2
done

# The test image in every engine, and in the registry as localhost:5000/bench/busybox:1.
ctr images ls -q | grep -qx "$image" || ctr images import "$archive" >/dev/null
docker image inspect "$image" >/dev/null 2>&1 || docker load -q -i "$archive" >/dev/null
podman image exists "$image" || podman load -q -i "$archive" >/dev/null
ctr images tag --force "$image" 127.0.0.1:5000/bench/busybox:1 >/dev/null
ctr images push --plain-http 127.0.0.1:5000/bench/busybox:1 >/dev/null
# A second image with a 64 MiB layer of random bytes (no compression shortcut), so that the
# pull benchmark also shows a transfer that outweighs the per-task cost of Ansible.
if ! curl -fs http://127.0.0.1:5000/v2/bench/large/manifests/1 -o /dev/null; then
  head -c 64M /dev/urandom > /root/large.blob
  large=$(docker create "$image" true)
  docker cp /root/large.blob "$large:/large.blob" >/dev/null
  docker commit "$large" 127.0.0.1:5000/bench/large:1 >/dev/null
  docker rm "$large" >/dev/null
  docker push -q 127.0.0.1:5000/bench/large:1 >/dev/null
  docker rmi 127.0.0.1:5000/bench/large:1 >/dev/null
  rm -f /root/large.blob
fi
echo "engines: containerd $(containerd --version | awk '{print $3}'), docker $(dockerd --version | awk '{print $3}' | tr -d ,)," \
  "podman $(podman --version | awk '{print $3}'), runc $(runc --version | awk 'NR==1{print $3}')"
