#!/usr/bin/python
# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Manage an image in containerd."""

from __future__ import annotations

DOCUMENTATION = r"""
module: containerd_image
short_description: Pull, import, tag, export, push or remove an image in containerd
version_added: 1.0.0
description:
  - Makes sure an image is (or is not) in a containerd namespace, pulling it from a registry or importing it
    from an archive.
  - Can also point extra O(tags) at the same digest, export the image to an OCI archive and push it.
  - Change is decided by digest, so re-running with the same arguments changes nothing.
options:
  name:
    description:
      - Fully qualified image reference, with a tag or a digest, for example
        C(registry.example.com/team/app:1.0) or C(docker.io/library/busybox@sha256:...).
    type: str
    required: true
  state:
    description:
      - V(present) makes sure the image is there, V(absent) removes it (and O(tags)).
    type: str
    choices: [present, absent]
    default: present
  pull:
    description:
      - V(missing) pulls only when the image is not there.
      - V(always) resolves the reference again and pulls; the task reports a change only if the digest changed.
    type: str
    choices: [missing, always]
    default: missing
  source:
    description:
      - Where a missing image comes from. V(pull) pulls it from its registry, V(import) imports the archive
        at O(path) (docker-archive or OCI archive; the archive must name the image O(name)).
    type: str
    choices: [pull, import]
    default: pull
  path:
    description:
      - Archive to import with O(source=import). Imported only when O(name) is missing.
    type: path
  platform:
    description:
      - Platform to pull, import or export (C(os/arch[/variant])); the host's platform by default.
    type: str
  tags:
    description:
      - Extra references to point at the same digest (like C(ctr images tag)).
    type: list
    elements: str
    default: []
  archive_path:
    description:
      - Export the image to this file as an OCI archive. Written again only when it does not hold the digest.
      - The file is written next to its final name and renamed, so a failed export leaves the old file intact.
    type: path
  push:
    description:
      - Push to the registry when it does not already serve the digest. With O(tags) the tags are pushed
        (retag and push), without them O(name) is.
    type: bool
    default: false
extends_documentation_fragment:
  - ocistack.engine._containerd
  - ocistack.engine._containerd.registry
  - ocistack.engine._attributes
attributes:
  check_mode:
    support: full
    details:
      - Never pulls, imports, tags, exports or pushes; with O(pull=always) or O(push) it asks the registry for
        the current digest (a manifest request) to predict the change.
  diff_mode:
    support: full
  idempotent:
    support: full
author: ocistack.engine contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Pull an image
  ocistack.engine.containerd_image:
    name: registry.example.com/team/app:1.0

- name: Pull from a private registry, keep the latest digest
  ocistack.engine.containerd_image:
    name: registry.example.com/team/app:stable
    pull: always
    username: deploy
    password: "{{ registry_password }}"

- name: Import an image archive shipped with the playbook
  ocistack.engine.containerd_image:
    name: ocistack.test/busybox:latest
    source: import
    path: /var/tmp/busybox.tar

- name: Retag and push to a local registry over plain HTTP
  ocistack.engine.containerd_image:
    name: registry.example.com/team/app:1.0
    tags: [127.0.0.1:5000/team/app:1.0]
    push: true
    plain_http: true

- name: Remove an image
  ocistack.engine.containerd_image:
    name: registry.example.com/team/app:0.9
    state: absent
"""

RETURN = r"""
image:
  description: The image after the task (null when absent; in check mode a missing image has digest null).
  returned: always
  type: dict
  contains:
    name:
      description: The reference.
      type: str
      sample: registry.example.com/team/app:1.0
    digest:
      description: Digest of the manifest or index the reference points at.
      type: str
      sample: sha256:fd6e2974a550c70ba4e35c1125955011f118e881871207b6dccc8bf8345c0499
    size:
      description: Bytes of the image for the selected platform (manifest, config and layers, compressed).
      type: int
      sample: 1088678
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
actions:
  description: What the task did (or would do in check mode), in order.
  returned: always
  type: list
  elements: str
  sample: [pull registry.example.com/team/app:1.0, tag 127.0.0.1:5000/team/app:1.0]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ocistack.engine.plugins.module_utils._ctr import CONNECTION_ARGUMENT_SPEC
from ansible_collections.ocistack.engine.plugins.module_utils._errors import OcistackError
from ansible_collections.ocistack.engine.plugins.module_utils._images import manage_image
from ansible_collections.ocistack.engine.plugins.module_utils._registry import REGISTRY_ARGUMENT_SPEC


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **CONNECTION_ARGUMENT_SPEC,
            "name": {"type": "str", "required": True},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "pull": {"type": "str", "choices": ["missing", "always"], "default": "missing"},
            "source": {"type": "str", "choices": ["pull", "import"], "default": "pull"},
            "path": {"type": "path"},
            "platform": {"type": "str"},
            "tags": {"type": "list", "elements": "str", "default": []},
            "archive_path": {"type": "path"},
            "push": {"type": "bool", "default": False},
            **REGISTRY_ARGUMENT_SPEC,
        },
        supports_check_mode=True,
    )
    try:
        result = manage_image(module)
    except OcistackError as error:
        module.fail_json(msg=str(error))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
