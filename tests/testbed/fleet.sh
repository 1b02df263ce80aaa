#!/usr/bin/env bash
# Fleets of test hosts: podman containers booting systemd from the images that
# images.sh builds, on a network of their own. Everything is named with the
# prefix "ocistack-" so that `cleanup-all` finds what a killed run left behind.
#   fleet.sh up NAME HOST[:SUITE]... start the hosts (suite bookworm unless named),
#                                    wait for systemd, write .cache/testbed/NAME.ini
#   fleet.sh up NAME COUNT [SUITE]   the same for hosts h1..hCOUNT
#   fleet.sh down NAME               remove that fleet's hosts, volumes and network
#   fleet.sh cleanup-all             remove every ocistack-* host, volume and network
#   fleet.sh list                    what runs now
# The host settings below are the ones molecule/*/molecule.yml use too: keep them alike.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cache="$root/.cache/testbed"
PREFIX=ocistack-
IMAGE_REPO=${OCISTACK_HOST_IMAGE:-localhost/ocistack-host}

# Why each flag: podman's default crun fails on this kind of machine (hybrid
# cgroups); raising rlimits needs CAP_SYS_RESOURCE; containerd's overlayfs and
# dockerd's overlay2 (and podman's overlay, for the benchmark's podman) cannot
# mount on the container's overlay root, so their state lives on volumes.
host_flags() {
  local fleet=$1 host=$2
  printf '%s\n' --runtime runc --privileged --systemd=always \
    --ulimit nofile=4096:8192 --ulimit nproc=8192:8192 \
    --network "${PREFIX}${fleet}" --network-alias "$host" --hostname "$host" --name "${PREFIX}${fleet}-${host}" \
    --label ocistack.fleet="$fleet" \
    -v "${PREFIX}${fleet}-${host}-containerd:/var/lib/containerd" \
    -v "${PREFIX}${fleet}-${host}-docker:/var/lib/docker" \
    -v "${PREFIX}${fleet}-${host}-registry:/var/lib/docker-registry" \
    -v "${PREFIX}${fleet}-${host}-containers:/var/lib/containers"
}

# A /24 per fleet, derived from its name, inside 10.213.0.0/16.
fleet_subnet() {
  local n
  n=$(($(printf '%s' "$1" | cksum | cut -d' ' -f1) % 250 + 1))
  echo "10.213.$n.0/24"
}

wait_for_systemd() {
  local name=$1 state i
  for i in $(seq 1 60); do
    state=$(podman exec "$name" systemctl is-system-running 2>/dev/null || true)
    case "$state" in
      running) return 0 ;;
      degraded)
        echo "warning: $name is degraded:" >&2
        podman exec "$name" systemctl --failed --no-legend >&2 || true
        return 0
        ;;
    esac
    sleep 1
  done
  echo "error: systemd in $name did not come up (state: ${state:-none})" >&2
  return 1
}

up() {
  local fleet=$1 specs=() spec host suite names=()
  shift
  if [[ $# -ge 1 && $1 =~ ^[0-9]+$ ]]; then
    for i in $(seq 1 "$1"); do specs+=("h$i:${2:-bookworm}"); done
  else
    specs=("$@")
  fi
  [ ${#specs[@]} -gt 0 ] || { echo "fleet.sh up: name at least one host" >&2; exit 2; }
  podman network exists "${PREFIX}${fleet}" || podman network create --subnet "$(fleet_subnet "$fleet")" "${PREFIX}${fleet}" >/dev/null
  for spec in "${specs[@]}"; do
    host=${spec%%:*}
    suite=${spec#*:}
    [ "$suite" != "$spec" ] || suite=bookworm
    names+=("${PREFIX}${fleet}-${host}")
    if ! podman container exists "${PREFIX}${fleet}-${host}"; then
      mapfile -t flags < <(host_flags "$fleet" "$host")
      podman run -d "${flags[@]}" "$IMAGE_REPO:$suite" >/dev/null
    fi
  done
  for host in "${names[@]}"; do wait_for_systemd "$host"; done
  mkdir -p "$cache"
  {
    echo "# fleet $fleet: written by tests/testbed/fleet.sh"
    echo "# testbed_podman is in tests/testbed/connection_plugins (scripts/lib.sh's use_project_env sets the path)"
    echo "[all:vars]"
    echo "ansible_connection=testbed_podman"
    echo "ansible_python_interpreter=/usr/bin/python3"
    echo "[$fleet]"
    for host in "${names[@]}"; do echo "${host#"${PREFIX}${fleet}-"} ansible_host=$host"; done
  } > "$cache/$fleet.ini"
  echo "fleet $fleet up: ${names[*]} (inventory: $cache/$fleet.ini)"
}

down() {
  local fleet=$1 kind name
  local -a hosts
  mapfile -t hosts < <(podman ps -a --filter "label=ocistack.fleet=$fleet" --format '{{.Names}}')
  podman ps -aq --filter "label=ocistack.fleet=$fleet" | xargs -r podman rm -f -t 5 >/dev/null
  # Only this fleet's volumes: a bare name prefix would also match fleet "<fleet>-x"'s volumes, and
  # `volume rm -f` removes the containers using them. Its hosts' volumes by exact name, then
  # leftovers of a killed run whose host names have no dash.
  for name in "${hosts[@]}"; do
    for kind in containerd docker registry containers; do
      podman volume rm -f "$name-$kind" >/dev/null 2>&1 || true
    done
  done
  podman volume ls -q | grep -E "^${PREFIX}${fleet}-[^-]+-(containerd|docker|registry|containers)\$" \
    | xargs -r podman volume rm -f >/dev/null || true
  podman network rm -f "${PREFIX}${fleet}" >/dev/null 2>&1 || true
  rm -f "$cache/$fleet.ini"
}

cleanup_all() {
  podman ps -a --format '{{.Names}}' | grep "^${PREFIX}" | xargs -r podman rm -f -t 5 >/dev/null || true
  podman volume ls -q | grep "^${PREFIX}" | xargs -r podman volume rm -f >/dev/null || true
  podman network ls --format '{{.Name}}' | grep "^${PREFIX}" | xargs -r podman network rm -f >/dev/null || true
  rm -f "$cache"/*.ini
}

case "${1:-}" in
  up) shift; up "$@" ;;
  down) down "$2" ;;
  cleanup-all) cleanup_all ;;
  list) podman ps -a --filter "label=ocistack.fleet" --format '{{.Names}}\t{{.Status}}\t{{index .Labels "ocistack.fleet"}}' ;;
  *) sed -n '2,12p' "$0" >&2; exit 2 ;;
esac
