#!/usr/bin/python
# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the release_source action plugin (plugins/action/release_source.py does the work)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: release_source
short_description: Check a release install's settings and give the sha256 to install, on the controller
version_added: 1.0.0
description:
  - The checks the runc, containerd and cni roles make before a binary or local install touches a host,
    in one task that runs on the controller (nothing is sent to the host).
  - With O(method=binary), the sha256 of the download comes from the C(ocistack.engine.release_checksum) filter
    (O(sha256), else O(checksums), else O(shipped)).
  - With O(method=local), the file at O(local_path) on the controller must exist; its sha256 is returned and must
    equal O(sha256) when that is given.
  - Every error names the role's variable (C(<prefix>_version), C(<prefix>_local_path), C(<prefix>_binary_sha256),
    C(<prefix>_checksums)), so the play stops before anything is downloaded or pushed.
options:
  prefix:
    description: The role's variable prefix (V(runc), V(containerd), V(cni)), used to name the variables in errors.
    type: str
    required: true
  method:
    description: The role's install method.
    type: str
    choices: [binary, local]
    required: true
  version:
    description: The upstream version to install (C(<prefix>_version)); required.
    type: str
  arch:
    description: The Go architecture name of the host (V(amd64), V(arm64)); for O(method=binary).
    type: str
  sha256:
    description: The user's sha256 (C(<prefix>_binary_sha256)); wins for a download, and a local file must match it.
    type: str
    default: ""
  checksums:
    description: "The user's checksums, C({version: {arch: sha256}}) (C(<prefix>_checksums))."
    type: dict
    default: {}
  shipped:
    description: The role's shipped checksum table, in the same shape.
    type: dict
    default: {}
  url:
    description: The URL a binary install downloads, shown in the error for an unknown version.
    type: str
    default: ""
  local_path:
    description: The controller path of the file a local install pushes (C(<prefix>_local_path)).
    type: str
    default: ""
  artifact:
    description: What the file is, for the errors (V(runc binary), V(release tarball)).
    type: str
    default: release file
  example_version:
    description: A version shown in the error when O(version) is empty.
    type: str
extends_documentation_fragment:
  - ocistack.engine._attributes
attributes:
  action:
    description: Runs on the controller as an action plugin.
    support: full
  check_mode:
    support: full
    details:
      - Only reads; the same answer in check mode.
  diff_mode:
    support: none
  idempotent:
    support: full
author: ocistack.engine contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Check the release settings and resolve the sha256 of the download
  ocistack.engine.release_source:
    prefix: runc
    method: "{{ runc_install_method }}"
    version: "{{ runc_version }}"
    arch: amd64
    sha256: "{{ runc_binary_sha256 }}"
    checksums: "{{ runc_checksums }}"
    shipped: "{{ (lookup('ansible.builtin.file', 'checksums.yml') | from_yaml).runc }}"
    url: "{{ runc_binary_url }}"
    local_path: "{{ runc_local_path }}"
    artifact: runc binary
  register: runc_release

- name: Download it
  ansible.builtin.get_url:
    url: "{{ runc_binary_url }}"
    dest: /usr/local/sbin/runc
    checksum: "sha256:{{ runc_release.sha256 }}"
    mode: "0755"
"""

RETURN = r"""
sha256:
  description: The sha256 (lower case) the download must have, or the local file has.
  returned: success
  type: str
  sample: 0d1a2e3f4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6
source:
  description: The URL (O(method=binary)) or the controller path (O(method=local)).
  returned: success
  type: str
"""
