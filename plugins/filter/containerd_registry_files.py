# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The containerd_registry_files filter: all registries' settings -> one declaration for config_files."""

from __future__ import annotations

DOCUMENTATION = r"""
name: containerd_registry_files
author: ocistack.engine contributors
version_added: 1.0.0
short_description: Turn containerd_registries into the directories and files of containerd's certs.d
description:
  - Used by the C(ocistack.engine.containerd) role to write every registry's directory in one
    M(ocistack.engine.config_files) task.
  - Returns C(directories) and C(files) in the form M(ocistack.engine.config_files) takes. The certs.d
    directory is purged of managed registry directories (those holding C(.ocistack-managed)) that are no
    longer listed, and each registry directory of files no longer configured. Directories made by hand are kept.
  - Private keys and a C(hosts.toml) that carries headers are given as C(secret_content), so they never
    appear in logs or diffs; a registry directory holding secrets gets mode C(0700).
  - >-
    Registry credentials (C(username) with C(password), or C(identity_token), of the registry or of a mirror)
    are not files of certs.d: they are returned in C(cri_configs), the CRI C(registry.configs) table of
    C(config.toml) keyed by the C(host[:port]) containerd logs in to. Two entries with other credentials for
    the same host are refused.
positional: _input, certs_dir
options:
  _input:
    description: The C(containerd_registries) dictionary, keyed by registry host.
    type: dict
    required: true
  certs_dir:
    description: containerd's registry configuration directory, for example C(/etc/containerd/certs.d).
    type: string
    required: true
"""

EXAMPLES = r"""
- name: Write every registry's hosts.toml and certificates
  ocistack.engine.config_files:
    directories: "{{ tree.directories }}"
    files: "{{ tree.files }}"
  vars:
    tree: "{{ containerd_registries | ocistack.engine.containerd_registry_files('/etc/containerd/certs.d') }}"
"""

RETURN = r"""
_value:
  description: >-
    C(directories) and C(files) (lists of dicts) for M(ocistack.engine.config_files), and C(cri_configs)
    (dict of host to C({auth: {username, password} or {identitytoken}})).
  type: dict
"""

from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.ocistack.engine.plugins.filter.containerd_hosts import containerd_hosts
from ansible_collections.ocistack.engine.plugins.filter.to_toml import to_toml
from ansible_collections.ocistack.engine.plugins.module_utils._config_files import DEFAULT_MARKER as MARKER

__all__ = ["FilterModule", "containerd_registry_files"]

MARKER_TEXT = "# Managed by ocistack.engine.containerd (containerd_registries); removed with its entry.\n"
HOSTS_HEADER = "# Written by ocistack.engine.containerd from containerd_registries.\n"


def _file(path: str, text: str, mode: str, secret: bool) -> dict:
    return {"path": path, ("secret_content" if secret else "content"): text, "mode": mode}


def containerd_registry_files(registries: dict | None, certs_dir: str) -> dict:
    """Directories and files of certs.d for every registry, with the purge rules that keep it exact."""
    if registries is not None and not isinstance(registries, dict):
        raise AnsibleFilterError("containerd_registries must be a dict keyed by registry host")
    certs_dir = certs_dir.rstrip("/")
    directories: list[dict[str, Any]] = [{"path": certs_dir, "mode": "0755", "purge": "marked", "marker": MARKER}]
    files: list[dict[str, Any]] = []
    configs: dict[str, dict] = {}
    owners: dict[str, str] = {}
    for host, settings in (registries or {}).items():
        directory = f"{certs_dir}/{host}"
        registry = containerd_hosts(settings, host, directory)
        for endpoint, auth in registry["credentials"].items():
            if endpoint in configs and configs[endpoint]["auth"] != auth:
                raise AnsibleFilterError(
                    f'containerd_registries["{host}"]: other credentials for {endpoint} are set already in '
                    f'containerd_registries["{owners[endpoint]}"]; containerd keeps one login per host'
                )
            configs[endpoint] = {"auth": auth}
            owners.setdefault(endpoint, host)
        secret = registry["secret"]
        directories.append({"path": directory, "mode": "0700" if secret else "0755", "purge": "all"})
        files.append(_file(f"{directory}/{MARKER}", MARKER_TEXT, "0644", False))
        for pem in registry["files"]:
            files.append(_file(f"{directory}/{pem['name']}", pem["content"], pem["mode"], pem["secret"]))
        files.append(
            _file(
                f"{directory}/hosts.toml",
                HOSTS_HEADER + to_toml(registry["hosts"]),
                "0600" if secret else "0644",
                secret,
            )
        )
    return {"directories": directories, "files": files, "cri_configs": configs}


class FilterModule:
    """Ansible filter plugin entry point."""

    def filters(self) -> dict:
        return {"containerd_registry_files": containerd_registry_files}
