#!/usr/bin/python
# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Converge a set of small files and directories in one call."""

from __future__ import annotations

DOCUMENTATION = r"""
module: config_files
short_description: Converge a set of small configuration files and directories in one task
version_added: 1.0.0
description:
  - Makes a declared set of directories and files exist with the given content and modes, removes what
    the declaration says is no longer wanted, and reports every path it changed. The roles use it for
    containerd's registry directories, so that a rerun that changes nothing costs one task, not five per
    registry.
  - The whole declaration is checked against the host before anything is written. A declared path that
    exists with the wrong type (a directory where a file is declared, for example) fails the task and
    nothing changes.
  - Files are replaced atomically (a temporary file in the same directory, renamed over the old one).
  - Ownership is managed only where O(directories[].owner), O(directories[].group), O(files[].owner) or
    O(files[].group) are given. Otherwise new paths belong to the user the module runs as, and a rewritten
    file keeps the owner and group it had.
extends_documentation_fragment:
  - ocistack.engine._config_files
  - ocistack.engine._attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: One diff per changed path; secret files show their size, not their content.
  idempotent:
    support: full
author: ocistack.engine contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: One registry directory for containerd, with its CA and a private key
  ocistack.engine.config_files:
    directories:
      - path: /etc/containerd/certs.d
        purge: marked
      - path: /etc/containerd/certs.d/registry.example:5000
        mode: "0700"
        purge: all
    files:
      - path: /etc/containerd/certs.d/registry.example:5000/.ocistack-managed
        content: "# managed\n"
      - path: /etc/containerd/certs.d/registry.example:5000/hosts.toml
        content: |
          server = "https://registry.example:5000"
      - path: /etc/containerd/certs.d/registry.example:5000/client.key
        secret_content: "{{ lookup('ansible.builtin.file', 'client.key') }}"
        mode: "0600"
  register: registry_files

- name: A registry's storage owned by its service user, and the modes of a key openssl made
  ocistack.engine.config_files:
    directories:
      - path: /var/lib/docker-registry
        owner: docker-registry
        group: docker-registry
        mode: "0750"
    permissions:
      - path: /etc/docker/registry/tls/ca.key
        owner: root
        group: root
        mode: "0600"

- name: Remove a file that is no longer used
  ocistack.engine.config_files:
    absent:
      - /etc/modules-load.d/old.conf
"""

RETURN = r"""
changed_paths:
  description: Every path created, rewritten, re-moded or removed (or that would be, in check mode), sorted.
  returned: always
  type: list
  elements: str
created:
  description: Paths that did not exist and were made.
  returned: always
  type: list
  elements: str
updated:
  description: Existing paths whose content, mode, owner or group changed.
  returned: always
  type: list
  elements: str
removed:
  description: Paths removed (purged or listed in O(absent)).
  returned: always
  type: list
  elements: str
written:
  description:
    - Files whose content was written (created or replaced), or would be in check mode. A change of mode or
      owner alone is not listed, so this tells whether a service must reload its configuration.
  returned: always
  type: list
  elements: str
backups:
  description: For each rewritten file with O(files[].backup), the path of the copy of its previous content.
  returned: always
  type: dict
  sample: {"/etc/containerd/config.toml": "/etc/containerd/config.toml.4242.2026-12-02@01:10:00~"}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ocistack.engine.plugins.module_utils._config_files import FILE_OPTIONS, run
from ansible_collections.ocistack.engine.plugins.module_utils._errors import OcistackError


def main() -> None:
    module = AnsibleModule(
        argument_spec=FILE_OPTIONS,
        supports_check_mode=True,
    )
    try:
        result = run(module.params, module.check_mode, module._diff)
    except OcistackError as error:
        module.fail_json(msg=str(error))
    except OSError as error:
        module.fail_json(
            msg=f"config_files: {error.strerror} on {error.filename}; the paths after it were left as they were"
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
