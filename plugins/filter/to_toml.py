# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The to_toml filter: a nested dict (containerd's configuration, hosts.toml) rendered as TOML."""

from __future__ import annotations

DOCUMENTATION = r"""
name: to_toml
author: ocistack.engine contributors
version_added: 1.0.0
short_description: Render a dictionary as a TOML document
description:
  - Renders a nested dictionary as a TOML document, the format of containerd's C(config.toml) and of the
    C(hosts.toml) files of its registry configuration.
  - Scalars of a table are written before its sub-tables; dictionaries become C([table]) sections whose dotted
    names quote keys that are not bare TOML keys (for example C([plugins."io.containerd.grpc.v1.cri"])).
  - A list whose items are all dictionaries becomes an array of tables (C([[name]])); other lists become arrays.
  - Keys whose value is V(null) are left out, so an override can remove a default by setting it to V(null).
  - Keys are written in the order of the dictionary unless O(sort_keys) is set.
  - Raises an error naming the offending key for values TOML cannot hold (for example a list mixing tables and
    scalars, or an object of an unknown type).
positional: _input
options:
  _input:
    description: The dictionary to render.
    type: dict
    required: true
  sort_keys:
    description: Write the keys of every table in sorted order (a stable text for diffs).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Write containerd's configuration from data
  ansible.builtin.copy:
    content: "{{ containerd_config | ocistack.engine.to_toml }}"
    dest: /etc/containerd/config.toml
    mode: "0644"

- name: A hosts.toml for a registry mirror
  ansible.builtin.debug:
    msg: >-
      {{ {'server': 'https://docker.io',
          'host': {'http://mirror.local:5000': {'capabilities': ['pull', 'resolve']}}}
         | ocistack.engine.to_toml }}
"""

RETURN = r"""
_value:
  description: The TOML document, ending with a newline.
  type: string
"""

import datetime
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ansible.errors import AnsibleFilterError

__all__ = ["FilterModule", "TomlRenderError", "to_toml"]

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


class TomlRenderError(ValueError):
    """A value TOML cannot represent; the message names the key path."""


def _key(key: Any, path: str) -> str:
    if not isinstance(key, str):
        raise TomlRenderError(f"{path or '<top>'}: TOML keys must be strings, got {type(key).__name__} {key!r}")
    return key if _BARE_KEY.match(key) else _string(key)


def _string(value: str) -> str:
    out = []
    for char in value:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _is_table(value: Any) -> bool:
    return isinstance(value, Mapping)


def _is_table_array(value: Any) -> bool:
    return _is_sequence(value) and len(value) > 0 and all(_is_table(item) for item in value)


def _is_sequence(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def _scalar(value: Any, path: str) -> str:
    # bool before int: bool is a subclass of int.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if _is_table(value):
        # Only reached inside arrays: an inline table.
        items = [f"{_key(k, path)} = {_scalar(v, f'{path}.{k}')}" for k, v in value.items() if v is not None]
        return "{ " + ", ".join(items) + " }" if items else "{}"
    if _is_sequence(value):
        for index, item in enumerate(value):
            if item is None:
                raise TomlRenderError(f"{path}[{index}]: TOML arrays cannot hold null")
        return "[" + ", ".join(_scalar(item, f"{path}[{index}]") for index, item in enumerate(value)) + "]"
    raise TomlRenderError(f"{path}: TOML cannot hold a value of type {type(value).__name__} ({value!r})")


def _render_table(table: Mapping, header: list[str], lines: list[str], sort_keys: bool, is_array_item: bool) -> None:
    path = ".".join(header)
    keys = sorted(table) if sort_keys else list(table)
    scalars = []
    subtables = []
    for key in keys:
        value = table[key]
        if value is None:
            continue
        if _is_table(value) or _is_table_array(value):
            subtables.append(key)
        else:
            if _is_sequence(value) and any(_is_table(item) for item in value):
                raise TomlRenderError(f"{path + '.' if path else ''}{key}: a list must hold only tables or no tables")
            scalars.append(key)

    # A header is needed when the table has values of its own, is empty (so it exists), or is an array item.
    if header and (scalars or is_array_item or not subtables):
        if lines:
            lines.append("")
        lines.append(("[[{}]]" if is_array_item else "[{}]").format(".".join(header)))
    for key in scalars:
        lines.append(f"{_key(key, path)} = {_scalar(table[key], f'{path}.{key}' if path else str(key))}")
    for key in subtables:
        value = table[key]
        child = [*header, _key(key, path)]
        if _is_table(value):
            _render_table(value, child, lines, sort_keys, is_array_item=False)
        else:
            for item in value:
                _render_table(item, child, lines, sort_keys, is_array_item=True)


def to_toml(data: Any, sort_keys: bool = False) -> str:
    """Render ``data`` (a mapping) as a TOML document."""
    if not _is_table(data):
        raise AnsibleFilterError(f"to_toml expects a dictionary, got {type(data).__name__}")
    lines: list[str] = []
    try:
        _render_table(data, [], lines, bool(sort_keys), is_array_item=False)
    except TomlRenderError as exc:
        raise AnsibleFilterError(f"to_toml: {exc}") from exc
    return "\n".join(lines) + "\n" if lines else ""


class FilterModule:
    """Ansible filter plugin entry point."""

    def filters(self) -> dict:
        return {"to_toml": to_toml}
