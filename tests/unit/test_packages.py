# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""dpkg-query output as package facts."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from ansible_collections.ocistack.engine.plugins.module_utils._packages import DPKG_QUERY_ARGV, parse_dpkg_query

SAMPLE = (
    "containerd\t1.6.20~ds1-1+deb12u3\tamd64\tii \n"
    "libc6\t2.36-9+deb12u13\tamd64\tii \n"
    "libc6\t2.36-9+deb12u13\ti386\tii \n"
    "docker.io\t20.10.24+dfsg1-1+deb12u1\tamd64\trc \n"
    "runc\t1.1.5+ds1-1+deb12u1\tamd64\tun \n"
    "crun\t1.8.1-1+deb12u1\tamd64\thi \n"
    "half\t1.0\tamd64\tiU \n"
    "garbage line\n"
)


def test_installed_packages_in_package_facts_shape() -> None:
    packages = parse_dpkg_query(SAMPLE)
    assert packages["containerd"] == [
        {"name": "containerd", "version": "1.6.20~ds1-1+deb12u3", "arch": "amd64", "source": "apt"}
    ]
    assert [entry["arch"] for entry in packages["libc6"]] == ["amd64", "i386"]  # no native architecture given
    assert "crun" in packages  # held packages are installed
    assert "half" in packages  # unpacked but not configured: a version is on the host, as apt counts it


def test_removed_and_unknown_packages_are_left_out() -> None:
    packages = parse_dpkg_query(SAMPLE)
    assert "docker.io" not in packages  # only its configuration files are left
    assert "runc" not in packages
    assert parse_dpkg_query("") == {}


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="needs dpkg")
def test_the_real_dpkg_database_parses() -> None:
    out = subprocess.run(DPKG_QUERY_ARGV, capture_output=True, text=True, check=True).stdout
    packages = parse_dpkg_query(out)
    assert "dpkg" in packages and packages["dpkg"][0]["version"]


def test_foreign_architectures_are_keyed_as_apt_names_them() -> None:
    packages = parse_dpkg_query(SAMPLE + "tzdata\t2025b-0+deb12u2\tall\tii \n", native_arch="amd64")
    assert [entry["arch"] for entry in packages["libc6"]] == ["amd64"]
    assert packages["libc6:i386"] == [{"name": "libc6", "version": "2.36-9+deb12u13", "arch": "i386", "source": "apt"}]
    assert "tzdata" in packages  # "all" is native everywhere
