#!/usr/bin/python
# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""List containers in a containerd namespace."""

from __future__ import annotations

DOCUMENTATION = r"""
module: containerd_container_info
short_description: List containerd containers and the state of their tasks
version_added: 1.0.0
description:
  - Returns the containers of a containerd namespace, or those named in O(name), with image, status and PID.
options:
  name:
    description:
      - Container IDs to look up; all containers of the namespace when empty. Missing ones are left out.
    type: list
    elements: str
    default: []
  log_lines:
    description:
      - Also return each container's last O(log_lines) lines of output as RV(containers[].logs), from where its
        log driver keeps them (the journal, or its log file). V(0) returns none.
    type: int
    default: 0
extends_documentation_fragment:
  - ocistack.engine._containerd
  - ocistack.engine._attributes
  - ocistack.engine._attributes.info_module
author: ocistack.engine contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: What runs in the default namespace
  ocistack.engine.containerd_container_info:
  register: containers

- name: The last 20 lines of the web container
  ocistack.engine.containerd_container_info:
    namespace: ocistack
    name: [web]
    log_lines: 20
  register: web

- name: What dockerd runs
  ocistack.engine.containerd_container_info:
    namespace: moby
"""

RETURN = r"""
containers:
  description: The containers found.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Container ID.
      type: str
    image:
      description: Image reference (null for containers created without one).
      type: str
    image_digest:
      description: Image digest at creation (containers made by M(ocistack.engine.containerd_container)).
      type: str
    status:
      description: V(running), V(stopped) or V(created) (no task).
      type: str
    pid:
      description: Host PID of the task when running, else null.
      type: int
    logs:
      description: The last O(log_lines) lines of the container's output, oldest first (with O(log_lines) only).
      type: list
      elements: str
      returned: when O(log_lines) is more than 0
    published_ports:
      description: Its published ports (C(hostPort:containerPort/protocol)).
      type: list
      elements: str
    log_driver:
      description: V(journald), V(file) or V(none).
      type: str
    runtime:
      description: The containerd runtime.
      type: str
    labels:
      description: All containerd labels of the container.
      type: dict
    restart_policy:
      description: Restart policy label, V(no) when unset.
      type: str
    spec_digest:
      description: Spec digest label (containers made by M(ocistack.engine.containerd_container)).
      type: str
    managed:
      description: Whether M(ocistack.engine.containerd_container) created it.
      type: bool
    created_at:
      description: Creation time.
      type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ocistack.engine.plugins.module_utils._containers import container_info
from ansible_collections.ocistack.engine.plugins.module_utils._ctr import CONNECTION_ARGUMENT_SPEC
from ansible_collections.ocistack.engine.plugins.module_utils._errors import OcistackError


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **CONNECTION_ARGUMENT_SPEC,
            "name": {"type": "list", "elements": "str", "default": []},
            "log_lines": {"type": "int", "default": 0},
        },
        supports_check_mode=True,
    )
    try:
        result = container_info(module)
    except OcistackError as error:
        module.fail_json(msg=str(error))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
