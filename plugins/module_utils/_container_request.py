# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One container's desired state: the options of containerd_container (and of every item of
containerd_containers), validated before anything on the host changes, and the labels that
record what a container was created from.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ansible_collections.ocistack.engine.plugins.module_utils._cni import (
    DEFAULT_CNI_BIN_DIRS,
    DEFAULT_CNI_CONF_DIR,
    load_cni_network,
    netns_name,
)
from ansible_collections.ocistack.engine.plugins.module_utils._ctr import NAME_RE, validate_platform, validate_reference
from ansible_collections.ocistack.engine.plugins.module_utils._errors import OptionError
from ansible_collections.ocistack.engine.plugins.module_utils._netns import NETNS_DIR
from ansible_collections.ocistack.engine.plugins.module_utils._oci_spec import build_spec
from ansible_collections.ocistack.engine.plugins.module_utils._server import RUNTIME_RE, available_runtimes
from ansible_collections.ocistack.engine.plugins.module_utils._units import normalize_signal

__all__ = [
    "actual_identity",
    "CONTAINER_ARGUMENT_SPEC",
    "CONTAINER_REQUIRED_IF",
    "ContainerRequest",
    "LABEL_CNI_CONF_DIR",
    "LABEL_IMAGE",
    "LABEL_IMAGE_DIGEST",
    "LABEL_NETWORK",
    "LABEL_PREFIX",
    "LABEL_RESTART_POLICY",
    "LABEL_RESTART_STATUS",
    "LABEL_SNAPSHOT",
    "LABEL_SPEC_DIGEST",
    "LABEL_STOP_SIGNAL",
    "LABEL_STOP_TIMEOUT",
    "spec_without_rootfs",
    "status_of",
    "user_labels",
]

# One container's options: containerd_container's own, and each item of containerd_containers'
# ``containers`` (validated against this same spec), so both accept and convert alike.
CONTAINER_ARGUMENT_SPEC: Dict[str, Dict[str, Any]] = {
    "name": {"type": "str", "required": True},
    "image": {"type": "str"},
    "state": {"type": "str", "choices": ["started", "present", "stopped", "absent"], "default": "started"},
    "command": {"type": "list", "elements": "str"},
    "env": {"type": "dict"},
    "labels": {"type": "dict"},
    "mounts": {
        "type": "list",
        "elements": "dict",
        "options": {
            "type": {"type": "str", "default": "bind"},
            "source": {"type": "str"},
            "target": {"type": "str", "required": True},
            "options": {"type": "list", "elements": "str"},
        },
    },
    "user": {"type": "str"},
    "working_dir": {"type": "str"},
    "hostname": {"type": "str"},
    "network": {"type": "str", "choices": ["none", "host", "cni"], "default": "none"},
    "cni_network": {"type": "str"},
    "cni_conf_dir": {"type": "path", "default": "/etc/cni/net.d"},
    "cni_bin_dirs": {"type": "list", "elements": "path", "default": ["/opt/cni/bin", "/usr/lib/cni"]},
    "memory": {"type": "str"},
    "cpus": {"type": "float"},
    "pids_limit": {"type": "int"},
    "restart_policy": {"type": "str", "choices": ["no", "always", "unless-stopped"], "default": "no"},
    "runtime": {"type": "str", "default": "io.containerd.runc.v2"},
    "pull": {"type": "str", "choices": ["missing", "always", "never"], "default": "missing"},
    "platform": {"type": "str"},
    "recreate": {"type": "bool", "default": False},
    "stop_signal": {"type": "str", "default": "SIGTERM"},
    "stop_timeout": {"type": "int", "default": 10},
}
CONTAINER_REQUIRED_IF: List[Tuple[str, str, List[str]]] = [
    ("state", "started", ["image"]),
    ("state", "present", ["image"]),
    ("state", "stopped", ["image"]),
]

# Labels this collection puts on the containers it creates: drift is decided by these identities.
LABEL_PREFIX = "io.ocistack.engine."
LABEL_SPEC_DIGEST = LABEL_PREFIX + "spec-digest"
LABEL_IMAGE = LABEL_PREFIX + "image"
LABEL_IMAGE_DIGEST = LABEL_PREFIX + "image-digest"
LABEL_SNAPSHOT = LABEL_PREFIX + "snapshot"
LABEL_STOP_TIMEOUT = LABEL_PREFIX + "stop-timeout"
LABEL_NETWORK = LABEL_PREFIX + "network"
LABEL_CNI_CONF_DIR = LABEL_PREFIX + "cni-conf-dir"
# containerd's own: the restart monitor keeps a task whose status label says "running" running
# (1.6 knows only this label; 1.7+ also reads the policy label).
LABEL_RESTART_STATUS = "containerd.io/restart.status"
LABEL_RESTART_POLICY = "containerd.io/restart.policy"
# ctr and containerd's restart monitor read the stop signal from this image-config label.
LABEL_STOP_SIGNAL = "io.containerd.image.config.stop-signal"

# --------------------------------------------------------------------------- containerd_container

# Labels we own (identity) or containerd owns (restart monitor): not part of the user's `labels`.
_MANAGED_LABEL_PREFIXES = (LABEL_PREFIX, "containerd.io/restart.", LABEL_STOP_SIGNAL)


def user_labels(labels: Mapping[str, str]) -> Dict[str, str]:
    return {key: value for key, value in labels.items() if not key.startswith(_MANAGED_LABEL_PREFIXES)}


# _oci_spec's option names -> this module's, for error messages.
_SPEC_OPTION_NAMES = {"args": "command", "cwd": "working_dir", "namespaces": "network"}


class ContainerRequest:
    """The validated options of containerd_container (no host access here)."""

    def __init__(self, params: Mapping[str, Any], namespace: str) -> None:
        self.params = params
        self.name = params["name"]
        if not NAME_RE.match(self.name or ""):
            raise OptionError("name", f"{self.name!r} is not a valid container name (letters, digits, '.', '_', '-')")
        self.state = params["state"]
        self.platform = validate_platform(params.get("platform"))
        self.image = None if params.get("image") is None else validate_reference(params["image"], "image")
        if self.state != "absent" and not self.image:
            raise OptionError("image", f"state {self.state} needs image, the reference to run")
        self.runtime = params.get("runtime") or "io.containerd.runc.v2"
        self.restart_policy = params.get("restart_policy") or "no"
        if self.restart_policy != "no" and self.state == "present":
            raise OptionError(
                "restart_policy",
                f"restart_policy {self.restart_policy} keeps the container running, which contradicts state present; "
                "use state started (or stopped to hold it down)",
            )
        self.stop_signal = normalize_signal(params.get("stop_signal") or "SIGTERM")
        self.stop_timeout = int(params.get("stop_timeout") if params.get("stop_timeout") is not None else 10)
        if self.stop_timeout < 0:
            raise OptionError("stop_timeout", f"{self.stop_timeout} is negative; give seconds to wait (0 or more)")
        self.labels = {str(key): str(value) for key, value in (params.get("labels") or {}).items()}
        for key in self.labels:
            if not key or "=" in key or key.startswith(_MANAGED_LABEL_PREFIXES):
                raise OptionError(
                    "labels",
                    f"label key {key!r} is empty, contains '=' or is reserved ({', '.join(_MANAGED_LABEL_PREFIXES)})",
                )
        self.cni_config: Dict[str, Any] = {}
        self.cni_bin_dirs = list(params.get("cni_bin_dirs") or DEFAULT_CNI_BIN_DIRS)
        if params.get("network") != "cni" and params.get("cni_network"):
            raise OptionError("cni_network", "is only used with network: cni; set network: cni or drop cni_network")
        if self.state != "absent" and params.get("network") == "cni":
            conf_dir = params.get("cni_conf_dir") or DEFAULT_CNI_CONF_DIR
            self.cni_config = load_cni_network(conf_dir, params.get("cni_network"))
        if self.state != "absent":
            self._validate_runtime()
            self._validate_mount_sources()
            # Every spec option is checked now, before any pull: an image config with a command stands in.
            self.build(namespace, {"Cmd": ["/bin/true"]})

    def _validate_runtime(self) -> None:
        match = RUNTIME_RE.match(self.runtime)
        if not match:
            raise OptionError(
                "runtime",
                f"{self.runtime!r} is not a runtime name; use io.containerd.<name>.<version> "
                "such as io.containerd.runc.v2",
            )
        if self.runtime not in available_runtimes():
            raise OptionError(
                "runtime",
                f"unknown runtime {self.runtime}: no containerd-shim-{match.group(1)}-{match.group(2)} on the host; "
                f"install its shim or choose one of {', '.join(available_runtimes()) or 'none found'}",
            )

    def _validate_mount_sources(self) -> None:
        for index, mount in enumerate(self.params.get("mounts") or []):
            is_bind = (mount.get("type") or "bind") == "bind"
            if is_bind and mount.get("source") and not os.path.exists(str(mount["source"])):
                raise OptionError(
                    "mounts", f"mounts[{index}].source {mount['source']} does not exist on the host; create it first"
                )

    def build(self, namespace: str, image_config: Mapping[str, Any]) -> Dict[str, Any]:
        """The runtime spec from _oci_spec, with its errors naming this module's options."""
        try:
            return build_spec(self.spec_options(namespace), image_config)
        except OptionError as error:
            option = _SPEC_OPTION_NAMES.get(error.option)
            if option is None:
                raise
            message = str(error)[len(error.option) + 2 :]
            raise OptionError(option, message) from None

    def spec_options(self, namespace: str) -> Dict[str, Any]:
        params = self.params
        options: Dict[str, Any] = {
            "args": params.get("command"),
            "env": params.get("env"),
            "cwd": params.get("working_dir"),
            "user": params.get("user"),
            "hostname": params.get("hostname"),
            "mounts": params.get("mounts"),
            "memory": params.get("memory"),
            "cpus": params.get("cpus"),
            "pids_limit": params.get("pids_limit"),
            "rootfs_path": "rootfs",
            "cgroups_path": f"/{namespace}/{self.name}",
        }
        # A cgroup namespace of its own: the spec mounts /sys/fs/cgroup, and on a cgroup v1 host whose
        # containerd itself runs in a container (a nested host) the host's cgroup paths cannot be
        # mounted ("stat /sys/fs/default/<name>: no such file"). Private is also dockerd's v2 default.
        namespaces: List[Dict[str, str]] = [{"type": ns} for ns in ("pid", "ipc", "uts", "mount", "cgroup")]
        network = params.get("network")
        if network == "cni":
            namespaces.append({"type": "network", "path": os.path.join(NETNS_DIR, netns_name(namespace, self.name))})
        elif network != "host":
            namespaces.append({"type": "network"})
        options["namespaces"] = namespaces
        return options

    def network_identity(self) -> str:
        network = self.params.get("network") or "none"
        if network == "cni":
            return f"cni:{self.cni_config['name']}"
        return network

    def restart_labels(self, running: bool) -> Dict[str, str]:
        if self.restart_policy == "no":
            return {}
        labels = {LABEL_RESTART_STATUS: "running" if running else "stopped"}
        # containerd 1.7+ reads the policy; 1.6 ignores it and restarts whatever is labelled running.
        labels[LABEL_RESTART_POLICY] = self.restart_policy
        return labels


def status_of(task: Optional[Mapping[str, Any]]) -> str:
    if not task:
        return "created"
    status = task.get("status")
    return "running" if status in ("running", "pausing", "paused") else "stopped" if status == "stopped" else "created"


def actual_identity(info: Mapping[str, Any]) -> Dict[str, Any]:
    labels = info["labels"]
    return {
        "image": labels.get(LABEL_IMAGE, info.get("image")),
        "image_digest": labels.get(LABEL_IMAGE_DIGEST),
        "spec_digest": labels.get(LABEL_SPEC_DIGEST),
        "runtime": info.get("runtime"),
        "labels": user_labels(labels),
        "restart_policy": labels.get(LABEL_RESTART_POLICY, "no"),
        "stop_signal": labels.get(LABEL_STOP_SIGNAL),
        "stop_timeout": labels.get(LABEL_STOP_TIMEOUT),
        "network": labels.get(LABEL_NETWORK, "none"),
    }


def spec_without_rootfs(spec: Mapping[str, Any]) -> Dict[str, Any]:
    """The stored spec minus the snapshot mount we add at ``/`` (what build_spec produced)."""
    copy = json.loads(json.dumps(spec))
    copy["mounts"] = [mount for mount in copy.get("mounts") or [] if mount.get("destination") != "/"]
    return copy
