#!/usr/bin/env bash
# The main job (`make demo`): start a fleet of three test hosts, lay the stack on
# it with the collection's main playbook and the example group_vars
# (playbooks/group_vars.example/), then show what runs on it: the `web` workload
# answering on port 8080 of every engine host, and what runs where with each
# container's last log lines (playbooks/report.yml).
# The hosts stay up for you to look at: `make clean` removes them.
#   DEMO_HOSTS="h1 h2 h3:trixie" scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
use_project_env "$ROOT"
read -r -a hosts <<< "${DEMO_HOSTS:-h1 h2 h3}"
fleet=demo
if [ ${#hosts[@]} -lt 2 ]; then
  echo "DEMO_HOSTS: name at least two hosts (the registry, then the engine hosts)" >&2
  exit 2
fi

stage "test images"
bash tests/testbed/images.sh
bash tests/testbed/test-image.sh

stage "fleet"
bash tests/testbed/fleet.sh up "$fleet" "${hosts[@]}"
# The inventory in a directory of its own, so that its group_vars are the example ones, as a
# user's inventory in Git would have them.
site=.cache/testbed/demo-site
inventory=$site/hosts.ini
mkdir -p "$site"
ln -sfn ../../../playbooks/group_vars.example "$site/group_vars"
# The fleet's own inventory, plus the groups site.yml lays the layers by: the first host
# serves the registry, the others run containerd, and the last of them dockerd on top of it.
registry_host=${hosts[0]%%:*}
engine_hosts=("${hosts[@]:1}")
engine_hosts=("${engine_hosts[@]%%:*}")
{
  cat ".cache/testbed/$fleet.ini"
  printf '\n[registry]\n%s\n' "$registry_host"
  printf '\n[containerd_hosts]\n'
  printf '%s\n' "${engine_hosts[@]}"
  printf '\n[docker_hosts]\n%s\n' "${engine_hosts[-1]}"
} > "$inventory"
# group_vars.example/all.yml takes the registry user's password from a vault variable; the demo's
# throw-away registry gets a random one, kept (mode 0600) for the next run on the same hosts.
secrets=$site/secrets.yml
if [ ! -s "$secrets" ]; then
  (umask 077 && printf 'vault_registry_password: "%s"\n' "$(python3 -c 'import secrets; print(secrets.token_hex(16))')" > "$secrets")
fi
play() { ansible-playbook -i "$inventory" -e "@$secrets" "$@"; }

# The workloads pull docker.io/library/busybox:1.36 through the private registry, the first mirror
# of docker.io (containerd asks <registry>/library/busybox:1.36 before docker.io itself), so the
# demo needs no way out to docker.io: the registry host gets its layer first, then the test image
# (tests/testbed/test-image.sh) is pushed to it under that name, then site.yml lays the rest.
stage "site.yml on the registry host"
play playbooks/site.yml --limit "$registry_host"

stage "test image into the private registry as library/busybox:1.36"
registry_container=ocistack-$fleet-$registry_host
push_dir=$(mktemp -d)
trap 'rm -rf "$push_dir"' EXIT
podman exec "$registry_container" cat /etc/docker/registry/tls/ca.crt > "$push_dir/ca.crt"
# The first of stack_registry_users (the engine hosts' pull user) pushes.
registry_user=$(python -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["stack_registry_users"][0]["name"])' \
  "$site/group_vars/all.yml")
registry_password=$(sed -n 's/^vault_registry_password: "\(.*\)"$/\1/p' "$secrets")
(umask 077 && printf '{"auths": {"localhost:5000": {"auth": "%s"}}}\n' \
  "$(printf '%s:%s' "$registry_user" "$registry_password" | base64 -w0)" > "$push_dir/auth.json")
# skopeo of this machine, in the registry host's network namespace: the registry's certificate
# names localhost, and the credentials stay in a file.
nsenter --target "$(podman inspect --format '{{.State.Pid}}' "$registry_container")" --net -- \
  skopeo copy --quiet --retry-times 5 --dest-cert-dir "$push_dir" --dest-authfile "$push_dir/auth.json" \
  "oci-archive:$ROOT/.cache/testbed/images/busybox-oci.tar" docker://localhost:5000/library/busybox:1.36
echo "pushed .cache/testbed/images/busybox-oci.tar to $registry_host:5000/library/busybox:1.36"

stage "site.yml"
play playbooks/site.yml

# The web workload publishes port 8080 on each engine host (group_vars.example/containerd_hosts.yml):
# ask it from this machine, which reaches the hosts' addresses on the podman network.
stage "web: http://<engine host>:8080/ from this machine"
for host in "${engine_hosts[@]}"; do
  address=$(podman inspect --format '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "ocistack-$fleet-$host")
  url="http://$address:8080/"
  deadline=$((SECONDS + 30))
  until answer=$(curl --noproxy '*' --silent --show-error --fail --max-time 3 "$url" 2>&1); do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "error: $url ($host) did not answer within 30 s: $answer" >&2
      exit 1
    fi
    sleep 1
  done
  echo "$host $url -> $answer"
done

stage "what runs where"
play playbooks/report.yml
stage "done"
echo "The demo hosts keep running: podman exec -it ocistack-demo-h1 bash; 'make clean' removes them."
