# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Normalise desired and actual state and compare them.

The one computation behind ``changed``, what check mode reports and what ``--diff``
shows, so the three cannot disagree. Callers normalise what only they understand
(units to bytes with ``_units``, order-free lists with ``sort_by``) and hand the
results to ``compare``.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Mapping, Optional, Union

__all__ = ["Difference", "compare", "env_to_dict", "env_to_list", "normalize", "sort_by"]


def normalize(value: Any) -> Any:
    """A canonical copy of ``value``: dicts with sorted keys (recursively), tuples as lists.

    Lists keep their order: order is meaningful unless the caller says otherwise (``sort_by``).
    """
    if isinstance(value, Mapping):
        return {str(key): normalize(value[key]) for key in sorted(value, key=str)}
    if isinstance(value, (list, tuple)):
        return [normalize(item) for item in value]
    return value


def sort_by(items: Optional[Iterable[Any]], key: str) -> Optional[List[Any]]:
    """Normalise a list whose order does not matter: dicts sorted by ``key`` (e.g. mounts by ``target``).

    Items missing ``key`` sort first; ties keep a stable order by their canonical form.
    """
    if items is None:
        return None
    normalised = [normalize(item) for item in items]
    return sorted(normalised, key=lambda item: (str(item.get(key, "")) if isinstance(item, dict) else "", repr(item)))


def env_to_dict(env: Union[Mapping[str, Any], Iterable[str], None]) -> Optional[Dict[str, str]]:
    """Environment as a dict whatever its form: ``{"A": "1"}`` or ``["A=1"]`` (a bare ``"A"`` means empty)."""
    if env is None:
        return None
    if isinstance(env, Mapping):
        return {str(key): "" if value is None else str(value) for key, value in env.items()}
    result: Dict[str, str] = {}
    for entry in env:
        name, _sep, value = str(entry).partition("=")
        result[name] = value
    return result


def env_to_list(env: Mapping[str, Any]) -> List[str]:
    """Environment dict as ``["NAME=value", ...]`` sorted by name (a stable form for specs and labels)."""
    return [f"{name}={'' if env[name] is None else env[name]}" for name in sorted(env)]


class Difference:
    """Keys whose desired value differs from the actual one, with both values kept for the diff."""

    def __init__(self) -> None:
        self._before: Dict[str, Any] = {}
        self._after: Dict[str, Any] = {}

    def add(self, key: str, before: Any, after: Any) -> None:
        """Record that ``key`` changes from ``before`` to ``after``."""
        self._before[key] = before
        self._after[key] = after

    @property
    def changed(self) -> bool:
        return bool(self._after)

    @property
    def keys(self) -> List[str]:
        return list(self._after)

    def __bool__(self) -> bool:
        return self.changed

    def __repr__(self) -> str:
        return f"Difference(keys={self.keys!r})"

    def diff(self) -> Dict[str, Dict[str, Any]]:
        """Ansible's diff form: ``{"before": {key: old}, "after": {key: new}}`` for the differing keys."""
        return {"before": dict(self._before), "after": dict(self._after)}


def compare(desired: Mapping[str, Any], actual: Optional[Mapping[str, Any]], ignore_none: bool = True) -> Difference:
    """Compare each key of ``desired`` with ``actual`` after ``normalize``.

    ``actual is None`` means the object does not exist: every desired key differs (before ``None``).
    With ``ignore_none`` a desired ``None`` means "not managed" and is skipped.
    """
    difference = Difference()
    for key in desired:
        wanted = desired[key]
        if wanted is None and ignore_none:
            continue
        wanted_norm = normalize(wanted)
        if actual is None:
            difference.add(key, None, wanted_norm)
            continue
        current_norm = normalize(actual.get(key))
        if current_norm != wanted_norm:
            difference.add(key, current_norm, wanted_norm)
    return difference
