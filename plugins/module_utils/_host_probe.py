# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""host_probe: answer a role's read-only questions about a host in one call.

A role that asks a host several small questions (is this kernel module loaded, does that file exist,
what does the installed binary say its version is) pays a whole Ansible task for each. Here all of
them are answered by one module run; nothing on the host is changed.
"""

from __future__ import annotations

import fnmatch
import grp
import hashlib
import os
import platform
import pwd
import re
import socket
import stat
import subprocess
from typing import Any, Dict, List, Mapping, Optional, Sequence

from ansible_collections.ocistack.engine.plugins.module_utils._deb_package import (
    Request,
    parse_requests,
    version_matches,
)
from ansible_collections.ocistack.engine.plugins.module_utils._errors import OptionError
from ansible_collections.ocistack.engine.plugins.module_utils._packages import (
    DPKG_ARCH_ARGV,
    DPKG_QUERY_ARGV,
    parse_dpkg_query,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "run_commands",
    "probe_paths",
    "read_files",
    "kernel_modules",
    "sysctl_path",
    "read_sysctls",
    "list_directories",
    "system_facts",
    "package_versions",
    "run",
]

DEFAULT_TIMEOUT = 60
_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")


def _absolute(path: Any, option: str) -> str:
    if not isinstance(path, str) or not path.startswith("/"):
        raise OptionError(option, f"{path!r} is not an absolute path")
    return path


def _unique(values: Sequence[str], option: str) -> None:
    seen = set()
    for value in values:
        if value in seen:
            raise OptionError(option, f"{value!r} is listed twice")
        seen.add(value)


def _command_env() -> Dict[str, str]:
    # Untranslated messages, as Ansible's own command runs have them: roles parse this output.
    env = dict(os.environ)
    env.update({"LANG": "C", "LC_ALL": "C", "LC_MESSAGES": "C"})
    return env


def run_commands(commands: Mapping[str, Any], timeout: int = DEFAULT_TIMEOUT) -> Dict[str, Dict[str, Any]]:
    """Run each argv (no shell) and return {name: {rc, stdout, stderr}}.

    A missing executable gives rc 127 and one that cannot be run rc 126, as a shell would, with the
    reason in stderr: the caller decides whether that matters. A command that outlives ``timeout``
    fails the whole probe, since its answer is unknown.
    """
    if not isinstance(commands, Mapping):
        raise OptionError("commands", "must be a dict of name: argv list")
    checked = {}
    for name, argv in commands.items():
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise OptionError("commands", f"{name!r} is not a name of letters, digits, '_', '.' or '-'")
        if (
            not isinstance(argv, (list, tuple))
            or not argv
            or not all(isinstance(arg, (str, int, float)) and not isinstance(arg, bool) for arg in argv)
        ):
            raise OptionError(f"commands.{name}", "must be a non-empty list of arguments (strings), not a shell line")
        checked[name] = [str(arg) for arg in argv]
    if not isinstance(timeout, int) or isinstance(timeout, bool) or timeout <= 0:
        raise OptionError("timeout", f"{timeout!r} is not a number of seconds above 0")

    env = _command_env()
    results: Dict[str, Dict[str, Any]] = {}
    for name, argv in checked.items():
        try:
            proc = subprocess.run(
                argv,
                capture_output=True,
                stdin=subprocess.DEVNULL,
                timeout=timeout,
                env=env,
                check=False,
            )
        except FileNotFoundError:
            results[name] = {"rc": 127, "stdout": "", "stderr": f"{argv[0]}: command not found"}
            continue
        except subprocess.TimeoutExpired:
            raise OptionError(
                f"commands.{name}", f"{argv[0]} did not finish within {timeout} seconds (option timeout)"
            ) from None
        except OSError as error:
            # Not executable, not a program (no #! line), ...: a shell says 126.
            results[name] = {"rc": 126, "stdout": "", "stderr": f"{argv[0]}: {error.strerror}"}
            continue
        results[name] = {
            "rc": proc.returncode,
            "stdout": proc.stdout.decode("utf-8", "replace").rstrip("\r\n"),
            "stderr": proc.stderr.decode("utf-8", "replace").rstrip("\r\n"),
        }
    return results


def _type_of(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISLNK(mode):
        return "link"
    return "other"


def probe_paths(paths: Sequence[Any], checksum: bool = False) -> Dict[str, Dict[str, Any]]:
    """{path: {exists, type, mode, uid, gid, owner, group[, sha256]}} from lstat: a link is reported as a
    link, whatever it points to. With ``checksum``, a regular file also gets the sha256 of its content."""
    checked = [_absolute(path, "paths") for path in paths]
    results: Dict[str, Dict[str, Any]] = {}
    for path in checked:
        try:
            info = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            results[path] = {"exists": False, "type": None}
            continue
        except OSError as error:
            raise OptionError("paths", f"cannot look at {path}: {error.strerror}") from None
        entry = {
            "exists": True,
            "type": _type_of(info.st_mode),
            "mode": f"{stat.S_IMODE(info.st_mode):04o}",
            "uid": info.st_uid,
            "gid": info.st_gid,
            "owner": _name_of(pwd.getpwuid, info.st_uid),
            "group": _name_of(grp.getgrgid, info.st_gid),
        }
        if checksum and entry["type"] == "file":
            try:
                entry["sha256"] = _sha256(path)
            except OSError as error:
                raise OptionError("paths", f"cannot read {path}: {error.strerror}") from None
        results[path] = entry
    return results


def _name_of(lookup: Any, number: int) -> Optional[str]:
    try:
        return lookup(number)[0]
    except KeyError:
        return None  # an id without a name on this host


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def system_facts(os_release: str = "/etc/os-release", debian_version: str = "/etc/debian_version") -> Dict[str, Any]:
    """The few facts the roles read (named as the setup module names them): architecture, the distribution
    and its family, and the init system."""
    release: Dict[str, str] = {}
    text = _read_text(os_release) or ""
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            release[key.strip()] = value.strip().strip("\"'")
    ids = [release.get("ID", "").lower(), *release.get("ID_LIKE", "").lower().split()]
    distribution = release.get("NAME", "").split(" ")[0] or platform.system()
    version = release.get("VERSION_ID", "")
    if ids[0] == "debian":
        # As setup does: Debian's point release (12.7) comes from /etc/debian_version.
        point = (_read_text(debian_version) or "").strip()
        version = point if point[:1].isdigit() else version
    # The names setup's platform facts give: a play's templates may read them (ansible_hostname, ...).
    fqdn = socket.getfqdn()
    if os.path.isdir("/run/systemd/system"):
        service_mgr = "systemd"
    else:
        service_mgr = (_read_text("/proc/1/comm") or "").strip() or "unknown"
    return {
        "architecture": platform.machine(),
        "machine": platform.machine(),
        "system": platform.system(),
        "kernel": platform.release(),
        "kernel_version": platform.version(),
        "nodename": platform.node(),
        "hostname": platform.node().split(".")[0],
        "fqdn": fqdn,
        "domain": fqdn.partition(".")[2],
        "distribution": distribution,
        "distribution_version": version,
        "distribution_major_version": version.split(".")[0],
        "distribution_release": release.get("VERSION_CODENAME", ""),
        "os_family": "Debian" if {"debian", "ubuntu"} & set(ids) else distribution,
        "service_mgr": service_mgr,
    }


def _read_text(path: str) -> Optional[str]:
    """The file's text, or None when it (or a directory on its way) does not exist."""
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8", "replace")
    except (FileNotFoundError, NotADirectoryError):
        return None


def read_files(paths: Sequence[Any]) -> Dict[str, Optional[str]]:
    """{path: text or None when missing}."""
    checked = [_absolute(path, "files") for path in paths]
    results: Dict[str, Optional[str]] = {}
    for path in checked:
        try:
            results[path] = _read_text(path)
        except OSError as error:
            raise OptionError("files", f"cannot read {path}: {error.strerror}") from None
    return results


def kernel_modules(names: Sequence[Any], sys_module: str = "/sys/module") -> Dict[str, bool]:
    """{name: loaded}: a module (or a driver built into the kernel) shows as /sys/module/<name>."""
    results: Dict[str, bool] = {}
    for name in names:
        if not isinstance(name, str) or not _NAME_RE.match(name) or name in (".", ".."):
            raise OptionError("kernel_modules", f"{name!r} is not a kernel module name")
        # The kernel spells module names with "_" where modprobe also takes "-".
        results[name] = os.path.isdir(os.path.join(sys_module, name.replace("-", "_")))
    return results


def sysctl_path(key: Any, proc_sys: str = "/proc/sys") -> str:
    """The /proc/sys file of a dotted key, as sysctl(8) maps it: "." separates, "/" stands for a dot."""
    if not isinstance(key, str) or not key or key.startswith((".", "/")) or key.endswith((".", "/")):
        raise OptionError("sysctls", f"{key!r} is not a kernel setting name such as net.ipv4.ip_forward")
    parts = [part.replace("/", ".") for part in key.split(".")]
    if any(part in ("", ".", "..") for part in parts):
        raise OptionError("sysctls", f"{key!r} is not a kernel setting name such as net.ipv4.ip_forward")
    return os.path.join(proc_sys, *parts)


def read_sysctls(keys: Sequence[Any], proc_sys: str = "/proc/sys") -> Dict[str, Optional[str]]:
    """{key: value with surrounding white space removed, or None when this kernel does not have it}."""
    paths = {key: sysctl_path(key, proc_sys) for key in keys}
    results: Dict[str, Optional[str]] = {}
    for key, path in paths.items():
        try:
            text = _read_text(path)
        except OSError as error:
            raise OptionError("sysctls", f"cannot read {key} ({path}): {error.strerror}") from None
        results[key] = None if text is None else text.strip()
    return results


def _check_directory(entry: Any) -> Dict[str, Any]:
    if isinstance(entry, str):
        entry = {"path": entry}
    if not isinstance(entry, Mapping):
        raise OptionError("directories", f"{entry!r} is neither a path nor a dict with a path")
    path = _absolute(entry.get("path"), "directories")
    patterns = entry.get("patterns") or []
    if isinstance(patterns, str):
        patterns = [patterns]
    if not all(isinstance(pattern, str) and pattern for pattern in patterns):
        raise OptionError("directories", f"{path}: patterns must be a list of glob patterns such as '*.toml'")
    contains = entry.get("contains")
    regex = None
    if contains is not None:
        try:
            regex = re.compile(contains, re.MULTILINE)
        except (re.error, TypeError) as error:
            raise OptionError(
                "directories", f"{path}: contains {contains!r} is not a regular expression: {error}"
            ) from None
    return {"path": path, "patterns": list(patterns), "contains": regex}


def _matches(directory: str, name: str, patterns: List[str], contains: Optional[re.Pattern]) -> bool:
    if patterns and not any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns):
        return False
    if contains is None:
        return True
    full = os.path.join(directory, name)
    try:
        if not stat.S_ISREG(os.lstat(full).st_mode):
            return False
        text = _read_text(full)
    except OSError as error:
        raise OptionError("directories", f"cannot read {full}: {error.strerror}") from None
    return text is not None and contains.search(text) is not None


def list_directories(entries: Sequence[Any]) -> Dict[str, Optional[List[str]]]:
    """{path: sorted names of the entries that match, or None when the directory does not exist}.

    ``patterns`` (globs, any of them) select names; ``contains`` (a regular expression, ``^`` and
    ``$`` match at every line) keeps only regular files with a line that matches.
    """
    checked = [_check_directory(entry) for entry in entries]
    _unique([entry["path"] for entry in checked], "directories")
    results: Dict[str, Optional[List[str]]] = {}
    for entry in checked:
        path = entry["path"]
        try:
            names = os.listdir(path)
        except (FileNotFoundError, NotADirectoryError):
            results[path] = None
            continue
        except OSError as error:
            raise OptionError("directories", f"cannot list {path}: {error.strerror}") from None
        results[path] = sorted(name for name in names if _matches(path, name, entry["patterns"], entry["contains"]))
    return results


def run(params: Mapping[str, Any], sys_module: str = "/sys/module", proc_sys: str = "/proc/sys") -> Dict[str, Any]:
    """Every answer the parameters ask for; each key of the result is there, empty when not asked.

    All options are checked before the first command runs.
    """
    commands = params.get("commands") or {}
    timeout = params.get("timeout") or DEFAULT_TIMEOUT
    lists = {}
    for option in ("paths", "files", "kernel_modules", "sysctls", "directories"):
        value = params.get(option) or []
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise OptionError(option, "must be a list")
        lists[option] = list(value)
    # Validation first: a bad entry anywhere fails before any command runs.
    for option in ("paths", "files"):
        for path in lists[option]:
            _absolute(path, option)
    for key in lists["sysctls"]:
        sysctl_path(key, proc_sys)
    for entry in lists["directories"]:
        _check_directory(entry)
    if not isinstance(commands, Mapping):
        raise OptionError("commands", "must be a dict of name: argv list")
    wanted = params.get("package_versions") or []
    if isinstance(wanted, (str, bytes)) or not isinstance(wanted, Sequence):
        raise OptionError("package_versions", "must be a list of package names (name or name=version)")
    try:
        requests = parse_requests(wanted, "present") if wanted else []
    except OptionError as error:
        raise OptionError("package_versions", str(error).partition(": ")[2]) from None

    result = {
        "changed": False,
        "paths": probe_paths(lists["paths"], bool(params.get("checksum"))),
        "files": read_files(lists["files"]),
        "kernel_modules": kernel_modules(lists["kernel_modules"], sys_module),
        "sysctls": read_sysctls(lists["sysctls"], proc_sys),
        "directories": list_directories(lists["directories"]),
        "commands": run_commands(commands, timeout),
    }
    facts: Dict[str, Any] = system_facts() if params.get("system") else {}
    if params.get("packages") or requests:
        installed = installed_packages(timeout)
        if params.get("packages"):
            facts["packages"] = installed
        result.update(package_versions(installed, requests))
    else:
        result.update(package_versions({}, []))
    if facts:
        result["ansible_facts"] = facts
    return result


def package_versions(installed: Mapping[str, List[Dict[str, str]]], requests: Sequence[Request]) -> Dict[str, Any]:
    """The asked packages' installed versions (None: not installed), and whether each matches what was asked
    (as deb_package decides whether apt has to run): what a role needs, without a fact of every package."""
    versions = {
        request.name: (installed[request.name][0]["version"] if installed.get(request.name) else None)
        for request in requests
    }
    current = all(version_matches(versions[request.name], request.version) for request in requests)
    return {"package_versions": versions, "packages_current": current}


def installed_packages(timeout: int = DEFAULT_TIMEOUT) -> Dict[str, List[Dict[str, str]]]:
    """The installed Debian packages as ansible.builtin.package_facts gives them (dpkg's database)."""
    done = run_commands({"arch": DPKG_ARCH_ARGV, "dpkg": DPKG_QUERY_ARGV}, timeout)
    for step in ("arch", "dpkg"):
        if done[step]["rc"] != 0:
            raise OptionError(
                "packages", f"{done[step]['stderr'] or step} (rc {done[step]['rc']}); reading packages needs dpkg"
            )
    return parse_dpkg_query(done["dpkg"]["stdout"], native_arch=done["arch"]["stdout"].strip())
