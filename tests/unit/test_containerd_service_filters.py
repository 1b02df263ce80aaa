# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""containerd_health_checks and containerd_dropin_files: what the containerd role hands service_config."""

from __future__ import annotations

import re

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.ocistack.engine.plugins.filter.containerd_dropin_files import containerd_dropin_files
from ansible_collections.ocistack.engine.plugins.filter.containerd_health_checks import containerd_health_checks
from ansible_collections.ocistack.engine.plugins.module_utils._service_config import parse_health

# `ctr version` of Debian's 1.6 package and of a release build, and `ctr plugins ls` lines.
CTR_VERSION_DEBIAN = "Client:\n  Version:  1.6.20~ds1\n  Revision: 1.6.20~ds1-1+b1\n\nServer:\n  Version:  1.6.20~ds1\n"
CTR_VERSION_OLD_SERVER = "Client:\n  Version:  1.7.24~ds1\n\nServer:\n  Version:  1.6.20~ds1\n  UUID: x\n"
CTR_VERSION_BUILD = "Client:\n  Version:  v2.1.9\n\nServer:\n  Version:  v2.1.9+unknown\n  Revision: abc\n"
PLUGINS = (
    "TYPE                                   ID                       PLATFORMS      STATUS\n"
    "io.containerd.grpc.v1                  cri                      linux/amd64    ok\n"
    "io.containerd.cri.v1                   runtime                  linux/amd64    error\n"
)


def _checks(**extra):
    args = {"address": "/run/c.sock", "version": "1.6.20", "runtimes": {"runc": "runc", "crun": "/usr/bin/crun"}}
    args.update(extra)
    return containerd_health_checks("/usr/bin", **args)


def test_the_version_check_passes_only_for_the_installed_server() -> None:
    check = _checks()[0]
    assert check["argv"] == ["/usr/bin/ctr", "--address", "/run/c.sock", "version"]
    assert re.search(check["expect"], CTR_VERSION_DEBIAN)
    assert not re.search(_checks(version="1.7.24")[0]["expect"], CTR_VERSION_OLD_SERVER)
    assert re.search(_checks(version="2.1.9")[0]["expect"], CTR_VERSION_BUILD)
    assert not re.search(_checks(version="2.1.1")[0]["expect"], "Server:\n  Version:  2.1.10\n")
    assert re.search(_checks(version="")[0]["expect"], CTR_VERSION_DEBIAN)


def test_each_cri_plugin_must_be_ok_and_is_not_checked_after_a_rollback() -> None:
    checks = _checks(cri_plugins=["io.containerd.grpc.v1.cri", "io.containerd.cri.v1.runtime"])
    cri = [check for check in checks if "CRI" in check["name"]]
    assert [check["after_rollback"] for check in cri] == [False, False]
    assert re.search(cri[0]["expect"], PLUGINS) and not re.search(cri[1]["expect"], PLUGINS)


def test_one_container_per_runtime_unless_turned_off() -> None:
    names = [check["name"] for check in _checks()]
    assert names[1:] == ["a container runs under crun", "a container runs under runc"]
    crun = _checks()[1]
    assert crun["argv"][-2:] == ["/usr/bin/crun", "crun"] and crun["expect"] == "ocistack-health crun"
    assert len(_checks(containers=False)) == 1


def test_service_config_accepts_the_checks() -> None:
    parsed = parse_health(_checks(cri_plugins=["io.containerd.grpc.v1.cri"]))
    assert [check.after_rollback for check in parsed] == [True, False, True, True]


def test_no_address_is_refused() -> None:
    with pytest.raises(AnsibleFilterError, match="address"):
        containerd_health_checks("/usr/bin", address="", version="1.6.20")


def test_dropins_become_validated_files_and_stale_ones_go() -> None:
    result = containerd_dropin_files(
        {"gpu": {"plugins": {"x": {"enabled": True}}}},
        dropin_dir="/etc/containerd/conf.d/",
        schema=3,
        containerd="/usr/bin/containerd",
        written_before=["gpu.toml", "old.toml"],
    )
    (entry,) = result["files"]
    assert entry["path"] == "/etc/containerd/conf.d/gpu.toml" and entry["backup"] is True
    assert entry["validate"] == ["/usr/bin/containerd", "--config", "%s", "config", "dump"]
    header, body = entry["content"].split("\n", 1)
    assert header.startswith("# Written by ocistack.engine.containerd drop-in gpu;")
    assert body.startswith("version = 3\n") and "[plugins.x]" in body
    assert result["absent"] == ["/etc/containerd/conf.d/old.toml"]


def test_dropins_must_be_a_dict() -> None:
    with pytest.raises(AnsibleFilterError, match="containerd_config_dropins"):
        containerd_dropin_files(["gpu"], dropin_dir="/d", schema=2, containerd="/c")
