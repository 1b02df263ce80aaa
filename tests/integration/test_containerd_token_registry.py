"""Registries that want a bearer token (Docker Hub, GHCR, Harbor, Quay), for real.

Distribution runs with ``auth: token`` over TLS; the token server is the tests' own (conftest's
TokenServer, RS256 JWTs with an x5c chain). The modules must log in at the realm the registry
names, scoped to the repository, and keep every secret off argv and out of their output.
"""

from __future__ import annotations

import base64
import json
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

from ansible_collections.ocistack.engine.plugins.filter.containerd_registry_files import containerd_registry_files
from ansible_collections.ocistack.engine.plugins.module_utils._config_files import run as run_config_files


@pytest.fixture
def trusted_hosts(token_registry, tmp_path) -> str:
    """A hosts dir that trusts the registry's CA (a ca.crt beside no hosts.toml), as a user would set up."""
    directory = tmp_path / "hosts" / token_registry.host
    directory.mkdir(parents=True)
    shutil.copy(token_registry.ca_file, directory / "ca.crt")
    return str(tmp_path / "hosts")


def _token_requests(token_registry, since: int) -> list:
    return token_registry.tokens.requests[since:]


def _images(containerd, namespace: str) -> list:
    return containerd.ctr(["images", "ls", "-q"], namespace=namespace).stdout.split()


def test_pull_with_password_logs_in_at_the_token_server(  # noqa: PLR0917
    containerd, module_runner, run_watching_argv, namespace, token_registry, trusted_hosts
):
    reference = f"{token_registry.host}/test/busybox:1"
    args = {
        "address": containerd.address,
        "namespace": namespace,
        "name": reference,
        "username": token_registry.username,
        "password": token_registry.password,
        "hosts_dir": trusted_hosts,
    }
    twin = module_runner("containerd_image", args, check_mode=True)
    assert twin["changed"] is True and twin["actions"] == [f"pull {reference}"], twin
    assert _images(containerd, namespace) == []

    asked = len(token_registry.tokens.requests)
    pulled, seen = run_watching_argv("containerd_image", args)
    assert pulled.get("failed") is not True, pulled
    assert pulled["changed"] is True and pulled["image"]["digest"].startswith("sha256:"), pulled
    assert _images(containerd, namespace) == [reference]
    logins = _token_requests(token_registry, asked)
    assert {"method": "GET", "scope": "repository:test/busybox:pull", "granted": "True"} in logins, logins
    assert seen and not any(token_registry.password in sample for sample in seen)
    assert token_registry.password not in json.dumps(pulled) and token_registry.password not in pulled.stderr

    again = module_runner("containerd_image", args)
    assert again["changed"] is False, again
    always = {**args, "pull": "always"}
    assert module_runner("containerd_image", always, check_mode=True)["changed"] is False
    repulled = module_runner("containerd_image", always)
    assert repulled["changed"] is False and repulled["image"]["digest"] == pulled["image"]["digest"], repulled


def test_pull_with_an_identity_token(containerd, module_runner, run_watching_argv, namespace, token_registry):
    reference = f"{token_registry.host}/test/busybox:1"
    args = {
        "address": containerd.address,
        "namespace": namespace,
        "name": reference,
        "identity_token": token_registry.identity_token,
        "skip_verify": True,
    }
    twin = module_runner("containerd_image", args, check_mode=True)
    assert twin["changed"] is True and _images(containerd, namespace) == []
    asked = len(token_registry.tokens.requests)
    pulled, seen = run_watching_argv("containerd_image", args)
    assert pulled.get("failed") is not True and pulled["changed"] is True, pulled
    logins = _token_requests(token_registry, asked)
    assert {"method": "POST", "scope": "repository:test/busybox:pull", "granted": "True"} in logins, logins
    assert not any(token_registry.identity_token in sample for sample in seen)
    assert token_registry.identity_token not in json.dumps(pulled) + pulled.stderr
    assert module_runner("containerd_image", args)["changed"] is False


@pytest.mark.parametrize(
    ("secret", "option"),
    [("password", "password"), ("identity_token", "identity_token")],
)
def test_wrong_secret_is_refused_naming_it_and_nothing_is_pulled(  # noqa: PLR0917
    containerd, module_runner, namespace, token_registry, secret, option
):
    wrong = "wrong-" + secrets.token_hex(6)
    args = {
        "address": containerd.address,
        "namespace": namespace,
        "name": f"{token_registry.host}/test/busybox:1",
        "skip_verify": True,
        secret: wrong,
    }
    if secret == "password":
        args["username"] = token_registry.username
    result = module_runner("containerd_image", args)
    assert result.get("failed") is True, result
    assert result["msg"].startswith(f"{option}: ") and "token server" in result["msg"] and "401" in result["msg"]
    assert wrong not in json.dumps(result) and wrong not in result.stderr
    assert _images(containerd, namespace) == []


def test_password_and_identity_token_together_are_refused(containerd, module_runner, namespace, token_registry):
    result = module_runner(
        "containerd_image",
        {
            "address": containerd.address,
            "namespace": namespace,
            "name": f"{token_registry.host}/test/busybox:1",
            "username": token_registry.username,
            "password": token_registry.password,
            "identity_token": token_registry.identity_token,
            "skip_verify": True,
        },
    )
    assert result.get("failed") is True and result["msg"].startswith("identity_token: "), result
    assert _images(containerd, namespace) == []


def test_a_static_basic_header_is_not_enough_for_a_token_registry(
    containerd, module_runner, namespace, token_registry, tmp_path
):
    """What the modules did before the token flow (and what a hosts.toml with a basic header does): 401."""
    basic = base64.b64encode(f"{token_registry.username}:{token_registry.password}".encode()).decode()
    settings = {"ca": Path(token_registry.ca_file).read_text(), "header": {"Authorization": f"Basic {basic}"}}
    certs = tmp_path / "certs.d"
    certs.mkdir()
    run_config_files(
        containerd_registry_files({token_registry.host: settings}, str(certs)), check_mode=False, want_diff=False
    )
    result = module_runner(
        "containerd_image",
        {
            "address": containerd.address,
            "namespace": namespace,
            "name": f"{token_registry.host}/test/busybox:1",
            "hosts_dir": str(certs),
        },
    )
    assert result.get("failed") is True and "401" in result["msg"], result
    assert _images(containerd, namespace) == []


def test_containerd_container_runs_an_image_from_a_token_registry(
    containerd, module_runner, run_watching_argv, token_registry, trusted_hosts
):
    name = "tok-" + secrets.token_hex(4)
    reference = f"{token_registry.host}/test/busybox:1"
    args = {
        "address": containerd.address,
        "namespace": "default",
        "name": name,
        "image": reference,
        "command": ["sleep", "600"],
        "stop_timeout": 1,
        "username": token_registry.username,
        "password": token_registry.password,
        "hosts_dir": trusted_hosts,
    }
    try:
        twin = module_runner("containerd_container", args, check_mode=True)
        assert twin["changed"] is True and "create" in twin["actions"], twin
        created, seen = run_watching_argv("containerd_container", args)
        assert created.get("failed") is not True, created
        assert created["changed"] is True and created["container"]["status"] == "running", created
        assert not any(token_registry.password in sample for sample in seen)
        assert token_registry.password not in json.dumps(created) + created.stderr
        assert module_runner("containerd_container", args)["changed"] is False
    finally:
        module_runner("containerd_container", {"address": containerd.address, "name": name, "state": "absent"})
        containerd.ctr(["images", "rm", "--sync", reference], check=False)


def test_push_logs_in_for_pull_and_push(  # noqa: PLR0917
    containerd, module_runner, run_watching_argv, namespace, token_registry, test_images, tmp_path
):
    base = {"address": containerd.address, "namespace": namespace}
    module_runner(
        "containerd_image",
        {**base, "name": "ocistack.test/busybox:latest", "source": "import", "path": str(test_images / "busybox.tar")},
    )
    pushed = f"{token_registry.host}/pushed/{secrets.token_hex(3)}:1"
    args = {
        **base,
        "name": "ocistack.test/busybox:latest",
        "tags": [pushed],
        "push": True,
        "username": token_registry.username,
        "password": token_registry.password,
        "skip_verify": True,
    }
    twin = module_runner("containerd_image", args, check_mode=True)
    assert twin.get("changed") is True and f"push {pushed}" in twin["actions"], twin
    asked = len(token_registry.tokens.requests)
    done, seen = run_watching_argv("containerd_image", args)
    assert done.get("failed") is not True and done["changed"] is True, done
    repository = pushed.split("/", 1)[1].rsplit(":", 1)[0]
    logins = _token_requests(token_registry, asked)
    assert {"method": "GET", "scope": f"repository:{repository}:pull,push", "granted": "True"} in logins, logins
    assert not any(token_registry.password in sample for sample in seen)

    # The registry serves it now: skopeo logs in on its own, with the credentials in a private auth file.
    authfile = tmp_path / "auth.json"
    auth = base64.b64encode(f"{token_registry.username}:{token_registry.password}".encode()).decode()
    authfile.write_text(json.dumps({"auths": {token_registry.host: {"auth": auth}}}))
    inspect = subprocess.run(
        ["skopeo", "inspect", "--raw", "--tls-verify=false", "--authfile", str(authfile), f"docker://{pushed}"],
        capture_output=True,
        check=False,
    )
    assert inspect.returncode == 0 and inspect.stdout, inspect.stderr
    assert module_runner("containerd_image", args)["changed"] is False


def test_a_missing_tag_is_named_as_missing(containerd, module_runner, namespace, token_registry, trusted_hosts):
    """containerd retries a loopback registry over plain HTTP after HTTPS said "not found"; that is no scheme error."""
    result = module_runner(
        "containerd_image",
        {
            "address": containerd.address,
            "namespace": namespace,
            "name": f"{token_registry.host}/test/busybox:no-such-tag",
            "username": token_registry.username,
            "password": token_registry.password,
            "hosts_dir": trusted_hosts,
        },
    )
    assert result.get("failed") is True and result["msg"].startswith("name: "), result
    assert "was not found" in result["msg"] and _images(containerd, namespace) == []
