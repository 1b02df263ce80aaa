# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""bench/summarize.py: medians, target verdicts and the CPU bound of the stack phase, from made-up timings."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "summarize.py"


@pytest.fixture(scope="module")
def summarize():
    spec = importlib.util.spec_from_file_location("bench_summarize", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write(path: Path, header: str, rows: list[tuple]) -> str:
    path.write_text(header + "\n" + "".join("\t".join(map(str, row)) + "\n" for row in rows))
    return str(path)


def test_stack_targets_and_the_cpu_bound_of_the_machine(summarize, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(summarize.os, "sched_getaffinity", lambda _pid: {0, 1})
    timings = _write(
        tmp_path / "timings.tsv",
        "run\timpl\tphase\ttask_s\twall_s\tload",
        [
            (1, "site-1", "first", 60, 60, 1.0),
            (1, "site-1", "noop", 12, 12, 1.0),
            (2, "site-1", "noop", 14, 14, 1.0),
            (1, "site-6", "first", 130, 130, 6.0),
            (1, "site-6", "noop", 30, 30, 6.0),
        ],
    )
    cpu = _write(
        tmp_path / "cpu.tsv",
        "hosts\tphase\trun\tcontroller_cpu_s\thosts_cpu_s",
        [(1, "noop", 1, 6, 3), (1, "noop", 2, 8, 3), (6, "noop", 1, 40, 14), (6, "first", 1, 150, 100)],
    )
    summary = summarize.summarize(timings, "engines: test", cpu)
    assert summary["stack"][1] == {"first": 60.0, "noop": 13.0, "noop/first": 0.22}
    verdicts = {target["target"]: (target["value"], target["verdict"]) for target in summary["targets"]}
    assert verdicts["site.yml noop: 6 hosts <= 1.3x 1 host"] == (2.31, "missed")
    assert verdicts["site.yml on 1: no-op <= 0.25x first converge"] == (0.22, "met")
    # 6 hosts used 54 CPU seconds on a no-op: on 2 cores no run can take less than 27 s, 2.08x the 1-host run.
    assert summary["stack_cpu"][6]["noop"] == {
        "controller": 40.0,
        "hosts": 14.0,
        "total": 54.0,
        "per_host": 9.0,
        "shortest_wall": 27.0,
        "lowest_6_to_1_ratio": 2.08,
    }
    assert summary["stack_cpu"][1]["noop"]["controller"] == 7.0
    assert "lowest_6_to_1_ratio" not in summary["stack_cpu"][1]["noop"]
    text = summarize.markdown(summary)
    assert "| 6 | noop | 40.00 | 14.00 | 54.00 | 9.00 | 27.00 | 2.08× |" in text


def test_without_cpu_figures_the_table_is_left_out(summarize, tmp_path) -> None:
    timings = _write(
        tmp_path / "timings.tsv", "run\timpl\tphase\ttask_s\twall_s\tload", [(1, "site-1", "noop", 12, 12, 1)]
    )
    summary = summarize.summarize(timings, "engines: test", str(tmp_path / "missing.tsv"))
    assert summary["stack_cpu"] == {}
    assert "CPU seconds" not in summarize.markdown(summary)


def test_pull_rows_and_the_room_a_round_trip_has(summarize, tmp_path) -> None:
    timings = _write(
        tmp_path / "timings.tsv",
        "run\timpl\tphase\ttask_s\twall_s\tload",
        [
            (1, "ansible", "floor", 0.6, 1.2, 1),
            (1, "transport", "exec", 0.17, 0.17, 1),
            (1, "raw", "pull", 0.25, 0.25, 1),
            (1, "ours", "pull", 1.25, 2.0, 1),
            (1, "command", "pull", 1.0, 1.8, 1),
        ],
    )
    summary = summarize.summarize(timings, "engines: test")
    assert summary["pulls"]["pull"] == {"ratio": 5.0, "ratio_without_floor": 2.6, "ratio_to_command_task": 1.25}
    verdicts = {target["target"]: target["verdict"] for target in summary["targets"]}
    assert verdicts["image pull (1 MB image): containerd_image <= 1.2x ctr images pull"] == "missed"
    text = summarize.markdown(summary)
    assert "(`podman exec <host> true`): 0.17 s" in text
    assert "leaves this much time over the raw pull: 1 MB image 0.05 s." in text


def test_log_driver_and_seccomp_counts_with_and_without_the_seccomp_column(summarize, tmp_path) -> None:
    timings = _write(
        tmp_path / "timings.tsv",
        "run\timpl\tphase\ttask_s\twall_s\tload",
        [(1, "ours", "create", 2.2, 3.0, 1), (1, "raw", "create", 2.0, 2.0, 1)],
    )
    counts = _write(
        tmp_path / "log-drivers.tsv",
        "run\timpl\tprocesses\tseccomp_filtered",
        [(1, "ours", 20, 20), (1, "raw", 20, 20), (1, "raw-nolog", 0, 0)],
    )
    summary = summarize.summarize(timings, "engines: test", None, counts)
    assert summary["log_drivers"] == {"ours": 20, "raw": 20, "raw-nolog": 0}
    assert summary["seccomp_filtered"] == {"ours": 20, "raw": 20, "raw-nolog": 0}
    verdicts = {target["target"]: target["verdict"] for target in summary["targets"]}
    assert verdicts["create: ours <= 1.1x the raw ctr run --seccomp loop with the same log flag"] == "met"
    assert "seccomp filter right after create (median; `Seccomp: 2`): ours 20, raw 20, raw-nolog 0." in (
        summarize.markdown(summary)
    )
    # Results written before the seccomp column: the counts read, and no seccomp line.
    old = _write(tmp_path / "old.tsv", "run\timpl\tprocesses", [(1, "ours", 20)])
    summary = summarize.summarize(timings, "engines: test", None, old)
    assert summary["seccomp_filtered"] == {}
    assert "seccomp filter" not in summarize.markdown(summary)


TASKS_HEADER = "playbook\thosts\tphase\trun\thost\tok\tchanged\tskipped\tfailed\tunreachable\trescued\tignored"


def test_noop_tasks_wall_and_cpu_per_host_and_the_engine_rerun(summarize, tmp_path) -> None:
    timings = _write(
        tmp_path / "timings.tsv",
        "run\timpl\tphase\ttask_s\twall_s\tload",
        [
            (1, "site-1", "first", 40, 40, 1.0),
            (1, "site-1", "noop", 9, 9, 1.0),
            (2, "site-1", "noop", 8, 8, 1.0),
            (1, "site-3", "first", 60, 60, 1.0),
            (1, "site-3", "noop", 12, 12, 1.0),
            (1, "engine-1", "first", 50, 50, 1.0),
            (1, "engine-1", "noop", 6, 6, 1.0),
        ],
    )
    cpu = _write(
        tmp_path / "cpu.tsv",
        "hosts\tphase\trun\tcontroller_cpu_s\thosts_cpu_s",
        [
            (1, "noop", 1, 7, 2),
            (1, "noop", 2, 6, 2),
            (3, "noop", 1, 12, 4.5),
            (1, "engine-first", 1, 12, 20),
            (1, "engine-noop", 1, 4, 1),
        ],
    )
    tasks = _write(
        tmp_path / "tasks.tsv",
        TASKS_HEADER,
        [
            # ok counts changed (and ignored): 77 ok + 52 skipped = 129 task results.
            ("site", 1, "noop", 1, "h1", 77, 1, 52, 0, 0, 0, 0),
            ("site", 1, "noop", 2, "h1", 77, 0, 52, 0, 0, 0, 0),
            ("site", 3, "noop", 1, "h1", 77, 0, 52, 0, 0, 0, 0),
            ("site", 3, "noop", 1, "h2", 60, 0, 45, 0, 0, 0, 0),
            ("site", 3, "noop", 1, "h3", 60, 0, 44, 0, 0, 1, 0),
            ("site", 1, "first", 1, "h1", 116, 60, 40, 0, 0, 0, 0),
            ("engine", 1, "first", 1, "h1", 70, 40, 30, 0, 0, 0, 0),
            ("engine", 1, "noop", 1, "h1", 50, 0, 45, 0, 0, 0, 0),
        ],
    )
    summary = summarize.summarize(timings, "engines: test", cpu, None, tasks)
    assert summary["stack_noop"][1] == {
        "wall": 8.5,
        "controller_cpu_per_host": 6.5,
        "hosts_cpu_per_host": 2.0,
        "tasks_per_host": {"mean": 129, "max": 129, "max_host": "h1", "skipped_mean": 52, "hosts": {"h1": 129}},
    }
    three = summary["stack_noop"][3]
    assert three["controller_cpu_per_host"] == 4.0
    assert three["tasks_per_host"]["hosts"] == {"h1": 129, "h2": 105, "h3": 105}
    assert (three["tasks_per_host"]["mean"], three["tasks_per_host"]["max_host"]) == (113, "h1")
    assert summary["engine_rerun"] == {
        "wall": 6.0,
        "controller_cpu": 4.0,
        "hosts_cpu": 1.0,
        "tasks": 95,
        "skipped": 45,
        "first_converge_tasks": 100,
    }
    # The engine runs are no row of the CPU table of the site.yml runs.
    assert set(summary["stack_cpu"][1]) == {"noop"}
    verdicts = {target["target"]: (target["value"], target["verdict"]) for target in summary["targets"]}
    assert verdicts["site.yml no-op on 1 host <= 5 s"] == (8.5, "missed")
    assert verdicts["site.yml no-op on 3: controller CPU <= 3 s per host"] == (4.0, "missed")
    assert verdicts["converged rerun of runc, containerd, cni, runtimes: <= 45 tasks"] == (95, "missed")
    text = summarize.markdown(summary)
    assert "| 3 | 113 | 129 (h1) | 47 | 12.00 | 4.00 | 1.50 |" in text
    assert ": 95 task results (45 skipped), 6.00 s wall, CPU: controller 4.00 s, host 1.00 s" in text
    assert "| site.yml no-op on 1 host <= 5 s | 8.50 s | missed |" in text
    assert "| converged rerun of runc, containerd, cni, runtimes: <= 45 tasks | 95 tasks | missed |" in text
    # The JSON the bench writes next to the table.
    assert json.loads(json.dumps(summary, sort_keys=True))["engine_rerun"]["tasks"] == 95


def test_without_task_counts_the_noop_rows_keep_wall_and_cpu(summarize, tmp_path) -> None:
    timings = _write(
        tmp_path / "timings.tsv",
        "run\timpl\tphase\ttask_s\twall_s\tload",
        [(1, "site-1", "first", 40, 40, 1), (1, "site-1", "noop", 4, 4, 1)],
    )
    cpu = _write(tmp_path / "cpu.tsv", "hosts\tphase\trun\tcontroller_cpu_s\thosts_cpu_s", [(1, "noop", 1, 2.5, 1)])
    summary = summarize.summarize(timings, "engines: test", cpu, None, str(tmp_path / "missing.tsv"))
    assert summary["stack_noop"][1]["tasks_per_host"] is None
    assert summary["engine_rerun"] == {}
    verdicts = {target["target"]: target["verdict"] for target in summary["targets"]}
    assert verdicts["site.yml no-op on 1 host <= 5 s"] == "met"
    assert verdicts["site.yml no-op on 1: controller CPU <= 3 s per host"] == "met"
    text = summarize.markdown(summary)
    assert "| 1 | – | – | – | 4.00 | 2.50 | 1.00 |" in text
    assert "Converged rerun" not in text
