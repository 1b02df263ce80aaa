# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one OCI runtime spec builder: module options (+ image config defaults) -> config.json.

Used by oci_bundle (runc bundles) and containerd_container alike, so an option such as
``memory: 64m`` means the same bytes everywhere. The output is deterministic: the same
options give the same dict, and ``spec_digest`` of it is stable.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import stat
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ansible_collections.ocistack.engine.plugins.module_utils._compare import env_to_dict, env_to_list
from ansible_collections.ocistack.engine.plugins.module_utils._errors import OptionError
from ansible_collections.ocistack.engine.plugins.module_utils._oci_security import (
    DEFAULT_APPARMOR_PROFILE,
    DOCKER_DEFAULT_CAPABILITIES,
    apparmor_enabled,
    parse_devices,
    parse_tmpfs,
    parse_ulimits,
    resolve_capabilities,
    seccomp_profile,
    validate_sysctls,
)
from ansible_collections.ocistack.engine.plugins.module_utils._units import cpus_to_quota, parse_bytes, parse_cpus

__all__ = [
    "DEFAULT_CAPABILITIES",
    "DEFAULT_MASKED_PATHS",
    "DEFAULT_NAMESPACES",
    "DEFAULT_PATH",
    "DEFAULT_READONLY_PATHS",
    "KNOWN_CAPABILITIES",
    "MIN_MEMORY",
    "NAMESPACE_TYPES",
    "OCI_VERSION",
    "SPEC_OPTION_KEYS",
    "build_spec",
    "dump_spec",
    "normalize_capability",
    "parse_user",
    "spec_digest",
]

OCI_VERSION = "1.0.2"
# runc refuses a memory limit this low or lower would not let a process start anyway.
MIN_MEMORY = 6 * 1024 * 1024
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
NAMESPACE_TYPES = ("pid", "network", "ipc", "uts", "mount", "user", "cgroup")
DEFAULT_NAMESPACES = ("pid", "ipc", "uts", "mount", "network")
# docker's and podman's default set; `capabilities` replaces it, `cap_add` / `cap_drop` change it.
DEFAULT_CAPABILITIES = DOCKER_DEFAULT_CAPABILITIES
DEFAULT_MASKED_PATHS = (
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
)
DEFAULT_READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")
# Linux capabilities up to 6.x (capability.h); a name outside this list is a typo.
_CAPABILITY_NAMES = """
CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP LINUX_IMMUTABLE NET_BIND_SERVICE
NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN
SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE
MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF CHECKPOINT_RESTORE
"""
KNOWN_CAPABILITIES = frozenset("CAP_" + name for name in _CAPABILITY_NAMES.split())
SPEC_OPTION_KEYS = (
    "args",
    "env",
    "cwd",
    "user",
    "hostname",
    "readonly_rootfs",
    "mounts",
    "namespaces",
    "memory",
    "cpus",
    "cpu_shares",
    "pids_limit",
    "capabilities",
    "no_new_privileges",
    "masked_paths",
    "readonly_paths",
    "annotations",
    "rootfs_path",
    "cgroups_path",
    "cap_add",
    "cap_drop",
    "privileged",
    "devices",
    "tmpfs",
    "sysctls",
    "ulimits",
    "seccomp_profile",
    "apparmor_profile",
    "shm_size",
)
_MOUNT_KEYS = ("type", "source", "target", "options")
_HOSTNAME_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?"
_HOSTNAME_RE = re.compile(rf"^(?=.{{1,64}}$){_HOSTNAME_LABEL}(\.{_HOSTNAME_LABEL})*$")
_NUMERIC_USER_RE = re.compile(r"^\s*(\d+)(?::(\d+))?\s*$")


def _default_mounts() -> List[Dict[str, Any]]:
    # The filesystems every Linux container expects; cgroup and sysfs read-only.
    return [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {
            "destination": "/dev",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
        },
        {
            "destination": "/dev/pts",
            "type": "devpts",
            "source": "devpts",
            "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
        },
        {
            "destination": "/dev/shm",
            "type": "tmpfs",
            "source": "shm",
            "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        },
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
        {
            "destination": "/sys/fs/cgroup",
            "type": "cgroup",
            "source": "cgroup",
            "options": ["nosuid", "noexec", "nodev", "relatime", "ro"],
        },
    ]


def parse_user(value: Any, option: str = "user") -> Tuple[int, int]:
    """``"uid"``, ``"uid:gid"`` or an int -> ``(uid, gid)``; gid defaults to 0. Names are refused."""
    if isinstance(value, bool):
        raise OptionError(option, f"expected a numeric uid or uid:gid, got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise OptionError(option, f"uid {value} is negative; use a numeric uid:gid such as 1000:1000")
        return value, 0
    match = _NUMERIC_USER_RE.match(str(value))
    if not match:
        raise OptionError(
            option,
            f"{value!r} is not numeric; user names cannot be resolved without the container's /etc/passwd, "
            "so use a numeric uid:gid such as 65534:65534",
        )
    return int(match.group(1)), int(match.group(2) or 0)


def normalize_capability(name: Any, option: str = "capabilities") -> str:
    """``"net_admin"`` / ``"CAP_NET_ADMIN"`` -> ``"CAP_NET_ADMIN"``; unknown names raise OptionError."""
    text = str(name).strip().upper()
    if not text.startswith("CAP_"):
        text = "CAP_" + text
    if text not in KNOWN_CAPABILITIES:
        raise OptionError(option, f"unknown capability {name!r}; use names such as CAP_NET_ADMIN or NET_ADMIN")
    return text


def _given(options: Mapping[str, Any], key: str) -> bool:
    # A module passes every option; None means "not set by the user".
    return options.get(key) is not None


def _string_list(value: Any, option: str, allow_empty: bool = True) -> List[str]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise OptionError(option, f"expected a list of strings, got {type(value).__name__}")
    result = []
    for item in value:
        if item is None or isinstance(item, (dict, list, bool)):
            raise OptionError(option, f"expected a list of strings, found {item!r}")
        result.append(str(item))
    if not allow_empty and not result:
        raise OptionError(option, "must not be empty")
    return result


def _absolute(value: Any, option: str, what: str = "path") -> str:
    text = str(value)
    if not text.startswith("/"):
        raise OptionError(option, f"{what} {text!r} must be absolute (start with /)")
    return text


def _process_args(options: Mapping[str, Any], image: Mapping[str, Any]) -> List[str]:
    if _given(options, "args"):
        return _string_list(options["args"], "args", allow_empty=False)
    args = list(image.get("Entrypoint") or []) + list(image.get("Cmd") or [])
    if not args:
        raise OptionError("args", "no command to run: the image defines no Entrypoint or Cmd, so set args")
    return [str(arg) for arg in args]


def _process_env(options: Mapping[str, Any], image: Mapping[str, Any]) -> List[str]:
    env = env_to_dict(image.get("Env") or []) or {}
    if _given(options, "env"):
        given = options["env"]
        if not isinstance(given, Mapping):
            raise OptionError("env", f"expected a dict of NAME: value, got {type(given).__name__}")
        for raw_name, value in given.items():
            name = str(raw_name)
            if not name or "=" in name:
                raise OptionError("env", f"{name!r} is not a valid variable name (empty or contains '=')")
            if value is None:
                # null removes a variable the image sets
                env.pop(name, None)
            elif isinstance(value, (bool, dict, list)):
                raise OptionError("env", f"{name}: quote the value so it is a string (got {value!r})")
            else:
                env[name] = str(value)
    env.setdefault("PATH", DEFAULT_PATH)
    return env_to_list(env)


def _mounts(options: Mapping[str, Any]) -> List[Dict[str, Any]]:
    mounts = _default_mounts()
    if not _given(options, "mounts"):
        return mounts
    given = options["mounts"]
    if not isinstance(given, (list, tuple)):
        raise OptionError("mounts", "expected a list of dicts with type, source, target, options")
    extra: List[Dict[str, Any]] = []
    for index, entry in enumerate(given):
        where = f"mounts[{index}]"
        if not isinstance(entry, Mapping):
            raise OptionError("mounts", f"{where} must be a dict with type, source, target, options")
        unknown = sorted(set(entry) - set(_MOUNT_KEYS))
        if unknown:
            raise OptionError("mounts", f"{where} has unknown keys {unknown}; use {list(_MOUNT_KEYS)}")
        if not entry.get("target"):
            raise OptionError("mounts", f"{where} needs a target (the path inside the container)")
        target = _absolute(entry["target"], "mounts", f"{where}.target")
        mount_type = str(entry.get("type") or "bind")
        mount_options = _string_list(entry.get("options") or [], "mounts")
        source = entry.get("source")
        if mount_type == "bind":
            if not source:
                raise OptionError("mounts", f"{where} is a bind mount and needs a source path on the host")
            source = _absolute(source, "mounts", f"{where}.source")
            if "bind" not in mount_options and "rbind" not in mount_options:
                # runc only bind-mounts when told so in the options
                mount_options = ["rbind", *mount_options]
        mount: Dict[str, Any] = {"destination": target, "type": mount_type, "source": str(source or mount_type)}
        if mount_options:
            mount["options"] = mount_options
        extra.append(mount)
    # A user mount on a default target replaces the default.
    overridden = {mount["destination"] for mount in extra}
    return [mount for mount in mounts if mount["destination"] not in overridden] + extra


def _namespaces(options: Mapping[str, Any]) -> List[Dict[str, str]]:
    if not _given(options, "namespaces"):
        return [{"type": ns} for ns in DEFAULT_NAMESPACES]
    given = options["namespaces"]
    if not isinstance(given, (list, tuple)):
        raise OptionError("namespaces", "expected a list of dicts with type and optional path")
    result: List[Dict[str, str]] = []
    seen = set()
    for index, raw_entry in enumerate(given):
        entry = {"type": raw_entry} if isinstance(raw_entry, str) else raw_entry
        if not isinstance(entry, Mapping):
            raise OptionError("namespaces", f"namespaces[{index}] must be a dict with type and optional path")
        unknown = sorted(set(entry) - {"type", "path"})
        if unknown:
            raise OptionError("namespaces", f"namespaces[{index}] has unknown keys {unknown}; use type and path")
        ns_type = str(entry.get("type") or "")
        if ns_type not in NAMESPACE_TYPES:
            raise OptionError(
                "namespaces", f"unknown namespace type {ns_type!r}; choose from {', '.join(NAMESPACE_TYPES)}"
            )
        if ns_type in seen:
            raise OptionError("namespaces", f"namespace type {ns_type!r} is listed twice")
        seen.add(ns_type)
        namespace = {"type": ns_type}
        if entry.get("path"):
            namespace["path"] = _absolute(entry["path"], "namespaces", f"{ns_type} namespace path")
        elif ns_type == "user":
            raise OptionError(
                "namespaces",
                "a new user namespace needs uid/gid mappings, which are not supported; "
                "give the path of an existing user namespace to join, or leave user out",
            )
        result.append(namespace)
    return result


def _resources(options: Mapping[str, Any]) -> Dict[str, Any]:
    # Deny every device; runc adds the standard safe ones (null, zero, tty, ...) itself.
    resources: Dict[str, Any] = {"devices": [{"allow": False, "access": "rwm"}]}
    if _given(options, "memory"):
        memory = parse_bytes(options["memory"], "memory")
        if memory < MIN_MEMORY:
            raise OptionError("memory", f"{options['memory']!r} is below the minimum of 6m (6 MiB); give at least 6m")
        resources["memory"] = {"limit": memory}
    cpu: Dict[str, Any] = {}
    if _given(options, "cpus"):
        quota, period = cpus_to_quota(parse_cpus(options["cpus"], "cpus"))
        cpu.update(quota=quota, period=period)
    if _given(options, "cpu_shares"):
        shares = _integer(options["cpu_shares"], "cpu_shares")
        if not 2 <= shares <= 262144:
            raise OptionError("cpu_shares", f"{shares} is out of range; give 2 to 262144 (1024 is the default weight)")
        cpu["shares"] = shares
    if cpu:
        resources["cpu"] = cpu
    if _given(options, "pids_limit"):
        pids = _integer(options["pids_limit"], "pids_limit")
        if pids < 1:
            raise OptionError("pids_limit", f"{pids} is too small; give 1 or more (leave it unset for no limit)")
        resources["pids"] = {"limit": pids}
    return resources


def _integer(value: Any, option: str) -> int:
    if isinstance(value, bool):
        raise OptionError(option, f"expected an integer, got {value!r}")
    try:
        return int(str(value).strip())
    except ValueError:
        raise OptionError(option, f"expected an integer, got {value!r}") from None


def _capabilities(options: Mapping[str, Any], privileged: bool) -> List[str]:
    if privileged:
        return sorted(_kernel_capabilities())
    if _given(options, "capabilities"):
        base = sorted({normalize_capability(name) for name in _string_list(options["capabilities"], "capabilities")})
    else:
        base = sorted(DEFAULT_CAPABILITIES)
    return resolve_capabilities(
        base,
        options.get("cap_add") or [],
        options.get("cap_drop") or [],
        sorted(_kernel_capabilities()),
        normalize_capability,
    )


# Capability numbers as capability.h has them, for the kernel's cap_last_cap.
_CAPABILITY_ORDER = _CAPABILITY_NAMES.split()


def _kernel_capabilities() -> List[str]:
    """Every capability this host can grant: the kernel's, within this process's bounding set.

    A privileged container gets them all; runc refuses one the kernel lacks, and one outside the
    bounding set (a host that is itself a container) cannot be given.
    """
    try:
        with open("/proc/sys/kernel/cap_last_cap") as handle:
            last = int(handle.read().strip())
    except (OSError, ValueError):
        last = len(_CAPABILITY_ORDER) - 1
    bounding = (1 << (last + 1)) - 1
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("CapBnd:"):
                    bounding = int(line.split()[1], 16)
    except (OSError, ValueError):
        pass
    return ["CAP_" + name for bit, name in enumerate(_CAPABILITY_ORDER[: last + 1]) if bounding >> bit & 1]


def _host_devices() -> List[Dict[str, Any]]:
    """The host's device nodes (a privileged container sees them all), as linux.devices entries."""
    found = []
    for directory, subdirectories, files in os.walk("/dev"):
        subdirectories[:] = [name for name in subdirectories if name not in ("pts", "shm", "mqueue", "fd")]
        for name in files:
            path = os.path.join(directory, name)
            try:
                info = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode):
                found.append(
                    {
                        "path": path,
                        "type": "c" if stat.S_ISCHR(info.st_mode) else "b",
                        "major": os.major(info.st_rdev),
                        "minor": os.minor(info.st_rdev),
                        "fileMode": info.st_mode & 0o777,
                        "uid": info.st_uid,
                        "gid": info.st_gid,
                    }  # fmt: skip
                )
    return sorted(found, key=lambda device: device["path"])


def _path_list(options: Mapping[str, Any], key: str, default: Tuple[str, ...]) -> List[str]:
    if not _given(options, key):
        return list(default)
    return [_absolute(path, key) for path in _string_list(options[key], key)]


def _bool(options: Mapping[str, Any], key: str, default: bool) -> bool:
    if not _given(options, key):
        return default
    value = options[key]
    if not isinstance(value, bool):
        raise OptionError(key, f"expected true or false, got {value!r}")
    return value


def build_spec(options: Mapping[str, Any], image_config: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """A complete OCI runtime spec (config.json) from ``options`` over ``image_config`` defaults.

    ``options`` keys are those of ``SPEC_OPTION_KEYS``; ``None`` means "not set". ``image_config``
    is the ``config`` object of an OCI image config (Entrypoint, Cmd, Env, WorkingDir, User).
    Raises OptionError naming the option for every bad value.
    """
    unknown = sorted(set(options) - set(SPEC_OPTION_KEYS))
    if unknown:
        # A caller bug, not a user error: pass only spec options.
        raise ValueError(f"build_spec got unknown option keys {unknown}; allowed: {list(SPEC_OPTION_KEYS)}")
    image = dict(image_config or {})

    if _given(options, "user"):
        uid, gid = parse_user(options["user"], "user")
    elif image.get("User"):
        try:
            uid, gid = parse_user(image["User"], "user")
        except OptionError:
            raise OptionError(
                "user", f"the image runs as {image['User']!r}, which is not numeric; set user to a numeric uid:gid"
            ) from None
    else:
        uid, gid = 0, 0

    cwd = _absolute(options["cwd"] if _given(options, "cwd") else image.get("WorkingDir") or "/", "cwd", "working dir")
    privileged = _bool(options, "privileged", False)
    capabilities = _capabilities(options, privileged)
    namespaces = _namespaces(options)
    own_network = any(ns["type"] == "network" for ns in namespaces)

    spec: Dict[str, Any] = {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": False,
            "user": {"uid": uid, "gid": gid},
            "args": _process_args(options, image),
            "env": _process_env(options, image),
            "cwd": cwd,
            "capabilities": {
                "bounding": list(capabilities),
                "effective": list(capabilities),
                "permitted": list(capabilities),
                "ambient": [],
            },
            "rlimits": _rlimits(options),
            "noNewPrivileges": _bool(options, "no_new_privileges", True),
        },
        "root": {
            "path": str(options["rootfs_path"]) if _given(options, "rootfs_path") else "rootfs",
            "readonly": _bool(options, "readonly_rootfs", False),
        },
        "mounts": _mounts(options),
        "linux": {
            "resources": _resources(options),
            "namespaces": namespaces,
            "maskedPaths": _path_list(options, "masked_paths", DEFAULT_MASKED_PATHS),
            "readonlyPaths": _path_list(options, "readonly_paths", DEFAULT_READONLY_PATHS),
        },
    }
    if not spec["root"]["path"]:
        raise OptionError("rootfs_path", "must not be empty")

    if _given(options, "hostname"):
        hostname = str(options["hostname"])
        if not _HOSTNAME_RE.match(hostname):
            raise OptionError("hostname", f"{hostname!r} is not a valid host name (letters, digits, '-', '.'; 64 max)")
        if not any(ns["type"] == "uts" and "path" not in ns for ns in namespaces):
            raise OptionError("hostname", "setting a hostname needs a new uts namespace; add type uts to namespaces")
        spec["hostname"] = hostname

    if _given(options, "annotations"):
        annotations = options["annotations"]
        if not isinstance(annotations, Mapping):
            raise OptionError("annotations", f"expected a dict of strings, got {type(annotations).__name__}")
        for key, value in annotations.items():
            if isinstance(value, (dict, list, bool)) or value is None:
                raise OptionError("annotations", f"{key}: the value must be a string (got {value!r})")
        if annotations:
            spec["annotations"] = {str(key): str(value) for key, value in annotations.items()}

    if _given(options, "cgroups_path"):
        spec["linux"]["cgroupsPath"] = str(options["cgroups_path"])
    _apply_security(spec, options, privileged, capabilities, own_network)
    return copy.deepcopy(spec)


def _rlimits(options: Mapping[str, Any]) -> List[Dict[str, Any]]:
    limits = {"RLIMIT_NOFILE": {"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}}
    if _given(options, "ulimits"):
        for limit in parse_ulimits(_string_list(options["ulimits"], "ulimits")):
            limits[limit["type"]] = limit
    return [limits[name] for name in sorted(limits)]


def _apply_security(
    spec: Dict[str, Any], options: Mapping[str, Any], privileged: bool, capabilities: List[str], own_network: bool
) -> None:
    """seccomp, AppArmor, devices, tmpfs, /dev/shm's size and sysctls (privileged: the host's devices, no filters)."""
    linux = spec["linux"]
    mounts = spec["mounts"]
    if _given(options, "seccomp_profile") and privileged and options["seccomp_profile"] not in ("unconfined",):
        raise OptionError("seccomp_profile", "a privileged container runs without seccomp; drop one of the two")
    if privileged:
        linux["maskedPaths"], linux["readonlyPaths"] = [], []
        for mount in mounts:
            if mount["destination"] in ("/sys", "/sys/fs/cgroup"):
                mount["options"] = [option for option in mount.get("options", []) if option != "ro"] + ["rw"]
        linux["devices"] = _host_devices()
        linux["resources"]["devices"] = [{"allow": True, "access": "rwm"}]
    else:
        profile = seccomp_profile(options.get("seccomp_profile"), capabilities)
        if profile is not None:
            linux["seccomp"] = profile
        apparmor = options.get("apparmor_profile")
        if apparmor in (None, "", "default"):
            apparmor = DEFAULT_APPARMOR_PROFILE if apparmor_enabled() else None
        if apparmor and apparmor != "unconfined":
            spec["process"]["apparmorProfile"] = str(apparmor)
    if _given(options, "devices"):
        devices, rules = parse_devices(_string_list(options["devices"], "devices"))
        if not privileged:
            linux["devices"] = devices
            linux["resources"]["devices"] = linux["resources"]["devices"] + rules
    if _given(options, "tmpfs"):
        tmpfs = parse_tmpfs(_string_list(options["tmpfs"], "tmpfs"))
        taken = {mount["destination"] for mount in tmpfs}
        spec["mounts"] = [mount for mount in mounts if mount["destination"] not in taken] + tmpfs
    if _given(options, "shm_size"):
        size = parse_bytes(options["shm_size"], "shm_size")
        for mount in spec["mounts"]:
            if mount["destination"] == "/dev/shm":
                mount["options"] = [option for option in mount["options"] if not option.startswith("size=")]
                mount["options"].append(f"size={size}")
    if _given(options, "sysctls"):
        if not isinstance(options["sysctls"], Mapping):
            raise OptionError("sysctls", "expected a dict of name: value")
        sysctls = validate_sysctls(options["sysctls"], own_network)
        if sysctls:
            linux["sysctl"] = sysctls


def dump_spec(spec: Mapping[str, Any]) -> str:
    """config.json text: sorted keys, two-space indent, trailing newline (stable, diff-friendly)."""
    return json.dumps(spec, sort_keys=True, indent=2) + "\n"


def spec_digest(spec: Mapping[str, Any]) -> str:
    """``"sha256:<hex>"`` of the canonical (sorted, compact) JSON of ``spec``."""
    canonical = json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()
