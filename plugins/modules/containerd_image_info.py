#!/usr/bin/python
# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""List images in a containerd namespace."""

from __future__ import annotations

DOCUMENTATION = r"""
module: containerd_image_info
short_description: List images in containerd
version_added: 1.0.0
description:
  - Returns the images of a containerd namespace, or those named in O(name), with digest, exact size and labels.
options:
  name:
    description:
      - Image references to look up; all images of the namespace when empty. Missing ones are left out.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - ocistack.engine._containerd
  - ocistack.engine._attributes
  - ocistack.engine._attributes.info_module
author: ocistack.engine contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: All images in the default namespace
  ocistack.engine.containerd_image_info:
  register: images

- name: Is this image here?
  ocistack.engine.containerd_image_info:
    name: [registry.example.com/team/app:1.0]
  register: app_image
"""

RETURN = r"""
images:
  description: The images found.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The reference.
      type: str
    digest:
      description: Digest of the manifest or index.
      type: str
    size:
      description: Bytes for the host's platform (manifest, config and layers).
      type: int
    labels:
      description: containerd labels of the image.
      type: dict
    platforms:
      description: Platforms the image provides.
      type: list
      elements: str
    media_type:
      description: Media type of the manifest or index.
      type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ocistack.engine.plugins.module_utils._ctr import CONNECTION_ARGUMENT_SPEC
from ansible_collections.ocistack.engine.plugins.module_utils._errors import OcistackError
from ansible_collections.ocistack.engine.plugins.module_utils._images import image_info


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **CONNECTION_ARGUMENT_SPEC,
            "name": {"type": "list", "elements": "str", "default": []},
        },
        supports_check_mode=True,
    )
    try:
        result = image_info(module)
    except OcistackError as error:
        module.fail_json(msg=str(error))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
