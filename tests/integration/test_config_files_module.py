# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""config_files as Ansible runs it: argument spec, check mode, diff, and secrets kept out of the result."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

SECRET = "-----BEGIN PRIVATE KEY-----\nNOT-A-REAL-KEY-0123456789\n-----END PRIVATE KEY-----\n"


def _args(root: Path) -> dict:
    return {
        "directories": [
            {"path": str(root / "certs.d"), "purge": "marked"},
            {"path": str(root / "certs.d/reg"), "mode": "0700", "purge": "all"},
        ],
        "files": [
            {"path": str(root / "certs.d/reg/.ocistack-managed"), "content": "# managed\n"},
            {"path": str(root / "certs.d/reg/hosts.toml"), "content": 'server = "https://reg"\n'},
            {"path": str(root / "certs.d/reg/client.key"), "secret_content": SECRET, "mode": "0600"},
        ],
    }


def test_check_apply_rerun_and_secret_never_printed(module_runner, tmp_path: Path) -> None:
    check = module_runner("config_files", _args(tmp_path), check_mode=True, diff=True)
    assert check.rc == 0, check
    assert check["changed"] is True and not (tmp_path / "certs.d").exists()
    applied = module_runner("config_files", _args(tmp_path), diff=True)
    assert applied["changed"] is True
    assert applied["changed_paths"] == check["changed_paths"]
    assert stat.S_IMODE(os.stat(tmp_path / "certs.d/reg/client.key").st_mode) == 0o600
    assert (tmp_path / "certs.d/reg/client.key").read_text() == SECRET
    # The key appears nowhere in what Ansible would log or show, invocation included.
    for result in (check, applied):
        assert "NOT-A-REAL-KEY" not in json.dumps(result)
    rerun = module_runner("config_files", _args(tmp_path), diff=True)
    assert rerun["changed"] is False and rerun["changed_paths"] == []


def test_both_contents_is_refused_by_the_argument_spec(module_runner, tmp_path: Path) -> None:
    result = module_runner(
        "config_files", {"files": [{"path": str(tmp_path / "x"), "content": "a", "secret_content": "b"}]}
    )
    assert result.get("failed") is True
    assert "mutually exclusive" in result["msg"] and "content" in result["msg"]
    assert not (tmp_path / "x").exists()


def test_wrong_type_on_disk_fails_naming_the_path_and_changes_nothing(module_runner, tmp_path: Path) -> None:
    (tmp_path / "certs.d").mkdir()
    (tmp_path / "certs.d/reg").write_text("a file where a directory is declared")
    result = module_runner("config_files", _args(tmp_path))
    assert result.get("failed") is True
    assert result["msg"] == f"directories: {tmp_path}/certs.d/reg exists and is not a directory; move it away first"
    assert sorted(os.listdir(tmp_path / "certs.d")) == ["reg"]
