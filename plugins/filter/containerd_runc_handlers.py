# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The containerd_runc_handlers filter: SystemdCgroup on the runtime handlers of the runc v2 shim."""

from __future__ import annotations

DOCUMENTATION = r"""
name: containerd_runc_handlers
author: ocistack.engine contributors
version_added: 1.0.0
short_description: Set SystemdCgroup on containerd runtime handlers of the runc v2 shim
description:
  - >-
    CRI's cgroup driver must be the same for every runtime handler that runs through the runc v2 shim (runc,
    crun, the runsc wrapper); kubelet hands them cgroup parents in the form of its cgroup driver.
  - Returns the handlers with C(options.SystemdCgroup) set to O(systemd_cgroup) on every handler whose
    C(runtime_type) is C(io.containerd.runc.v2) and whose options do not set it. Other handlers (kata) are
    returned as they are.
positional: _input, systemd_cgroup
options:
  _input:
    description: "The handlers, C({name: {runtime_type, options}})."
    type: dict
    required: true
  systemd_cgroup:
    description: Whether the cgroup driver is systemd.
    type: bool
    required: true
"""

EXAMPLES = r"""
- name: crun follows the cgroup driver
  ansible.builtin.debug:
    msg: "{{ {'crun': {'runtime_type': 'io.containerd.runc.v2', 'options': {'BinaryName': '/usr/bin/crun'}}}
             | ocistack.engine.containerd_runc_handlers(true) }}"
"""

RETURN = r"""
_value:
  description: The handlers, with C(options.SystemdCgroup) on those of the runc v2 shim.
  type: dict
"""

from typing import Any, Dict, Mapping

from ansible.errors import AnsibleFilterError

__all__ = ["FilterModule", "containerd_runc_handlers"]

RUNC_SHIM = "io.containerd.runc.v2"


def containerd_runc_handlers(handlers: Mapping[str, Any], systemd_cgroup: Any) -> Dict[str, Any]:
    """Runtime handlers with ``options.SystemdCgroup`` set on those of the runc v2 shim that do not set it."""
    if not isinstance(handlers, Mapping):
        raise AnsibleFilterError("runtime handlers must be a dict of handler names to their settings")
    if isinstance(systemd_cgroup, str):
        systemd_cgroup = systemd_cgroup.strip().lower() in ("true", "yes", "1")
    result: Dict[str, Any] = {}
    for name, handler in handlers.items():
        if isinstance(handler, Mapping) and handler.get("runtime_type") == RUNC_SHIM:
            options = handler.get("options") or {}
            result[name] = {**handler, "options": {"SystemdCgroup": bool(systemd_cgroup), **options}}
        else:
            result[name] = handler
    return result


class FilterModule:
    """Ansible filter plugin entry point."""

    def filters(self) -> dict:
        return {"containerd_runc_handlers": containerd_runc_handlers}
