# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The security half of the OCI spec builder: capabilities, seccomp, AppArmor, devices, sysctls, rlimits.

Called by _oci_spec.build_spec only, so oci_bundle and containerd containers get the same defaults
and the same validation. The defaults are what docker and podman give a container: docker's 14
capabilities, a seccomp filter refusing the syscalls docker's default profile refuses (each given
back where docker gives it back, with the capability that makes it safe), and an AppArmor profile
where the host has AppArmor. ``privileged`` drops all of that.
"""

from __future__ import annotations

import json
import os
import re
import stat
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.ocistack.engine.plugins.module_utils._errors import OptionError

__all__ = [
    "DEFAULT_APPARMOR_PROFILE",
    "DOCKER_DEFAULT_CAPABILITIES",
    "HOST_WIDE_SYSCTL_HINT",
    "apparmor_enabled",
    "default_seccomp_profile",
    "parse_devices",
    "parse_tmpfs",
    "parse_ulimits",
    "resolve_capabilities",
    "seccomp_profile",
    "validate_sysctls",
]

DOCKER_DEFAULT_CAPABILITIES = (
    "CAP_AUDIT_WRITE",
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_MKNOD",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_RAW",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
)
DEFAULT_APPARMOR_PROFILE = "ocistack-default"
HOST_WIDE_SYSCTL_HINT = (
    "only namespaced sysctls can be set per container: kernel.msgmax, kernel.msgmnb, kernel.msgmni, kernel.sem, "
    "kernel.shmall, kernel.shmmax, kernel.shmmni, kernel.shm_rmid_forced, fs.mqueue.*, and net.* with a network "
    "of its own"
)
_IPC_SYSCTLS = frozenset(
    ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax")
    + ("kernel.shmmni", "kernel.shm_rmid_forced")
)
_SYSCTL_RE = re.compile(r"^[a-z0-9_]+(\.[A-Za-z0-9_-]+)+$")
_RLIMITS = ("as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss",
            "rtprio", "rttime", "sigpending", "stack")  # fmt: skip

# What docker's default profile refuses, and the capability under which it allows the call again.
_REFUSED_SYSCALLS: Dict[str, Optional[str]] = {
    "acct": "CAP_SYS_PACCT",
    "add_key": None,
    "bpf": "CAP_SYS_ADMIN",
    "clock_adjtime": "CAP_SYS_TIME",
    "clock_settime": "CAP_SYS_TIME",
    "create_module": "CAP_SYS_MODULE",
    "delete_module": "CAP_SYS_MODULE",
    "finit_module": "CAP_SYS_MODULE",
    "get_kernel_syms": "CAP_SYS_MODULE",
    "get_mempolicy": "CAP_SYS_NICE",
    "init_module": "CAP_SYS_MODULE",
    "ioperm": "CAP_SYS_RAWIO",
    "iopl": "CAP_SYS_RAWIO",
    "kcmp": "CAP_SYS_PTRACE",
    "kexec_file_load": "CAP_SYS_BOOT",
    "kexec_load": "CAP_SYS_BOOT",
    "keyctl": None,
    "lookup_dcookie": "CAP_SYS_ADMIN",
    "mbind": "CAP_SYS_NICE",
    "mount": "CAP_SYS_ADMIN",
    "move_pages": "CAP_SYS_NICE",
    "name_to_handle_at": "CAP_SYS_ADMIN",
    "nfsservctl": None,
    "open_by_handle_at": "CAP_DAC_READ_SEARCH",
    "perf_event_open": "CAP_PERFMON",
    "pivot_root": "CAP_SYS_ADMIN",
    "process_vm_readv": "CAP_SYS_PTRACE",
    "process_vm_writev": "CAP_SYS_PTRACE",
    "ptrace": "CAP_SYS_PTRACE",
    "query_module": "CAP_SYS_MODULE",
    "quotactl": "CAP_SYS_ADMIN",
    "reboot": "CAP_SYS_BOOT",
    "request_key": None,
    "set_mempolicy": "CAP_SYS_NICE",
    "setns": "CAP_SYS_ADMIN",
    "settimeofday": "CAP_SYS_TIME",
    "stime": "CAP_SYS_TIME",
    "swapoff": "CAP_SYS_ADMIN",
    "swapon": "CAP_SYS_ADMIN",
    "sysfs": None,
    "_sysctl": None,
    "umount": "CAP_SYS_ADMIN",
    "umount2": "CAP_SYS_ADMIN",
    "unshare": "CAP_SYS_ADMIN",
    "uselib": None,
    "userfaultfd": None,
    "ustat": None,
    "vm86": None,
    "vm86old": None,
}
# clone() with a namespace flag is refused without CAP_SYS_ADMIN (one rule per flag: a rule's
# argument checks are all required, and seccomp has no "masked not equal").
_CLONE_NAMESPACE_FLAGS = (0x00020000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000, 0x02000000)
_EPERM, _ENOSYS = 1, 38
_ARCHITECTURES = {
    "x86_64": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "aarch64": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
}


def _string_list(value: Any, option: str) -> List[str]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise OptionError(option, f"expected a list of strings, got {type(value).__name__}")
    return [str(item) for item in value]


def resolve_capabilities(
    base: Sequence[str], added: Sequence[str], dropped: Sequence[str], known: Sequence[str], normalize: Any
) -> List[str]:
    """``base`` + ``added`` - ``dropped`` (``ALL`` allowed in both), sorted; unknown names raise."""
    result = set(base)
    added_names = _string_list(added, "cap_add")
    dropped_names = _string_list(dropped, "cap_drop")
    if any(name.upper() == "ALL" for name in dropped_names):
        result = set()
    else:
        result -= {normalize(name, "cap_drop") for name in dropped_names}
    if any(name.upper() == "ALL" for name in added_names):
        result |= set(known)
    else:
        result |= {normalize(name, "cap_add") for name in added_names}
    return sorted(result)


def _architectures() -> List[str]:
    return _ARCHITECTURES.get(os.uname().machine, _ARCHITECTURES["x86_64"])


def default_seccomp_profile(capabilities: Sequence[str]) -> Dict[str, Any]:
    """The default filter: everything allowed but what docker's default profile refuses.

    A refused call is given back when the container holds the capability that docker gives it back with.
    """
    held = set(capabilities)
    refused = sorted(name for name, cap in _REFUSED_SYSCALLS.items() if cap is None or cap not in held)
    syscalls: List[Dict[str, Any]] = [{"names": refused, "action": "SCMP_ACT_ERRNO", "errnoRet": _EPERM}]
    if "CAP_SYS_ADMIN" not in held:
        for flag in _CLONE_NAMESPACE_FLAGS:
            syscalls.append(
                {
                    "names": ["clone"],
                    "action": "SCMP_ACT_ERRNO",
                    "errnoRet": _EPERM,
                    "args": [{"index": 0, "value": flag, "valueTwo": flag, "op": "SCMP_CMP_MASKED_EQ"}],
                }
            )
        # clone3 passes its flags in memory seccomp cannot read: refused as "not implemented", so
        # libc falls back to clone(), which the rules above check.
        syscalls.append({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": _ENOSYS})
    return {"defaultAction": "SCMP_ACT_ALLOW", "architectures": _architectures(), "syscalls": syscalls}


def seccomp_profile(value: Optional[str], capabilities: Sequence[str]) -> Optional[Dict[str, Any]]:
    """``default`` (None), ``unconfined`` or the path of a JSON profile on the host -> the spec's linux.seccomp."""
    if value in (None, "", "default"):
        return default_seccomp_profile(capabilities)
    if value == "unconfined":
        return None
    path = str(value)
    if not path.startswith("/"):
        raise OptionError("seccomp_profile", f"{path!r} is neither default, unconfined nor an absolute path")
    try:
        with open(path) as handle:
            profile = json.load(handle)
    except OSError as error:
        raise OptionError(
            "seccomp_profile", f"cannot read {path} ({error.strerror}); give a JSON profile on the host"
        ) from None
    except ValueError as error:
        raise OptionError("seccomp_profile", f"{path} is not JSON ({error})") from None
    if not isinstance(profile, dict) or "defaultAction" not in profile:
        raise OptionError("seccomp_profile", f"{path} is not a seccomp profile (no defaultAction)")
    return profile


def apparmor_enabled() -> bool:
    try:
        with open("/sys/module/apparmor/parameters/enabled") as handle:
            return handle.read().strip() == "Y"
    except OSError:
        return False


def validate_sysctls(sysctls: Optional[Mapping[str, Any]], own_network: bool) -> Dict[str, str]:
    result: Dict[str, str] = {}
    for raw_key, value in (sysctls or {}).items():
        key = str(raw_key).replace("/", ".")
        if not _SYSCTL_RE.match(key):
            raise OptionError(
                "sysctls", f"{raw_key!r} is not a sysctl name such as net.ipv4.ip_unprivileged_port_start"
            )
        namespaced = key in _IPC_SYSCTLS or key.startswith("fs.mqueue.") or key.startswith("net.")
        if not namespaced:
            raise OptionError("sysctls", f"{key} is host-wide; {HOST_WIDE_SYSCTL_HINT}")
        if key.startswith("net.") and not own_network:
            raise OptionError("sysctls", f"{key} would change the host's network; it needs a network of its own")
        if isinstance(value, (dict, list)) or value is None:
            raise OptionError("sysctls", f"{key}: give the value as a string or number")
        result[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return dict(sorted(result.items()))


def parse_ulimits(values: Optional[Sequence[Any]]) -> List[Dict[str, Any]]:
    """``["nofile:1024:2048", "nproc:64"]`` -> OCI rlimits (hard defaults to soft)."""
    limits: Dict[str, Dict[str, Any]] = {}
    for value in values or []:
        parts = str(value).strip().split(":")
        name = parts[0].lower()
        if name not in _RLIMITS or len(parts) not in (2, 3):
            raise OptionError(
                "ulimits",
                f"{value!r} is not name:soft[:hard] with a name of {', '.join(_RLIMITS)} (e.g. nofile:1024:2048)",
            )
        try:
            numbers = [-1 if part in ("-1", "unlimited") else int(part) for part in parts[1:]]
        except ValueError:
            raise OptionError("ulimits", f"{value!r}: soft and hard must be numbers (or unlimited)") from None
        soft, hard = numbers[0], numbers[-1]
        as_max = [2**64 - 1 if number < 0 else number for number in (soft, hard)]
        if as_max[0] > as_max[1]:
            raise OptionError("ulimits", f"{value!r}: the soft limit is above the hard one")
        limits[name] = {"type": f"RLIMIT_{name.upper()}", "soft": as_max[0], "hard": as_max[1]}
    return [limits[name] for name in sorted(limits)]


def parse_tmpfs(values: Optional[Sequence[Any]]) -> List[Dict[str, Any]]:
    """``["/run", "/tmp:size=64m,mode=1777"]`` -> tmpfs mounts (nosuid, nodev, noexec unless told otherwise)."""
    mounts = []
    for value in values or []:
        path, _sep, options = str(value).partition(":")
        if not path.startswith("/"):
            raise OptionError("tmpfs", f"{value!r}: the path must be absolute, e.g. /run:size=16m")
        given = [option for option in options.split(",") if option]
        defaults = [flag for flag in ("nosuid", "nodev", "noexec") if flag not in given and f"no{flag}" not in given]
        mount_options = defaults + [option for option in given if option not in ("exec", "dev", "suid")]
        if "exec" in given:
            mount_options = [option for option in mount_options if option != "noexec"]
        mounts.append({"destination": path, "type": "tmpfs", "source": "tmpfs", "options": mount_options})
    return mounts


_DEVICE_ACCESS_RE = re.compile(r"^[rwm]{1,3}$")


def parse_devices(values: Optional[Sequence[Any]]) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """``["/dev/fuse", "/dev/sda:/dev/xvda:r"]`` -> (linux.devices, resources.devices allow rules).

    The host's device node gives type, major and minor; it must exist.
    """
    devices, rules = [], []
    for value in values or []:
        parts = str(value).split(":")
        if not 1 <= len(parts) <= 3 or not parts[0].startswith("/dev/"):
            raise OptionError("devices", f"{value!r} is not /dev/<host>[:/dev/<container>[:rwm]]")
        host = parts[0]
        container = parts[1] if len(parts) > 1 and parts[1] else host
        access = parts[2] if len(parts) > 2 else "rwm"
        if len(parts) == 2 and _DEVICE_ACCESS_RE.match(parts[1]):
            container, access = host, parts[1]
        if not container.startswith("/dev/") or not _DEVICE_ACCESS_RE.match(access):
            raise OptionError("devices", f"{value!r} is not /dev/<host>[:/dev/<container>[:rwm]]")
        try:
            info = os.stat(host)
        except OSError:
            raise OptionError("devices", f"{host} does not exist on the host") from None
        if stat.S_ISCHR(info.st_mode):
            kind = "c"
        elif stat.S_ISBLK(info.st_mode):
            kind = "b"
        else:
            raise OptionError("devices", f"{host} is not a device node")
        major, minor = os.major(info.st_rdev), os.minor(info.st_rdev)
        devices.append(
            {
                "path": container,
                "type": kind,
                "major": major,
                "minor": minor,
                "fileMode": info.st_mode & 0o777,
                "uid": 0,
                "gid": 0,
            }  # fmt: skip
        )
        rules.append({"allow": True, "type": kind, "major": major, "minor": minor, "access": access})
    return devices, rules
