# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Install or remove Debian packages, deciding from dpkg's database first.

dpkg-query answers "is this version installed?" in milliseconds; apt (python3-apt or apt-get) opens its
whole cache for the same answer, about a second per host. So apt runs only when something has to change:
a converged host costs two dpkg calls. The decisions (what to install, what a removal would take with it,
what apt's simulation says) are pure functions over the tools' text output, unit-tested with real output.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import re
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.ocistack.engine.plugins.module_utils._errors import OptionError, ToolError
from ansible_collections.ocistack.engine.plugins.module_utils._packages import DPKG_ARCH_ARGV, parse_dpkg_query

__all__ = [
    "DEPENDS_QUERY_ARGV",
    "Request",
    "needed_by",
    "parse_depends",
    "parse_requests",
    "parse_simulation",
    "plan_install",
    "run",
    "version_matches",
]

# One package's fields; names that dpkg does not know are left out of the output (rc 1).
_SHOW_FORMAT = "${Package}\\t${Version}\\t${Architecture}\\t${db:Status-Abbrev}\\n"
# Every package with what it depends on, for a removal that must not take other packages with it.
DEPENDS_QUERY_ARGV = [
    "dpkg-query",
    "--show",
    "--showformat",
    "${Package}\\t${Architecture}\\t${db:Status-Abbrev}\\t${Pre-Depends}, ${Depends}\\n",
]
_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]+(:[a-z0-9-]+)?$")
_VERSION = re.compile(r"^[A-Za-z0-9.+~:*?-]+$")
# apt-get --simulate: "Inst runc (1.1.5+ds1-1+deb12u1 Debian:12.12/oldstable [amd64])",
# "Inst runc [1.1.5+ds1-1] (1.1.12-1 ...)" (an upgrade shows the old version in brackets),
# "Remv containerd [1.6.20~ds1-1]".
_SIM_LINE = re.compile(r"^(Inst|Remv|Purg) (\S+)(?: \[([^\]]+)\])?(?: \((\S+))?")
APT_LISTS = "/var/lib/apt/lists"
APT_STAMP = "/var/lib/apt/periodic/update-success-stamp"
POLICY_RC_D = "/usr/sbin/policy-rc.d"
APT_ENV = {"DEBIAN_FRONTEND": "noninteractive", "DEBCONF_NONINTERACTIVE_SEEN": "true", "LC_ALL": "C"}

Runner = Callable[..., Tuple[int, str, str]]


@dataclass(frozen=True)
class Request:
    """One entry of the name option: a package and the version asked for (empty: any)."""

    name: str
    version: str = ""

    @property
    def spec(self) -> str:
        """apt-get's argument: name or name=version."""
        return f"{self.name}={self.version}" if self.version else self.name


def parse_requests(names: Sequence[Any], state: str) -> List[Request]:
    """The name option -> requests; a bad entry fails naming the option."""
    if not names:
        raise OptionError("name", "give at least one package")
    requests: List[Request] = []
    seen = set()
    for entry in names:
        text = "" if entry is None else str(entry).strip()
        name, _equals, version = text.partition("=")
        if not _NAME.match(name):
            raise OptionError("name", f'"{text}" is not a Debian package name (lower case letters, digits, "+.-")')
        if version and not _VERSION.match(version):
            raise OptionError("name", f'"{text}": "{version}" is not a Debian version')
        if "=" in text and not version:
            raise OptionError("name", f'"{text}": give a version after "=" or leave "=" out')
        if version and state == "absent":
            raise OptionError("name", f'"{text}": state=absent removes any installed version; leave the version out')
        if name in seen:
            raise OptionError("name", f'"{name}" is listed twice')
        seen.add(name)
        requests.append(Request(name, version))
    return requests


def version_matches(installed: Optional[str], asked: str) -> bool:
    """Whether an installed version satisfies the asked one: any when empty, else equal or an apt-style pattern."""
    if installed is None:
        return False
    if not asked:
        return True
    if any(char in asked for char in "*?"):
        return fnmatch.fnmatchcase(installed, asked)
    return installed == asked


def installed_versions(dpkg_output: str, native_arch: str) -> Dict[str, str]:
    """dpkg-query output (DPKG's show format) -> {name: version} of the installed packages, as apt names them."""
    return {name: entries[0]["version"] for name, entries in parse_dpkg_query(dpkg_output, native_arch).items()}


def plan_install(requests: Sequence[Request], installed: Mapping[str, str]) -> List[Request]:
    """The requests apt has to act on: not installed, or installed at a version other than the asked one."""
    return [request for request in requests if not version_matches(installed.get(request.name), request.version)]


def parse_simulation(text: str) -> Dict[str, Dict[str, Optional[str]]]:
    """apt-get --simulate output -> {package: {action: install|remove, before, after}} for every package it touches."""
    actions: Dict[str, Dict[str, Optional[str]]] = {}
    for line in text.splitlines():
        match = _SIM_LINE.match(line)
        if not match:
            continue
        verb, name, old, new = match.groups()
        name = name.split(":")[0] if ":" in name else name
        if verb == "Inst":
            actions[name] = {"action": "install", "before": old, "after": new}
        else:
            actions[name] = {"action": "remove", "before": old, "after": None}
    return actions


def parse_depends(text: str, native_arch: str = "") -> Dict[str, List[List[str]]]:
    """DEPENDS_QUERY_ARGV output -> {installed package: [[alternative, ...] per dependency]}.

    Version constraints and architecture qualifiers (:any) are dropped.
    """
    depends: Dict[str, List[List[str]]] = {}
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) != 4 or not fields[0]:
            continue
        name, arch, status, relations = fields
        if len(status) < 2 or status[1] in ("n", "c"):
            continue
        key = f"{name}:{arch}" if native_arch and arch not in (native_arch, "all") else name
        groups = []
        for group in relations.split(","):
            alternatives = [re.sub(r"\s*[\(\[].*$", "", alt.strip()).split(":")[0] for alt in group.split("|")]
            alternatives = [alt for alt in alternatives if alt]
            if alternatives:
                groups.append(alternatives)
        depends[key] = groups
    return depends


def needed_by(package: str, depends: Mapping[str, List[List[str]]], leaving: Sequence[str]) -> List[str]:
    """The installed packages (not in ``leaving``) that depend on ``package`` with no other installed alternative."""
    staying = set(depends) - set(leaving)
    needing = []
    for other in sorted(staying):
        for group in depends[other]:
            if package in group and not any(alt in staying for alt in group if alt != package):
                needing.append(other)
                break
    return needing


def _command(runner: Runner, argv: List[str], what: str, ok_rcs: Tuple[int, ...] = (0,)) -> str:
    rc, out, err = runner(argv)
    if rc not in ok_rcs:
        raise ToolError(f"{what} failed (rc {rc}): {err.strip() or out.strip()}", cmd=argv, rc=rc, stderr=err)
    return out


def read_installed(runner: Runner, names: Sequence[str]) -> Dict[str, str]:
    """{name: version} of those of ``names`` that are installed, from dpkg's database."""
    arch = _command(runner, DPKG_ARCH_ARGV, "dpkg --print-architecture").strip()
    # rc 1: some name is not known to dpkg at all (never installed); the others are still listed.
    out = _command(runner, ["dpkg-query", "--show", "--showformat", _SHOW_FORMAT, *names], "dpkg-query", (0, 1))
    return {name: version for name, version in installed_versions(out, arch).items() if name in names}


def lists_age(now: float, paths: Sequence[str] = (APT_STAMP, APT_LISTS)) -> Optional[float]:
    """Seconds since apt's lists were refreshed (the newest of the stamp and the lists directory); None if never."""
    times = []
    for path in paths:
        try:
            times.append(os.stat(path).st_mtime)
        except OSError:
            continue
    if not times or not any(
        name.endswith(("_Packages", "_Packages.lz4", "_InRelease", "_Release")) for name in _lists()
    ):
        return None
    return max(0.0, now - max(times))


def _lists() -> List[str]:
    try:
        return os.listdir(APT_LISTS)
    except OSError:
        return []


def apt_options(params: Mapping[str, Any]) -> List[str]:
    """The apt-get options every install and removal gets."""
    options = ["-y", "-q", "-o", f"DPkg::Lock::Timeout={int(params.get('lock_timeout', 60))}"]
    options += ["-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold"]
    return options


def install_argv(params: Mapping[str, Any], todo: Sequence[Request], simulate: bool = False) -> List[str]:
    argv = ["apt-get", "install", *apt_options(params)]
    if params.get("allow_downgrade"):
        argv.append("--allow-downgrades")
    if params.get("install_recommends") is True:
        argv.append("--install-recommends")
    elif params.get("install_recommends") is False:
        argv.append("--no-install-recommends")
    if simulate:
        argv.append("--simulate")
    return argv + [request.spec for request in todo]


def _with_policy_rc_d(policy: Optional[int], action: Callable[[], Any]) -> Any:
    """Run ``action`` with /usr/sbin/policy-rc.d exiting ``policy`` (scripts start no service), then restore it."""
    if policy is None:
        return action()
    backup = None
    if os.path.lexists(POLICY_RC_D):
        backup = POLICY_RC_D + ".ocistack-backup"
        os.rename(POLICY_RC_D, backup)
    try:
        with open(POLICY_RC_D, "w", encoding="utf-8") as handle:
            handle.write(f"#!/bin/sh\nexit {int(policy)}\n")
        os.chmod(POLICY_RC_D, 0o755)
        return action()
    finally:
        os.remove(POLICY_RC_D)
        if backup:
            os.rename(backup, POLICY_RC_D)


def _diff(
    names: Sequence[str], before: Mapping[str, str], after: Mapping[str, Optional[str]], planned: Sequence[str] = ()
) -> Dict[str, str]:
    def text(versions: Mapping[str, Optional[str]], mark: Sequence[str]) -> str:
        return "".join(
            f"{name} {versions[name]}{' (would be installed)' if name in mark else ''}\n"
            for name in names
            if versions.get(name)
        )

    return {"before": text(before, ()), "after": text(after, planned)}


def _result(
    requests: Sequence[Request],
    before: Mapping[str, str],
    after: Mapping[str, Optional[str]],
    msg: str,
    **extra: Any,
) -> Dict[str, Any]:
    names = [request.name for request in requests]
    packages = {name: {"before": before.get(name), "after": after.get(name)} for name in names}
    planned = extra.pop("planned", ())
    changed = any(packages[name]["before"] != packages[name]["after"] for name in names) or bool(planned)
    return {
        "changed": changed,
        "msg": msg,
        "packages": packages,
        "installed_version": packages[names[0]]["after"],
        "previous_version": packages[names[0]]["before"],
        "diff": _diff(names, before, after, planned),
        **extra,
    }


def run(
    params: Mapping[str, Any], check_mode: bool, runner: Runner, now: Callable[[], float] = time.time
) -> Dict[str, Any]:
    """The module's work: read dpkg, decide, run apt only when something must change."""
    state = params.get("state") or "present"
    requests = parse_requests(params.get("name") or [], state)
    cache_valid_time = int(params.get("cache_valid_time") or 0)
    if cache_valid_time < 0:
        raise OptionError("cache_valid_time", "must be 0 (always refresh) or a number of seconds")
    policy = params.get("policy_rc_d")
    names = [request.name for request in requests]
    before = read_installed(runner, names)
    if state == "absent":
        return _remove(params, check_mode, runner, requests, before)

    todo = plan_install(requests, before)
    if not todo:
        return _result(requests, before, before, "Everything asked is installed.", cache_updated=False)
    specs = ", ".join(request.spec for request in todo)
    if check_mode:
        # apt does not refresh its lists in check mode; a host that never ran apt-get update knows no package.
        rc, out, err = runner(install_argv(params, todo, simulate=True))
        planned = parse_simulation(out) if rc == 0 else {}
        after: Dict[str, Optional[str]] = dict(before)
        for request in todo:
            after[request.name] = (planned.get(request.name) or {}).get("after") or request.version or "(any)"
        answer = (err.strip() or out.strip() or "no answer").splitlines()[-1]
        why = "" if rc == 0 else f" (apt cannot tell before its lists are refreshed: {answer})"
        return _result(
            requests,
            before,
            after,
            f"{specs} would be installed{why}.",
            planned=[request.name for request in todo],
            cache_updated=False,
        )

    cache_updated = False
    if params.get("update_cache"):
        age = lists_age(now())
        if cache_valid_time == 0 or age is None or age > cache_valid_time:
            _command(
                runner,
                ["apt-get", "update", "-q", "-o", f"DPkg::Lock::Timeout={int(params.get('lock_timeout', 60))}"],
                "apt-get update",
            )
            with contextlib.suppress(OSError):
                os.utime(APT_LISTS)
            cache_updated = True
    argv = install_argv(params, todo)
    rc, out, err = _with_policy_rc_d(policy, lambda: runner(argv))
    if rc != 0:
        raise OptionError(
            "name", f"apt-get could not install {specs} (rc {rc}): {(err.strip() or out.strip())[-2000:]}"
        )
    after_read = read_installed(runner, names)
    wrong = [request.spec for request in requests if not version_matches(after_read.get(request.name), request.version)]
    if wrong:
        found = ", ".join(f"{request.name} {after_read.get(request.name) or 'not installed'}" for request in requests)
        raise OptionError("name", f"after apt-get install, {', '.join(wrong)} is not what dpkg reports ({found})")
    return _result(requests, before, dict(after_read), f"Installed {specs}.", cache_updated=cache_updated)


def _remove(
    params: Mapping[str, Any], check_mode: bool, runner: Runner, requests: Sequence[Request], before: Mapping[str, str]
) -> Dict[str, Any]:
    present = [request.name for request in requests if request.name in before]
    kept: Dict[str, List[str]] = {}
    if present and params.get("keep_needed"):
        arch = _command(runner, DPKG_ARCH_ARGV, "dpkg --print-architecture").strip()
        depends = parse_depends(_command(runner, DEPENDS_QUERY_ARGV, "dpkg-query"), arch)
        for name in list(present):
            needing = needed_by(name, depends, present)
            if needing:
                kept[name] = needing
        present = [name for name in present if name not in kept]
    note = "".join(
        f" {name} stays: {', '.join(others)} depend{'s' if len(others) == 1 else ''} on it."
        for name, others in kept.items()
    )
    if not present:
        return _result(requests, before, before, ("Nothing to remove." + note).strip(), kept=kept, cache_updated=False)
    after: Dict[str, Optional[str]] = {name: version for name, version in before.items() if name not in present}
    verb = "purge" if params.get("purge") else "remove"
    if check_mode:
        return _result(
            requests, before, after, f"{', '.join(present)} would be removed.{note}", kept=kept, cache_updated=False
        )
    argv = ["apt-get", verb, *apt_options(params), *present]
    rc, out, err = runner(argv)
    if rc != 0:
        raise OptionError(
            "name", f"apt-get could not remove {', '.join(present)} (rc {rc}): {(err.strip() or out.strip())[-2000:]}"
        )
    after_read = read_installed(runner, [request.name for request in requests])
    return _result(
        requests, before, dict(after_read), f"Removed {', '.join(present)}.{note}", kept=kept, cache_updated=False
    )
