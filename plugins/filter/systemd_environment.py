# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The systemd_environment filter: a dict of environment variables as a systemd drop-in."""

from __future__ import annotations

DOCUMENTATION = r"""
name: systemd_environment
author: ocistack.engine contributors
version_added: 1.0.0
short_description: A dict of environment variables as a systemd unit drop-in
description:
  - Renders a C([Service]) section with one C(Environment=) line per variable, sorted by name, quoted and escaped
    so that systemd reads back exactly the value given (quotes, backslashes, C(%) and spaces included).
  - The containerd and docker roles write their C(containerd_service_environment) and
    C(docker_service_environment) (for example C(HTTPS_PROXY) and C(NO_PROXY)) with it.
  - A name that is not a shell-style variable name, or a value with a line break (which systemd would read as
    the end of the line, and the rest as another directive), fails naming O(variable).
positional: _input, variable
options:
  _input:
    description: Variable names to values (strings, numbers or booleans).
    type: dict
    required: true
  variable:
    description: The name of the role variable the dict came from, for the error message.
    type: string
    default: environment
"""

EXAMPLES = r"""
- name: containerd's proxy settings as a drop-in
  ansible.builtin.copy:
    dest: /etc/systemd/system/containerd.service.d/ocistack-environment.conf
    content: "{{ {'HTTPS_PROXY': 'http://proxy.example:3128', 'NO_PROXY': 'localhost,10.0.0.0/8'}
                 | ocistack.engine.systemd_environment('containerd_service_environment') }}"
    mode: "0644"
"""

RETURN = r"""
_value:
  description: The drop-in's text, ending with a newline.
  type: string
"""

import re
from typing import Any, Mapping

from ansible.errors import AnsibleFilterError

__all__ = ["FilterModule", "systemd_environment"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
HEADER = "# Written by ocistack.engine from {variable}; edit that variable, not this file.\n"


def _quoted(assignment: str) -> str:
    # Inside double quotes systemd unescapes \\ and \", and expands %-specifiers: keep them literal.
    escaped = assignment.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    return f'"{escaped}"'


def systemd_environment(environment: Mapping[str, Any], variable: str = "environment") -> str:
    if not isinstance(environment, Mapping):
        raise AnsibleFilterError(
            f"{variable}: must be a dict of variable names to values, got {type(environment).__name__}"
        )
    lines = [HEADER.format(variable=variable), "[Service]\n"]
    for name in sorted(environment):
        value = environment[name]
        if not isinstance(name, str) or not _NAME.match(name):
            raise AnsibleFilterError(
                f"{variable}: {name!r} is not an environment variable name (letters, digits and _, not first a digit)"
            )
        if isinstance(value, (Mapping, list, tuple)) or value is None:
            raise AnsibleFilterError(f"{variable}: {name} must be a string, number or boolean")
        text = str(value).lower() if isinstance(value, bool) else str(value)
        if "\n" in text or "\r" in text:
            raise AnsibleFilterError(f"{variable}: the value of {name} has a line break, which a unit file cannot hold")
        lines.append(f"Environment={_quoted(f'{name}={text}')}\n")
    return "".join(lines)


class FilterModule:
    """Ansible filter plugin entry point."""

    def filters(self) -> dict:
        return {"systemd_environment": systemd_environment}
