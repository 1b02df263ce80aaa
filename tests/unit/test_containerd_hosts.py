# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""containerd_hosts: registry settings -> hosts.toml data (checked by rendering and parsing it back) + PEM files."""

from __future__ import annotations

import pytest
import tomllib
from ansible.errors import AnsibleFilterError

from ansible_collections.ocistack.engine.plugins.filter.containerd_hosts import FilterModule, containerd_hosts
from ansible_collections.ocistack.engine.plugins.filter.to_toml import to_toml

DIR = "/etc/containerd/certs.d/registry.local:5000"


def test_mirror_only_gets_default_server_and_capabilities() -> None:
    result = containerd_hosts({"mirrors": [{"url": "http://h1:5000"}]}, "ocistack.test", "/d")
    assert tomllib.loads(to_toml(result["hosts"])) == {
        "server": "https://ocistack.test",
        "host": {"http://h1:5000": {"capabilities": ["pull", "resolve"]}},
    }
    assert result["files"] == []
    assert result["secret"] is False


def test_docker_io_and_default_server() -> None:
    assert containerd_hosts({}, "docker.io", "/d")["hosts"] == {"server": "https://docker.io"}
    assert containerd_hosts({}, "_default", "/d")["hosts"] == {}


def test_server_settings_are_repeated_as_a_host_table_for_containerd_16() -> None:
    # containerd 1.6 drops a hosts.toml with no [host] table; the server's own CA must survive.
    result = containerd_hosts({"ca": "CA PEM", "skip_verify": False}, "h1:5000", DIR)
    parsed = tomllib.loads(to_toml(result["hosts"]))
    assert parsed == {
        "server": "https://h1:5000",
        "ca": f"{DIR}/server-ca.crt",
        "skip_verify": False,
        "host": {
            "https://h1:5000": {
                "capabilities": ["pull", "resolve", "push"],
                "ca": f"{DIR}/server-ca.crt",
                "skip_verify": False,
            }
        },
    }
    # Given capabilities win; with mirrors the [host] tables exist already and the server stays the fallback.
    limited = containerd_hosts({"ca": "CA", "capabilities": ["pull", "resolve"]}, "h1:5000", DIR)["hosts"]
    assert limited["host"]["https://h1:5000"]["capabilities"] == ["pull", "resolve"]
    mirrored = containerd_hosts({"ca": "CA", "mirrors": [{"url": "http://m"}]}, "h1:5000", DIR)["hosts"]
    assert list(mirrored["host"]) == ["http://m"]


def test_tls_material_becomes_files_and_keys_are_secret() -> None:
    settings = {
        "server": "https://registry.local:5000",
        "ca": "CA PEM",
        "mirrors": [
            {
                "url": "https://mirror.local",
                "client_cert": "CERT",
                "client_key": "KEY",
                "skip_verify": True,
                "capabilities": ["pull"],
                "header": {"Authorization": "Bearer t"},
                "override_path": True,
            }
        ],
    }
    result = containerd_hosts(settings, "registry.local:5000", DIR)
    parsed = tomllib.loads(to_toml(result["hosts"]))
    assert parsed["ca"] == f"{DIR}/server-ca.crt"
    mirror = parsed["host"]["https://mirror.local"]
    assert mirror == {
        "capabilities": ["pull"],
        "skip_verify": True,
        "client": [[f"{DIR}/mirror0-client.crt", f"{DIR}/mirror0-client.key"]],
        "header": {"Authorization": ["Bearer t"]},
        "override_path": True,
    }
    files = {f["name"]: f for f in result["files"]}
    assert files["server-ca.crt"]["mode"] == "0644"
    assert files["mirror0-client.key"] == {
        "name": "mirror0-client.key",
        "content": "KEY",
        "mode": "0600",
        "secret": True,
    }
    assert result["secret"] is True


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"mirors": []}, r"unknown settings \['mirors'\]"),
        ({"mirrors": [{"uri": "x"}]}, r"mirrors\[0\]: must be a dict with a url"),
        ({"mirrors": [{"url": "x", "capabilities": ["fetch"]}]}, "are not pull, resolve or push"),
        ({"client_cert": "C"}, "client_cert and client_key go together"),
        ({"mirrors": "http://x"}, "must be a list"),
        ({"header": ["x"]}, "header: must be a dict"),
        ("https://r.local", r'containerd_registries\["r.local"\]: settings must be a dict of ca, '),
        (["mirrors"], "settings must be a dict"),
    ],
)
def test_bad_settings_name_the_registry_and_key(settings: dict, message: str) -> None:
    with pytest.raises(AnsibleFilterError, match=message):
        containerd_hosts(settings, "r.local", "/d")


def test_registered_as_filter() -> None:
    assert FilterModule().filters()["containerd_hosts"] is containerd_hosts
