# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The normpath filter: a path spelled the way config_files reports it."""

from __future__ import annotations

DOCUMENTATION = r"""
name: normpath
author: ocistack.engine contributors
version_added: 1.0.0
short_description: Normalise a path the way M(ocistack.engine.config_files) does
description:
  - Collapses repeated slashes, C(.) and C(..) and drops a trailing slash, as Python's C(os.path.normpath)
    does, without looking at any file system.
  - M(ocistack.engine.config_files) returns normalised paths (C(written), C(removed), C(backups)); a role that
    looks its own paths up there spells them with this filter, so that C(/etc/containerd/) from the
    inventory still finds C(/etc/containerd/config.toml).
positional: _input
options:
  _input:
    description: The path.
    type: string
    required: true
"""

EXAMPLES = r"""
- name: Spell the configuration directory as config_files reports it
  ansible.builtin.set_fact:
    config_dir: "{{ '/etc/containerd/' | ocistack.engine.normpath }}"  # /etc/containerd
"""

RETURN = r"""
_value:
  description: The normalised path.
  type: string
"""

from ansible_collections.ocistack.engine.plugins.module_utils._config_files import normal_path

__all__ = ["FilterModule", "normpath"]


def normpath(path: str) -> str:
    """The path as config_files spells it in its result."""
    return normal_path(str(path))


class FilterModule:
    """Ansible filter plugin entry point."""

    def filters(self) -> dict:
        return {"normpath": normpath}
