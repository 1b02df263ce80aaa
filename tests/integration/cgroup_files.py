"""A process's cgroup files on the host's cgroup version.

This machine runs cgroup v1 hybrid; Debian 12 and 13 servers run cgroup v2 unified, where the
files have other names and one hierarchy. The tests read limits and states through these
helpers, so they check the same thing on either.
"""

from __future__ import annotations

import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def _mounts():
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        separator = fields.index("-")
        yield fields[3], fields[4], fields[separator + 1], fields[separator + 3]


def cgroup_version() -> int:
    """2 when /sys/fs/cgroup is the unified hierarchy (cgroup2), else 1."""
    for _root, mount_point, fstype, _options in _mounts():
        if mount_point == str(CGROUP_ROOT) and fstype == "cgroup2":
            return 2
    return 1


def cgroup_dir(pid: int, controller: str) -> Path:
    """The directory of ``pid``'s cgroup that holds ``controller``'s files."""
    entries = [line.split(":", 2) for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines()]
    if cgroup_version() == 2:
        relative = next((path for num, _c, path in entries if num == "0"), None)
        assert relative is not None, f"process {pid} is in no cgroup v2 cgroup"
        return CGROUP_ROOT / relative.lstrip("/")
    relative = next((path for _n, controllers, path in entries if controller in controllers.split(",")), None)
    assert relative is not None, f"process {pid} is in no {controller} cgroup"
    for mount_root, mount_point, fstype, options in _mounts():
        if fstype == "cgroup" and controller in options.split(","):
            inner = os.path.relpath(relative, mount_root) if mount_root != "/" else relative.lstrip("/")
            return Path(mount_point) / inner
    raise AssertionError(f"no cgroup v1 mount for {controller}")


def _read(pid: int, controller: str, v1_name: str, v2_name: str) -> str:
    name = v2_name if cgroup_version() == 2 else v1_name
    return (cgroup_dir(pid, controller) / name).read_text().strip()


def memory_limit(pid: int) -> int:
    """The memory limit in bytes (v1 memory.limit_in_bytes, v2 memory.max); -1 for none."""
    value = _read(pid, "memory", "memory.limit_in_bytes", "memory.max")
    return -1 if value == "max" else int(value)


def cpu_quota(pid: int) -> int:
    """The CFS quota in microseconds per period (v1 cpu.cfs_quota_us, v2 cpu.max's first field); -1 for none."""
    value = _read(pid, "cpu", "cpu.cfs_quota_us", "cpu.max").split()[0]
    return -1 if value == "max" else int(value)


def pids_limit(pid: int) -> int:
    """The pids limit (pids.max on both); -1 for none."""
    value = _read(pid, "pids", "pids.max", "pids.max")
    return -1 if value == "max" else int(value)


def frozen(pid: int) -> bool:
    """Whether the cgroup is frozen (v1 freezer.state FROZEN, v2 cgroup.events frozen 1)."""
    if cgroup_version() == 2:
        events = dict(line.split() for line in (cgroup_dir(pid, "freezer") / "cgroup.events").read_text().splitlines())
        return events.get("frozen") == "1"
    return _read(pid, "freezer", "freezer.state", "") == "FROZEN"
