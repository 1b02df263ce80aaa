# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""docker_registry_files: docker_registries -> dockerd's certs.d as config_files declares it, applied to a real tree."""

from __future__ import annotations

import os
import stat

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.ocistack.engine.plugins.filter.docker_registry_files import docker_registry_files
from ansible_collections.ocistack.engine.plugins.module_utils._config_files import run

CA = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----"
KEY = "-----BEGIN PRIVATE KEY-----\nSECRET\n-----END PRIVATE KEY-----\n"


def test_layout_dockerd_reads_and_the_key_is_secret(tmp_path) -> None:
    certs = f"{tmp_path}/certs.d"
    tree = docker_registry_files(
        {
            "h1:5000": {"ca": CA, "mirrors": [{"url": "https://m"}]},
            "private.example": {"client_cert": CA, "client_key": KEY},
            "docker.io": {"mirrors": [{"url": "https://h1:5000"}]},
            "_default": {"ca": CA},
        },
        certs + "/",
    )
    assert tree["directories"] == [
        {"path": certs, "mode": "0755", "purge": "marked", "marker": ".ocistack-managed"},
        {"path": f"{certs}/h1:5000", "mode": "0755", "purge": "all"},
        {"path": f"{certs}/private.example", "mode": "0755", "purge": "all"},
    ]
    by_path = {f["path"]: f for f in tree["files"]}
    assert sorted(by_path) == [
        f"{certs}/h1:5000/.ocistack-managed",
        f"{certs}/h1:5000/ca.crt",
        f"{certs}/private.example/.ocistack-managed",
        f"{certs}/private.example/client.cert",
        f"{certs}/private.example/client.key",
    ]
    # PEM text ends in exactly one newline whatever the variable held.
    assert by_path[f"{certs}/h1:5000/ca.crt"]["content"] == CA + "\n"
    key = by_path[f"{certs}/private.example/client.key"]
    assert key == {"path": key["path"], "secret_content": KEY, "mode": "0600"}

    (tmp_path / "certs.d").mkdir()
    (tmp_path / "certs.d/by-hand").mkdir()
    assert run(tree, False, False)["changed"] is True
    assert run(tree, False, False)["changed"] is False
    assert stat.S_IMODE(os.stat(f"{certs}/private.example/client.key").st_mode) == 0o600
    # A dropped entry takes its directory on the next run, a dropped CA its file; by-hand stays.
    smaller = docker_registry_files({"private.example": {"client_cert": CA, "client_key": KEY}}, certs)
    assert run(smaller, False, False)["removed"] == [f"{certs}/h1:5000"]
    assert sorted(os.listdir(certs)) == ["by-hand", "private.example"]


def test_empty_ca_is_no_ca_and_none_purges_only() -> None:
    assert docker_registry_files({"h1:5000": {"ca": ""}}, "/etc/docker/certs.d") == {
        "directories": [
            {"path": "/etc/docker/certs.d", "mode": "0755", "purge": "marked", "marker": ".ocistack-managed"}
        ],
        "files": [],
    }
    assert docker_registry_files(None, "/etc/docker/certs.d")["files"] == []


@pytest.mark.parametrize("registries", [["h1"], {"h1": "ca text"}])
def test_wrong_shapes_are_refused(registries) -> None:
    with pytest.raises(AnsibleFilterError, match="must be a dict"):
        docker_registry_files(registries, "/d")  # type: ignore[arg-type]
