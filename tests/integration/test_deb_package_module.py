# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""deb_package as Ansible runs it, against this machine's real dpkg and apt: check mode, and real runs that
have nothing to do. Nothing is installed or removed here (the molecule hosts install for real)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

pytestmark = pytest.mark.skipif(
    shutil.which("dpkg-query") is None or os.geteuid() != 0, reason="needs Debian's dpkg, as root"
)

STATUS = "/var/lib/dpkg/status"


def _version(name: str) -> str | None:
    done = subprocess.run(
        ["dpkg-query", "--show", "--showformat", "${Version}", name], capture_output=True, text=True, check=False
    )
    return done.stdout or None if done.returncode == 0 else None


def _apt_knows(name: str) -> bool:
    done = subprocess.run(["apt-cache", "policy", name], capture_output=True, text=True, check=False)
    return "Candidate:" in done.stdout and "Candidate: (none)" not in done.stdout


def test_an_installed_package_needs_no_apt_also_for_real(module_runner) -> None:
    version = _version("dpkg")
    assert version
    for check_mode in (True, False):
        started = time.monotonic()
        result = module_runner(
            "deb_package", {"name": [f"dpkg={version}"], "update_cache": True}, check_mode=check_mode
        )
        seconds = time.monotonic() - started
        assert result.rc == 0, result
        assert result["changed"] is False and result["cache_updated"] is False
        assert result["installed_version"] == result["previous_version"] == version
        assert seconds < 10, seconds


def test_check_mode_reports_without_touching_the_host(module_runner) -> None:
    status_before = os.stat(STATUS).st_mtime_ns
    version = _version("dpkg")
    # Another version of an installed package: changed, the version before is the installed one.
    other = module_runner(
        "deb_package", {"name": ["dpkg=0.0-ocistack"], "allow_downgrade": True}, check_mode=True, diff=True
    )
    assert other.rc == 0, other
    assert other["changed"] is True and other["previous_version"] == version
    assert "would be installed" in other["msg"]
    assert other["diff"]["before"] == f"dpkg {version}\n"
    assert "(would be installed)" in other["diff"]["after"]
    # A package no apt knows: reported as to be installed, not a failure.
    unknown = module_runner("deb_package", {"name": ["ocistack-no-such-package"]}, check_mode=True)
    assert unknown.rc == 0, unknown
    assert unknown["changed"] is True and unknown["previous_version"] is None
    assert unknown["msg"].startswith("ocistack-no-such-package would be installed (apt cannot tell")
    # Removing an installed package in check mode: changed, still installed.
    removal = module_runner("deb_package", {"name": ["dpkg"], "state": "absent"}, check_mode=True)
    assert removal.rc == 0, removal
    assert removal["changed"] is True and removal["packages"]["dpkg"] == {"before": version, "after": None}
    assert _version("dpkg") == version
    assert os.stat(STATUS).st_mtime_ns == status_before


def test_keep_needed_reads_the_real_dependencies(module_runner) -> None:
    # libc6 is needed by nearly everything: kept, nothing to do, also for real.
    result = module_runner("deb_package", {"name": ["libc6"], "state": "absent", "keep_needed": True})
    assert result.rc == 0, result
    assert result["changed"] is False
    assert "dpkg" in result["kept"]["libc6"]
    assert "libc6 stays:" in result["msg"]


def test_a_package_apt_knows_gets_apts_version_in_check_mode(module_runner) -> None:
    if _version("hello") is not None or not _apt_knows("hello"):
        pytest.skip("needs apt lists that know the hello package, not installed")
    result = module_runner("deb_package", {"name": ["hello"]}, check_mode=True)
    assert result.rc == 0, result
    assert result["changed"] is True and result["msg"] == "hello would be installed."
    assert result["installed_version"] and result["installed_version"] != "(any)"
    assert _version("hello") is None


def test_a_bad_name_fails_naming_the_option(module_runner) -> None:
    result = module_runner("deb_package", {"name": ["Not A Package"]}, check_mode=True)
    assert result.rc == 1
    assert result["msg"].startswith('name: "Not A Package" is not a Debian package name')
