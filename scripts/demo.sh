#!/usr/bin/env bash
# The main job (`make demo`): start a fleet of three test hosts, lay the stack on
# it with the collection's main playbook, then print what runs where.
# The hosts stay up for you to look at: `make clean` removes them.
#   DEMO_HOSTS="h1 h2 h3:trixie" scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
use_project_env "$ROOT"
read -r -a hosts <<< "${DEMO_HOSTS:-h1 h2 h3}"

stage "test images"
bash tests/testbed/images.sh
bash tests/testbed/test-image.sh

stage "fleet"
bash tests/testbed/fleet.sh up demo "${hosts[@]}"
inventory=.cache/testbed/demo-site.ini
# The fleet's own inventory, plus the groups site.yml lays the layers by: the first host
# serves the registry, the others run containerd, and the last of them dockerd on top of it.
engine_hosts=("${hosts[@]:1}")
[ ${#engine_hosts[@]} -gt 0 ] || engine_hosts=("${hosts[0]}")
{
  cat .cache/testbed/demo.ini
  printf '\n[registry]\n%s\n' "${hosts[0]%%:*}"
  printf '\n[containerd_hosts]\n'
  printf '%s\n' "${engine_hosts[@]%%:*}"
  printf '\n[docker_hosts]\n%s\n' "${engine_hosts[-1]%%:*}"
} > "$inventory"

stage "site.yml"
ansible-playbook -i "$inventory" playbooks/site.yml

stage "what runs where"
ansible-playbook -i "$inventory" playbooks/report.yml
stage "done"
echo "The demo hosts keep running: podman exec -it ocistack-demo-h1 bash; 'make clean' removes them."
