# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The containerd_cri_registry_auth filter: registry credentials -> the CRI table of config.toml that holds them."""

from __future__ import annotations

DOCUMENTATION = r"""
name: containerd_cri_registry_auth
author: ocistack.engine contributors
version_added: 1.0.0
short_description: Put registry credentials where containerd's CRI reads them in config.toml
description:
  - >-
    Used by the C(ocistack.engine.containerd) role to add the credentials of C(containerd_registries) to
    C(config.toml). The puller that honours host-side credentials is the CRI plugin (kubelet pulls through it):
    when a pull request brings no credentials of its own, CRI looks up C(registry.configs."<host>".auth) for
    the host it talks to and its resolver answers a C(WWW-Authenticate Bearer) challenge by fetching a token
    from the realm with them (hosts.toml has no such setting, only static headers).
  - Schema 2 (containerd 1.x) keeps them under C(plugins."io.containerd.grpc.v1.cri".registry.configs),
    schema 3 (containerd 2.x) under C(plugins."io.containerd.cri.v1.images".registry.configs).
  - Returns a tree to merge into the configuration (C(combine(recursive=True))); an empty dict when there
    are no credentials, so a configuration without them is unchanged.
positional: _input, schema
options:
  _input:
    description: "C(cri_configs) of P(ocistack.engine.containerd_registry_files#filter), C({host: {auth: {...}}})."
    type: dict
    required: true
  schema:
    description: The configuration schema version, 2 or 3.
    type: int
    required: true
"""

EXAMPLES = r"""
- name: Render config.toml with the registries' credentials
  ansible.builtin.copy:
    dest: /etc/containerd/config.toml
    mode: "0600"
    content: "{{ config | combine(configs | ocistack.engine.containerd_cri_registry_auth(2), recursive=True)
                 | ocistack.engine.to_toml }}"
  no_log: true
  vars:
    tree: "{{ containerd_registries | ocistack.engine.containerd_registry_files('/etc/containerd/certs.d') }}"
    configs: "{{ tree.cri_configs }}"
"""

RETURN = r"""
_value:
  description: "C({plugins: {<CRI images plugin>: {registry: {configs: ...}}}}), or C({}) without credentials."
  type: dict
"""

from ansible.errors import AnsibleFilterError

__all__ = ["CRI_IMAGES_PLUGIN", "FilterModule", "containerd_cri_registry_auth"]

CRI_IMAGES_PLUGIN = {2: "io.containerd.grpc.v1.cri", 3: "io.containerd.cri.v1.images"}


def containerd_cri_registry_auth(configs: dict | None, schema: int) -> dict:
    """The config.toml tree that carries the CRI registry credentials for this schema."""
    try:
        plugin = CRI_IMAGES_PLUGIN[int(schema)]
    except (KeyError, TypeError, ValueError):
        raise AnsibleFilterError(f"containerd_cri_registry_auth: schema must be 2 or 3, not {schema!r}") from None
    if not configs:
        return {}
    if not isinstance(configs, dict):
        raise AnsibleFilterError("containerd_cri_registry_auth: expects a dict of host to {auth: ...}")
    return {"plugins": {plugin: {"registry": {"configs": {host: dict(value) for host, value in configs.items()}}}}}


class FilterModule:
    """Ansible filter plugin entry point."""

    def filters(self) -> dict:
        return {"containerd_cri_registry_auth": containerd_cri_registry_auth}
