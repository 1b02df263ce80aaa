# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The files_in_place filter: whether config_files would leave a declaration's files alone."""

from __future__ import annotations

DOCUMENTATION = r"""
name: files_in_place
author: ocistack.engine contributors
version_added: 1.0.0
short_description: Whether a host already has the files a config_files or service_config task declares
description:
  - Compares a declaration of M(ocistack.engine.config_files) or M(ocistack.engine.service_config) (its
    C(directories), C(files), C(absent) and C(permissions)) with what M(ocistack.engine.host_probe) reported
    about those paths with C(checksum=true), by the comparison the modules make on the host (content by its
    sha256, mode, owner and group).
  - True only when the task would change nothing. A declared path the probe did not look at, a directory
    to purge without its listing (O(listings)), or a declaration the module would refuse gives false, so
    that the task runs and decides on the host. A role skips its write task on a converged host with it,
    which saves a module run.
positional: _input, observed
options:
  _input:
    description:
      - The declaration, a dict with any of C(directories), C(files), C(absent) and C(permissions), as the
        modules take them.
    type: dict
    required: true
  observed:
    description: The C(paths) result of M(ocistack.engine.host_probe) with C(checksum=true).
    type: dict
    required: true
  listings:
    description:
      - The C(directories) result of M(ocistack.engine.host_probe) for the declared directories to purge
        (listed without C(patterns)). A purged directory is in place only when every entry in it is declared
        (or a backup of a declared file).
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Look at the files the role writes
  ocistack.engine.host_probe:
    paths: [/etc/example, /etc/example/app.conf]
    checksum: true
  register: probe

- name: Write them (skipped when they are in place)
  ocistack.engine.config_files: "{{ declaration }}"
  vars:
    declaration:
      directories: [{path: /etc/example}]
      files: [{path: /etc/example/app.conf, content: "key = value\n"}]
  when: not (declaration | ocistack.engine.files_in_place(probe.paths))
"""

RETURN = r"""
_value:
  description: Whether every declared directory and file is as declared and every C(absent) path is missing.
  type: boolean
"""

from typing import Any, Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.ocistack.engine.plugins.module_utils._config_files import in_place

__all__ = ["FilterModule", "files_in_place"]


def files_in_place(
    declaration: Mapping[str, Any], observed: Mapping[str, Any], listings: Mapping[str, Any] | None = None
) -> bool:
    """in_place() of the declaration's parts against the probe's paths."""
    if not isinstance(declaration, Mapping) or not isinstance(observed, Mapping):
        raise AnsibleFilterError("files_in_place: give a declaration dict and host_probe's paths result (a dict)")
    return in_place(
        declaration.get("directories") or (),
        declaration.get("files") or (),
        declaration.get("absent") or (),
        declaration.get("permissions") or (),
        observed=observed,
        listings=listings or {},
    )


class FilterModule:
    """Ansible filter plugin entry point."""

    def filters(self) -> dict:
        return {"files_in_place": files_in_place}
