# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Named network namespaces (``/run/netns/<name>``): the collection's one implementation.

Both the CNI path of containerd_container and the netns module (pyroute2) create and remove
named namespaces through here. It drives iproute2's ``ip netns`` because containerd hosts are
promised the standard library only (pyroute2 is installed just for the bridge/netns modules),
and ``ip netns`` is what administrators inspect them with: the layout is the same either way
(a bind mount of a process's ``/proc/<pid>/ns/net`` under ``/run/netns``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import List, Sequence, Tuple

from ansible_collections.ocistack.engine.plugins.module_utils._errors import ToolError

__all__ = [
    "NETNS_DIR",
    "create_netns",
    "delete_netns",
    "list_netns",
    "netns_addresses",
    "netns_exists",
    "netns_path",
    "parse_ip_addresses",
]

NETNS_DIR = "/run/netns"


def _ip() -> str:
    candidates = ("/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip")
    found = shutil.which("ip") or next((path for path in candidates if os.access(path, os.X_OK)), "")
    if not found:
        raise ToolError("ip (iproute2) was not found on the host; install iproute2 for named network namespaces")
    return found


def _run(args: Sequence[str]) -> Tuple[int, str, str]:
    process = subprocess.run([_ip(), *args], capture_output=True, text=True, check=False)
    return process.returncode, process.stdout, process.stderr


def netns_path(name: str) -> str:
    return os.path.join(NETNS_DIR, name)


def netns_exists(name: str) -> bool:
    return os.path.exists(netns_path(name))


def list_netns() -> List[str]:
    try:
        return sorted(os.listdir(NETNS_DIR))
    except OSError:
        return []


def create_netns(name: str) -> str:
    """Create ``name`` unless it exists; returns its path."""
    path = netns_path(name)
    if not os.path.exists(path):
        rc, _out, err = _run(["netns", "add", name])
        if rc != 0:
            raise ToolError(f"creating network namespace {name} failed: {err.strip()}", rc=rc, stderr=err)
    return path


def delete_netns(name: str) -> None:
    if not os.path.exists(netns_path(name)):
        return
    rc, _out, err = _run(["netns", "delete", name])
    if rc != 0:
        raise ToolError(f"removing network namespace {name} failed: {err.strip()}", rc=rc, stderr=err)


def parse_ip_addresses(text: str) -> List[str]:
    """``ip -j addr show`` -> ``["10.88.0.5/16", ...]`` (global scope only)."""
    addresses = []
    for link in json.loads(text or "[]"):
        for info in link.get("addr_info") or []:
            if info.get("scope") == "global" and info.get("local"):
                addresses.append(f"{info['local']}/{info.get('prefixlen')}")
    return addresses


def netns_addresses(name: str) -> List[str]:
    """Global addresses inside ``name`` ([] when it does not exist)."""
    if not os.path.exists(netns_path(name)):
        return []
    rc, out, _err = _run(["-j", "-n", name, "addr", "show"])
    return parse_ip_addresses(out) if rc == 0 else []
