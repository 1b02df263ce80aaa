# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The unknown_role_variables filter: a role's typo check against its argument_specs."""

from __future__ import annotations

DOCUMENTATION = r"""
name: unknown_role_variables
author: ocistack.engine contributors
version_added: 1.0.0
short_description: The variables with a role's prefix that the role does not know
description:
  - Ansible checks a role's arguments against C(meta/argument_specs.yml) only for the names the
    spec lists; a misspelt variable (C(containerd_config_overide)) is silently ignored and the
    role runs with its default. Every ocistack.engine role refuses such names before it touches
    the host; this filter is that check.
  - The input is the names of the play's variables with the role's prefix (from
    C(query('ansible.builtin.varnames', '^runc_.+'))); the result lists those that are neither an
    option of the role's C(main) entry point nor in O(also), each with the closest known name when
    one is close. An empty list means nothing is wrong.
positional: _input, role_path
options:
  _input:
    description: Variable names to check.
    type: list
    elements: string
    required: true
  role_path:
    description: The role's directory (the C(role_path) variable), whose C(meta/argument_specs.yml) is read.
    type: path
    required: true
  also:
    description: Other names the role owns, such as the facts it sets for other roles.
    type: list
    elements: string
    default: []
"""

EXAMPLES = r"""
- name: Refuse variables with the role's prefix that it does not know (typos)
  vars:
    unknown: "{{ query('ansible.builtin.varnames', '^runc_.+') | ocistack.engine.unknown_role_variables(role_path) }}"
  ansible.builtin.assert:
    that: unknown | length == 0
    fail_msg: "Unknown runc role variable(s): {{ unknown | join('; ') }}."
"""

RETURN = r"""
_value:
  description: One entry per unknown name, C(name) or C(name (did you mean known_name?)), sorted.
  type: list
  elements: string
"""

import difflib
import os

import yaml
from ansible.errors import AnsibleFilterError

__all__ = ["FilterModule", "role_options", "unknown_role_variables"]


def role_options(role_path: str, entry_point: str = "main") -> list:
    """The option names of a role's entry point, from its meta/argument_specs.yml."""
    spec_file = os.path.join(str(role_path), "meta", "argument_specs.yml")
    try:
        with open(spec_file, encoding="utf-8") as handle:
            # libyaml's loader when PyYAML has it: every role runs this check on every run.
            specs = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
    except OSError as exc:
        raise AnsibleFilterError(f"unknown_role_variables: cannot read {spec_file}: {exc}") from exc
    try:
        return list(specs["argument_specs"][entry_point]["options"])
    except (KeyError, TypeError) as exc:
        raise AnsibleFilterError(
            f"unknown_role_variables: {spec_file} has no argument_specs.{entry_point}.options"
        ) from exc


def unknown_role_variables(names, role_path: str, also=None) -> list:
    """The names that are neither an option of the role nor in also, with a suggestion when close."""
    known = set(role_options(role_path)) | {str(name) for name in also or []}
    unknown = sorted({str(name) for name in names or []} - known)
    described = []
    for name in unknown:
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.8)
        described.append(f"{name} (did you mean {close[0]}?)" if close else name)
    return described


class FilterModule:
    """Ansible filter plugin entry point."""

    def filters(self) -> dict:
        return {"unknown_role_variables": unknown_role_variables}
