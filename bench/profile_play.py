#!/usr/bin/env python3
"""Where a playbook run spends the controller's CPU: ansible-playbook run in this process under cProfile,
and every worker process (one per task and host) under a cProfile of its own.

Usage: profile_play.py OUT_DIR ansible-playbook-arguments...
writes OUT_DIR/main.prof, OUT_DIR/workers.prof (all workers merged) and prints the CPU seconds of
the main process and of its children (the workers, and the connection processes they wait for),
then the top functions of each. Read the .prof files with `python3 -m pstats`.
"""

from __future__ import annotations

import cProfile
import glob
import os
import pstats
import resource
import sys

from ansible.cli.playbook import PlaybookCLI
from ansible.executor.process import worker


def main() -> int:
    out, args = sys.argv[1], sys.argv[2:]
    os.makedirs(out, exist_ok=True)
    for stale in glob.glob(os.path.join(out, "worker-*.prof")):
        os.unlink(stale)

    original = worker.WorkerProcess._run

    def profiled(self):
        profile = cProfile.Profile()
        try:
            return profile.runcall(original, self)
        finally:
            profile.dump_stats(os.path.join(out, f"worker-{os.getpid()}.prof"))

    worker.WorkerProcess._run = profiled

    profile = cProfile.Profile()
    rc = 0
    try:
        profile.runcall(PlaybookCLI(["ansible-playbook", *args]).run)
    except SystemExit as exc:
        rc = int(exc.code or 0)
    profile.dump_stats(os.path.join(out, "main.prof"))
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    workers, merged = sorted(glob.glob(os.path.join(out, "worker-*.prof"))), None
    for path in workers:
        try:
            stats = pstats.Stats(path)
        except (EOFError, ValueError, TypeError):
            continue  # a worker that exited before its profile was written out
        if merged is None:
            merged = stats
        else:
            merged.add(stats)
    if merged:
        merged.dump_stats(os.path.join(out, "workers.prof"))
    for path in workers:
        os.unlink(path)
    print(
        f"PROFILE main process CPU {me.ru_utime + me.ru_stime:.2f} s, children (workers and their processes) "
        f"{children.ru_utime + children.ru_stime:.2f} s, {len(workers)} workers",
        file=sys.stderr,
    )
    for name in ("main", "workers"):
        path = os.path.join(out, f"{name}.prof")
        if os.path.exists(path):
            print(f"\n==== {name}: top 25 by cumulative time", file=sys.stderr)
            pstats.Stats(path, stream=sys.stderr).sort_stats("cumulative").print_stats(25)
    return rc


if __name__ == "__main__":
    sys.exit(main())
