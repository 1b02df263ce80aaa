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
      owner:
        description: User name or numeric id that must own the directory. Left as it is when not given.
        type: str
      group:
        description: Group name or numeric id of the directory. Left as it is when not given.
        type: str
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
      validate:
        description:
          - A command that must accept the new content before it replaces the file, with V(%s) as a
            separate argument where the candidate's path goes (V(containerd --config %s config dump)).
            A string is split like a shell would, but no shell runs it; give a list to avoid quoting.
          - Every candidate of the task is written beside its target and validated before any file is
            replaced, so a rejected one leaves all the task's files as they were.
          - Not run in check mode.
        type: raw
      backup:
        description:
          - Keep the previous content of a file that is rewritten, as C(<path>.<pid>.<date>@<time>~).
            The backups made are returned in RV(backups); a directory purge keeps them.
          - A backup has the mode and times of the file it was made from, at most C(0600) when the file is given
            as O(files[].secret_content), and is never readable by others while it is written.
        type: bool
        default: false
      owner:
        description: User name or numeric id that must own the file. Left as it is when not given.
        type: str
      group:
        description: Group name or numeric id of the file. Left as it is when not given.
        type: str
  permissions:
    description:
      - Paths whose content another tool writes (a key made by C(openssl), for example). Only their mode,
        owner and group are set, and only when the path exists; a missing path is left to the task that
        makes it. A directory purge never removes them.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path. A symbolic link is refused; give the path it points to.
        type: str
        required: true
      mode:
        description: Octal mode, quoted (V("0600")). Left as it is when not given.
        type: raw
      owner:
        description: User name or numeric id that must own the path. Left as it is when not given.
        type: str
      group:
        description: Group name or numeric id of the path. Left as it is when not given.
        type: str
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

from ansible_collections.ocistack.engine.plugins.module_utils._config_files import DEFAULT_MARKER, PURGE_CHOICES, run
from ansible_collections.ocistack.engine.plugins.module_utils._errors import OcistackError

# owner and group, alike for directories, files and permissions.
OWNERSHIP = {"owner": {"type": "str"}, "group": {"type": "str"}}


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
                    **OWNERSHIP,
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
                    **OWNERSHIP,
                    "validate": {"type": "raw"},
                    "backup": {"type": "bool", "default": False},
                },
                "mutually_exclusive": [["content", "secret_content"]],
                "required_one_of": [["content", "secret_content"]],
            },
            "permissions": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "path": {"type": "str", "required": True},
                    "mode": {"type": "raw"},
                    **OWNERSHIP,
                },
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
