# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The registry token flow against an in-process registry and token server on loopback (plain HTTP)."""

from __future__ import annotations

import base64
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

from ansible_collections.ocistack.engine.plugins.module_utils._errors import OptionError
from ansible_collections.ocistack.engine.plugins.module_utils._registry import RegistryAccess
from ansible_collections.ocistack.engine.plugins.module_utils._registry_auth import (
    authorization_header,
    parse_challenge,
    registry_endpoint,
    repository_of,
)


def test_parse_challenge():
    scheme, params = parse_challenge(
        'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"'
    )
    assert scheme == "bearer"
    assert params == {
        "realm": "https://auth.example/token",
        "service": "registry.example",
        "scope": "repository:a/b:pull,push",
    }
    assert parse_challenge('Basic realm="Registry Realm"') == ("basic", {"realm": "Registry Realm"})
    assert parse_challenge('Bearer realm="a\\"b", service=plain') == ("bearer", {"realm": 'a"b', "service": "plain"})
    assert parse_challenge("") == ("", {})


@pytest.mark.parametrize(
    ("reference", "repository"),
    [
        ("127.0.0.1:5000/team/app:1", "team/app"),
        ("ghcr.io/org/tool@sha256:" + "a" * 64, "org/tool"),
        ("docker.io/busybox:1", "library/busybox"),
        ("docker.io/bitnami/nginx:1.25", "bitnami/nginx"),
        ("registry.example/a/b/c:latest", "a/b/c"),
    ],
)
def test_repository_of(reference, repository):
    assert repository_of(reference) == repository


def test_docker_hub_serves_its_api_elsewhere():
    assert registry_endpoint("docker.io") == "registry-1.docker.io"
    assert registry_endpoint("127.0.0.1:5000") == "127.0.0.1:5000"


class FakeRegistry:
    """A /v2/ endpoint that challenges as configured, and a token endpoint that checks credentials."""

    def __init__(self, challenge: str) -> None:
        self.challenge = challenge
        self.token_requests: List[Dict[str, str]] = []
        handler = self._handler()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args):  # keep pytest's output clean
                pass

            def _reply(self, code: int, body: Dict, headers: Dict[str, str] = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # noqa: N802 - http.server's name
                path, _mark, query = self.path.partition("?")
                if path == "/v2/":
                    if fake.challenge:
                        challenge = fake.challenge.replace("REALM", fake.url + "/token")
                        self._reply(401, {}, {"WWW-Authenticate": challenge})
                    else:
                        self._reply(200, {})
                elif path == "/token":
                    request = dict(urllib.parse.parse_qsl(query))
                    request["authorization"] = self.headers.get("Authorization", "")
                    fake.token_requests.append(request)
                    if request["authorization"] == "Basic " + base64.b64encode(b"alice:right").decode():
                        self._reply(200, {"token": "tok-" + request.get("scope", "")})
                    else:
                        self._reply(401, {"errors": [{"code": "UNAUTHORIZED"}]})
                else:
                    self._reply(404, {})

            def do_POST(self):  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length", "0"))
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                fake.token_requests.append(form)
                if form.get("grant_type") == "refresh_token" and form.get("refresh_token") == "id-token":
                    self._reply(200, {"access_token": "oauth-" + form.get("scope", "")})
                else:
                    self._reply(401, {})

        return Handler

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def bearer_registry() -> Iterator[FakeRegistry]:
    fake = FakeRegistry('Bearer realm="REALM",service="test-registry"')
    yield fake
    fake.close()


def test_bearer_token_for_the_repository_and_actions(bearer_registry):
    header = authorization_header(bearer_registry.url, "team/app", ("pull", "push"), username="alice", password="right")
    assert header == "Bearer tok-repository:team/app:pull,push"
    (request,) = bearer_registry.token_requests
    assert request["service"] == "test-registry" and request["scope"] == "repository:team/app:pull,push"


def test_identity_token_is_an_oauth2_refresh_grant(bearer_registry):
    header = authorization_header(bearer_registry.url, "team/app", ("pull",), identity_token="id-token")
    assert header == "Bearer oauth-repository:team/app:pull"
    (form,) = bearer_registry.token_requests
    assert form["grant_type"] == "refresh_token" and form["client_id"] == "ocistack.engine"


def test_refused_credentials_name_the_option_and_never_the_secret(bearer_registry):
    with pytest.raises(OptionError, match="^password: .*refused the credentials \\(HTTP 401\\)") as error:
        authorization_header(bearer_registry.url, "team/app", ("pull",), username="alice", password="wrong-secret")
    assert "wrong-secret" not in str(error.value)
    with pytest.raises(OptionError, match="^identity_token: "):
        authorization_header(bearer_registry.url, "team/app", ("pull",), identity_token="stale")


def test_basic_and_open_registries_get_basic_auth():
    for challenge in ('Basic realm="Registry Realm"', ""):
        fake = FakeRegistry(challenge)
        try:
            header = authorization_header(fake.url, "team/app", ("pull",), username="alice", password="right")
            assert header == "Basic " + base64.b64encode(b"alice:right").decode()
            assert fake.token_requests == []
            with pytest.raises(OptionError, match="^identity_token: .*does not ask for a bearer token"):
                authorization_header(fake.url, "team/app", ("pull",), identity_token="id-token")
        finally:
            fake.close()


def test_an_unreachable_registry_names_the_option():
    with pytest.raises(OptionError, match="^username: cannot reach http://127.0.0.1:9/v2/"):
        authorization_header("http://127.0.0.1:9", "a", ("pull",), username="alice", password="right")


def test_the_bearer_header_reaches_the_private_hosts_toml(bearer_registry, tmp_path):
    host = bearer_registry.url.split("//", 1)[1]
    access = RegistryAccess(plain_http=True, username="alice", password="right")
    access.validate()
    with access.arguments(f"{host}/team/app:1", str(tmp_path), push=True) as flags:
        text = (Path(flags[flags.index("--hosts-dir") + 1]) / host / "hosts.toml").read_text()
    assert 'Authorization = ["Bearer tok-repository:team/app:pull,push"]' in text
    assert "right" not in text


def test_identity_token_validation():
    RegistryAccess(identity_token="t").validate()
    RegistryAccess(username="alice", identity_token="t").validate()
    with pytest.raises(OptionError, match="^identity_token: give either password or identity_token"):
        RegistryAccess(username="alice", password="p", identity_token="t").validate()
