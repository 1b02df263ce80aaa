# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The containerd_hosts filter: registry settings -> the hosts.toml data and the PEM files it points at."""

from __future__ import annotations

DOCUMENTATION = r"""
name: containerd_hosts
author: ocistack.engine contributors
version_added: 1.0.0
short_description: Turn a registry's settings into containerd hosts.toml data and certificate files
description:
  - Used by the C(ocistack.engine.containerd) role for each entry of C(containerd_registries).
  - Returns C(hosts), the hosts.toml document as a dictionary for P(ocistack.engine.to_toml#filter), and C(files),
    the certificate and key files the document points at (each with C(name), C(content), C(mode) and
    C(secret)); keys are mode C(0600) and marked secret.
  - Settings for the registry itself (C(server), C(capabilities), C(skip_verify), C(ca), C(client_cert),
    C(client_key), C(header), C(override_path)) and a list C(mirrors) of the same settings with a C(url).
  - >-
    C(username) with C(password), or C(identity_token), of an endpoint never go into hosts.toml: they are returned
    in C(credentials), keyed by the endpoint's C(host[:port]), as the CRI C(registry.configs.<host>.auth) tables
    of C(config.toml). Both together, a password without a username, a value with a line break, and credentials
    beside an C(Authorization) header are refused, naming the setting and never showing its value.
positional: _input, registry, directory
options:
  _input:
    description: The registry's settings.
    type: dict
    required: true
  registry:
    description: The registry host name (the directory name under certs.d), for example C(docker.io) or C(_default).
    type: string
    required: true
  directory:
    description: The directory the hosts.toml is written to; certificate paths point into it.
    type: string
    required: true
"""

EXAMPLES = r"""
- name: Render the hosts.toml of a mirrored registry
  ansible.builtin.debug:
    msg: "{{ (settings | ocistack.engine.containerd_hosts('docker.io', '/etc/containerd/certs.d/docker.io')).hosts
             | ocistack.engine.to_toml }}"
  vars:
    settings:
      mirrors:
        - url: http://mirror.local:5000
"""

RETURN = r"""
_value:
  description: >-
    C(hosts) (dict), C(files) (list of dicts), C(secret) (true when any file or header holds credentials),
    C(credentials) (dict of host to CRI auth table).
  type: dict
"""

from typing import Any, Mapping

from ansible.errors import AnsibleFilterError

__all__ = ["FilterModule", "containerd_hosts"]

_CREDENTIAL_KEYS = {"username", "password", "identity_token"}
_ENDPOINT_KEYS = {"capabilities", "skip_verify", "ca", "client_cert", "client_key", "header", "override_path"}
_ENDPOINT_KEYS |= _CREDENTIAL_KEYS
_REGISTRY_KEYS = _ENDPOINT_KEYS | {"server", "mirrors"}
_DEFAULT_CAPABILITIES = ["pull", "resolve"]


def _credential(settings: dict, key: str, where: str) -> str:
    """One credential as a one-line string; the message names the setting, never its value."""
    value = settings.get(key)
    if value is None or value == "":
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise AnsibleFilterError(f"{where}.{key}: must be a string")
    value = str(value)
    if any(char in value for char in "\r\n\x00"):
        raise AnsibleFilterError(f"{where}.{key}: must be one line (it holds a line break or a NUL)")
    return value


def _cri_auth(settings: dict, where: str) -> dict:
    """The CRI registry auth table (registry.configs.<host>.auth) for an endpoint's credentials, or {}.

    containerd's CRI hands it to the docker resolver, which answers a registry's Bearer challenge by
    asking the realm for a token with these credentials (username and password, or the identity
    token as an OAuth2 refresh token).
    """
    username = _credential(settings, "username", where)
    password = _credential(settings, "password", where)
    identity_token = _credential(settings, "identity_token", where)
    if password and identity_token:
        raise AnsibleFilterError(f"{where}: password and identity_token exclude each other; set one of them")
    if password and not username:
        raise AnsibleFilterError(f"{where}.password: needs username")
    if identity_token and username:
        # containerd would send the username with an empty password and never the token.
        raise AnsibleFilterError(f"{where}.identity_token: goes without username (containerd ignores it then)")
    if username and not password:
        raise AnsibleFilterError(f"{where}.username: needs password (or drop it and set identity_token)")
    if not username and not identity_token:
        return {}
    header = settings.get("header")
    if isinstance(header, dict) and any(str(name).lower() == "authorization" for name in header):
        raise AnsibleFilterError(
            f"{where}.header: an Authorization header and credentials exclude each other; drop one"
        )
    return {"username": username, "password": password} if username else {"identitytoken": identity_token}


def endpoint_host(url: str) -> str:
    """The host[:port] containerd's resolver asks credentials for, from a server or mirror URL."""
    text = str(url) if "://" in str(url) else f"https://{url}"
    return text.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]


def _endpoint(settings: dict, slot: str, directory: str, where: str, files: list[dict]) -> tuple[dict, bool]:
    """hosts.toml keys for one endpoint; appends its PEM files. Returns (keys, holds_secrets)."""
    out: dict[str, Any] = {}
    secret = False
    if settings.get("capabilities") is not None:
        caps = settings["capabilities"]
        bad = [c for c in caps if c not in ("pull", "resolve", "push")]
        if bad:
            raise AnsibleFilterError(f"{where}.capabilities: {bad} are not pull, resolve or push")
        out["capabilities"] = list(caps)
    if settings.get("skip_verify") is not None:
        out["skip_verify"] = bool(settings["skip_verify"])
    if settings.get("ca"):
        name = f"{slot}-ca.crt"
        files.append({"name": name, "content": settings["ca"], "mode": "0644", "secret": False})
        out["ca"] = f"{directory}/{name}"
    cert, key = settings.get("client_cert"), settings.get("client_key")
    if bool(cert) != bool(key):
        raise AnsibleFilterError(f"{where}: client_cert and client_key go together; set both or neither")
    if cert:
        files.append({"name": f"{slot}-client.crt", "content": cert, "mode": "0644", "secret": False})
        files.append({"name": f"{slot}-client.key", "content": key, "mode": "0600", "secret": True})
        out["client"] = [[f"{directory}/{slot}-client.crt", f"{directory}/{slot}-client.key"]]
        secret = True
    if settings.get("header"):
        header = settings["header"]
        if not isinstance(header, dict):
            raise AnsibleFilterError(f"{where}.header: must be a dict of header name to a value or a list of values")
        out["header"] = {
            str(k): [str(v) for v in (vals if isinstance(vals, list) else [vals])] for k, vals in header.items()
        }
        # Headers carry tokens (Authorization) often enough to treat them all as secrets.
        secret = True
    if settings.get("override_path") is not None:
        out["override_path"] = bool(settings["override_path"])
    return out, secret


def containerd_hosts(settings: dict | None, registry: str, directory: str) -> dict:
    """The hosts.toml data, the files it references and whether any of it is secret."""
    where = f'containerd_registries["{registry}"]'
    if settings is not None and not isinstance(settings, Mapping):
        raise AnsibleFilterError(f"{where}: settings must be a dict of {', '.join(sorted(_REGISTRY_KEYS))}")
    settings = dict(settings or {})
    unknown = sorted(set(settings) - _REGISTRY_KEYS)
    if unknown:
        raise AnsibleFilterError(f"{where}: unknown settings {unknown}; known: {sorted(_REGISTRY_KEYS)}")
    files: list[dict] = []
    hosts: dict[str, Any] = {}
    if settings.get("server"):
        hosts["server"] = settings["server"]
    elif registry != "_default":
        hosts["server"] = "https://docker.io" if registry == "docker.io" else f"https://{registry}"
    server_keys, secret = _endpoint(settings, "server", directory, where, files)
    hosts.update(server_keys)
    credentials: dict[str, dict] = {}
    server_auth = _cri_auth(settings, where)
    if server_auth:
        if not hosts.get("server"):
            raise AnsibleFilterError(
                f"{where}: _default has no server of its own to log in to; set the credentials on its mirrors"
            )
        credentials[endpoint_host(hosts["server"])] = server_auth
        if endpoint_host(hosts["server"]) == "docker.io":
            # Docker Hub answers docker.io's pulls from registry-1.docker.io too.
            credentials["registry-1.docker.io"] = server_auth
    mirrors = settings.get("mirrors") or []
    if not isinstance(mirrors, list):
        raise AnsibleFilterError(f"{where}.mirrors: must be a list of dicts with a url")
    host_tables: dict[str, Any] = {}
    for index, mirror in enumerate(mirrors):
        mirror_where = f"{where}.mirrors[{index}]"
        if not isinstance(mirror, dict) or not mirror.get("url"):
            raise AnsibleFilterError(f"{mirror_where}: must be a dict with a url")
        unknown = sorted(set(mirror) - _ENDPOINT_KEYS - {"url"})
        if unknown:
            raise AnsibleFilterError(f"{mirror_where}: unknown settings {unknown}")
        keys, mirror_secret = _endpoint(mirror, f"mirror{index}", directory, mirror_where, files)
        keys.setdefault("capabilities", list(_DEFAULT_CAPABILITIES))
        host_tables[str(mirror["url"])] = keys
        secret = secret or mirror_secret
        mirror_auth = _cri_auth(mirror, mirror_where)
        if mirror_auth:
            host = endpoint_host(mirror["url"])
            if credentials.get(host, mirror_auth) != mirror_auth:
                raise AnsibleFilterError(f"{mirror_where}: other credentials for {host} are set already in {where}")
            credentials[host] = mirror_auth
    if not host_tables and server_keys and hosts.get("server"):
        # containerd 1.6 rejects a hosts.toml without a [host] table ("invalid `host` tree") and then
        # ignores the whole file: the server's CA, skip_verify, client certificate and headers would be
        # lost. The server repeated as its own host keeps them; 1.7 and later read either form alike.
        host_tables[hosts["server"]] = {"capabilities": ["pull", "resolve", "push"], **server_keys}
    if host_tables:
        hosts["host"] = host_tables
    return {"hosts": hosts, "files": files, "secret": secret, "credentials": credentials}


class FilterModule:
    """Ansible filter plugin entry point."""

    def filters(self) -> dict:
        return {"containerd_hosts": containerd_hosts}
