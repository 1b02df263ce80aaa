# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One container's desired state: the options of containerd_container (and of every item of
containerd_containers), validated before anything on the host changes, and the labels that
record what a container was created from.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ansible_collections.ocistack.engine.plugins.module_utils._cni import (
    DEFAULT_CNI_BIN_DIRS,
    DEFAULT_CNI_CONF_DIR,
    CniNetwork,
    load_cni_network,
    netns_name,
    parse_published_ports,
)
from ansible_collections.ocistack.engine.plugins.module_utils._ctr import NAME_RE, validate_platform, validate_reference
from ansible_collections.ocistack.engine.plugins.module_utils._errors import OptionError
from ansible_collections.ocistack.engine.plugins.module_utils._etc_files import container_hostname, validate_dns
from ansible_collections.ocistack.engine.plugins.module_utils._health import HEALTH_ANNOTATION, parse_healthcheck
from ansible_collections.ocistack.engine.plugins.module_utils._host_tools import LOG_DRIVER, STATE_ROOT
from ansible_collections.ocistack.engine.plugins.module_utils._log_driver import (
    JOURNAL_SOCKET,
    log_uri,
    validate_log_options,
)
from ansible_collections.ocistack.engine.plugins.module_utils._netns import NETNS_DIR
from ansible_collections.ocistack.engine.plugins.module_utils._oci_spec import build_spec
from ansible_collections.ocistack.engine.plugins.module_utils._server import (
    RUNC_SHIM,
    Runtime,
    cgroup_driver,
    resolve_runtime,
)
from ansible_collections.ocistack.engine.plugins.module_utils._units import normalize_signal, parse_bytes

__all__ = [
    "actual_identity",
    "CONTAINER_ARGUMENT_SPEC",
    "CONTAINER_REQUIRED_IF",
    "ContainerRequest",
    "LABEL_CNI_CONF_DIR",
    "LABEL_IMAGE",
    "LABEL_IMAGE_DIGEST",
    "LABEL_NETWORK",
    "LABEL_RUNTIME_OPTIONS",
    "LABEL_RUNTIME",
    "LABEL_RESTART_LOGURI",
    "LABEL_PORTS",
    "LABEL_LOG",
    "LABEL_PREFIX",
    "LABEL_RESTART_POLICY",
    "LABEL_RESTART_STATUS",
    "LABEL_SNAPSHOT",
    "LABEL_SPEC_DIGEST",
    "LABEL_STOP_SIGNAL",
    "LABEL_STOP_TIMEOUT",
    "container_state_dir",
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
    "published_ports": {"type": "list", "elements": "str"},
    "log_driver": {"type": "str", "choices": ["journald", "file", "none"]},
    "log_options": {"type": "dict"},
    "dns_servers": {"type": "list", "elements": "str"},
    "dns_search_domains": {"type": "list", "elements": "str"},
    "dns_options": {"type": "list", "elements": "str"},
    "etc_hosts": {"type": "dict"},
    "capabilities": {"type": "list", "elements": "str"},
    "cap_drop": {"type": "list", "elements": "str"},
    "privileged": {"type": "bool", "default": False},
    "devices": {"type": "list", "elements": "str"},
    "read_only": {"type": "bool", "default": False},
    "tmpfs": {"type": "list", "elements": "str"},
    "sysctls": {"type": "dict"},
    "ulimits": {"type": "list", "elements": "str"},
    "seccomp_profile": {"type": "str"},
    "apparmor_profile": {"type": "str"},
    "no_new_privileges": {"type": "bool"},
    "shm_size": {"type": "str"},
    "healthcheck": {
        "type": "dict",
        "options": {
            "test": {"type": "raw", "required": True},
            "interval": {"type": "raw", "default": "30s"},
            "timeout": {"type": "raw", "default": "30s"},
            "start_period": {"type": "raw", "default": "0s"},
            "retries": {"type": "int", "default": 3},
        },
    },
}
# state stopped needs an image only to create a missing container (checked when it is missing).
CONTAINER_REQUIRED_IF: List[Tuple[str, str, List[str]]] = [
    ("state", "started", ["image"]),
    ("state", "present", ["image"]),
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
LABEL_RUNTIME = LABEL_PREFIX + "runtime"
LABEL_PORTS = LABEL_PREFIX + "published-ports"
LABEL_LOG = LABEL_PREFIX + "log"
# "pending": created without its runtime options (ctr sets them only when it starts the task too).
LABEL_RUNTIME_OPTIONS = LABEL_PREFIX + "runtime-options"
# containerd's own: the restart monitor keeps a task whose status label says "running" running
# (1.6 knows only this label; 1.7+ also reads the policy label).
LABEL_RESTART_STATUS = "containerd.io/restart.status"
LABEL_RESTART_POLICY = "containerd.io/restart.policy"
LABEL_RESTART_LOGURI = "containerd.io/restart.loguri"
# ctr and containerd's restart monitor read the stop signal from this image-config label.
LABEL_STOP_SIGNAL = "io.containerd.image.config.stop-signal"

# --------------------------------------------------------------------------- containerd_container

# Labels we own (identity) or containerd owns (restart monitor): not part of the user's `labels`.
_MANAGED_LABEL_PREFIXES = (LABEL_PREFIX, "containerd.io/restart.", LABEL_STOP_SIGNAL)


def user_labels(labels: Mapping[str, str]) -> Dict[str, str]:
    return {key: value for key, value in labels.items() if not key.startswith(_MANAGED_LABEL_PREFIXES)}


# _oci_spec's option names -> this module's, for error messages.
_SPEC_OPTION_NAMES = {
    "args": "command",
    "cwd": "working_dir",
    "namespaces": "network",
    "cap_add": "capabilities",
    "readonly_rootfs": "read_only",
}


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
        if self.state in ("started", "present") and not self.image:
            raise OptionError("image", f"state {self.state} needs image, the reference to run")
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
        self.network = params.get("network") or "none"
        self.cni_config: Dict[str, Any] = {}
        self.cni_bin_dirs = list(params.get("cni_bin_dirs") or DEFAULT_CNI_BIN_DIRS)
        if self.network != "cni" and params.get("cni_network"):
            raise OptionError("cni_network", "is only used with network: cni; set network: cni or drop cni_network")
        self.ports = parse_published_ports(params.get("published_ports"))
        if self.ports and self.network != "cni":
            raise OptionError(
                "published_ports",
                f"network {self.network} cannot publish ports: "
                + (
                    "the container shares the host's network, so its ports are the host's already"
                    if self.network == "host"
                    else "the container has only loopback; use network: cni (CNI's portmap publishes them)"
                ),
            )
        self.dns = validate_dns(params)
        if self.network == "host" and any(value is not None for value in self.dns.values()):
            given = sorted(key for key, value in self.dns.items() if value is not None)
            raise OptionError(given[0], "network host uses the host's resolv.conf and hosts; drop it or use cni/none")
        self.hostname = container_hostname(self.name, params.get("hostname"))
        self.healthcheck = parse_healthcheck(params.get("healthcheck"))
        self.log_driver = params.get("log_driver") or default_log_driver()
        self.log_options = validate_log_options(self.log_driver, params.get("log_options"), parse_bytes)
        self.state_dir = container_state_dir(namespace, self.name)
        self.runtime_name = params.get("runtime") or RUNC_SHIM
        self.runtime = Runtime(self.runtime_name, self.runtime_name, None)
        self.cgroup_driver = "cgroupfs"
        if self.state != "absent" and self.network == "cni":
            conf_dir = params.get("cni_conf_dir") or DEFAULT_CNI_CONF_DIR
            self.cni_config = load_cni_network(conf_dir, params.get("cni_network"))
            CniNetwork(self.cni_config, self.cni_bin_dirs, self.ports).check_ports()
        if self.state != "absent":
            self.runtime = resolve_runtime(self.runtime_name)
            self.cgroup_driver = cached_cgroup_driver() if self.runtime.shim == RUNC_SHIM else "cgroupfs"
            self._validate_mount_sources()
            # Every spec option is checked now, before any pull: an image config with a command stands in.
            self.build(namespace, {"Cmd": ["/bin/true"]})

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
            "hostname": None if self.network == "host" else self.hostname,
            "mounts": self.mounts(),
            "memory": params.get("memory"),
            "cpus": params.get("cpus"),
            "pids_limit": params.get("pids_limit"),
            "rootfs_path": "rootfs",
            "cgroups_path": self.cgroups_path(namespace),
            # docker's names: capabilities are added to the default set, cap_drop taken from it.
            "cap_add": params.get("capabilities"),
            "cap_drop": params.get("cap_drop"),
            "privileged": params.get("privileged"),
            "devices": params.get("devices"),
            "readonly_rootfs": params.get("read_only"),
            "tmpfs": params.get("tmpfs"),
            "sysctls": params.get("sysctls"),
            "ulimits": params.get("ulimits"),
            "seccomp_profile": params.get("seccomp_profile"),
            "apparmor_profile": params.get("apparmor_profile"),
            "no_new_privileges": params.get("no_new_privileges"),
            "shm_size": params.get("shm_size"),
        }
        annotations = {}
        if any(value is not None for value in self.dns.values()):
            # In the spec, so that a change of them changes its digest (and recreates the container).
            annotations[LABEL_PREFIX + "dns"] = json.dumps(self.dns, sort_keys=True)
        if self.healthcheck is not None:
            annotations[HEALTH_ANNOTATION] = json.dumps(self.healthcheck, sort_keys=True)
        if annotations:
            options["annotations"] = annotations
        # A cgroup namespace of its own: the spec mounts /sys/fs/cgroup, and on a cgroup v1 host whose
        # containerd itself runs in a container (a nested host) the host's cgroup paths cannot be
        # mounted ("stat /sys/fs/default/<name>: no such file"). Private is also dockerd's v2 default.
        namespaces: List[Dict[str, str]] = [{"type": ns} for ns in ("pid", "ipc", "uts", "mount", "cgroup")]
        network = self.network
        if network == "cni":
            namespaces.append({"type": "network", "path": os.path.join(NETNS_DIR, netns_name(namespace, self.name))})
        elif network != "host":
            namespaces.append({"type": "network"})
        options["namespaces"] = namespaces
        return options

    def cgroups_path(self, namespace: str) -> str:
        if self.cgroup_driver == "systemd":
            # runc's systemd driver: slice:prefix:name -> a transient scope <prefix>-<name>.scope in the slice.
            return f"system.slice:ocistack-{namespace}:{self.name}"
        return f"/{namespace}/{self.name}"

    def needs_runtime_options(self) -> bool:
        """ctr passes a runc binary or the systemd cgroup driver to the shim only with ``ctr run``."""
        return self.runtime.binary is not None or self.cgroup_driver == "systemd"

    def etc_file_mounts(self) -> List[Dict[str, Any]]:
        """resolv.conf, hosts and hostname: the container's own (its state dir), or the host's with network host."""
        if self.network == "host":
            return [
                {"type": "bind", "source": path, "target": path, "options": ["rbind", "ro"]}
                for path in ("/etc/resolv.conf", "/etc/hosts")
                if os.path.exists(path)
            ]
        return [
            {
                "type": "bind",
                "source": os.path.join(self.state_dir, name),
                "target": f"/etc/{name}",
                "options": ["rbind"],
            }
            for name in ETC_FILES
        ]

    def mounts(self) -> List[Dict[str, Any]]:
        given = list(self.params.get("mounts") or [])
        taken = {mount.get("target") for mount in given}
        return [mount for mount in self.etc_file_mounts() if mount["target"] not in taken] + given

    def log_uri(self) -> Optional[str]:
        if self.log_driver == "none":
            return None
        return log_uri(LOG_DRIVER, self.log_driver, self.log_options)

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
        uri = self.log_uri()
        if uri:
            # The restart monitor starts the task again with this log URI (else with no IO at all).
            labels[LABEL_RESTART_LOGURI] = uri
        return labels


ETC_FILES = ("resolv.conf", "hosts", "hostname")


def container_state_dir(namespace: str, name: str) -> str:
    return os.path.join(STATE_ROOT, namespace, name)


def default_log_driver() -> str:
    """journald where journald listens (systemd hosts), else one file per container."""
    return "journald" if os.path.exists(JOURNAL_SOCKET) else "file"


@lru_cache(maxsize=1)
def cached_cgroup_driver() -> str:
    # One read of containerd's config per module run, however many containers.
    return cgroup_driver()


def status_of(task: Optional[Mapping[str, Any]], labels: Optional[Mapping[str, str]] = None) -> str:
    if not task:
        # containerd's restart monitor deletes the task of a container held stopped, so a
        # stopped container may have none: the label, not the missing task, says which it is.
        return "stopped" if (labels or {}).get(LABEL_RESTART_STATUS) == "stopped" else "created"
    status = task.get("status")
    return "running" if status in ("running", "pausing", "paused") else "stopped" if status == "stopped" else "created"


def actual_identity(info: Mapping[str, Any]) -> Dict[str, Any]:
    labels = info["labels"]
    return {
        "image": labels.get(LABEL_IMAGE, info.get("image")),
        "image_digest": labels.get(LABEL_IMAGE_DIGEST),
        "spec_digest": labels.get(LABEL_SPEC_DIGEST),
        "runtime": labels.get(LABEL_RUNTIME, info.get("runtime")),
        "labels": user_labels(labels),
        "restart_policy": labels.get(LABEL_RESTART_POLICY, "no"),
        "stop_signal": labels.get(LABEL_STOP_SIGNAL),
        "stop_timeout": labels.get(LABEL_STOP_TIMEOUT),
        "network": labels.get(LABEL_NETWORK, "none"),
        "published_ports": [port for port in labels.get(LABEL_PORTS, "").split(",") if port],
        "log": labels.get(LABEL_LOG, "none"),
    }


def spec_without_rootfs(spec: Mapping[str, Any]) -> Dict[str, Any]:
    """The stored spec minus the snapshot mount we add at ``/`` (what build_spec produced)."""
    copy = json.loads(json.dumps(spec))
    copy["mounts"] = [mount for mount in copy.get("mounts") or [] if mount.get("destination") != "/"]
    return copy
