# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Registry credentials of containerd_registries: where they go, what is refused, what is never shown."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import tomllib
from ansible.errors import AnsibleFilterError
from ansible.plugins.filter.core import combine

from ansible_collections.ocistack.engine.plugins.filter.containerd_cri_registry_auth import containerd_cri_registry_auth
from ansible_collections.ocistack.engine.plugins.filter.containerd_registry_files import containerd_registry_files
from ansible_collections.ocistack.engine.plugins.filter.to_toml import to_toml
from ansible_collections.ocistack.engine.plugins.module_utils._config_files import run

CERTS = "/etc/containerd/certs.d"
SECRET = "s3cr3t-Value"


def _configs(registries: dict) -> dict:
    return containerd_registry_files(registries, CERTS)["cri_configs"]


def test_password_and_identity_token_go_to_the_cri_table_not_to_hosts_toml() -> None:
    tree = containerd_registry_files(
        {
            "registry.example:5000": {"username": "u", "password": SECRET},
            "ghcr.io": {"mirrors": [{"url": "https://cache.example/v2/ghcr", "identity_token": SECRET}]},
        },
        CERTS,
    )
    assert tree["cri_configs"] == {
        "registry.example:5000": {"auth": {"username": "u", "password": SECRET}},
        "cache.example": {"auth": {"identitytoken": SECRET}},
    }
    for entry in tree["files"]:
        assert SECRET not in entry.get("content", "") + entry.get("secret_content", "")
    hosts = {f["path"]: f for f in tree["files"]}[f"{CERTS}/registry.example:5000/hosts.toml"]
    assert "content" in hosts  # no header, no key: hosts.toml stays readable and shown


def test_docker_hub_gets_both_of_its_hosts() -> None:
    configs = _configs({"docker.io": {"username": "u", "password": SECRET}})
    assert set(configs) == {"docker.io", "registry-1.docker.io"}


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"password": SECRET}, r'containerd_registries\["r.example"\]\.password: needs username'),
        ({"username": "u"}, r'containerd_registries\["r.example"\]\.username: needs password'),
        (
            {"username": "u", "password": SECRET, "identity_token": SECRET},
            r'containerd_registries\["r.example"\]: password and identity_token exclude each other',
        ),
        (
            {"username": "u", "identity_token": SECRET},
            r'containerd_registries\["r.example"\]\.identity_token: goes without username',
        ),
        (
            {"username": "u", "password": SECRET + "\nx"},
            r'containerd_registries\["r.example"\]\.password: must be one line',
        ),
        ({"username": "u\r", "password": SECRET}, r'containerd_registries\["r.example"\]\.username: must be one line'),
        ({"identity_token": [SECRET]}, r'containerd_registries\["r.example"\]\.identity_token: must be a string'),
        (
            {"username": "u", "password": SECRET, "header": {"authorization": "Basic eA=="}},
            r'containerd_registries\["r.example"\]\.header: an Authorization header and credentials',
        ),
        (
            {"mirrors": [{"url": "https://m.example", "password": SECRET}]},
            r'containerd_registries\["r.example"\]\.mirrors\[0\]\.password: needs username',
        ),
    ],
)
def test_bad_credentials_are_refused_naming_the_setting_never_the_value(settings, message) -> None:
    with pytest.raises(AnsibleFilterError, match=message) as refused:
        _configs({"r.example": settings})
    assert SECRET not in str(refused.value)


def test_default_has_no_server_to_log_in_to() -> None:
    with pytest.raises(AnsibleFilterError, match=r'containerd_registries\["_default"\]: _default has no server'):
        _configs({"_default": {"username": "u", "password": SECRET}})
    assert _configs({"_default": {"mirrors": [{"url": "http://m:5000", "username": "u", "password": SECRET}]}}) == {
        "m:5000": {"auth": {"username": "u", "password": SECRET}}
    }


def test_two_logins_for_one_host_are_refused_the_same_one_is_kept() -> None:
    mirror = {"url": "https://cache.example:5000", "username": "u", "password": SECRET}
    same = {"a.example": {"mirrors": [mirror]}, "b.example": {"mirrors": [mirror]}}
    assert list(_configs(same)) == ["cache.example:5000"]
    other = {"a.example": {"mirrors": [mirror]}, "b.example": {"mirrors": [{**mirror, "password": "other"}]}}
    with pytest.raises(AnsibleFilterError, match=r'containerd_registries\["b.example"\]: other credentials for cache'):
        _configs(other)


@pytest.mark.parametrize(("schema", "plugin"), [(2, "io.containerd.grpc.v1.cri"), (3, "io.containerd.cri.v1.images")])
def test_the_table_per_schema_merges_into_the_main_config(schema, plugin) -> None:
    main = {"version": schema, "plugins": {plugin: {"registry": {"config_path": CERTS}}}}
    auth = containerd_cri_registry_auth(_configs({"r.example": {"username": "u", "password": 'a"b\\c'}}), schema)
    text = to_toml(combine(main, auth, recursive=True))
    registry = tomllib.loads(text)["plugins"][plugin]["registry"]
    assert registry == {
        "config_path": CERTS,
        "configs": {"r.example": {"auth": {"username": "u", "password": 'a"b\\c'}}},
    }
    assert text == to_toml(combine(main, auth, recursive=True))  # the same bytes on every run
    assert containerd_cri_registry_auth({}, schema) == {}
    with pytest.raises(AnsibleFilterError, match="schema must be 2 or 3"):
        containerd_cri_registry_auth({}, 1)


def test_a_secret_file_and_its_backup_stay_private_and_out_of_the_diff(tmp_path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f'password = "{SECRET}-old"\n')
    os.chmod(path, 0o644)  # a hand-made file others could read
    files = [{"path": str(path), "secret_content": f'password = "{SECRET}"\n', "mode": "0600", "backup": True}]
    twin = run({"files": files}, True, True)
    assert twin["changed"] is True and SECRET not in repr(twin["diff"])
    done = run({"files": files}, False, True)
    assert SECRET not in repr(done["diff"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    backup = done["backups"][str(path)]
    assert stat.S_IMODE(os.stat(backup).st_mode) == 0o600
    assert Path(backup).read_text() == f'password = "{SECRET}-old"\n'
    assert run({"files": files}, False, True)["changed"] is False
