# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The registry token flow (Docker Registry HTTP API v2 token authentication).

Docker Hub, GHCR, Harbor, Quay and Distribution with ``auth: token`` answer ``GET /v2/`` with
``401`` and ``WWW-Authenticate: Bearer realm=...,service=...``. A client then asks the realm
for a token for the repository it needs (``scope=repository:<name>:pull[,push]``), with the
user's password as basic auth, or with an identity (refresh) token as an OAuth2 form post,
and sends ``Authorization: Bearer <token>`` to the registry. ``ctr`` takes no password off
argv, so the module does this exchange itself and hands ctr the bearer header through the
same private hosts.toml that carries a basic-auth header for registries that want one.
"""

from __future__ import annotations

import base64
import json
import re
import ssl
import urllib.error
import urllib.parse
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

from ansible.module_utils.urls import Request

from ansible_collections.ocistack.engine.plugins.module_utils._errors import OptionError

__all__ = [
    "authorization_header",
    "parse_challenge",
    "registry_endpoint",
    "repository_of",
]

# A token request that takes longer than this is a dead token server, not a slow one.
TIMEOUT_SECONDS = 30
# Sent as the OAuth2 client_id with an identity token, as registries ask clients to name themselves.
CLIENT_ID = "ocistack.engine"
_PARAM = re.compile(r'\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?')


def registry_endpoint(host: str) -> str:
    """The host that serves ``/v2/`` for a reference's registry part (Docker Hub's is not docker.io)."""
    return "registry-1.docker.io" if host == "docker.io" else host


def repository_of(reference: str) -> str:
    """``127.0.0.1:5000/team/app:1`` -> ``team/app``; ``docker.io/busybox:1`` -> ``library/busybox``."""
    host, _slash, rest = reference.partition("/")
    name = rest.split("@", 1)[0]
    if ":" in name:
        name = name.rsplit(":", 1)[0]
    if host == "docker.io" and "/" not in name:
        name = f"library/{name}"
    return name


def parse_challenge(header: str) -> Tuple[str, Dict[str, str]]:
    """``Bearer realm="https://a/token",service="reg"`` -> ``("bearer", {"realm": ..., "service": ...})``."""
    scheme, _space, rest = (header or "").strip().partition(" ")
    params: Dict[str, str] = {}
    position = 0
    while position < len(rest):
        match = _PARAM.match(rest, position)
        if not match or match.end() == position:
            break
        quoted, bare = match.group(2), match.group(3)
        params[match.group(1).lower()] = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
        position = match.end()
    return scheme.lower(), params


def _ssl_context(skip_verify: bool, ca_files: Sequence[str]) -> ssl.SSLContext:
    context = ssl.create_default_context()
    for path in ca_files:
        context.load_verify_locations(cafile=path)
    if skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _open(
    url: str, context: ssl.SSLContext, data: Optional[bytes] = None, headers: Optional[Mapping[str, str]] = None
) -> Any:
    # Proxies from the environment apply, as to ctr; no ~/.netrc: the credentials are the options' only.
    return Request(context=context, use_netrc=False).open(
        "POST" if data is not None else "GET", url, data=data, headers=dict(headers or {}), timeout=TIMEOUT_SECONDS
    )


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def _challenge(url: str, context: ssl.SSLContext) -> Optional[str]:
    """The ``WWW-Authenticate`` header of ``GET url``, or None when the registry lets us in without one."""
    try:
        with _open(url, context):
            return None
    except urllib.error.HTTPError as error:
        if error.code == 401:
            return error.headers.get("WWW-Authenticate", "")
        raise OptionError("username", f"{url} answered HTTP {error.code} to the API version check") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        hint = "trust its CA (a *.crt in hosts_dir) or set skip_verify" if "CERTIFICATE" in str(reason) else ""
        raise OptionError("username", f"cannot reach {url} to log in: {reason}{'; ' + hint if hint else ''}") from None


def _request_token(  # noqa: PLR0913 - the token request's inputs, each a different part of it
    params: Dict[str, str],
    scope: str,
    context: ssl.SSLContext,
    *,
    username: Optional[str],
    password: Optional[str],
    identity_token: Optional[str],
) -> str:
    realm = params.get("realm")
    if not realm:
        raise OptionError("username", "the registry asked for a bearer token but named no realm to get it from")
    query = {key: value for key, value in (("service", params.get("service")), ("scope", scope)) if value}
    if identity_token:
        # OAuth2 refresh-token grant, as docker login stores an identity token for.
        form = {**query, "grant_type": "refresh_token", "refresh_token": identity_token, "client_id": CLIENT_ID}
        url, data = realm, urllib.parse.urlencode(form).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        option = "identity_token"
    else:
        separator = "&" if "?" in realm else "?"
        url, data = realm + separator + urllib.parse.urlencode(query), None
        headers = {"Authorization": _basic(username or "", password or "")}
        option = "password"
    try:
        with _open(url, context, data=data, headers=headers) as response:
            body = json.loads(response.read().decode() or "{}")
    except urllib.error.HTTPError as error:
        if error.code in (400, 401, 403):
            raise OptionError(
                option,
                f"the registry's token server {realm} refused the credentials (HTTP {error.code}) "
                f"for scope {scope}; check username and {option}",
            ) from None
        raise OptionError(option, f"the token server {realm} answered HTTP {error.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise OptionError(option, f"cannot get a token from {realm}: {getattr(error, 'reason', error)}") from None
    token = body.get("token") or body.get("access_token")
    if not token:
        raise OptionError(option, f"the token server {realm} answered without a token")
    return token


def authorization_header(  # noqa: PLR0913 - one registry login's inputs
    base_url: str,
    repository: str,
    actions: Sequence[str],
    *,
    username: Optional[str] = None,
    password: Optional[str] = None,
    identity_token: Optional[str] = None,
    skip_verify: bool = False,
    ca_files: Sequence[str] = (),
) -> str:
    """The ``Authorization`` value ctr should send to ``base_url`` for ``repository``.

    Asks the registry which scheme it wants: bearer -> a token for the repository and actions;
    basic (or a registry that does not say) -> the username and password; no challenge at all
    (``/v2/`` is open) -> basic auth still, so a registry that guards only some repositories
    gets the credentials. An identity token works only with a token server.
    """
    context = _ssl_context(skip_verify, ca_files)
    scheme, params = parse_challenge(_challenge(base_url.rstrip("/") + "/v2/", context) or "")
    if scheme == "bearer":
        scope = f"repository:{repository}:{','.join(actions)}"
        return "Bearer " + _request_token(
            params, scope, context, username=username, password=password, identity_token=identity_token
        )
    if username and password:
        return _basic(username, password)
    raise OptionError(
        "identity_token",
        f"{base_url} does not ask for a bearer token, so an identity token cannot log in; give username and password",
    )
