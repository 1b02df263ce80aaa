# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The docker_registry_files filter: docker_registries -> one declaration of dockerd's certs.d for config_files."""

from __future__ import annotations

DOCUMENTATION = r"""
name: docker_registry_files
author: ocistack.engine contributors
version_added: 1.0.0
short_description: Turn docker_registries into the directories and files of dockerd's certs.d
description:
  - Used by the C(ocistack.engine.docker) role to write every registry's certificates in one
    M(ocistack.engine.config_files) task, beside C(daemon.json).
  - dockerd reads C(<certs_dir>/<host>/ca.crt), C(client.cert) and C(client.key) on every pull and push.
    A registry gets a directory when it has a C(ca), or a C(client_cert) and a C(client_key); mirrors and
    keys starting with C(_) (containerd's own, such as C(_default)) are not dockerd's and are left out.
  - The certs.d directory is purged of managed registry directories (those holding C(.ocistack-managed))
    that are no longer listed, and each registry directory of files no longer configured. Directories
    made by hand are kept.
  - Client keys are given as C(secret_content), so they never appear in logs or diffs.
positional: _input, certs_dir
options:
  _input:
    description: The C(docker_registries) dictionary, keyed by registry host (the shape of C(containerd_registries)).
    type: dict
    required: true
  certs_dir:
    description: dockerd's registry certificate directory, for example C(/etc/docker/certs.d).
    type: string
    required: true
"""

EXAMPLES = r"""
- name: Write every registry's certificates for dockerd
  ocistack.engine.config_files:
    directories: "{{ tree.directories }}"
    files: "{{ tree.files }}"
  vars:
    tree: "{{ docker_registries | ocistack.engine.docker_registry_files('/etc/docker/certs.d') }}"
"""

RETURN = r"""
_value:
  description: C(directories) and C(files) (lists of dicts) for M(ocistack.engine.config_files).
  type: dict
"""

from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.ocistack.engine.plugins.module_utils._config_files import DEFAULT_MARKER as MARKER

__all__ = ["FilterModule", "docker_registry_files"]

MARKER_TEXT = "# Managed by ocistack.engine.docker (docker_registries); removed with its entry.\n"


def _pem(text: Any) -> str:
    return str(text).strip() + "\n"


def docker_registry_files(registries: dict | None, certs_dir: str) -> dict:
    """Directories and files of dockerd's certs.d, with the purge rules that keep it exact."""
    if registries is not None and not isinstance(registries, dict):
        raise AnsibleFilterError("docker_registries must be a dict keyed by registry host")
    certs_dir = certs_dir.rstrip("/")
    directories: list[dict[str, Any]] = [{"path": certs_dir, "mode": "0755", "purge": "marked", "marker": MARKER}]
    files: list[dict[str, Any]] = []
    for host, settings in sorted((registries or {}).items()):
        if str(host).startswith("_"):
            continue
        if not isinstance(settings, dict):
            raise AnsibleFilterError(
                f"docker_registries[{host!r}] must be a dict (ca, client_cert, client_key, mirrors)"
            )
        # An empty ca (a registry whose CA does not exist yet, in check mode) is no CA.
        ca = settings.get("ca")
        client = settings.get("client_cert") is not None and settings.get("client_key") is not None
        if not ca and not client:
            continue
        directory = f"{certs_dir}/{host}"
        directories.append({"path": directory, "mode": "0755", "purge": "all"})
        files.append({"path": f"{directory}/{MARKER}", "content": MARKER_TEXT, "mode": "0644"})
        if ca:
            files.append({"path": f"{directory}/ca.crt", "content": _pem(ca), "mode": "0644"})
        if client:
            files.append({"path": f"{directory}/client.cert", "content": _pem(settings["client_cert"]), "mode": "0644"})
            files.append(
                {"path": f"{directory}/client.key", "secret_content": _pem(settings["client_key"]), "mode": "0600"}
            )
    return {"directories": directories, "files": files}


class FilterModule:
    """Ansible filter plugin entry point."""

    def filters(self) -> dict:
        return {"docker_registry_files": docker_registry_files}
