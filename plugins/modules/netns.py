#!/usr/bin/python
# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A named network namespace, optionally attached to a bridge by a veth pair (pyroute2)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: netns
short_description: Manage a named network namespace and its veth attachment to a bridge
version_added: 1.0.0
description:
  - Creates and removes a named network namespace at C(/var/run/netns/<name>) (the layout of
    C(ip netns)), so OCI bundles join it by path (a C(network) namespace entry with that C(path)).
  - With O(bridge), a veth pair connects the namespace to the bridge; the host side (O(veth)) is a
    port of the bridge, the other side is O(interface) inside the namespace with O(address), and
    O(gateway) becomes the namespace's default route.
  - An existing namespace with the right settings is left unchanged; a wrong address or gateway is
    corrected, a veth pair attached elsewhere is moved to O(bridge).
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
      - The diff shows state, bridge, veth, interface, addresses of the managed IP version and gateway.
  idempotent:
    support: full
options:
  name:
    description:
      - The namespace's name (letters, digits, C(_ . -)).
    type: str
    required: true
  state:
    description:
      - V(present) creates the namespace (with C(lo) up) and its attachment; V(absent) deletes the
        namespace, which also deletes its veth pair.
    type: str
    choices: [present, absent]
    default: present
  bridge:
    description:
      - The bridge (on the host) to attach the namespace to. It must exist (see M(ocistack.engine.bridge)).
      - Required with O(address), O(gateway) or O(veth).
    type: str
  veth:
    description:
      - Name of the host side of the veth pair (at most 15 characters).
      - Defaults to C(veth) followed by 11 hex digits derived from O(name).
    type: str
  interface:
    description:
      - Name of the namespace side of the veth pair.
    type: str
    default: eth0
  address:
    description:
      - The address of O(interface) in CIDR form, for example V(10.88.10.2/24). Other addresses of the
        same IP version on it are removed. When not set, addresses are not managed.
    type: str
  gateway:
    description:
      - The namespace's default route, an address in the subnet of O(address) (usually the bridge's).
    type: str
seealso:
  - module: ocistack.engine.bridge
  - module: ocistack.engine.runc_container
"""

EXAMPLES = r"""
- name: A namespace on the container bridge
  ocistack.engine.netns:
    name: web
    bridge: ocibr0
    address: 10.88.10.2/24
    gateway: 10.88.10.1

- name: A bundle that joins it
  ocistack.engine.oci_bundle:
    path: /var/lib/bundles/web
    oci_layout: /var/lib/images/web:latest
    namespaces:
      - type: network
        path: /var/run/netns/web
      - type: pid
      - type: mount
      - type: ipc
      - type: uts

- name: Remove the namespace (and its veth pair)
  ocistack.engine.netns:
    name: web
    state: absent
"""

RETURN = r"""
netns:
  description: The namespace after the run (before it, in check mode); empty when absent.
  returned: always
  type: dict
  contains:
    name:
      description: The namespace's name.
      type: str
    path:
      description: Its path, for a bundle's C(network) namespace entry.
      type: str
      sample: /var/run/netns/web
    bridge:
      description: The bridge its veth pair is attached to (null when not attached).
      type: str
    veth:
      description: The host side of the veth pair (null when not attached).
      type: str
    interface:
      description: The namespace side of the veth pair (null when not attached).
      type: str
    addresses:
      description: Addresses of the interface, in CIDR form.
      type: list
      elements: str
    gateway:
      description: The namespace's default gateway (null when none).
      type: str
  sample:
    name: web
    path: /var/run/netns/web
    bridge: ocibr0
    veth: veth3f1c2a9b0de
    interface: eth0
    addresses: [10.88.10.2/24]
    gateway: 10.88.10.1
actions:
  description: The changes made (or, in check mode, that would be made), in order.
  returned: always
  type: list
  elements: str
  sample: [create, create_veth, attach, interface_up, add_address, gateway]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ocistack.engine.plugins.module_utils._errors import OcistackError
from ansible_collections.ocistack.engine.plugins.module_utils._netlink import ensure_netns


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "bridge": {"type": "str"},
            "veth": {"type": "str"},
            "interface": {"type": "str", "default": "eth0"},
            "address": {"type": "str"},
            "gateway": {"type": "str"},
        },
        supports_check_mode=True,
    )
    try:
        result = ensure_netns(module.params, module.check_mode, module._diff)
    except OcistackError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
