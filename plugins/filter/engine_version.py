# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engine_version filter: the upstream version out of a containerd/runc/crun/runsc --version text."""

from __future__ import annotations

DOCUMENTATION = r"""
name: engine_version
author: ocistack.engine contributors
version_added: 1.0.0
short_description: The upstream version from an engine binary's version output
description:
  - Reads the output of C(containerd --version), C(ctr --version), C(runc --version) or C(crun --version) and
    returns the upstream version as C(MAJOR.MINOR.PATCH), without a leading C(v) and without Debian's
    packaging suffixes (C(~ds1), C(+dfsg), C(-1+deb12u3)).
  - Also accepts a Debian package version (C(1.7.24~ds1-6+b4)) or a bare version.
  - Returns an empty string when no version is found, so a missing binary can be told from a known version.
positional: _input
options:
  _input:
    description: The version text.
    type: string
    required: true
"""

EXAMPLES = r"""
- name: Decide containerd's configuration schema from the installed version
  ansible.builtin.set_fact:
    installed_version: "{{ version_output.stdout | ocistack.engine.engine_version }}"
"""

RETURN = r"""
_value:
  description: The version, for example C(1.6.20), or an empty string.
  type: string
"""

import re

__all__ = ["FilterModule", "engine_version"]

# "containerd github.com/containerd/containerd/v2 v2.1.4 <commit>", "runc version 1.1.5+ds1", "crun version 1.8.1",
# Debian's "containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3".
_VERSION_AFTER_MARKER = re.compile(r"(?:^|\s)(?:version\s+)?v?(\d+\.\d+(?:\.\d+)?)(?=[~+\-\s]|$)", re.MULTILINE)


def engine_version(text: str) -> str:
    """The first MAJOR.MINOR[.PATCH] version in ``text`` that stands as its own word (or '')."""
    if not text:
        return ""
    for line in str(text).splitlines():
        # ctr/containerd print the module path first; its "/v2" suffix is not a version.
        for match in _VERSION_AFTER_MARKER.finditer(line):
            return match.group(1)
    return ""


class FilterModule:
    """Ansible filter plugin entry point."""

    def filters(self) -> dict:
        return {"engine_version": engine_version}
