#!/usr/bin/env python3
"""Turn bench/run.sh's timings.tsv into the results table: medians, ratios and the targets.

Usage: summarize.py TIMINGS.tsv [--engines FILE] [--cpu CPU.tsv] [--log-drivers LOG-DRIVERS.tsv]
                    [--tasks TASKS.tsv] --out bench/results/<date>
writes <out>.md and <out>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections import defaultdict
from typing import Dict, List, Optional, Tuple

WORKLOAD_PHASES = ("create", "noop", "recreate")
# Pull phases: the 1 MB test image, and the same with a 64 MiB layer of random bytes.
PULLS = (("pull", "1 MB image"), ("pull-large", "65 MB image"))
PEERS = ("docker", "podman")
# Workload targets: ours against the faster peer (every phase), and against the raw loop with the
# same log flag and seccomp filter as ours (create).
PEER_TARGET = 0.2
RAW_CREATE_TARGET = 1.1
IMPL_NAMES = {
    "ours": "ocistack.engine.containerd_containers (containerd, defaults: journald logs, seccomp, 14 capabilities)",
    "docker": "community.docker.docker_container, loop (dockerd)",
    "podman": "containers.podman.podman_container, loop (podman)",
    "raw": "shell loop of ctr run -d --seccomp / kill + rm + run, same log flag as ours (journald log driver)",
    "raw-nolog": "the same shell loop without a log flag or --seccomp (raw, no logs)",
    "ansible": "Ansible floor: one ansible.builtin.ping task",
}
# How the ratio rows read in the table (the JSON keeps the keys).
RATIO_NAMES = {"ours/raw": "ours/raw (same log flag, --seccomp)", "ours/raw_no_logs": "ours/raw, no logs, no seccomp"}
# Rows of the workload table, in order; raw-nolog only when measured (results before it had none).
WORKLOAD_IMPLS = ("ours", "docker", "podman", "raw", "raw-nolog")
# Issue 19's no-op targets for site.yml: wall seconds on 1 host, controller CPU seconds per host on
# every fleet size; and the task results of a converged rerun of the engine layers (engine.yml).
STACK_NOOP_WALL_TARGET = 5.0
STACK_NOOP_CONTROLLER_CPU_PER_HOST_TARGET = 3.0
ENGINE_RERUN_TASKS_TARGET = 45


def read(path: str) -> Tuple[Dict[Tuple[str, str], List[float]], Dict[Tuple[str, str], List[float]], List[float]]:
    task: Dict[Tuple[str, str], List[float]] = defaultdict(list)
    wall: Dict[Tuple[str, str], List[float]] = defaultdict(list)
    loads: List[float] = []
    with open(path) as handle:
        next(handle)
        for line in handle:
            _run, impl, phase, task_s, wall_s, load = line.rstrip("\n").split("\t")
            task[(impl, phase)].append(float(task_s))
            wall[(impl, phase)].append(float(wall_s))
            loads.append(float(load))
    return task, wall, loads


def median(values: Optional[List[float]]) -> Optional[float]:
    return statistics.median(values) if values else None


def ratio(ours: Optional[float], other: Optional[float]) -> Optional[float]:
    return round(ours / other, 2) if ours is not None and other else None


def fmt(value: Optional[float], suffix: str = "") -> str:
    return "–" if value is None else f"{value:.2f}{suffix}"


def verdict(value: Optional[float], target: float) -> str:
    if value is None:
        return "not measured"
    return "met" if value <= target else "missed"


def read_cpu(path: Optional[str]) -> Dict[Tuple[int, str], Dict[str, List[float]]]:
    """CPU seconds of each site.yml run: the controller (ansible-playbook and its children) and the fleet's hosts."""
    cpu: Dict[Tuple[int, str], Dict[str, List[float]]] = defaultdict(lambda: {"controller": [], "hosts": []})
    if not path or not os.path.exists(path):
        return cpu
    with open(path) as handle:
        next(handle)
        for line in handle:
            hosts, phase, _run, controller_s, hosts_s = line.rstrip("\n").split("\t")
            cpu[(int(hosts), phase)]["controller"].append(float(controller_s))
            cpu[(int(hosts), phase)]["hosts"].append(float(hosts_s))
    return cpu


def read_log_drivers(path: Optional[str]) -> Tuple[Dict[str, List[int]], Dict[str, List[int]]]:
    """Counted on the host after each create, per implementation (bench/run.sh): log driver processes,
    and tasks running under a seccomp filter (a column that results before 2026-12-03 lack)."""
    drivers: Dict[str, List[int]] = defaultdict(list)
    filtered: Dict[str, List[int]] = defaultdict(list)
    if not path or not os.path.exists(path):
        return drivers, filtered
    with open(path) as handle:
        next(handle)
        for line in handle:
            _run, impl, processes, *seccomp = line.rstrip("\n").split("\t")
            drivers[impl].append(int(processes))
            if seccomp:
                filtered[impl].append(int(seccomp[0]))
    return drivers, filtered


def read_tasks(path: Optional[str]) -> Dict[Tuple[str, int, str], Dict[str, Dict[str, List[int]]]]:
    """Task results per host of each stack run, from the PLAY RECAP (bench/run.sh's tasks.tsv):
    {(playbook, fleet size, phase): {host: {"tasks": [per run], "skipped": [per run]}}}.

    ok already counts the changed and ignored results, so a host's task results are
    ok + skipped + failed + unreachable + rescued.
    """
    tasks: Dict[Tuple[str, int, str], Dict[str, Dict[str, List[int]]]] = defaultdict(
        lambda: defaultdict(lambda: {"tasks": [], "skipped": []})
    )
    if not path or not os.path.exists(path):
        return tasks
    with open(path) as handle:
        header = next(handle).rstrip("\n").split("\t")
        for line in handle:
            row = dict(zip(header, line.rstrip("\n").split("\t")))
            count = {key: int(row.get(key) or 0) for key in ("ok", "skipped", "failed", "unreachable", "rescued")}
            host = tasks[(row["playbook"], int(row["hosts"]), row["phase"])][row["host"]]
            host["tasks"].append(sum(count.values()))
            host["skipped"].append(count["skipped"])
    return tasks


def tasks_per_host(per_host: Dict[str, Dict[str, List[int]]]) -> Dict:
    """The median over the runs of each host, then the mean and the most over the hosts."""
    totals = {host: median(counts["tasks"]) for host, counts in per_host.items()}
    skipped = {host: median(counts["skipped"]) for host, counts in per_host.items()}
    return {
        "mean": round(statistics.mean(totals.values()), 1),
        "max": max(totals.values()),
        "max_host": max(sorted(totals), key=lambda host: totals[host]),
        "skipped_mean": round(statistics.mean(skipped.values()), 1),
        "hosts": dict(sorted(totals.items())),
    }


def stack_noop(
    stack: Dict, cpu: Dict[Tuple[int, str], Dict[str, List[float]]], tasks: Dict, walls: Dict[str, Optional[float]]
) -> Dict:
    """Per fleet size, the no-op rerun of site.yml per host: task results, wall seconds (the medians of the
    stack table), CPU seconds per host."""
    out: Dict = {}
    for size in sorted(set(stack) | {size for playbook, size, _phase in tasks if playbook == "site"}):
        used, counted = cpu.get((size, "noop")), tasks.get(("site", size, "noop"))
        controller = median(used["controller"]) if used else None
        hosts = median(used["hosts"]) if used else None
        out[size] = {
            "wall": walls.get(f"site-{size}/noop"),
            "controller_cpu_per_host": round(controller / size, 2) if controller is not None else None,
            "hosts_cpu_per_host": round(hosts / size, 2) if hosts is not None else None,
            "tasks_per_host": tasks_per_host(counted) if counted else None,
        }
    return out


def engine_rerun(
    cpu: Dict[Tuple[int, str], Dict[str, List[float]]], tasks: Dict, walls: Dict[str, Optional[float]]
) -> Dict:
    """The converged rerun of engine.yml (runc, containerd, cni, runtimes) on its one host; {} when not run."""
    rerun = tasks.get(("engine", 1, "noop"))
    if not rerun:
        return {}
    used = cpu.get((1, "engine-noop"))
    first = tasks.get(("engine", 1, "first"))
    return {
        "wall": walls.get("engine-1/noop"),
        "controller_cpu": round(median(used["controller"]), 2) if used else None,
        "hosts_cpu": round(median(used["hosts"]), 2) if used else None,
        "tasks": tasks_per_host(rerun)["max"],
        "skipped": tasks_per_host(rerun)["skipped_mean"],
        "first_converge_tasks": tasks_per_host(first)["max"] if first else None,
    }


def stack_cpu(cpu: Dict[Tuple[int, str], Dict[str, List[float]]], stack: Dict, cores: int) -> Dict:
    """Per fleet size and phase: the CPU the run used, and the shortest wall time this machine's cores allow for it.

    A fleet's run cannot finish faster than its CPU seconds spread over every core; for the 6-host
    fleet that bound, over the 1-host wall time, is the lowest 6/1 ratio the machine can show.
    """
    out: Dict = {}
    for (size, phase), used in sorted(cpu.items()):
        if phase not in ("first", "noop"):
            continue  # the engine.yml runs: in stack_noop
        controller, hosts = median(used["controller"]), median(used["hosts"])
        if controller is None or hosts is None:
            continue
        total = controller + hosts
        out.setdefault(size, {})[phase] = {
            "controller": round(controller, 2),
            "hosts": round(hosts, 2),
            "total": round(total, 2),
            "per_host": round(total / size, 2),
            "shortest_wall": round(total / cores, 2),
        }
    for phase in ("first", "noop"):
        six, one = out.get(6, {}).get(phase), stack.get(1, {}).get(phase)
        if six and one:
            six["lowest_6_to_1_ratio"] = ratio(six["shortest_wall"], one)
    return out


def summarize(
    path: str,
    engines: str,
    cpu_path: Optional[str] = None,
    log_drivers_path: Optional[str] = None,
    tasks_path: Optional[str] = None,
) -> Dict:
    task, wall, loads = read(path)
    drivers, filtered = read_log_drivers(log_drivers_path)
    medians = {f"{impl}/{phase}": median(values) for (impl, phase), values in task.items()}
    walls = {f"{impl}/{phase}": median(values) for (impl, phase), values in wall.items()}
    runs = {f"{impl}/{phase}": len(values) for (impl, phase), values in task.items()}
    ratios: Dict[str, Dict[str, Optional[float]]] = {}
    targets = []
    for phase in WORKLOAD_PHASES:
        ours = medians.get(f"ours/{phase}")
        peers = [medians.get(f"{peer}/{phase}") for peer in PEERS]
        faster_peer = min((value for value in peers if value), default=None)
        floor = medians.get("ansible/floor")
        ratios[phase] = {
            "ours/docker": ratio(ours, medians.get(f"docker/{phase}")),
            "ours/podman": ratio(ours, medians.get(f"podman/{phase}")),
            "ours/faster_peer": ratio(ours, faster_peer),
            "ours/raw": ratio(ours, medians.get(f"raw/{phase}")),
            # The raw loop as it ran before containers had logs: what the log driver costs raw ctr.
            "ours/raw_no_logs": ratio(ours, medians.get(f"raw-nolog/{phase}")),
            # What the module itself costs next to the raw loop: Ansible's one-task floor taken out.
            "(ours-floor)/raw": ratio(ours - floor, medians.get(f"raw/{phase}")) if ours and floor else None,
        }
        targets.append(
            (f"{phase}: ours <= {PEER_TARGET}x the faster peer", ratios[phase]["ours/faster_peer"], PEER_TARGET)
        )
    targets.append(
        (
            f"create: ours <= {RAW_CREATE_TARGET}x the raw ctr run --seccomp loop with the same log flag",
            ratios["create"]["ours/raw"],
            RAW_CREATE_TARGET,
        )
    )
    floor = medians.get("ansible/floor")
    pulls = {}
    for phase, label in PULLS:
        ours, raw = medians.get(f"ours/{phase}"), medians.get(f"raw/{phase}")
        if ours is None and raw is None:
            continue
        module = ours - floor if ours and floor else None
        if module is not None and module <= 0:
            # The pull task took less than the median ping: the module disappears in the floor's noise.
            module = None
        pulls[phase] = {
            "ratio": ratio(ours, raw),
            "ratio_without_floor": ratio(module, raw),
            # Against the same ctr command run as an Ansible task: the module's own cost, transport excluded.
            "ratio_to_command_task": ratio(ours, medians.get(f"command/{phase}")),
        }
        targets.append((f"image pull ({label}): containerd_image <= 1.2x ctr images pull", ratio(ours, raw), 1.2))
    stack = {}
    for size in (1, 3, 6):
        first, noop = medians.get(f"site-{size}/first"), medians.get(f"site-{size}/noop")
        if first is not None:
            stack[size] = {"first": first, "noop": noop, "noop/first": ratio(noop, first)}
            targets.append((f"site.yml on {size}: no-op <= 0.25x first converge", ratio(noop, first), 0.25))
    if 1 in stack and 6 in stack:
        for phase in ("first", "noop"):
            scaling = ratio(stack[6][phase], stack[1][phase])
            targets.append((f"site.yml {phase}: 6 hosts <= 1.3x 1 host", scaling, 1.3))
    cpu, tasks = read_cpu(cpu_path), read_tasks(tasks_path)
    noop = stack_noop(stack, cpu, tasks, medians)
    if noop.get(1, {}).get("wall") is not None:
        targets.append(
            (f"site.yml no-op on 1 host <= {STACK_NOOP_WALL_TARGET:g} s", noop[1]["wall"], STACK_NOOP_WALL_TARGET, " s")
        )
    cpu_limit = STACK_NOOP_CONTROLLER_CPU_PER_HOST_TARGET
    for size in (1, 3, 6):
        value = noop.get(size, {}).get("controller_cpu_per_host")
        if value is not None:
            targets.append(
                (f"site.yml no-op on {size}: controller CPU <= {cpu_limit:g} s per host", value, cpu_limit, " s")
            )
    engine = engine_rerun(cpu, tasks, medians)
    if engine:
        targets.append(
            (
                f"converged rerun of runc, containerd, cni, runtimes: <= {ENGINE_RERUN_TASKS_TARGET} tasks",
                engine["tasks"],
                ENGINE_RERUN_TASKS_TARGET,
                " tasks",
            )
        )
    # The cores this process may run on (a CPU affinity mask can allow fewer than the machine has).
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return {
        "cores": cores,
        "stack_cpu": stack_cpu(cpu, stack, cores),
        "stack_noop": noop,
        "engine_rerun": engine,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{os.cpu_count()} CPUs, {platform.system()} {platform.release()}",
        "engines": engines,
        "load_1min": {"min": min(loads, default=0), "median": median(loads), "max": max(loads, default=0)},
        "median_task_seconds": medians,
        "median_wall_seconds": walls,
        "runs": runs,
        "ratios": ratios,
        "pulls": pulls,
        "stack": stack,
        "log_drivers": {impl: median(counts) for impl, counts in sorted(drivers.items())},
        "seccomp_filtered": {impl: median(counts) for impl, counts in sorted(filtered.items())},
        # unit: how the value reads ("×" a ratio, " s" seconds, " tasks" task results).
        "targets": [
            {"target": name, "value": value, "limit": limit, "unit": unit, "verdict": verdict(value, limit)}
            for name, value, limit, unit in (target if len(target) == 4 else (*target, "×") for target in targets)
        ],
    }


def markdown(summary: Dict) -> str:
    medians, walls, runs = summary["median_task_seconds"], summary["median_wall_seconds"], summary["runs"]
    load = summary["load_1min"]
    lines = [
        f"# Benchmark {summary['date']}",
        "",
        f"Machine: {summary['machine']}; one bookworm test host. {summary['engines']}.",
        f"1-minute load average during the runs: median {fmt(load['median'])} "
        f"(min {fmt(load['min'])}, max {fmt(load['max'])}).",
        "",
        "Seconds, medians over the runs shown. *task*: the workload task(s) alone, timed by the play "
        "around them (raw: timed inside the host); *wall*: the whole `ansible-playbook` command.",
        "",
        "## Workload",
        "",
        "| implementation | create task | no-op task | recreate task "
        "| create wall | no-op wall | recreate wall | runs |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for impl in WORKLOAD_IMPLS:
        if impl == "raw-nolog" and not runs.get("raw-nolog/create"):
            continue
        cells = [fmt(medians.get(f"{impl}/{phase}")) for phase in WORKLOAD_PHASES]
        timed_in_host = impl in ("raw", "raw-nolog")
        cells += ["–" if timed_in_host else fmt(walls.get(f"{impl}/{phase}")) for phase in WORKLOAD_PHASES]
        lines.append(f"| {IMPL_NAMES[impl]} | " + " | ".join(cells) + f" | {runs.get(f'{impl}/create', 0)} |")
    lines += [
        "",
        f"Ansible floor (one `ping` task over the same podman connection): {fmt(medians.get('ansible/floor'))} s.",
    ]
    if summary.get("log_drivers"):
        counted = ", ".join(f"{impl} {count:g}" for impl, count in summary["log_drivers"].items())
        lines += [
            "",
            f"Log driver processes on the host right after create (median; one per journald task): {counted}.",
        ]
    if summary.get("seccomp_filtered"):
        counted = ", ".join(f"{impl} {count:g}" for impl, count in summary["seccomp_filtered"].items())
        lines += [
            "",
            f"Tasks running under a seccomp filter right after create (median; `Seccomp: 2`): {counted}.",
        ]
    lines += [
        "",
        "| ratio (task times) | create | no-op | recreate |",
        "|---|---|---|---|",
    ]
    keys = ["ours/docker", "ours/podman", "ours/faster_peer", "ours/raw", "(ours-floor)/raw"]
    if runs.get("raw-nolog/create"):
        keys.insert(4, "ours/raw_no_logs")
    for key in keys:
        cells = [fmt(summary["ratios"][phase][key], "×") for phase in WORKLOAD_PHASES]
        lines.append(f"| {RATIO_NAMES.get(key, key)} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Image pull from the host's registry",
        "",
        "| image | containerd_image task | wall | ctr images pull | ratio | ratio without the Ansible floor "
        "| ctr images pull as a command task | containerd_image / command task |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for phase, label in PULLS:
        row = summary["pulls"].get(phase, {})
        lines.append(
            f"| {label} | {fmt(medians.get(f'ours/{phase}'))} | {fmt(walls.get(f'ours/{phase}'))} "
            f"| {fmt(medians.get(f'raw/{phase}'))} | {fmt(row.get('ratio'), '×')} "
            f"| {fmt(row.get('ratio_without_floor'), '×')} | {fmt(medians.get(f'command/{phase}'))} "
            f"| {fmt(row.get('ratio_to_command_task'), '×')} |"
        )
    exec_s = medians.get("transport/exec")
    if exec_s is not None:
        room = [
            f"{label} {fmt(0.2 * medians[f'raw/{phase}'])} s"
            for phase, label in PULLS
            if medians.get(f"raw/{phase}") is not None
        ]
        lines += [
            "",
            f"One round trip to the host with no Ansible at all (`podman exec <host> true`): {fmt(exec_s)} s. "
            f"The 1.2× target leaves this much time over the raw pull: {', '.join(room)}.",
        ]
    if summary["stack"]:
        lines += [
            "",
            "## Full stack: playbooks/site.yml",
            "",
            "| hosts | first converge | no-op rerun (median) | no-op / first |",
            "|---|---|---|---|",
        ]
        for size, row in sorted(summary["stack"].items()):
            lines.append(f"| {size} | {fmt(row['first'])} | {fmt(row['noop'])} | {fmt(row['noop/first'], '×')} |")
    if summary.get("stack_cpu"):
        lines += [
            "",
            f"CPU seconds of the same runs (medians): the controller (ansible-playbook and its workers) and the "
            f"hosts (their containers' cgroups). A run cannot take less wall time than its CPU seconds over the "
            f"machine's {summary['cores']} cores.",
            "",
            "| hosts | run | controller CPU | hosts CPU | total | per host | shortest wall on this machine "
            "| lowest 6/1 ratio possible here |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for size, phases in sorted(summary["stack_cpu"].items()):
            for phase, row in sorted(phases.items()):
                lines.append(
                    f"| {size} | {phase} | {fmt(row['controller'])} | {fmt(row['hosts'])} | {fmt(row['total'])} "
                    f"| {fmt(row['per_host'])} | {fmt(row['shortest_wall'])} "
                    f"| {fmt(row.get('lowest_6_to_1_ratio'), '×')} |"
                )
    noop = summary.get("stack_noop") or {}
    if noop:
        lines += [
            "",
            "No-op rerun per host (medians over the runs): task results per host from the PLAY RECAP "
            "(ok + skipped + failed + unreachable + rescued; ok counts the changed ones), the mean over the "
            "fleet's hosts and the most on one host (h1 runs the registry too); wall seconds of the whole run; "
            "CPU seconds over the fleet size.",
            "",
            "| hosts | tasks per host | most on one host | skipped per host | wall | controller CPU per host "
            "| hosts CPU per host |",
            "|---|---|---|---|---|---|---|",
        ]
        for size, row in sorted(noop.items()):
            counted = row.get("tasks_per_host")
            cells = (
                [f"{counted['mean']:g}", f"{counted['max']:g} ({counted['max_host']})", f"{counted['skipped_mean']:g}"]
                if counted
                else ["–", "–", "–"]
            )
            cells += [fmt(row["wall"]), fmt(row["controller_cpu_per_host"]), fmt(row["hosts_cpu_per_host"])]
            lines.append(f"| {size} | " + " | ".join(cells) + " |")
    engine = summary.get("engine_rerun") or {}
    if engine:
        first = engine.get("first_converge_tasks")
        lines += [
            "",
            f"Converged rerun of runc, containerd, cni and runtimes (`bench/playbooks/engine.yml`, the roles' "
            f"defaults, on a host of its own): {engine['tasks']:g} task results ({engine['skipped']:g} skipped), "
            f"{fmt(engine['wall'])} s wall, CPU: controller {fmt(engine['controller_cpu'])} s, host "
            f"{fmt(engine['hosts_cpu'])} s"
            + (f"; its first converge: {first:g} task results." if first is not None else "."),
        ]
    lines += ["", "## Targets", "", "| target | value | verdict |", "|---|---|---|"]
    for target in summary["targets"]:
        value = target["value"]
        unit = target.get("unit", "×")
        shown = fmt(value, unit) if unit != " tasks" or value is None else f"{value:g}{unit}"
        lines.append(f"| {target['target']} | {shown} | {target['verdict']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("timings")
    parser.add_argument("--engines", default="")
    parser.add_argument("--cpu", help="cpu.tsv of the stack phase (CPU seconds per site.yml run)")
    parser.add_argument("--log-drivers", help="log-drivers.tsv of the workload phase (driver processes after create)")
    parser.add_argument("--tasks", help="tasks.tsv of the stack phase (PLAY RECAP per host of each run)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    engines = ""
    if args.engines and os.path.exists(args.engines):
        with open(args.engines) as handle:
            engines = handle.read().strip().rstrip(".")
    summary = summarize(args.timings, engines or "engines: unknown", args.cpu, args.log_drivers, args.tasks)
    with open(args.out + ".json", "w") as handle:
        json.dump(summary, handle, indent=2, sort_keys=True)
    text = markdown(summary)
    with open(args.out + ".md", "w") as handle:
        handle.write(text)
    print(text)


if __name__ == "__main__":
    main()
