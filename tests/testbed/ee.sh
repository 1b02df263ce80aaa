#!/usr/bin/env bash
# The execution environment test (make test's ee stage): build the EE image (scripts/ee.sh: base
# image cached by recipe hash, EE layers cached by podman), check what it holds, then run
# `ansible-playbook --check --diff ocistack.engine.site` from inside it, with the collection the
# image installed, against a fresh test host reached over SSH as AWX reaches a server: an sshd on
# the host, a key made for the run, the host's key in known_hosts, the EE on the fleet's network.
# Check mode on the fresh host must succeed, report changes and leave the host without an engine.
# Fleet "ee" (one bookworm host, h1); it is removed at the end, pass or fail.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
FLEET=ee
HOST=ocistack-$FLEET-h1
run="$root/.cache/ee/run"

fail() {
  echo "ee test: $*" >&2
  exit 1
}

bash scripts/ee.sh
# shellcheck disable=SC1091
. .cache/ee/build.env

# What the image holds: the pinned ansible-core of requirements/controller.txt, ansible-runner, the
# collection at galaxy.yml's version (installed in the image, not mounted), and an SSH client.
want_core=$(sed -n 's/^ansible-core==//p' requirements/controller.txt)
want_version=$(sed -n 's/^version: *//p' galaxy.yml)
report=$(podman run --rm "$EE_IMAGE" bash -c \
  'ansible --version | head -1; ansible-runner --version; ansible-galaxy collection list ocistack.engine --format json; ssh -V 2>&1') \
  || fail "the image does not run"
echo "$report"
grep -qF "[core $want_core]" <<< "$report" || fail "ansible-core is not $want_core (requirements/controller.txt)"
grep -qF "\"ocistack.engine\": {\"version\": \"$want_version\"}" <<< "$report" \
  || fail "ocistack.engine $want_version is not installed in /usr/share/ansible/collections"
grep -q '^OpenSSH_' <<< "$report" || fail "no SSH client in the image"

cleanup() { bash tests/testbed/fleet.sh down "$FLEET" || true; }
trap cleanup EXIT
bash tests/testbed/images.sh bookworm
bash tests/testbed/fleet.sh down "$FLEET"
bash tests/testbed/fleet.sh up "$FLEET" h1

# An SSH server on the host, as on any server AWX manages; root logs in with the run's key.
rm -rf "$run"
mkdir -p "$run"
ssh-keygen -q -t ed25519 -N '' -C "ocistack-ee-test" -f "$run/id_ed25519"
podman exec "$HOST" bash -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssh-server >/dev/null'
podman exec -i "$HOST" bash -c 'install -d -m 0700 /root/.ssh && cat > /root/.ssh/authorized_keys && chmod 0600 /root/.ssh/authorized_keys' < "$run/id_ed25519.pub"
podman exec "$HOST" systemctl is-active ssh >/dev/null || fail "sshd is not running on $HOST"
echo "h1 $(podman exec "$HOST" cat /etc/ssh/ssh_host_ed25519_key.pub)" > "$run/known_hosts"
cat > "$run/inventory.ini" <<'INI'
# The EE test's inventory (tests/testbed/ee.sh): h1 by its name on the fleet's network, over SSH.
[all:vars]
ansible_user=root
ansible_python_interpreter=/usr/bin/python3
[containerd_hosts]
h1
[docker_hosts]
h1
INI
# The EE runs as its image's user, as AWX runs it: the key must be that user's.
ee_user=$(podman image inspect --format '{{.Config.User}}' "$EE_IMAGE")
chown -R "${ee_user:-0}" "$run"

# The command of README's "Execution environment", on the fleet's network.
t0=$(date +%s)
rc=0
podman run --rm --network "ocistack-$FLEET" -v "$run:/runner/project:ro" -e ANSIBLE_NOCOLOR=1 \
  "$EE_IMAGE" ansible-playbook -i /runner/project/inventory.ini \
  --private-key /runner/project/id_ed25519 --ssh-common-args '-o UserKnownHostsFile=/runner/project/known_hosts' \
  --check --diff ocistack.engine.site \
  > "$run/check.log" 2>&1 || rc=$?
check_seconds=$(($(date +%s) - t0))
tail -n 25 "$run/check.log"
[ "$rc" -eq 0 ] || fail "check mode from the EE failed (rc $rc; $run/check.log)"
recap=$(grep -E '^h1 +: ok=' "$run/check.log") || fail "no recap line for h1"
changed=$(sed -E 's/.*changed=([0-9]+).*/\1/' <<< "$recap")
grep -qE 'unreachable=0 +failed=0' <<< "$recap" || fail "h1: $recap"
[ "$changed" -gt 0 ] || fail "check mode on a fresh host reported no change: $recap"
grep -q 'would be installed' "$run/check.log" || fail "check mode did not report the install"
# Check mode changed nothing: no engine on the host.
found=$(podman exec "$HOST" sh -c 'command -v containerd dockerd runc || true')
[ -z "$found" ] || fail "check mode installed: $found"
echo "ee test: $EE_IMAGE (${EE_SIZE_BYTES} bytes, built in ${EE_BUILD_SECONDS}s) ran site.yml --check over SSH in ${check_seconds}s: $recap"
