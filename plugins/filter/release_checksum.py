# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release_checksum filter: the sha256 a binary install checks its download against."""

from __future__ import annotations

DOCUMENTATION = r"""
name: release_checksum
author: ocistack.engine contributors
version_added: 1.0.0
short_description: The sha256 of a release file, from the user's variables or the role's shipped table
description:
  - >-
    Resolves the sha256 that the containerd, runc and cni roles give C(ansible.builtin.get_url) for their
    binary install method, in this order; O(sha256) (the role's C(<prefix>_binary_sha256)) when not empty,
    then O(checksums) (the user's C(<prefix>_checksums)) for the version and architecture, then O(shipped)
    (the table in the role's C(vars/checksums.yml)).
  - >-
    A version and architecture none of them knows, a checksum that is not 64 hexadecimal characters, or
    O(checksums) in another shape than C({version: {arch: sha256}}) fails naming the variable to set, so that
    the role stops before it downloads anything.
positional: _input, arch, prefix
options:
  _input:
    description: The upstream version (C(<prefix>_version)), for example C(2.1.9).
    type: string
    required: true
  arch:
    description: The Go architecture name of the host (C(amd64), C(arm64), ...).
    type: string
    required: true
  prefix:
    description: The role's variable prefix (C(containerd), C(runc), C(cni)), used to name the variables in errors.
    type: string
    required: true
  sha256:
    description: An explicit sha256 (C(<prefix>_binary_sha256)); wins over everything else when not empty.
    type: string
    default: ""
  checksums:
    description: "The user's checksums, C({version: {arch: sha256}}) (C(<prefix>_checksums))."
    type: dict
    default: {}
  shipped:
    description: The role's shipped table, in the same shape.
    type: dict
    default: {}
  url:
    description: The URL that will be downloaded, shown in the error for an unknown version.
    type: string
    default: ""
"""

EXAMPLES = r"""
- name: Resolve the checksum of the containerd release tarball
  ansible.builtin.set_fact:
    containerd_sha256: >-
      {{ containerd_version | ocistack.engine.release_checksum('amd64', 'containerd', sha256=containerd_binary_sha256,
         checksums=containerd_checksums, shipped=shipped_table, url=containerd_binary_url) }}
"""

RETURN = r"""
_value:
  description: The sha256, in lower case.
  type: string
"""

import re
from typing import Any, Mapping

from ansible.errors import AnsibleFilterError

__all__ = ["FilterModule", "release_checksum", "version_ranges"]

_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


def _checked(value: Any, where: str) -> str:
    text = "" if value is None else str(value)
    if not _SHA256.match(text):
        raise AnsibleFilterError(f'{where}: "{text}" is not a sha256 (64 hexadecimal characters)')
    return text.lower()


def _entry(table: Any, version: str, arch: str, variable: str) -> Any:
    """table[version][arch] or None. A version key YAML read as a number (1.10 is 1.1) is refused."""
    if table is None:
        return None
    if not isinstance(table, Mapping):
        raise AnsibleFilterError(
            f"{variable}: must be a dict {{version: {{arch: sha256}}}}, got {type(table).__name__}"
        )
    for key, arches in table.items():
        if not isinstance(key, str):
            raise AnsibleFilterError(f'{variable}: the version {key} is a number, not a string: quote it ("{key}")')
        if key != version:
            continue
        if not isinstance(arches, Mapping):
            raise AnsibleFilterError(
                f'{variable}["{version}"]: must be a dict {{arch: sha256}}, got {type(arches).__name__}'
            )
        return arches.get(arch)
    return None


def version_ranges(table: Mapping[str, Any]) -> str:
    """'1.7.0-1.7.34, 2.0.0-2.0.11': the table's versions, one range per minor release line."""
    lines: dict[tuple[int, int], list[int]] = {}
    others = []
    for version in table:
        match = _SEMVER.match(str(version))
        if match:
            major, minor, patch = (int(part) for part in match.groups())
            lines.setdefault((major, minor), []).append(patch)
        else:
            others.append(str(version))
    ranges = []
    for (major, minor), patches in sorted(lines.items()):
        low, high = min(patches), max(patches)
        ranges.append(f"{major}.{minor}.{low}" if low == high else f"{major}.{minor}.{low}-{major}.{minor}.{high}")
    return ", ".join(ranges + sorted(others))


def release_checksum(
    version: Any,
    arch: str,
    prefix: str,
    *,
    sha256: str = "",
    checksums: Mapping[str, Any] | None = None,
    shipped: Mapping[str, Any] | None = None,
    url: str = "",
) -> str:
    version = "" if version is None else str(version)
    arch = "" if arch is None else str(arch)
    if sha256:
        return _checked(sha256, f"{prefix}_binary_sha256")
    user = _entry(checksums, version, arch, f"{prefix}_checksums")
    if user is not None:
        return _checked(user, f'{prefix}_checksums["{version}"]["{arch}"]')
    known = _entry(shipped, version, arch, "the shipped checksum table")
    if known is not None:
        return _checked(known, f"the shipped checksum table of {prefix} {version} ({arch})")
    source = f" of {url}" if url else ""
    listed = version_ranges(shipped or {})
    arches = sorted({str(a) for entry in (shipped or {}).values() if isinstance(entry, Mapping) for a in entry})
    raise AnsibleFilterError(
        f"{prefix}_version: no sha256 is known for {prefix} {version} ({arch}), so nothing was downloaded. Set "
        f"{prefix}_binary_sha256 to the sha256{source}, or add it to {prefix}_checksums as "
        f'{{"{version}": {{"{arch}": "<sha256>"}}}}. The role ships the sums of {listed or "no version"}'
        + (f" ({', '.join(arches)})." if arches else ".")
    )


class FilterModule:
    """Ansible filter plugin entry point."""

    def filters(self) -> dict:
        return {"release_checksum": release_checksum}
