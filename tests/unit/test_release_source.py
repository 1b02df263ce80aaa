# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""release_source: the settings of a binary or local install, checked on the controller, errors naming the variable."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ansible_collections.ocistack.engine.plugins.action.release_source import ReleaseSourceError, release_source

SHA_A = "a" * 64
SHIPPED = {"1.3.6": {"amd64": "b" * 64}}


def _args(**kwargs):
    return {"prefix": "runc", "method": "binary", "version": "1.3.6", "arch": "amd64", "shipped": SHIPPED, **kwargs}


def test_binary_goes_by_the_release_checksum_filter() -> None:
    assert release_source(_args()) == {"sha256": "b" * 64, "source": ""}
    assert release_source(_args(sha256=SHA_A.upper(), url="http://x/runc"))["sha256"] == SHA_A


def test_local_file_sha256_and_match(tmp_path: Path) -> None:
    binary = tmp_path / "runc"
    binary.write_bytes(b"runc binary")
    actual = hashlib.sha256(b"runc binary").hexdigest()
    assert release_source(_args(method="local", local_path=str(binary))) == {"sha256": actual, "source": str(binary)}
    assert release_source(_args(method="local", local_path=str(binary), sha256=actual.upper()))["sha256"] == actual
    with pytest.raises(ReleaseSourceError, match=f"^runc_binary_sha256: {binary} has sha256 {actual}, not {SHA_A}"):
        release_source(_args(method="local", local_path=str(binary), sha256=SHA_A))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"version": ""},
            r'^runc_version: runc_install_method=binary needs the upstream version to install \(for example "1.3.6"\)',
        ),
        ({"version": "1.0.0"}, "^runc_version: no sha256 is known for runc 1.0.0"),
        ({"sha256": "xyz"}, '^runc_binary_sha256: "xyz" is not a sha256'),
        (
            {"method": "local"},
            "^runc_local_path: runc_install_method=local needs the controller path of the runc binary",
        ),
        (
            {"method": "local", "local_path": "/nonexistent/runc"},
            "^runc_local_path: /nonexistent/runc does not exist on the controller",
        ),
        ({"method": "package"}, '^runc_install_method: "package" has no release to check'),
        ({"typo": 1}, r"^release_source: unknown option\(s\) typo"),
    ],
)
def test_errors_name_the_role_variable(kwargs, message) -> None:
    args = _args(example_version="1.3.6", artifact="runc binary", **kwargs)
    with pytest.raises(ReleaseSourceError, match=message):
        release_source(args)
