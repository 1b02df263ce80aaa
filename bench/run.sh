#!/usr/bin/env bash
# The benchmark (`make bench`): this collection against community.docker, containers.podman
# and the raw ctr commands, side by side on one test host; then, with --stack, site.yml on
# fleets of 1, 3 and 6 hosts. See bench/README.md for what is measured and how to read it.
#   bench/run.sh [--runs N] [--count N] [--phases workload,pull,stack] [--keep]
#     --runs     repetitions per measurement (default 3; the table shows medians)
#     --count    containers in the workload (default 20)
#     --phases   which parts to run (default workload,pull; add stack, or give stack alone)
#     --sizes    fleet sizes for the stack phase (default "1 3 6")
#     --keep     leave the bench fleet running afterwards
# Writes bench/results/<UTC date-time>-<phases>.md and .json; raw timings stay in .cache/bench/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
use_project_env "$ROOT"
# Ansible's default of 5 forks would run a 6-host fleet in two waves; a fleet is measured in one.
export ANSIBLE_FORKS=${ANSIBLE_FORKS:-10}

runs=3 count=20 phases=workload,pull keep=0 sizes="1 3 6"
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --count) count=$2; shift 2 ;;
    --phases) phases=$2; shift 2 ;;
    --sizes) sizes=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) sed -n '2,12p' "$0" >&2; exit 2 ;;
  esac
done
has_phase() { [[ ",$phases," == *",$1,"* ]]; }

stamp=$(date -u +%Y%m%dT%H%M%SZ)
work=.cache/bench/$stamp
mkdir -p "$work" bench/results
timings=$work/timings.tsv
printf 'run\timpl\tphase\ttask_s\twall_s\tload\n' > "$timings"
cpu=$work/cpu.tsv
printf 'hosts\tphase\trun\tcontroller_cpu_s\thosts_cpu_s\n' > "$cpu"
log_drivers=$work/log-drivers.tsv
printf 'run\timpl\tprocesses\tseccomp_filtered\n' > "$log_drivers"
tasks=$work/tasks.tsv
printf 'playbook\thosts\tphase\trun\thost\tok\tchanged\tskipped\tfailed\tunreachable\trescued\tignored\n' > "$tasks"
host=ocistack-bench-h1
inventory=.cache/testbed/bench.ini
fleets=()

cleanup() {
  local fleet
  if [ "$keep" = 0 ]; then
    for fleet in "${fleets[@]}"; do bash tests/testbed/fleet.sh down "$fleet" || true; done
  fi
}
trap cleanup EXIT

load1() { cut -d' ' -f1 /proc/loadavg; }
now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$1" "$(now)"; }
record() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" "$(load1)" >> "$timings"; }

# CPU seconds, to tell a slow run from a machine that has no core left: cpu_seconds runs a command
# (its output and errors go to stderr) and prints the CPU time it and its children used, and
# fleet_cpu the CPU time used so far by all processes of a fleet's host containers (their cgroups).
cpu_seconds() {
  python3 -c '
import resource, subprocess, sys
rc = subprocess.run(sys.argv[1:], stdout=sys.stderr).returncode
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"{usage.ru_utime + usage.ru_stime:.2f}")
sys.exit(rc)' "$@"
}
fleet_cpu() {
  local paths
  paths=$(podman ps -q --filter "label=ocistack.fleet=$1" | xargs -r podman inspect --format '{{.State.CgroupPath}}')
  # shellcheck disable=SC2086 # $paths: one argument per host
  python3 -c '
import os, sys
if len(sys.argv) < 2:
    sys.exit("fleet_cpu: the fleet has no running host")
total = 0.0
for path in sys.argv[1:]:
    if not path.strip("/"):
        sys.exit("fleet_cpu: a host has no cgroup of its own; its CPU cannot be told from the machine'"'"'s")
    v1 = f"/sys/fs/cgroup/cpuacct{path}/cpuacct.usage"  # nanoseconds
    if os.path.exists(v1):
        total += int(open(v1).read()) / 1e9
    else:  # cgroup v2: usage_usec in cpu.stat
        total += int(dict(line.split() for line in open(f"/sys/fs/cgroup{path}/cpu.stat"))["usage_usec"]) / 1e6
print(f"{total:.3f}")' $paths  # one argument per host
}

# One timed playbook run: the play times its own workload task(s) (BENCH_ELAPSED, controller
# clock around the tasks); the wall time adds ansible-playbook's start-up and the play set-up.
timed_play() {
  local run=$1 impl=$2 phase=$3 playbook=$4 version=${5:-1} extra=${6:-} start out task
  start=$(now)
  # shellcheck disable=SC2086 # extra is a list of -e options
  out=$(ansible-playbook -i "$inventory" "bench/playbooks/$playbook" \
    -e "bench_count=$count" -e "bench_version=$version" $extra 2>&1) || { echo "$out" >&2; return 1; }
  task=$(grep -o 'BENCH_ELAPSED=[0-9.]*' <<< "$out" | head -1 | cut -d= -f2)
  record "$run" "$impl" "$phase" "$task" "$(since "$start")"
  echo "  run $run $impl $phase: task ${task}s"
}

# record_recap PLAYBOOK HOSTS PHASE RUN LOG: the PLAY RECAP of a run's log, one line per host in tasks.tsv.
# ok counts changed and ignored results too; a host's task results are ok + skipped + failed +
# unreachable + rescued (an include that ran is one ok, the tasks it brought in count on their own).
record_recap() {
  python3 -c '
import re, sys
playbook, hosts, phase, run, log = sys.argv[1:]
keys = ("ok", "changed", "skipped", "failed", "unreachable", "rescued", "ignored")
found = 0
for line in open(log, errors="replace"):
    match = re.match(r"^(\S+)\s+:\s+(ok=.*)$", line)
    if match:
        counts = dict(item.split("=") for item in match.group(2).split())
        print("\t".join([playbook, hosts, phase, run, match.group(1)] + [counts.get(key, "0") for key in keys]))
        found += 1
if not found:
    sys.exit(f"record_recap: no PLAY RECAP in {log}")' "$@" >> "$tasks"
}
# tasks_of PLAYBOOK HOSTS PHASE RUN: "N tasks per host" (the mean over the run's hosts) from tasks.tsv.
tasks_of() {
  awk -F'\t' -v p="$1" -v h="$2" -v ph="$3" -v r="$4" \
    '$1 == p && $2 == h && $3 == ph && $4 == r { n++; t += $6 + $8 + $9 + $10 + $11; s += $8 }
     END { if (n) printf "%.0f tasks per host (%.0f skipped)", t / n, s / n }' "$tasks"
}

in_host() { podman exec "$host" bash /root/host-bench.sh "$@"; }

# timed_raw_as IMPL RUN PHASE COMMAND...: one host-bench.sh command, timed inside the host, recorded as IMPL.
timed_raw_as() {
  local impl=$1 run=$2 phase=$3 start task
  shift 3
  start=$(now)
  task=$(in_host "$@")
  record "$run" "$impl" "$phase" "$task" "$(since "$start")"
  echo "  run $run $impl $phase: ${task}s"
}
timed_raw() { timed_raw_as raw "$@"; }

# How many log driver processes run on the host after a create (one per task with journald logs):
# the evidence that ours and raw start their tasks with the same log flag.
count_log_drivers() {
  local run=$1 impl=$2 drivers filtered
  drivers=$(in_host log-drivers)
  filtered=$(in_host seccomp-filtered)
  printf '%s\t%s\t%s\t%s\n' "$run" "$impl" "$drivers" "$filtered" >> "$log_drivers"
  echo "    $impl create: $drivers log driver processes, $filtered tasks under a seccomp filter"
}

if has_phase workload || has_phase pull; then
  stage "bench host"
  bash tests/testbed/test-image.sh
  fleets+=(bench)
  bash tests/testbed/fleet.sh up bench h1
  podman cp bench/host-setup.sh "$host:/root/host-setup.sh"
  podman cp bench/host-bench.sh "$host:/root/host-bench.sh"
  podman cp .cache/testbed/images/busybox.tar "$host:/root/busybox.tar"
  podman exec "$host" bash /root/host-setup.sh | tee "$work/engines.txt"
fi

if has_phase workload; then
  stage "workload: $count containers, $runs runs"
  # Untimed: one container with ours first, so that the module installs its host programs (the log
  # driver the raw loop's --log-uri names, among them) before any timed run; every timed create then
  # finds them in place, the first run's as much as the others.
  ansible-playbook -i "$inventory" bench/playbooks/ours.yml -e bench_count=1 -e bench_version=0 > "$work/warm-up.log" 2>&1 \
    || { tail -30 "$work/warm-up.log" >&2; exit 1; }
  in_host reset
  echo "  warm-up: ours installed $(in_host log-driver-path)"
  for run in $(seq 1 "$runs"); do
    # The Ansible floor: one trivial task over the same connection.
    timed_play "$run" ansible floor floor.yml
    # ours first: its first task start installs the log driver program the raw loop's log flag names.
    for impl in ours docker podman; do
      in_host reset
      timed_play "$run" "$impl" create "$impl.yml" 1
      [ "$impl" != ours ] || count_log_drivers "$run" ours
      timed_play "$run" "$impl" noop "$impl.yml" 1
      timed_play "$run" "$impl" recreate "$impl.yml" 2
    done
    # raw: ctr run -d --seccomp with the log flag ours gives its tasks by default (journald on this
    # systemd host), so both do the same work; raw-nolog: ctr run -d with neither, as the raw loop
    # ran before containers had logs and a seccomp filter.
    for impl in raw raw-nolog; do
      logs=journald security=default
      [ "$impl" = raw ] || { logs=none; security=none; }
      in_host reset
      timed_raw_as "$impl" "$run" create raw-create "$count" 1 "$logs" "$security"
      count_log_drivers "$run" "$impl"
      timed_raw_as "$impl" "$run" recreate raw-recreate "$count" 2 "$logs" "$security"
    done
    in_host reset
  done
fi

if has_phase pull; then
  stage "image pull from the host's registry, $runs runs"
  for run in $(seq 1 "$runs"); do
    # The floor for "ratio without the Ansible floor", when the workload phase did not measure it.
    has_phase workload || timed_play "$run" ansible floor floor.yml
    # One round trip to the host with no Ansible at all: the least any task can cost on this connection.
    start=$(now)
    podman exec "$host" true
    record "$run" transport exec "$(since "$start")" "$(since "$start")"
    # pull: the 1 MB test image; pull-large: the same plus a 64 MiB layer.
    for image in busybox large; do
      phase=pull
      [ "$image" = busybox ] || phase=pull-large
      in_host reset-pull
      timed_raw "$run" "$phase" raw-pull "127.0.0.1:5000/bench/$image:1"
      in_host reset-pull
      timed_play "$run" ours "$phase" pull.yml 1 "-e bench_image_name=$image"
      # The same ctr command as an Ansible task: what the transport alone adds.
      in_host reset-pull
      timed_play "$run" command "$phase" pull_command.yml 1 "-e bench_image_name=$image"
    done
  done
  in_host reset-pull
fi

if has_phase stack; then
  stage "full stack: site.yml on fleets of $sizes hosts"
  for size in $sizes; do
    fleet=bench-stack$size
    fleets+=("$fleet")
    bash tests/testbed/fleet.sh up "$fleet" "$size"
    stack_inventory=.cache/testbed/$fleet-site.ini
    # The fleet's own inventory, every host in containerd_hosts (as make demo does) and the
    # first one also running the registry the others pull through.
    {
      cat ".cache/testbed/$fleet.ini"
      printf '\n[containerd_hosts:children]\n%s\n\n[registry]\nh1\n' "$fleet"
    } > "$stack_inventory"
    # A first converge needs fresh hosts, so it runs once per fleet size; the no-op rerun runs --runs times.
    for run_phase in first $(for run in $(seq 1 "$runs"); do echo "noop:$run"; done); do
      phase=${run_phase%%:*} run=${run_phase#*:}
      [ "$phase" = first ] && run=1
      hosts_before=$(fleet_cpu "$fleet")
      start=$(now)
      # profile_tasks: the log ends with the slowest tasks, to see where a converge spends its time.
      controller=$(ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks cpu_seconds \
        ansible-playbook -i "$stack_inventory" playbooks/site.yml 2> "$work/site-$size-$phase-$run.log") \
        || { tail -30 "$work/site-$size-$phase-$run.log" >&2; exit 1; }
      record "$run" "site-$size" "$phase" "$(since "$start")" "$(since "$start")"
      hosts_after=$(fleet_cpu "$fleet")
      hosts_used=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$hosts_before" "$hosts_after")
      printf '%s\t%s\t%s\t%s\t%s\n' "$size" "$phase" "$run" "$controller" "$hosts_used" >> "$cpu"
      record_recap site "$size" "$phase" "$run" "$work/site-$size-$phase-$run.log"
      echo "  site.yml on $size host(s), $phase run $run: $(tail -1 "$timings" | cut -f4)s," \
        "$(tasks_of site "$size" "$phase" "$run"), CPU: controller $(tail -1 "$cpu" | cut -f4)s" \
        "($(python3 -c "import sys; print(f'{float(sys.argv[1]) / int(sys.argv[2]):.2f}')" "$(tail -1 "$cpu" | cut -f4)" "$size")s per host)," \
        "hosts $(tail -1 "$cpu" | cut -f5)s"
    done
    if [ "$keep" = 0 ]; then bash tests/testbed/fleet.sh down "$fleet"; fi
  done

  stage "engine layers: runc, containerd, cni and runtimes (bench/playbooks/engine.yml) on a converged host"
  # A host of its own: the four roles with their defaults (crun and runsc among the runtimes, as
  # molecule/engine converges them), a first converge, then the converged rerun --runs times.
  fleet=bench-engine
  fleets+=("$fleet")
  bash tests/testbed/fleet.sh up "$fleet" 1
  for run_phase in first $(for run in $(seq 1 "$runs"); do echo "noop:$run"; done); do
    phase=${run_phase%%:*} run=${run_phase#*:}
    [ "$phase" = first ] && run=1
    hosts_before=$(fleet_cpu "$fleet")
    start=$(now)
    log=$work/engine-$phase-$run.log
    controller=$(ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks cpu_seconds \
      ansible-playbook -i ".cache/testbed/$fleet.ini" bench/playbooks/engine.yml 2> "$log") \
      || { tail -30 "$log" >&2; exit 1; }
    record "$run" engine-1 "$phase" "$(since "$start")" "$(since "$start")"
    hosts_used=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$hosts_before" "$(fleet_cpu "$fleet")")
    printf '%s\t%s\t%s\t%s\t%s\n' 1 "engine-$phase" "$run" "$controller" "$hosts_used" >> "$cpu"
    record_recap engine 1 "$phase" "$run" "$log"
    echo "  engine.yml, $phase run $run: $(tail -1 "$timings" | cut -f4)s, $(tasks_of engine 1 "$phase" "$run")," \
      "CPU: controller ${controller}s, host ${hosts_used}s"
  done
  if [ "$keep" = 0 ]; then bash tests/testbed/fleet.sh down "$fleet"; fi
fi

stage "results"
# One file per run, named by the UTC time it finished and its phases.
python3 bench/summarize.py "$timings" --engines "$work/engines.txt" --cpu "$cpu" --log-drivers "$log_drivers" \
  --tasks "$tasks" \
  --out "bench/results/$(date -u +%Y-%m-%d-%H%M)-${phases//,/-}"
