# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""containerd_info and containerd_namespace: the server, its plugins and runtimes, and namespaces."""

from __future__ import annotations

import json
import os
import re
import shutil
from functools import lru_cache
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

from ansible_collections.ocistack.engine.plugins.module_utils._compare import compare
from ansible_collections.ocistack.engine.plugins.module_utils._ctr import NAME_RE, client_from_params
from ansible_collections.ocistack.engine.plugins.module_utils._errors import OptionError

# What the runtimes role registers: {name: {runtime_type, options: {BinaryName}}} (the CRI handlers).
REGISTERED_RUNTIMES_FILE = "/etc/containerd/ocistack-runtimes.json"
CONTAINERD_CONFIG = "/etc/containerd/config.toml"
RUNC_SHIM = "io.containerd.runc.v2"

__all__ = [
    "REGISTERED_RUNTIMES_FILE",
    "Runtime",
    "cgroup_driver",
    "resolve_runtime",
    "available_runtimes",
    "manage_namespace",
    "RUNTIME_RE",
    "server_info",
]

# --------------------------------------------------------------------------- containerd_namespace


def manage_namespace(module: Any) -> Dict[str, Any]:
    params = module.params
    name = params["name"]
    if not NAME_RE.match(name or ""):
        raise OptionError("name", f"{name!r} is not a valid namespace name (letters, digits, '.', '_', '-')")
    labels = {str(key): str(value) for key, value in (params.get("labels") or {}).items()}
    for key in labels:
        if not key or "=" in key or "," in key:
            raise OptionError("labels", f"label key {key!r} must be non-empty and contain neither '=' nor ','")
    client = client_from_params(module)
    current = client.namespace_info(name)
    before = None if current is None else {"name": name, "labels": current["labels"]}
    if params["state"] == "absent":
        changed = current is not None
        if changed and not module.check_mode:
            client.remove_namespace(name)
        result = {"changed": changed, "namespace": None}
        if module._diff:
            result["diff"] = {"before": before or {}, "after": {}}
        return result
    wanted_labels = labels if params.get("purge_labels") else {**(current or {}).get("labels", {}), **labels}
    desired = {"name": name, "labels": wanted_labels}
    difference = compare(desired, before)
    if difference.changed and not module.check_mode:
        if current is None:
            client.create_namespace(name, wanted_labels)
        else:
            for key in sorted(set(current["labels"]) | set(wanted_labels)):
                if current["labels"].get(key) != wanted_labels.get(key):
                    client.label_namespace(name, key, wanted_labels.get(key, ""))
    result = {"changed": difference.changed, "namespace": desired}
    if module._diff:
        result["diff"] = {"before": before or {}, "after": desired}
    return result


# --------------------------------------------------------------------------- containerd_info


def server_info(module: Any) -> Dict[str, Any]:
    client = client_from_params(module)
    version = client.version()
    plugins = client.plugins()
    server = version.get("server") or {}

    def ids(plugin_type: str) -> List[str]:
        return [p["id"] for p in plugins if p["type"] == plugin_type and p["status"] == "ok"]

    cri = [p for p in plugins if p["type"] == "io.containerd.grpc.v1" and p["id"] == "cri"]
    return {
        "changed": False,
        "containerd": {
            "version": server.get("version"),
            "revision": server.get("revision"),
            "uuid": server.get("uuid"),
            "client_version": (version.get("client") or {}).get("version"),
            "plugins": plugins,
            "cri": {"enabled": bool(cri), "status": cri[0]["status"] if cri else "disabled"},
            "snapshotters": ids("io.containerd.snapshotter.v1"),
            # Runtime plugins are "task"/"linux"; the runtimes users name are the shims on the host.
            "runtimes": available_runtimes(),
            "restart_monitor": any(p["id"] == "restart" and p["status"] == "ok" for p in plugins),
            "namespaces": [entry["name"] for entry in client.namespaces()],
        },
    }


def available_runtimes() -> List[str]:
    """Runtime names (``io.containerd.runc.v2``) whose shim binary is on this host's PATH."""
    return list(_runtimes_on_path(os.environ.get("PATH", "")))


@lru_cache(maxsize=4)
def _runtimes_on_path(path: str) -> Tuple[str, ...]:
    # Cached: a batch of twenty containers validates twenty runtimes against one PATH scan.
    found = set()
    directories = path.split(os.pathsep) + ["/usr/bin", "/usr/local/bin", "/usr/sbin"]
    for directory in directories:
        try:
            entries = os.listdir(directory)
        except OSError:
            continue
        for entry in entries:
            match = _SHIM_RE.match(entry)
            if match and os.access(os.path.join(directory, entry), os.X_OK):
                found.add(f"io.containerd.{match.group(1)}.{match.group(2)}")
    return tuple(sorted(found))


_SHIM_RE = re.compile(r"^containerd-shim-([a-z0-9]+)-(v[0-9]+)$")
RUNTIME_RE = re.compile(r"^io\.containerd\.([a-z0-9]+)\.(v[0-9]+)$")


class Runtime(NamedTuple):
    """A container's runtime: the shim containerd starts and, for the runc shim, the OCI runtime binary."""

    name: str
    shim: str
    binary: Optional[str]


def _registered_runtimes(path: str = REGISTERED_RUNTIMES_FILE) -> Dict[str, Any]:
    try:
        with open(path) as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def resolve_runtime(name: str, registered_file: str = REGISTERED_RUNTIMES_FILE) -> Runtime:
    """``runc``, ``crun``, ``runsc``, a handler the runtimes role registered, or a shim name -> Runtime.

    An unknown name fails with the list of what this host has.
    """
    shims = available_runtimes()
    registered = _registered_runtimes(registered_file)
    match = RUNTIME_RE.match(name)
    if match:
        if name not in shims:
            raise OptionError(
                "runtime",
                f"unknown runtime {name}: no containerd-shim-{match.group(1)}-{match.group(2)} on the host; "
                f"install its shim or choose one of {', '.join(known_runtimes(shims, registered)) or 'none found'}",
            )
        return Runtime(name, name, None)
    handler = registered.get(name)
    if isinstance(handler, dict) and handler.get("runtime_type"):
        shim = str(handler["runtime_type"])
        binary = (handler.get("options") or {}).get("BinaryName") if shim == RUNC_SHIM else None
        return Runtime(name, shim, str(binary) if binary else None)
    if name == "runc" and RUNC_SHIM in shims:
        return Runtime(name, RUNC_SHIM, None)
    if name == "crun" and RUNC_SHIM in shims and shutil.which("crun"):
        return Runtime(name, RUNC_SHIM, shutil.which("crun"))
    raise OptionError(
        "runtime",
        f"unknown runtime {name!r}; this host has {', '.join(known_runtimes(shims, registered)) or 'none'} "
        "(crun and runsc are registered by the ocistack.engine.runtimes role)",
    )


def known_runtimes(shims: List[str], registered: Dict[str, Any]) -> List[str]:
    names = ["runc"] if RUNC_SHIM in shims else []
    names += sorted(name for name in registered if name not in names)
    if "crun" not in names and RUNC_SHIM in shims and shutil.which("crun"):
        names.append("crun")
    return names + shims


_SYSTEMD_CGROUP_RE = re.compile(r"^\s*SystemdCgroup\s*=\s*(true|false)\s*$", re.MULTILINE)


def cgroup_driver(config_path: str = CONTAINERD_CONFIG) -> str:
    """The cgroup driver containerd's runc runtime uses here: its config's SystemdCgroup, else the host's.

    Without a setting, systemd where systemd runs the host (what the containerd role picks too).
    """
    try:
        with open(config_path) as handle:
            found = _SYSTEMD_CGROUP_RE.findall(handle.read())
    except OSError:
        found = []
    if found:
        return "systemd" if found[0] == "true" else "cgroupfs"
    return "systemd" if os.path.isdir("/run/systemd/system") else "cgroupfs"
