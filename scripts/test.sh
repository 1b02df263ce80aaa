#!/usr/bin/env bash
# The test command (`make test`): every quality gate, in order of cost.
#   scripts/test.sh            all stages
#   scripts/test.sh unit       one stage (lint, sanity, build, release, ee, docs, unit, integration, molecule, vm)
#   scripts/test.sh molecule engine stack   only these molecule scenarios
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
use_project_env "$ROOT"

# Molecule scenarios run by `make test`, cheapest first. Each creates and
# destroys its own hosts; all share the host images built once by the test bed.
# vm boots a qemu VM (its own kernel, cgroup v2, a real reboot): the slowest, last. vm13 (Debian 13,
# containerd 2.1) runs in `make test-vm` only, beside vm.
# One scenario alone: scripts/test.sh molecule engine (or `molecule test -s engine`).
MOLECULE_SCENARIOS=(smoke registry engine workloads stack vm)

declare -a SUMMARY=()
run_stage() {
  local name=$1
  shift
  local t0 rc=0
  t0=$(date +%s)
  printf '\n==> %s\n' "$name"
  "$@" || rc=$?
  SUMMARY+=("$(printf '%-12s %5ss  %s' "$name" "$(($(date +%s) - t0))" "$([ $rc -eq 0 ] && echo ok || echo "FAILED ($rc)")")")
  if [ $rc -ne 0 ]; then
    print_summary
    exit $rc
  fi
}
print_summary() {
  printf '\n==> stage times\n'
  printf '%s\n' "${SUMMARY[@]}"
}

# Stages run as `stage || rc=$?`, where bash ignores set -e: every step chains its failure on.
lint() {
  ruff check . && ruff format --check . && yamllint -s . && ansible-lint --offline -q
}

sanity() {
  # ansible-test wants the collection at ansible_collections/<ns>/<name>, as a real tree.
  local tree="$ROOT/.cache/sanity/ansible_collections/ocistack/engine"
  rm -rf "$ROOT/.cache/sanity"
  mkdir -p "$tree"
  git ls-files -co --exclude-standard -z | xargs -0 -I{} cp --parents {} "$tree"/ 2>/dev/null || true
  # The test bed, molecule scenarios and benchmarks are tooling, not collection content.
  local excludes=() d
  for d in molecule tests/testbed bench scripts .ci; do
    [ -e "$tree/$d" ] && excludes+=(--exclude "$d/")
  done
  (cd "$tree" && git init -q && git add -A && ansible-test sanity --python 3.11 --color no "${excludes[@]}")
}

build() {
  local out="$ROOT/.cache/dist"
  rm -rf "$out" "$ROOT/.cache/installed"
  ansible-galaxy collection build --force --output-path "$out" . || return
  tarball_contents "$out"/ocistack-engine-*.tar.gz || return
  ansible-galaxy collection install --force -p "$ROOT/.cache/installed" "$out"/ocistack-engine-*.tar.gz || return
  local listed
  listed=$(ANSIBLE_COLLECTIONS_PATH="$ROOT/.cache/installed" ansible-doc -l ocistack.engine) || return
  echo "$listed"
  [ -n "$listed" ]
}

# The tarball ships the collection, not its tooling (galaxy.yml's build_ignore): no test bed,
# molecule scenarios, benchmarks, scripts or caches; and it has what a user runs.
tarball_contents() {
  local tarball=$1 names bad path
  names=$(tar tzf "$tarball") || return
  printf '%s: %s bytes, %s files\n' "${tarball##*/}" "$(stat -c %s "$tarball")" "$(grep -vc '/$' <<< "$names")"
  bad=$(grep -E '^(tests/testbed|tests/integration|molecule|bench|scripts|docs/site)/|(^|/)(\.cache|\.ansible|\.pytest_cache|\.ruff_cache|__pycache__|\.venv|\.git)(/|$)|\.pyc$' <<< "$names")
  if [ -n "$bad" ]; then
    echo "error: the tarball holds tooling or caches (galaxy.yml build_ignore):" >&2
    head -20 <<< "$bad" >&2
    return 1
  fi
  for path in MANIFEST.json FILES.json README.md CHANGELOG.rst changelogs/changelog.yaml meta/runtime.yml \
    playbooks/site.yml roles/stack/meta/argument_specs.yml plugins/modules/containerd_container.py; do
    grep -qxF "$path" <<< "$names" || { echo "error: the tarball lacks $path" >&2; return 1; }
  done
}

# The release as a user gets it: the built tarball installed into an empty collections path, and
# site.yml run from the installed collection (ocistack.engine.site) on one bookworm test host of
# fleet "tarball" in containerd_hosts (runc, containerd, CNI from Debian's packages); a second run
# must change nothing. Besides the install dir, Ansible sees only containers.podman, which the
# test bed's connection (tests/testbed/connection_plugins) is built on.
release() {
  local tarball dest="$ROOT/.cache/release" fleet=tarball log rc=0 site_packages
  tarball=$(ls "$ROOT"/.cache/dist/ocistack-engine-*.tar.gz 2>/dev/null | head -1)
  if [ -z "$tarball" ]; then
    ansible-galaxy collection build --force --output-path "$ROOT/.cache/dist" . || return
    tarball=$(ls "$ROOT"/.cache/dist/ocistack-engine-*.tar.gz | head -1)
  fi
  rm -rf "$dest"
  mkdir -p "$dest/collections"
  # Installed where Ansible looks for nothing else (not this checkout's link, not site-packages).
  ANSIBLE_COLLECTIONS_PATH="$dest/collections" ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false \
    ansible-galaxy collection install -p "$dest/collections" "$tarball" || return
  [ -f "$dest/collections/ansible_collections/ocistack/engine/MANIFEST.json" ] || return
  site_packages=$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  mkdir -p "$dest/collections/ansible_collections/containers"
  ln -s "$site_packages/ansible_collections/containers/podman" "$dest/collections/ansible_collections/containers/podman"
  bash tests/testbed/images.sh bookworm || return
  bash tests/testbed/fleet.sh down "$fleet"
  bash tests/testbed/fleet.sh up "$fleet" h1 || return
  {
    cat "$ROOT/.cache/testbed/$fleet.ini"
    printf '\n[containerd_hosts]\nh1\n'
  } > "$dest/hosts.ini"
  (
    # Nothing of this checkout: no collection link, no site-packages scan, no PYTHONPATH.
    unset PYTHONPATH
    export ANSIBLE_COLLECTIONS_PATH="$dest/collections" ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false
    cd "$dest" || exit
    # The one ocistack.engine Ansible finds is the installed one, at the tarball's version.
    ansible-galaxy collection list ocistack.engine | tee "$dest/list.txt" || exit
    grep -qE "^ocistack\.engine +$(sed -n 's/^version: //p' "$ROOT/galaxy.yml") *$" "$dest/list.txt" || exit
    [ "$(grep -c '^ocistack\.engine ' "$dest/list.txt")" -eq 1 ] || exit
    ansible-playbook -i hosts.ini ocistack.engine.site --list-hosts > "$dest/list-hosts.txt" || exit
    grep -qxF "playbook: $dest/collections/ansible_collections/ocistack/engine/playbooks/site.yml" "$dest/list-hosts.txt" ||
      { echo "error: ocistack.engine.site is not the installed one:" >&2; head -3 "$dest/list-hosts.txt" >&2; exit 1; }
    for run in 1 2; do
      log="$dest/site-$run.log"
      ansible-playbook -i hosts.ini ocistack.engine.site > "$log" 2>&1 || { tail -40 "$log"; exit 1; }
      sed -n '/^PLAY RECAP/,$p' "$log"
    done
    # The second run changes nothing.
    if grep -E '^h1 +:.* changed=[1-9]' "$dest/site-2.log"; then
      echo "error: the second run of ocistack.engine.site changed something:" >&2
      grep -E -B1 '^changed:' "$dest/site-2.log" >&2
      exit 1
    fi
    grep -qE '^h1 +:.* changed=0 .*failed=0' "$dest/site-2.log"
  ) || rc=$?
  bash tests/testbed/fleet.sh down "$fleet"
  return $rc
}

unit() {
  pytest -q tests/unit
}

# The execution environment (execution-environment.yml, ansible-builder 3): build it on a base image
# made here, then run site.yml in check mode from inside it against a test host over SSH.
ee() {
  bash tests/testbed/ee.sh
}

# The docs site (make docs): fails on a lint finding, a Sphinx warning or a missing page.
docs() {
  bash scripts/docs.sh
}

integration() {
  bash tests/testbed/test-image.sh || return
  # containerd 2.1's binaries: the drop-in test runs them beside this machine's 1.6.
  bash tests/testbed/images.sh forky-binaries || return
  pytest -q tests/integration
}

# One molecule scenario, molecule's own test sequence one step at a time so each step's time is
# printed; appends "molecule <scenario>: <step> <seconds>s ..." to times. Destroy comes first: it
# also removes what a killed run left. molecule's create runs prepare.
declare -a times=()
molecule_scenario() {
  local s=$1 step t0 rc line="molecule $1:"
  for step in destroy create converge idempotence verify destroy; do
    t0=$(date +%s)
    rc=0
    molecule "$step" -s "$s" || rc=$?
    line+=" $step $(($(date +%s) - t0))s"
    if [ $rc -ne 0 ]; then
      echo "$line FAILED" >&2
      molecule destroy -s "$s" || true
      printf '%s\n' "${times[@]}" "$line FAILED"
      return $rc
    fi
  done
  times+=("$line")
}

molecule_all() {
  bash tests/testbed/images.sh bookworm trixie forky-binaries || return
  bash tests/testbed/test-image.sh || return
  local s
  for s in "${MOLECULE_SCENARIOS[@]}"; do
    molecule_scenario "$s" || return
  done
  printf '%s\n' "${times[@]}"
}

# The VM lane (`make test-vm`): molecule/vm on a qemu VM (tests/testbed/vm.sh), a real server's
# kernel with cgroup v2; its image is built on first use and cached by recipe hash.
vm_lane() {
  bash tests/testbed/test-image.sh || return
  molecule_scenario vm || return
  molecule_scenario vm13 || return
  printf '%s\n' "${times[@]}"
}

case "${1:-all}" in
  lint) run_stage lint lint ;;
  sanity) run_stage sanity sanity ;;
  build) run_stage build build ;;
  release) run_stage release release ;;
  ee) run_stage ee ee ;;
  docs) run_stage docs docs ;;
  unit) run_stage unit unit ;;
  integration) run_stage integration integration ;;
  vm) run_stage vm vm_lane ;;
  molecule)
    [ $# -lt 2 ] || MOLECULE_SCENARIOS=("${@:2}")
    run_stage molecule molecule_all
    ;;
  all)
    run_stage lint lint
    run_stage unit unit
    run_stage sanity sanity
    run_stage build build
    run_stage release release
    run_stage ee ee
    run_stage docs docs
    run_stage integration integration
    run_stage molecule molecule_all
    ;;
  *) echo "unknown stage: $1" >&2; exit 2 ;;
esac
print_summary
