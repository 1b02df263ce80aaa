#!/usr/bin/python
# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Facts about a containerd daemon."""

from __future__ import annotations

DOCUMENTATION = r"""
module: containerd_info
short_description: Server version, plugins, runtimes, snapshotters and namespaces of containerd
version_added: 1.0.0
description:
  - Asks containerd (through C(ctr)) for its version and plugins, and lists its namespaces and the runtime shims
    installed on the host.
options: {}
extends_documentation_fragment:
  - ocistack.engine._containerd
  - ocistack.engine._attributes
  - ocistack.engine._attributes.info_module
author: ocistack.engine contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Is the CRI plugin on?
  ocistack.engine.containerd_info:
  register: ctrd

- ansible.builtin.debug:
    msg: "containerd {{ ctrd.containerd.version }}, CRI {{ ctrd.containerd.cri.status }}"
"""

RETURN = r"""
containerd:
  description: What containerd reports.
  returned: always
  type: dict
  contains:
    version:
      description: Server version.
      type: str
      sample: 1.6.20~ds1
    revision:
      description: Server revision.
      type: str
    uuid:
      description: Server UUID.
      type: str
    client_version:
      description: Version of the ctr client used.
      type: str
    plugins:
      description: Every plugin with C(type), C(id), C(platforms) and C(status) (V(ok), V(skip), V(error)).
      type: list
      elements: dict
    cri:
      description: C(enabled) (bool) and C(status) of the CRI plugin (V(disabled) when not loaded).
      type: dict
    snapshotters:
      description: Snapshotters whose plugin status is ok.
      type: list
      elements: str
    runtimes:
      description: Runtime names whose shim is installed on the host (e.g. C(io.containerd.runc.v2)).
      type: list
      elements: str
    restart_monitor:
      description: Whether the restart monitor plugin is loaded.
      type: bool
    namespaces:
      description: Namespace names.
      type: list
      elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ocistack.engine.plugins.module_utils._ctr import CONNECTION_ARGUMENT_SPEC
from ansible_collections.ocistack.engine.plugins.module_utils._errors import OcistackError
from ansible_collections.ocistack.engine.plugins.module_utils._server import server_info


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **CONNECTION_ARGUMENT_SPEC,
        },
        supports_check_mode=True,
    )
    try:
        result = server_info(module)
    except OcistackError as error:
        module.fail_json(msg=str(error))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
