# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The health gate of containerd_container: docker's healthcheck options, run right after a (re)create.

``parse_healthcheck`` validates the option (before anything changes); ``wait_healthy`` runs the test
inside the task every ``interval`` until it passes or ``start_period + retries * interval`` is spent.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from ansible_collections.ocistack.engine.plugins.module_utils._errors import OptionError

__all__ = ["HEALTH_ANNOTATION", "HealthResult", "parse_duration", "parse_healthcheck", "wait_healthy"]

HEALTH_ANNOTATION = "io.ocistack.engine.healthcheck"
# docker's defaults.
DEFAULTS = {"interval": 30.0, "timeout": 30.0, "start_period": 0.0, "retries": 3}
_DURATION_RE = re.compile(r"^(?:(\d+(?:\.\d+)?)(h|ms|m|s|us|ns))+$")
_PART_RE = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|ns)")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 1e-6, "ns": 1e-9}


def parse_duration(value: Any, option: str) -> float:
    """``30``, ``"30"``, ``"30s"``, ``"1m30s"``, ``"500ms"`` -> seconds; negative or garbage raises."""
    if isinstance(value, bool):
        raise OptionError(option, f"{value!r} is not a duration")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        text = str(value).strip()
        if re.fullmatch(r"-?\d+(?:\.\d+)?", text):
            seconds = float(text)
        elif _DURATION_RE.match(text):
            seconds = sum(float(number) * _UNITS[unit] for number, unit in _PART_RE.findall(text))
        else:
            raise OptionError(option, f"{value!r} is not a duration; write it as docker does (30s, 1m30s) or seconds")
    if seconds < 0:
        raise OptionError(option, f"{value!r} is negative; give a duration of 0 or more")
    return seconds


def parse_healthcheck(value: Optional[Mapping[str, Any]]) -> Optional[Dict[str, Any]]:
    """The ``healthcheck`` option -> ``{"test": argv, "interval", "timeout", "start_period", "retries"}`` or None."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise OptionError("healthcheck", "expected a dict with test, interval, timeout, start_period and retries")
    unknown = sorted(set(value) - {"test", *DEFAULTS})
    if unknown:
        raise OptionError("healthcheck", f"unknown keys {unknown}; use test, interval, timeout, start_period, retries")
    test = value.get("test")
    if test is None or test in ([], ""):  # noqa: PLR1714
        raise OptionError("healthcheck.test", "is required: an argv list, [CMD, ...] or [CMD-SHELL, command]")
    if isinstance(test, str):
        argv = ["/bin/sh", "-c", test]
    elif isinstance(test, (list, tuple)) and all(isinstance(part, (str, int, float)) for part in test):
        parts = [str(part) for part in test]
        if parts[0] == "NONE":
            return None
        if parts[0] == "CMD-SHELL":
            if len(parts) != 2:
                raise OptionError("healthcheck.test", "CMD-SHELL takes one command string: [CMD-SHELL, 'curl -f ...']")
            argv = ["/bin/sh", "-c", parts[1]]
        elif parts[0] == "CMD":
            argv = parts[1:]
        else:
            argv = parts
        if not argv:
            raise OptionError("healthcheck.test", "CMD needs the command to run: [CMD, curl, -f, http://localhost/]")
    else:
        raise OptionError("healthcheck.test", f"{test!r} is neither a command list nor a shell command string")
    parsed: Dict[str, Any] = {"test": argv}
    for key in ("interval", "timeout", "start_period"):
        given = value.get(key)
        parsed[key] = DEFAULTS[key] if given is None else parse_duration(given, f"healthcheck.{key}")
    for key in ("interval", "timeout"):
        if parsed[key] == 0:
            raise OptionError(f"healthcheck.{key}", "must be more than 0")
    retries = value.get("retries")
    if retries is None:
        parsed["retries"] = DEFAULTS["retries"]
    else:
        if isinstance(retries, bool) or not re.fullmatch(r"\d+", str(retries).strip()):
            raise OptionError("healthcheck.retries", f"{retries!r} is not a count (0 or more)")
        parsed["retries"] = int(str(retries).strip())
    return parsed


def health_annotation(check: Optional[Mapping[str, Any]]) -> Optional[str]:
    """What the spec records (so that a changed health check changes the spec digest)."""
    return None if check is None else json.dumps(check, sort_keys=True)


class HealthResult:
    def __init__(self, status: str, output: str, attempts: int) -> None:
        self.status = status
        self.output = output
        self.attempts = attempts


def wait_healthy(
    check: Mapping[str, Any],
    probe: Callable[[List[str], float], Tuple[int, str]],
    running: Callable[[], bool],
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> HealthResult:
    """Run ``probe(argv, timeout)`` until it returns 0 or the budget is spent.

    The budget is docker's: failures during ``start_period`` do not count, then ``retries``
    failed attempts ``interval`` apart make the container unhealthy. A task that exited is
    unhealthy at once.
    """
    start = clock()
    deadline = start + check["start_period"] + check["retries"] * check["interval"]
    attempts, output = 0, ""
    while True:
        attempts += 1
        rc, output = probe(list(check["test"]), float(check["timeout"]))
        if rc == 0:
            return HealthResult("healthy", output, attempts)
        if not running():
            return HealthResult("unhealthy", output or "the container's task exited", attempts)
        if clock() + check["interval"] > deadline:
            return HealthResult("unhealthy", output, attempts)
        sleep(check["interval"])
