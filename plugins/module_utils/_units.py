# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Human units in module options: "64m" -> bytes, "1.5" cpus -> CFS quota."""

from __future__ import annotations

import math
import re
import signal
from typing import Any, Tuple, Union

from ansible_collections.ocistack.engine.plugins.module_utils._errors import OptionError

__all__ = [
    "CPU_PERIOD",
    "MIN_CPUS",
    "cpus_to_quota",
    "format_bytes",
    "normalize_signal",
    "parse_bytes",
    "parse_cpus",
    "parse_signal",
]

# The CFS period every quota is expressed in (100 ms, the kernel default).
CPU_PERIOD = 100000
# The kernel refuses a CFS quota below 1 ms: 1000 us / 100000 us.
MIN_CPUS = 0.01

_MULTIPLIERS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
# "64m", "2GiB", "64MB", "1.5g", "1048576", "512 k"
_BYTES_RE = re.compile(r"^\s*(?P<number>\d+(?:\.\d+)?)\s*(?:(?P<unit>[kmgt])(?:i?b)?|b)?\s*$", re.IGNORECASE)


def parse_bytes(value: Union[int, str], option: str, allow_zero: bool = False) -> int:
    """Return ``value`` in bytes; suffixes b/k/m/g/t are 1024-based (``"64MB"`` == ``"64m"`` == ``"64MiB"``).

    Raises OptionError naming ``option`` for negative, fractional-byte or unparsable values,
    and for zero unless ``allow_zero``.
    """
    if isinstance(value, bool):
        raise OptionError(option, f"expected a size such as 64m or 1073741824, got the boolean {value!r}")
    if isinstance(value, int):
        result = value
    elif isinstance(value, float):
        if not value.is_integer():
            raise OptionError(option, f"{value!r} is not a whole number of bytes; use a unit, e.g. 64m")
        result = int(value)
    elif isinstance(value, str):
        match = _BYTES_RE.match(value)
        if not match:
            raise OptionError(
                option, f"cannot read {value!r} as a size; give bytes or a number with a unit (b/k/m/g/t), e.g. 64m"
            )
        number = float(match.group("number")) if "." in match.group("number") else int(match.group("number"))
        scaled = number * _MULTIPLIERS[(match.group("unit") or "").lower()]
        if isinstance(scaled, float) and not scaled.is_integer():
            raise OptionError(option, f"{value!r} is not a whole number of bytes")
        result = int(scaled)
    else:
        raise OptionError(option, f"expected a size such as 64m, got {type(value).__name__}")
    if result < 0:
        raise OptionError(option, f"{value!r} is negative; give a size of zero or more")
    if result == 0 and not allow_zero:
        raise OptionError(option, "must be greater than zero")
    return result


def format_bytes(value: int) -> str:
    """Shortest exact unit string for ``value`` bytes, e.g. 67108864 -> "64m" (for messages and diffs)."""
    for unit in ("t", "g", "m", "k"):
        size = _MULTIPLIERS[unit]
        if value and value % size == 0:
            return f"{value // size}{unit}"
    return str(value)


def parse_cpus(value: Union[float, int, str], option: str) -> float:
    """Return a CPU count (``1``, ``"0.5"``, ``1.5``) as a float; at least MIN_CPUS."""
    if isinstance(value, bool):
        raise OptionError(option, f"expected a number of CPUs such as 0.5, got the boolean {value!r}")
    if isinstance(value, (int, float)):
        cpus = float(value)
    elif isinstance(value, str):
        try:
            cpus = float(value.strip())
        except ValueError:
            raise OptionError(option, f"cannot read {value!r} as a number of CPUs; use e.g. 0.5 or 2") from None
    else:
        raise OptionError(option, f"expected a number of CPUs such as 0.5, got {type(value).__name__}")
    if not math.isfinite(cpus) or cpus < MIN_CPUS:
        raise OptionError(option, f"{value!r} is too small; give at least {MIN_CPUS} CPUs")
    return cpus


def cpus_to_quota(cpus: float) -> Tuple[int, int]:
    """CFS ``(quota, period)`` in microseconds for ``cpus`` CPUs (period 100000)."""
    return int(round(cpus * CPU_PERIOD)), CPU_PERIOD


# SIGRTMIN+n names (systemd's stop signal is SIGRTMIN+3) that Python's signal table does not spell.
_SIGRTMIN_RE = re.compile(r"^SIGRTMIN\+(\d+)$")


def parse_signal(value: Any, option: str = "stop_signal") -> Tuple[str, int]:
    """``"TERM"``, ``"sigterm"``, ``"15"``, ``15`` or ``"SIGRTMIN+3"`` -> ``("SIGTERM", 15)``.

    The one signal parser of the collection: containerd wants the name, runc the number.
    """
    text = str(value).strip().upper()
    if text.isdigit():
        number = int(text)
        if not 1 <= number <= 64:
            raise OptionError(option, f"{value!r} is not a signal number (1-64)")
        try:
            return signal.Signals(number).name, number
        except ValueError:
            return f"SIGRTMIN+{number - int(signal.SIGRTMIN)}", number
    name = text if text.startswith("SIG") else "SIG" + text
    realtime = _SIGRTMIN_RE.match(name)
    if realtime:
        number = int(signal.SIGRTMIN) + int(realtime.group(1))
        if number > int(signal.SIGRTMAX):
            raise OptionError(option, f"{value!r} is past SIGRTMAX")
        return name, number
    if name not in signal.Signals.__members__:
        raise OptionError(option, f"unknown signal {value!r}; use a name such as SIGTERM or a number such as 15")
    return name, int(signal.Signals[name])


def normalize_signal(value: Any, option: str = "stop_signal") -> str:
    """The signal's name (``"TERM"``, ``15`` -> ``"SIGTERM"``), as containerd's stop-signal label takes it."""
    return parse_signal(value, option)[0]
