#!/usr/bin/env bash
# Runs INSIDE the benchmark's test host: the raw floor and the resets between runs.
#   host-bench.sh raw-create N VERSION [LOGS [SECURITY]]    `ctr run -d` N containers; prints seconds
#   host-bench.sh raw-recreate N VERSION [LOGS [SECURITY]]  stop (SIGTERM), delete and `ctr run -d` again; prints seconds
#   host-bench.sh raw-pull [IMAGE]               `ctr images pull` from the local registry; prints seconds
#   host-bench.sh log-drivers                    how many log driver processes run (not timed)
#   host-bench.sh seccomp-filtered               how many running tasks have a seccomp filter (not timed)
#   host-bench.sh log-driver-path                print the log driver program's path; fail if missing
#   host-bench.sh reset                          remove every bench-* container from all engines (not timed)
#   host-bench.sh reset-pull                     remove the pulled images (not timed)
# LOGS: journald (default), the log flag containerd_container gives a task on a systemd host
# (--log-uri to the log driver program the module installs), or none: no log flag at all.
# SECURITY: default (the default) adds --seccomp, containerd's default seccomp profile, as
# containerd_container applies docker's default profile to every task; none: no filter.
set -euo pipefail
image=ocistack.test/busybox:latest
pulled=127.0.0.1:5000/bench/busybox:1
pulled_large=127.0.0.1:5000/bench/large:1
# The same process everywhere: sh as PID 1 exits on SIGTERM, so stops are equally quick.
loop="trap 'exit 0' TERM; while :; do sleep 1 & wait; done"
# Installed by ocistack.engine.containerd_container(s) the first time it starts a task with logs.
log_driver=/usr/local/lib/ocistack/bin/ocistack-log-driver

now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$1" "$(now)"; }

# The ctr run flags for LOGS ($1), in the array log_flags.
set_log_flags() {
  case "${1:-journald}" in
    journald)
      if [ ! -x "$log_driver" ]; then
        echo "host-bench.sh: $log_driver is missing: run bench/playbooks/ours.yml on this host first (it installs it)" >&2
        exit 1
      fi
      log_flags=(--log-uri "binary://$log_driver?driver=journald")
      ;;
    none) log_flags=() ;;
    *) echo "host-bench.sh: LOGS is journald or none, not $1" >&2; exit 2 ;;
  esac
}

# The ctr run flags for SECURITY ($1), in the array security_flags. ctr's default capability set
# is already docker's 14, as containerd_container's is.
set_security_flags() {
  case "${1:-default}" in
    default) security_flags=(--seccomp) ;;
    none) security_flags=() ;;
    *) echo "host-bench.sh: SECURITY is default or none, not $1" >&2; exit 2 ;;
  esac
}

wait_stopped() {
  while ctr tasks ls | awk -v id="$1" '$1 == id && $3 == "RUNNING" {found=1} END {exit !found}'; do sleep 0.05; done
}

case "$1" in
  raw-create)
    set_log_flags "${4:-}"
    set_security_flags "${5:-}"
    start=$(now)
    for i in $(seq -f %02g 1 "$2"); do
      ctr run -d "${log_flags[@]}" "${security_flags[@]}" --env "INDEX=$((10#$i))" --env "VERSION=$3" "$image" "raw-$i" sh -c "$loop" >/dev/null
    done
    elapsed "$start"
    ;;
  raw-recreate)
    set_log_flags "${4:-}"
    set_security_flags "${5:-}"
    start=$(now)
    for i in $(seq -f %02g 1 "$2"); do
      ctr tasks kill "raw-$i"
      wait_stopped "raw-$i"
      ctr tasks delete "raw-$i" >/dev/null
      ctr containers delete "raw-$i"
      ctr run -d "${log_flags[@]}" "${security_flags[@]}" --env "INDEX=$((10#$i))" --env "VERSION=$3" "$image" "raw-$i" sh -c "$loop" >/dev/null
    done
    elapsed "$start"
    ;;
  raw-pull)
    start=$(now)
    ctr -n bench-pull images pull --plain-http "${2:-$pulled}" >/dev/null
    elapsed "$start"
    ;;
  log-driver-path)
    # The program the journald log flag names, or fail when it is not installed.
    set_log_flags journald
    echo "$log_driver"
    ;;
  log-drivers)
    # A journald task has one driver process (the shim's child) for as long as it runs.
    pgrep -c -f -- "$log_driver" || true
    ;;
  seccomp-filtered)
    # Seccomp: 2 in /proc/PID/status is filter mode; count the running tasks' init processes in it.
    filtered=0
    for pid in $(ctr tasks ls | awk '$3 == "RUNNING" {print $2}'); do
      grep -qx 'Seccomp:[[:space:]]*2' "/proc/$pid/status" 2>/dev/null && filtered=$((filtered + 1))
    done
    echo "$filtered"
    ;;
  reset)
    for id in $(ctr tasks ls -q); do ctr tasks kill -a -s SIGKILL "$id" 2>/dev/null || true; done
    for id in $(ctr tasks ls -q); do
      for _ in $(seq 1 50); do ctr tasks delete -f "$id" >/dev/null 2>&1 && break; sleep 0.1; done
    done
    ctr containers ls -q | xargs -r ctr containers delete
    ctr snapshots ls | awk '$1 ~ /^io\.ocistack\.engine\.rootfs\./ {print $1}' | xargs -r -n1 ctr snapshots rm
    # dockerd 20.10 has been seen to hang in `docker rm -f` after the task exits (it ignores the
    # task-delete event); a restart makes it reconcile its containers, then the removal goes through.
    if ! docker ps -aq --filter name=bench- | xargs -r timeout 120 docker rm -f >/dev/null; then
      systemctl restart docker
      docker ps -aq --filter name=bench- | xargs -r docker rm -f >/dev/null
    fi
    podman ps -aq --filter name=bench- | xargs -r podman rm -f -t 0 >/dev/null
    ;;
  reset-pull)
    ctr -n bench-pull images rm --sync "$pulled" "$pulled_large" >/dev/null 2>&1 || true
    ;;
  *) sed -n '2,14p' "$0" >&2; exit 2 ;;
esac
