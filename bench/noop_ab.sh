#!/usr/bin/env bash
# The site.yml no-op of two trees of this project, side by side on the same converged fleets:
# runs alternate between the trees (A B A B ...), so that a machine whose speed drifts during the
# measurement (a shared host, another job starting) weighs on both alike. bench/run.sh measures one
# tree at a time; its figures from two different hours are not comparable on such a machine.
#   bench/noop_ab.sh TREE_A TREE_B [--runs N] [--sizes "1 3 6"]
# TREE_A and TREE_B are checkouts of this project (git worktree add ...), each with its .venv (or a
# link to one). Prints, per fleet size, each run's wall and controller CPU seconds and the medians per
# tree; the fleets are converged once by TREE_A and taken down at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

[ $# -ge 2 ] || { sed -n '2,9p' "$0" >&2; exit 2; }
tree_a=$(cd "$1" && pwd) tree_b=$(cd "$2" && pwd)
shift 2
runs=3 sizes="1 3 6"
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --sizes) sizes=$2; shift 2 ;;
    *) sed -n '2,9p' "$0" >&2; exit 2 ;;
  esac
done
export ANSIBLE_FORKS=${ANSIBLE_FORKS:-10}
work=$ROOT/.cache/bench/noop-ab-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$work"
fleets=()
trap 'for f in "${fleets[@]}"; do bash "$ROOT/tests/testbed/fleet.sh" down "$f" >/dev/null || true; done' EXIT

# site TREE INVENTORY LOG: one site.yml run from TREE; prints "<wall> <controller CPU>" seconds.
site() {
  (cd "$1" && use_project_env "$1" && python3 -c '
import resource, subprocess, sys, time
start = time.monotonic()
with open(sys.argv[2], "w") as log:
    rc = subprocess.run([sys.argv[1] + "/.venv/bin/ansible-playbook", "-i", sys.argv[3], "playbooks/site.yml"],
                        stdout=log, stderr=subprocess.STDOUT).returncode
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"{time.monotonic() - start:.2f} {usage.ru_utime + usage.ru_stime:.2f}")
sys.exit(rc)' "$1" "$3" "$2") || { tail -20 "$3" >&2; exit 1; }
}

median() { python3 -c 'import statistics, sys; print(f"{statistics.median(float(v) for v in sys.argv[1:]):.2f}")' "$@"; }

for size in $sizes; do
  fleet=noop-ab$size
  fleets+=("$fleet")
  bash tests/testbed/fleet.sh up "$fleet" "$size" >/dev/null
  inventory=$ROOT/.cache/testbed/$fleet-site.ini
  { cat "$ROOT/.cache/testbed/$fleet.ini"; printf '\n[containerd_hosts:children]\n%s\n\n[registry]\nh1\n' "$fleet"; } > "$inventory"
  site "$tree_a" "$inventory" "$work/$fleet-converge.log" >/dev/null
  declare -A wall=() cpu=()
  for run in $(seq 1 "$runs"); do
    for side in a b; do
      tree=$tree_a
      [ "$side" = b ] && tree=$tree_b
      read -r w c < <(site "$tree" "$inventory" "$work/$fleet-$side-$run.log") || true
      [ -n "${c:-}" ] || { echo "site.yml failed from $tree: $work/$fleet-$side-$run.log" >&2; exit 1; }
      results=$(grep -E '^h1 +:' "$work/$fleet-$side-$run.log" | awk '{ split($3, ok, "="); split($7, sk, "="); print ok[2] + sk[2] }')
      printf '%s host(s), run %s, %s: %ss wall, %ss controller CPU (%s per host), h1 %s task results\n' \
        "$size" "$run" "$side" "$w" "$c" "$(python3 -c "print(f'{$c / $size:.2f}')")" "$results"
      wall[$side]="${wall[$side]:-} $w" cpu[$side]="${cpu[$side]:-} $c"
    done
  done
  for side in a b; do
    tree=$tree_a
    [ "$side" = b ] && tree=$tree_b
    # shellcheck disable=SC2086 # one argument per run
    c=$(median ${cpu[$side]})
    # shellcheck disable=SC2086
    printf '%s host(s), %s (%s): median %ss wall, %ss controller CPU, %s per host\n' "$size" "$side" "$tree" \
      "$(median ${wall[$side]})" "$c" "$(python3 -c "print(f'{$c / $size:.2f}')")"
  done
  unset wall cpu
  bash tests/testbed/fleet.sh down "$fleet" >/dev/null
done
