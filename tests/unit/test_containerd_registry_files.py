# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""containerd_registry_files: containerd_registries -> the config_files declaration, applied to a real tree."""

from __future__ import annotations

import pytest
import tomllib
from ansible.errors import AnsibleFilterError

from ansible_collections.ocistack.engine.plugins.filter.containerd_registry_files import containerd_registry_files
from ansible_collections.ocistack.engine.plugins.module_utils._config_files import run

CA = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n"
KEY = "-----BEGIN PRIVATE KEY-----\nSECRET\n-----END PRIVATE KEY-----\n"


def test_public_registry_is_shown_and_private_key_is_secret(tmp_path) -> None:
    certs = f"{tmp_path}/certs.d"
    tree = containerd_registry_files(
        {
            "h1:5000": {"ca": CA},
            "private.example": {"client_cert": CA, "client_key": KEY},
        },
        certs + "/",
    )
    assert tree["directories"][0] == {"path": certs, "mode": "0755", "purge": "marked", "marker": ".ocistack-managed"}
    modes = {d["path"]: d["mode"] for d in tree["directories"]}
    assert modes[f"{certs}/h1:5000"] == "0755"
    assert modes[f"{certs}/private.example"] == "0700"
    by_path = {f["path"]: f for f in tree["files"]}
    assert "content" in by_path[f"{certs}/h1:5000/hosts.toml"]
    key = [f for f in tree["files"] if f["path"].endswith(".key")][0]
    assert key["secret_content"] == KEY and "content" not in key and key["mode"] == "0600"
    hosts = tomllib.loads(by_path[f"{certs}/h1:5000/hosts.toml"]["content"])
    assert hosts["server"] == "https://h1:5000"
    assert hosts["ca"].startswith(f"{certs}/h1:5000/")

    (tmp_path / "certs.d").mkdir()
    assert run(tree, False, False)["changed"] is True
    assert run(tree, False, False)["changed"] is False
    # Dropping an entry removes its directory on the next run, and only that.
    smaller = containerd_registry_files({"h1:5000": {"ca": CA}}, certs)
    assert run(smaller, False, False)["removed"] == [f"{certs}/private.example"]


def test_no_registries_still_purges_managed_directories(tmp_path) -> None:
    assert containerd_registry_files(None, "/etc/containerd/certs.d") == {
        "directories": [
            {"path": "/etc/containerd/certs.d", "mode": "0755", "purge": "marked", "marker": ".ocistack-managed"}
        ],
        "files": [],
        "cri_configs": {},
    }


def test_not_a_dict_is_refused() -> None:
    with pytest.raises(AnsibleFilterError, match="must be a dict"):
        containerd_registry_files(["h1"], "/d")  # type: ignore[arg-type]
