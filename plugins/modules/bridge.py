#!/usr/bin/python
# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Linux bridge on the managed host, through netlink (pyroute2)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: bridge
short_description: Manage a Linux bridge for container networking
version_added: 1.0.0
description:
  - Creates, configures and removes a Linux bridge on the managed host through netlink (pyroute2).
  - An existing bridge with the right settings is left unchanged; a wrong address or MTU is corrected.
  - Network namespaces join the bridge with M(ocistack.engine.netns).
author: ocistack.engine contributors (!UNKNOWN)
requirements:
  - pyroute2 on the managed host (Debian package C(python3-pyroute2) or C(pip install pyroute2))
extends_documentation_fragment:
  - ocistack.engine._attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff shows state, MTU, whether the link is up and the addresses of the managed IP version.
  idempotent:
    support: full
options:
  name:
    description:
      - The bridge's interface name (at most 15 characters).
    type: str
    required: true
  state:
    description:
      - V(present) creates the bridge and brings it up; V(absent) deletes it (its ports are released).
    type: str
    choices: [present, absent]
    default: present
  address:
    description:
      - The bridge's address in CIDR form, for example V(10.88.10.1/24) (usually the gateway of the
        namespaces attached to it).
      - Other addresses of the same IP version on the bridge are removed (IPv6 link-local ones are kept).
      - When not set, addresses are not managed.
    type: str
  mtu:
    description:
      - The bridge's MTU (68 to 65535). When not set, the MTU is not managed.
    type: int
seealso:
  - module: ocistack.engine.netns
"""

EXAMPLES = r"""
- name: A bridge for containers
  ocistack.engine.bridge:
    name: ocibr0
    address: 10.88.10.1/24
    mtu: 1500

- name: Remove it
  ocistack.engine.bridge:
    name: ocibr0
    state: absent
"""

RETURN = r"""
bridge:
  description: The bridge after the run (before it, in check mode); empty when absent.
  returned: always
  type: dict
  contains:
    ifname:
      description: Interface name.
      type: str
    index:
      description: Interface index.
      type: int
    kind:
      description: Link kind (always C(bridge)).
      type: str
    mtu:
      description: MTU.
      type: int
    up:
      description: Whether the link is administratively up.
      type: bool
    addresses:
      description: All addresses of the link, in CIDR form.
      type: list
      elements: str
  sample:
    ifname: ocibr0
    index: 12
    kind: bridge
    mtu: 1500
    up: true
    addresses: [10.88.10.1/24]
actions:
  description: The netlink changes made (or, in check mode, that would be made), in order.
  returned: always
  type: list
  elements: str
  sample: [create, add_address, up]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ocistack.engine.plugins.module_utils._errors import OcistackError
from ansible_collections.ocistack.engine.plugins.module_utils._netlink import ensure_bridge


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "address": {"type": "str"},
            "mtu": {"type": "int"},
        },
        supports_check_mode=True,
    )
    try:
        result = ensure_bridge(module.params, module.check_mode, module._diff)
    except OcistackError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
