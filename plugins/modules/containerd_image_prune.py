#!/usr/bin/python
# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Remove the images of a containerd namespace that no container uses."""

from __future__ import annotations

DOCUMENTATION = r"""
module: containerd_image_prune
short_description: Remove the images of a containerd namespace that no container uses
version_added: 1.0.0
description:
  - Removes every image of the namespace that no container of the namespace was created from and that
    O(keep) does not list. An image is never removed while a container uses it, whatever its state (running,
    stopped or created); nor is another name of the same digest, which would free nothing.
  - containerd frees the layers and snapshots of removed images in its next garbage collection.
  - Containers and images of other namespaces (dockerd's C(moby), for example) are not touched.
options:
  keep:
    description:
      - Image references to keep although no container uses them, for example the images a playbook declares
        for later use. Fully qualified, as M(ocistack.engine.containerd_image) takes them.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - ocistack.engine._containerd
  - ocistack.engine._attributes
attributes:
  check_mode:
    support: full
    details: Says which images would be removed, and removes none.
  diff_mode:
    support: full
  idempotent:
    support: full
notes:
  - An image pulled or a container created by another client between this module's listing and its
    removals is not seen; run it where the workloads are declared, after they converged.
author: ocistack.engine contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Drop the images nothing runs any more, but keep the next release
  ocistack.engine.containerd_image_prune:
    namespace: ocistack
    keep:
      - registry.example.com/team/web:1.5
  register: pruned

- name: Say what went
  ansible.builtin.debug:
    var: pruned.removed
"""

RETURN = r"""
removed:
  description: The image names removed (in check mode, that would be removed), sorted.
  returned: always
  type: list
  elements: str
  sample: [registry.example.com/team/web:1.3]
in_use:
  description: The image names kept because a container uses them (or their digest), sorted.
  returned: always
  type: list
  elements: str
  sample: [registry.example.com/team/web:1.4]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ocistack.engine.plugins.module_utils._ctr import CONNECTION_ARGUMENT_SPEC
from ansible_collections.ocistack.engine.plugins.module_utils._errors import OcistackError
from ansible_collections.ocistack.engine.plugins.module_utils._images import prune_images


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **CONNECTION_ARGUMENT_SPEC,
            "keep": {"type": "list", "elements": "str", "default": []},
        },
        supports_check_mode=True,
    )
    try:
        result = prune_images(module)
    except OcistackError as error:
        module.fail_json(msg=str(error))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
