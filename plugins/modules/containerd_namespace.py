#!/usr/bin/python
# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Manage a containerd namespace."""

from __future__ import annotations

DOCUMENTATION = r"""
module: containerd_namespace
short_description: Create, label or remove a containerd namespace
version_added: 1.0.0
description:
  - Makes sure a containerd namespace exists with the given labels, or is gone.
  - containerd refuses to remove a namespace that still holds images, containers or snapshots; the module
    reports that error as is and removes nothing.
options:
  name:
    description:
      - Namespace name.
    type: str
    required: true
  state:
    description:
      - Whether the namespace should exist.
    type: str
    choices: [present, absent]
    default: present
  labels:
    description:
      - Labels to set on the namespace.
    type: dict
    default: {}
  purge_labels:
    description:
      - Remove labels not listed in O(labels).
    type: bool
    default: false
extends_documentation_fragment:
  - ocistack.engine._containerd
  - ocistack.engine._attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
author: ocistack.engine contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: A namespace for the web team
  ocistack.engine.containerd_namespace:
    name: web
    labels:
      team: web

- name: Remove it (it must be empty)
  ocistack.engine.containerd_namespace:
    name: web
    state: absent
"""

RETURN = r"""
namespace:
  description: The namespace after the task (null when absent).
  returned: always
  type: dict
  contains:
    name:
      description: Namespace name.
      type: str
    labels:
      description: Its labels.
      type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ocistack.engine.plugins.module_utils._ctr import CONNECTION_ARGUMENT_SPEC
from ansible_collections.ocistack.engine.plugins.module_utils._errors import OcistackError
from ansible_collections.ocistack.engine.plugins.module_utils._server import manage_namespace


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **CONNECTION_ARGUMENT_SPEC,
            "name": {"type": "str", "required": True},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "labels": {"type": "dict", "default": {}},
            "purge_labels": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    try:
        result = manage_namespace(module)
    except OcistackError as error:
        module.fail_json(msg=str(error))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
