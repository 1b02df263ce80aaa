# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The containerd_dropin_files filter: containerd_config_dropins as files for config_files/service_config."""

from __future__ import annotations

DOCUMENTATION = r"""
name: containerd_dropin_files
author: ocistack.engine contributors
version_added: 1.0.0
short_description: containerd's configuration drop-ins as file entries
description:
  - Turns the containerd role's O(_input) (drop-in name to a dictionary in the installed version's schema) into
    O(ocistack.engine.service_config#module:files) entries C(<dropin_dir>/<name>.toml), each with the
    configuration schema's C(version), a header line that marks it as written by the role, and containerd's own
    check of the candidate (C(containerd --config <candidate> config dump)).
  - Also lists, under C(absent), the drop-ins the role wrote earlier (O(written_before)) that are no longer
    declared.
positional: _input
options:
  _input:
    description: containerd_config_dropins.
    type: dict
    required: true
  dropin_dir:
    description: The drop-in directory (C(<containerd_config_dir>/conf.d)).
    type: string
    required: true
  schema:
    description: The configuration schema of the installed containerd (2 or 3).
    type: int
    required: true
  containerd:
    description: The containerd binary that checks each candidate.
    type: string
    required: true
  written_before:
    description: File names (C(<name>.toml)) of the drop-ins the role wrote on an earlier run.
    type: list
    elements: string
    default: []
"""

EXAMPLES = r"""
- name: containerd's drop-ins
  ansible.builtin.debug:
    msg: >-
      {{ {'gpu': {'plugins': {}}} | ocistack.engine.containerd_dropin_files(dropin_dir='/etc/containerd/conf.d',
         schema=2, containerd='/usr/bin/containerd') }}
"""

RETURN = r"""
_value:
  description: C(files), a list of file entries (path, content, mode, backup, validate), and C(absent), paths.
  type: dict
"""

from typing import Any, Dict, Mapping, Optional, Sequence

from ansible.errors import AnsibleFilterError

from ansible_collections.ocistack.engine.plugins.filter.to_toml import to_toml

__all__ = ["FilterModule", "MARKER", "containerd_dropin_files"]

# The first line of every drop-in the role writes; probe.yml finds them by it.
MARKER = "# Written by ocistack.engine.containerd drop-in"


def containerd_dropin_files(
    dropins: Mapping[str, Any],
    dropin_dir: str,
    schema: int,
    containerd: str,
    written_before: Optional[Sequence[str]] = None,
) -> Dict[str, Any]:
    """``{"files": [...], "absent": [...]}`` for the declared drop-ins."""
    if not isinstance(dropins, Mapping):
        raise AnsibleFilterError("containerd_config_dropins: expected a dict of drop-in name to configuration")
    directory = str(dropin_dir).rstrip("/")
    files = []
    for name, content in sorted(dropins.items()):
        body = {"version": int(schema), **dict(content or {})}
        files.append(
            {
                "path": f"{directory}/{name}.toml",
                "content": (f"{MARKER} {name}; edit containerd_config_dropins, not this file.\n{to_toml(body)}"),
                "mode": "0644",
                "backup": True,
                "validate": [containerd, "--config", "%s", "config", "dump"],
            }
        )
    declared = {f"{name}.toml" for name in dropins}
    absent = [f"{directory}/{name}" for name in sorted(written_before or ()) if name not in declared]
    return {"files": files, "absent": absent}


class FilterModule:
    """Ansible filter plugin entry point."""

    def filters(self) -> dict:
        return {"containerd_dropin_files": containerd_dropin_files}
