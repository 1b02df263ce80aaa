# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""containerd_info and containerd_namespace: the server, its plugins and runtimes, and namespaces."""

from __future__ import annotations

import os
import re
from functools import lru_cache
from typing import Any, Dict, List, Tuple

from ansible_collections.ocistack.engine.plugins.module_utils._compare import compare
from ansible_collections.ocistack.engine.plugins.module_utils._ctr import NAME_RE, client_from_params
from ansible_collections.ocistack.engine.plugins.module_utils._errors import OptionError

__all__ = [
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
