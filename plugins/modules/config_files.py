#!/usr/bin/python
# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Converge a set of small files and directories in one call."""

from __future__ import annotations

DOCUMENTATION = r"""
module: config_files
short_description: Converge a set of small configuration files and directories in one task
version_added: 0.1.0
description:
  - Makes a declared set of directories and files exist with the given content and modes, removes what
    the declaration says is no longer wanted, and reports every path it changed. The roles use it for
    containerd's registry directories, so that a rerun that changes nothing costs one task, not five per
    registry.
  - The whole declaration is checked against the host before anything is written. A declared path that
    exists with the wrong type (a directory where a file is declared, for example) fails the task and
    nothing changes.
  - Files are replaced atomically (a temporary file in the same directory, renamed over the old one).
  - Files and directories are created by the user the module runs as; ownership of existing paths is left
    as it is.
options:
  directories:
    description:
      - Directories that must exist, in any order. Missing parent directories are made too, with mode
        V("0755"), as C(mkdir -p) does.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path.
        type: str
        required: true
      mode:
        description: Octal mode, quoted (V("0755")).
        type: raw
        default: "0755"
      purge:
        description:
          - What to remove from the directory that is not declared in O(directories) or O(files).
          - V(none) keeps everything; V(all) removes every undeclared entry (files and directories);
            V(marked) removes only undeclared subdirectories that hold a file named O(directories[].marker),
            so directories other tools or people made are kept.
        type: str
        choices: [none, all, marked]
        default: none
      marker:
        description: File name that marks a subdirectory as managed, for O(directories[].purge=marked).
        type: str
        default: .ocistack-managed
  files:
    description:
      - Files that must exist with this content and mode. Their directory must exist or be declared in
        O(directories). In check mode a missing directory is not an error, since an earlier task of the
        run may only have reported that it would make it.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path.
        type: str
        required: true
      content:
        description:
          - The file's text. Shown in diffs. Give this or O(files[].secret_content).
        type: str
      secret_content:
        description:
          - The file's text when it is a secret (private keys, credentials). It is never logged nor shown
            in diffs, which show its size instead.
        type: str
      mode:
        description: Octal mode, quoted (V("0644")).
        type: raw
        default: "0644"
  absent:
    description:
      - Paths to remove when they exist (files, or directories with what they hold).
    type: list
    elements: str
    default: []
extends_documentation_fragment:
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
  description: Existing paths whose content or mode changed.
  returned: always
  type: list
  elements: str
removed:
  description: Paths removed (purged or listed in O(absent)).
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ocistack.engine.plugins.module_utils._config_files import DEFAULT_MARKER, PURGE_CHOICES, run
from ansible_collections.ocistack.engine.plugins.module_utils._errors import OcistackError


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "directories": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "path": {"type": "str", "required": True},
                    "mode": {"type": "raw", "default": "0755"},
                    "purge": {"type": "str", "choices": list(PURGE_CHOICES), "default": "none"},
                    "marker": {"type": "str", "default": DEFAULT_MARKER},
                },
            },
            "files": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "path": {"type": "str", "required": True},
                    "content": {"type": "str"},
                    "secret_content": {"type": "str", "no_log": True},
                    "mode": {"type": "raw", "default": "0644"},
                },
                "mutually_exclusive": [["content", "secret_content"]],
                "required_one_of": [["content", "secret_content"]],
            },
            "absent": {"type": "list", "elements": "str", "default": []},
        },
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
