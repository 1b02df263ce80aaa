# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Registry access for the ctr calls that reach a registry (pull, push, resolve).

Registry passwords never reach argv: ``ctr --user name`` would prompt on a terminal,
so credentials go into a private (0700 dir, 0600 file) ``hosts.toml`` as an HTTP
``Authorization`` header, passed with ``--hosts-dir`` and removed right after the call.
The header is the one the registry asks for (``_registry_auth``): a bearer token from its
token server, or basic auth.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence

from ansible_collections.ocistack.engine.plugins.module_utils._ctr import (
    explain_registry_error,
    last_ctr_line,
    registry_host,
)
from ansible_collections.ocistack.engine.plugins.module_utils._errors import OptionError
from ansible_collections.ocistack.engine.plugins.module_utils._registry_auth import (
    authorization_header,
    registry_endpoint,
    repository_of,
)

__all__ = [
    "access_from_params",
    "REGISTRY_ARGUMENT_SPEC",
    "RegistryAccess",
]

# Registry access of the modules that pull (documented in doc_fragments/_containerd.py REGISTRY).
REGISTRY_ARGUMENT_SPEC: Dict[str, Dict[str, Any]] = {
    "username": {"type": "str"},
    "password": {"type": "str", "no_log": True},
    "identity_token": {"type": "str", "no_log": True},
    "plain_http": {"type": "bool", "default": False},
    "skip_verify": {"type": "bool", "default": False},
    "hosts_dir": {"type": "path"},
}


class RegistryAccess:
    """How to reach a registry: plain HTTP, TLS checks, a hosts dir and credentials.

    ``arguments()`` is a context manager yielding the ctr flags; with credentials it logs in
    (a bearer token where the registry has a token server, else basic auth), writes a private
    hosts dir (0700) whose hosts.toml (0600) carries the Authorization header, and removes it
    when the call is done. The password and the token are never part of the flags.
    """

    def __init__(
        self,
        *,
        plain_http: bool = False,
        skip_verify: bool = False,
        hosts_dir: Optional[str] = None,
        username: Optional[str] = None,
        password: Optional[str] = None,
        identity_token: Optional[str] = None,
    ) -> None:
        self.plain_http = bool(plain_http)
        self.skip_verify = bool(skip_verify)
        self.hosts_dir = hosts_dir
        self.username = username
        self.password = password
        self.identity_token = identity_token

    @property
    def has_credentials(self) -> bool:
        return bool(self.username or self.identity_token)

    def validate(self) -> None:
        if self.identity_token:
            if self.password:
                raise OptionError("identity_token", "give either password or identity_token, not both")
        elif bool(self.username) != bool(self.password):
            missing = "password" if self.username else "username"
            raise OptionError(missing, "username and password go together; give both or neither")
        if self.username and ":" in self.username:
            raise OptionError("username", "must not contain ':' (HTTP basic auth separates user and password by it)")
        if self.hosts_dir is not None and not os.path.isdir(self.hosts_dir):
            raise OptionError(
                "hosts_dir", f"{self.hosts_dir} is not a directory; give a dir laid out as <host[:port]>/hosts.toml"
            )

    def _common_flags(self) -> List[str]:
        flags = []
        if self.plain_http:
            flags.append("--plain-http")
        if self.skip_verify:
            flags.append("--skip-verify")
        return flags

    def needs_generated_hosts(self, host: str) -> bool:
        """Credentials need a hosts.toml; so does HTTPS to a loopback registry, which ctr talks plain HTTP to."""
        if self.has_credentials:
            return True
        return _is_loopback(host) and not self.plain_http and not self.hosts_dir

    def explain(self, stderr: str, reference: str) -> str:
        """What a failed registry call means, for the user.

        For a loopback registry over HTTPS, containerd tries plain HTTP after the HTTPS answer
        "not found" and reports the HTTP attempt's "400 Bad Request": that is a missing
        repository or tag, not a scheme mistake.
        """
        if "400 Bad Request" in (stderr or "") and not self.plain_http and _is_loopback(registry_host(reference)):
            last = last_ctr_line(stderr)
            return f"name: {reference} was not found in the registry ({last}); check the repository and tag"
        return explain_registry_error(stderr, reference)

    @contextmanager
    def arguments(self, reference: str, tmp_root: Optional[str] = None, push: bool = False) -> Iterator[List[str]]:
        host = registry_host(reference)
        if not self.needs_generated_hosts(host):
            flags = self._common_flags()
            if self.hosts_dir:
                flags += ["--hosts-dir", self.hosts_dir]
            yield flags
            return
        workdir = tempfile.mkdtemp(prefix="ocistack-hosts-", dir=tmp_root)
        try:
            os.chmod(workdir, stat.S_IRWXU)
            host_dir = os.path.join(workdir, host)
            own_certs: List[str] = []
            if self.hosts_dir:
                user_host_dir = os.path.join(self.hosts_dir, host)
                if os.path.exists(os.path.join(user_host_dir, "hosts.toml")):
                    raise OptionError(
                        "hosts_dir",
                        f"{user_host_dir}/hosts.toml exists, and credentials (username with password or "
                        "identity_token) need a generated hosts.toml for that host; put the registry's "
                        "certificates (*.crt) there instead of a hosts.toml, or drop the credentials and "
                        "configure the auth header in your hosts.toml",
                    )
                for entry in os.listdir(self.hosts_dir):
                    source = os.path.join(self.hosts_dir, entry)
                    if entry != host and os.path.isdir(source):
                        shutil.copytree(source, os.path.join(workdir, entry))
                if os.path.isdir(user_host_dir):
                    own_certs = sorted(
                        os.path.join(user_host_dir, name) for name in os.listdir(user_host_dir) if name.endswith(".crt")
                    )
            authorization = None
            if self.has_credentials:
                authorization = authorization_header(
                    self.base_url(host),
                    repository_of(reference),
                    ("pull", "push") if push else ("pull",),
                    username=self.username,
                    password=self.password,
                    identity_token=self.identity_token,
                    skip_verify=self.skip_verify,
                    ca_files=own_certs,
                )
            os.mkdir(host_dir, stat.S_IRWXU)
            path = os.path.join(host_dir, "hosts.toml")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
            with os.fdopen(fd, "w") as handle:
                handle.write(self.hosts_toml(host, own_certs, authorization))
            yield ["--hosts-dir", workdir]
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def base_url(self, host: str) -> str:
        return f"{'http' if self.plain_http else 'https'}://{registry_endpoint(host)}"

    def hosts_toml(self, host: str, ca_files: Sequence[str] = (), authorization: Optional[str] = None) -> str:
        """The hosts.toml text for ``host``, sending ``authorization`` (a basic or bearer header value)."""
        url = self.base_url(host)
        lines = [
            f'[host."{url}"]',
            '  capabilities = ["pull", "resolve", "push"]',
            f"  skip_verify = {'true' if self.skip_verify else 'false'}",
        ]
        if ca_files:
            lines.append("  ca = [" + ", ".join(json.dumps(path) for path in ca_files) + "]")
        if authorization:
            lines += [f'  [host."{url}".header]', f"    Authorization = [{json.dumps(authorization)}]"]
        return "\n".join(lines) + "\n"


def _is_loopback(host: str) -> bool:
    return host.split(":", maxsplit=1)[0] in ("localhost", "127.0.0.1") or host.startswith(("127.", "[::1]"))


def access_from_params(params: Mapping[str, Any]) -> RegistryAccess:
    access = RegistryAccess(
        plain_http=bool(params.get("plain_http")),
        skip_verify=bool(params.get("skip_verify")),
        hosts_dir=params.get("hosts_dir"),
        username=params.get("username"),
        password=params.get("password"),
        identity_token=params.get("identity_token"),
    )
    access.validate()
    return access
