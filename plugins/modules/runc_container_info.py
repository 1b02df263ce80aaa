#!/usr/bin/python
# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""List the containers an OCI runtime knows under one state directory."""

from __future__ import annotations

DOCUMENTATION = r"""
module: runc_container_info
short_description: List the containers of an OCI runtime (runc, crun, runsc)
version_added: 1.0.0
description:
  - Reads the containers known to an OCI runtime under its state directory with
    C(<runtime> list --format json) (JSON, never the text table).
author: ocistack.engine contributors (!UNKNOWN)
extends_documentation_fragment:
  - ocistack.engine._attributes.info_module
options:
  name:
    description:
      - Only the container with this id. Without it, every container under O(root).
    type: str
  runtime:
    description:
      - The OCI runtime binary, by name on E(PATH) (V(runc), V(crun), V(runsc)) or by absolute path.
    type: str
    default: runc
  root:
    description:
      - The runtime's state directory (its C(--root)); defaults to the runtime's own default.
    type: path
  runtime_flags:
    description:
      - Extra global flags put before the runtime's subcommand.
    type: list
    elements: str
    default: []
seealso:
  - module: ocistack.engine.runc_container
"""

EXAMPLES = r"""
- name: What runs under runc's default root
  ocistack.engine.runc_container_info:
  register: runc_containers

- name: One container under gVisor
  ocistack.engine.runc_container_info:
    runtime: runsc
    name: web-sandboxed
  register: sandboxed
"""

RETURN = r"""
containers:
  description: The containers, as the runtime reports them (empty list when none or when the root does not exist).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The container id.
      type: str
    pid:
      description: The container's init process id on the host (0 when stopped).
      type: int
    status:
      description: The runtime's status (created, running, paused, stopped).
      type: str
    bundle:
      description: The bundle directory.
      type: str
    created:
      description: Creation time, when the runtime reports it.
      type: str
      returned: when the runtime reports it
    annotations:
      description: The bundle's annotations, when the runtime reports them.
      type: dict
      returned: when the runtime reports them
  sample:
    - id: web
      pid: 4242
      status: running
      bundle: /var/lib/bundles/web
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ocistack.engine.plugins.module_utils._errors import OcistackError, ToolError
from ansible_collections.ocistack.engine.plugins.module_utils._runc import (
    RuntimeClient,
    list_containers,
    validate_container_id,
)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "str"},
            "runtime": {"type": "str", "default": "runc"},
            "root": {"type": "path"},
            "runtime_flags": {"type": "list", "elements": "str", "default": []},
        },
        supports_check_mode=True,
    )
    params = module.params
    try:
        name = validate_container_id(params["name"]) if params["name"] is not None else None
        client = RuntimeClient(module, params["runtime"], params["root"], params["runtime_flags"])
        containers = list_containers(client, name)
    except ToolError as exc:
        module.fail_json(msg=str(exc), cmd=exc.cmd, rc=exc.rc, stderr=exc.stderr)
    except OcistackError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, containers=containers)


if __name__ == "__main__":
    main()
