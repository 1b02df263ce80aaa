# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""service_config: a service's files, its restart, its health gate and the rollback, in one call.

The sequence every engine role needs: write the files (validated candidates, backups), restart the
unit only when a file that matters or a binary changed, check its health, and when the restart or a
check fails put every file back as it was, restart on them, check again and fail with the unit's
journal. One plan drives check mode, diff and the real run, so they cannot disagree.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
import urllib.error
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible.module_utils.urls import ConnectionError as UrlConnectionError
from ansible.module_utils.urls import open_url

from ansible_collections.ocistack.engine.plugins.module_utils import _config_files as config_files
from ansible_collections.ocistack.engine.plugins.module_utils._errors import OcistackError, OptionError

__all__ = [
    "HealthCheck",
    "ServiceFailure",
    "Snapshot",
    "Systemd",
    "check_health",
    "parse_health",
    "restart_due",
    "run",
]

# A command runner: argv, timeout in seconds -> (rc, stdout, stderr).
Runner = Callable[[Sequence[str], float], Tuple[int, str, str]]


def run_command(argv: Sequence[str], timeout: float) -> Tuple[int, str, str]:
    """Run ``argv`` without a shell; a missing binary or a timeout is a failed result, not an exception."""
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        return 127, "", f"{argv[0]}: command not found"
    except subprocess.TimeoutExpired:
        return 124, "", f"{' '.join(argv)} took longer than {timeout:g}s"
    return done.returncode, done.stdout, done.stderr


class ServiceFailure(OcistackError):
    """The service failed after the change; the message says what was restored and why it failed."""

    def __init__(self, message: str, result: Dict[str, Any]) -> None:
        self.result = result
        super().__init__(message)


@dataclass
class HealthCheck:
    """One probe of the health gate: a command whose stdout must match, or a URL's status."""

    name: str
    argv: List[str] = field(default_factory=list)
    expect: str = ""  # a regular expression the stdout must contain (search); empty: rc 0 is enough
    url: str = ""
    status: List[int] = field(default_factory=lambda: [200])
    ca_path: str = ""
    validate_certs: bool = True
    retries: int = 10
    delay: float = 2.0
    timeout: float = 30.0
    after_rollback: bool = True

    def probe(self, runner: Runner) -> Tuple[bool, str]:
        """One attempt: (passed, what was seen)."""
        if self.url:
            return _probe_url(self)
        rc, out, err = runner(self.argv, self.timeout)
        if rc != 0:
            return False, f"exit {rc}: {(err or out).strip()[-400:]}"
        if self.expect and not re.search(self.expect, out, re.MULTILINE):
            return False, f"the output does not match {self.expect!r}: {out.strip()[-400:]}"
        return True, out.strip()[-400:]


def _probe_url(check: HealthCheck) -> Tuple[bool, str]:
    try:
        answer = open_url(
            check.url,
            timeout=check.timeout,
            validate_certs=check.validate_certs,
            ca_path=check.ca_path or None,
            use_proxy=False,  # the service answers on this host
        )
        status = answer.getcode()
        answer.close()
    except urllib.error.HTTPError as error:
        status = error.code
    except (urllib.error.URLError, OSError, UrlConnectionError) as error:
        return False, f"{check.url}: {getattr(error, 'reason', error)}"
    if status not in check.status:
        return False, f"{check.url} answered {status}, not {' or '.join(map(str, check.status))}"
    return True, f"{check.url} answered {status}"


def parse_health(entries: Optional[Sequence[Mapping[str, Any]]]) -> List[HealthCheck]:
    """The ``health`` option -> checks; a bad entry raises naming ``health[i]`` before anything changes."""
    checks = []
    for index, entry in enumerate(entries or ()):
        where = f"health[{index}]"
        argv, url = entry.get("argv") or [], entry.get("url") or ""
        if bool(argv) == bool(url):
            raise OptionError(where, "give exactly one of argv (a command) and url (an HTTP(S) address)")
        if url and not re.match(r"^https?://", url):
            raise OptionError(f"{where}.url", f"{url!r} must start with http:// or https://")
        expect = entry.get("expect") or ""
        try:
            re.compile(expect)
        except re.error as error:
            raise OptionError(f"{where}.expect", f"{expect!r} is not a regular expression ({error})") from None
        retries, delay = entry.get("retries", 10), entry.get("delay", 2)
        if int(retries) < 1:
            raise OptionError(f"{where}.retries", f"{retries!r} must be 1 or more")
        if float(delay) < 0:
            raise OptionError(f"{where}.delay", f"{delay!r} must be 0 or more")
        checks.append(
            HealthCheck(
                name=entry.get("name") or (url or " ".join(str(arg) for arg in argv)),
                argv=[str(arg) for arg in argv],
                expect=expect,
                url=url,
                status=[int(code) for code in entry.get("status") or [200]],
                ca_path=entry.get("ca_path") or "",
                validate_certs=bool(entry.get("validate_certs", True)),
                retries=int(retries),
                delay=float(delay),
                timeout=float(entry.get("timeout", 30)),
                after_rollback=bool(entry.get("after_rollback", True)),
            )
        )
    return checks


def check_health(
    checks: Sequence[HealthCheck], runner: Runner, sleep: Callable[[float], None] = time.sleep
) -> List[Dict[str, Any]]:
    """Run the checks in order, each until it passes or its retries are spent.

    Returns one record per check run; the first check that never passes raises with its record last."""
    records = []
    for check in checks:
        seen = ""
        for attempt in range(1, check.retries + 1):
            passed, seen = check.probe(runner)
            if passed:
                break
            if attempt < check.retries:
                sleep(check.delay)
        records.append({"name": check.name, "passed": passed, "attempts": attempt, "output": seen})
        if not passed:
            raise _HealthFailed(records)
    return records


class _HealthFailed(Exception):
    def __init__(self, records: List[Dict[str, Any]]) -> None:
        self.records = records
        last = records[-1]
        super().__init__(f"health check {last['name']!r} failed after {last['attempts']} attempts: {last['output']}")


@dataclass
class Snapshot:
    """What the files this run changes held before it: enough to put every one back."""

    # path -> (data, mode, uid, gid); None: the path did not exist (the run created it).
    files: Dict[str, Optional[Tuple[bytes, int, int, int]]] = field(default_factory=dict)

    @classmethod
    def before(cls, work: config_files.Plan) -> Snapshot:
        snap = cls()
        # The plan already read each rewritten file's content (None: the run creates it).
        for path, _data, _mode, _secret, old in work.write:
            snap.files[path] = None if old is None else _with_attributes(path, old)
        for path in work.remove:
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as handle:
                    snap.files[path] = _with_attributes(path, handle.read())
        return snap

    def restore(self) -> List[str]:
        """Put every file back (atomically, with its mode and owner), remove the ones the run made."""
        restored = []
        for path, before in sorted(self.files.items()):
            if before is None:
                if os.path.lexists(path):
                    os.unlink(path)
            else:
                data, mode, uid, gid = before
                os.rename(config_files.stage(path, data, mode, (uid, gid)), path)
            restored.append(path)
        return restored


def _with_attributes(path: str, data: bytes) -> Tuple[bytes, int, int, int]:
    info = os.stat(path)
    return data, info.st_mode & 0o7777, info.st_uid, info.st_gid


class Systemd:
    """The few systemctl and journalctl calls the module makes, through one runner."""

    def __init__(self, unit: str, runner: Runner = run_command) -> None:
        self.unit = unit
        self.runner = runner

    def _ctl(self, *args: str, timeout: float = 300) -> Tuple[int, str, str]:
        return self.runner(["systemctl", *args], timeout)

    def active(self) -> bool:
        return self._ctl("is-active", "--quiet", self.unit, timeout=30)[0] == 0

    def enabled(self) -> bool:
        return self._ctl("is-enabled", "--quiet", self.unit, timeout=30)[0] == 0

    def set_enabled(self, enabled: bool) -> None:
        self._must("enable" if enabled else "disable", self.unit)

    def daemon_reload(self) -> None:
        self._must("daemon-reload")

    def restart(self) -> Tuple[bool, str]:
        # reset-failed clears the start limit a failed start used up (Debian's docker unit allows
        # 3 starts in 60 s), which would make systemd refuse the restart on the previous files.
        self._ctl("reset-failed", self.unit, timeout=30)
        rc, out, err = self._ctl("restart", self.unit)
        return rc == 0, (err or out).strip()

    def start(self) -> Tuple[bool, str]:
        rc, out, err = self._ctl("start", self.unit)
        return rc == 0, (err or out).strip()

    def journal(self, lines: int, match: str = "") -> List[str]:
        # Filtered lines are picked from more of the journal.
        wanted = max(lines * 10, 60) if match else lines
        rc, out, _err = self.runner(["journalctl", "-u", self.unit, "-n", str(wanted), "--no-pager", "-o", "cat"], 30)
        if rc != 0:
            return []
        found = out.splitlines()
        if match:
            found = [line for line in found if re.search(match, line)]
        return found[-lines:]

    def _must(self, *args: str) -> None:
        rc, out, err = self._ctl(*args)
        if rc != 0:
            raise OcistackError(f"systemctl {' '.join(args)} failed (exit {rc}): {(err or out).strip()}")


def restart_due(work: config_files.Plan, restart_on: Optional[Sequence[str]], restart: bool) -> List[str]:
    """The reasons to restart: the files of ``restart_on`` (every file when None) this plan changes."""
    reasons = ["restart requested"] if restart else []
    touched = [entry[0] for entry in work.write] + list(work.remove)
    if restart_on is None:
        reasons += touched
    else:
        wanted = {config_files.normal_path(path) for path in restart_on}
        # A path given as a directory covers the files below it.
        reasons += [p for p in touched if p in wanted or any(p.startswith(w.rstrip("/") + "/") for w in wanted)]
    return reasons


def run(
    params: Mapping[str, Any],
    check_mode: bool,
    want_diff: bool,
    runner: Runner = run_command,
    sleep: Callable[[float], None] = time.sleep,
) -> Dict[str, Any]:
    """The module's result; raises ServiceFailure (with the result so far) when the service fails."""
    unit = params["service"]
    label = params.get("label") or unit
    checks = parse_health(params.get("health"))
    work = config_files.plan(
        params.get("directories") or (),
        params.get("files") or (),
        params.get("absent") or (),
        check_mode,
        params.get("permissions") or (),
    )
    reasons = restart_due(work, params.get("restart_on"), bool(params.get("restart")))
    systemd = Systemd(unit, runner)
    enabled_wanted = params.get("enabled")
    was_active = systemd.active()
    enable_change = enabled_wanted is not None and systemd.enabled() != bool(enabled_wanted)
    will_start = not was_active and not reasons

    result: Dict[str, Any] = {
        "changed": not work.empty or bool(reasons) or enable_change or will_start,
        "changed_paths": work.changed_paths,
        "written": sorted(entry[0] for entry in work.write),
        "removed": list(work.remove),
        "backups": {},
        "restarted": bool(reasons),
        "restart_reasons": reasons,
        "started": will_start,
        "health": [],
        "rolled_back": [],
    }
    if want_diff:
        result["diff"] = config_files.diff(work)
    if check_mode:
        return result

    snapshot = Snapshot.before(work)
    if not work.empty:
        result["backups"] = config_files.apply(work)
    if enable_change:
        systemd.set_enabled(bool(enabled_wanted))
    if not (reasons or will_start):
        return result

    if work.write or work.remove or reasons:
        systemd.daemon_reload()
    ok, why = systemd.restart() if reasons else systemd.start()
    failure = "" if ok else f"{'restart' if reasons else 'start'} failed: {why}"
    if ok:
        try:
            result["health"] = check_health(checks, runner, sleep)
            return result
        except _HealthFailed as failed:
            result["health"] = failed.records
            failure = str(failed)

    # The service failed on the new files: put the old ones back, run on them again, then fail.
    journal = systemd.journal(int(params.get("journal_lines") or 15), params.get("journal_match") or "")
    restored = snapshot.restore()
    result["rolled_back"] = restored
    recovered = ""
    if restored:
        systemd.daemon_reload()
        ok, why = systemd.restart()
        if not ok:
            recovered = f", but {label} did not start on them either ({why})."
        else:
            try:
                check_health([c for c in checks if c.after_rollback], runner, sleep)
                recovered = f" and {label} runs on them again."
            except _HealthFailed as failed:
                recovered = f", but {label} is not healthy on them either ({failed})."
    if restored:
        what = f"The previous files were restored ({', '.join(restored)}){recovered}"
    else:
        what = "No file changed in this run, so there was nothing to roll back."
    log = " | ".join(journal) if journal else "(empty)"
    raise ServiceFailure(
        f"{label} failed after the change ({failure}). {what} {label}'s log"
        f"{' (errors)' if params.get('journal_match') else ''}: {log}",
        result,
    )
