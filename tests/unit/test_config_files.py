# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""config_files: planning against a real directory tree, applying, purging, check mode and secrets."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ansible_collections.ocistack.engine.plugins.module_utils._config_files import parse_mode, plan, run
from ansible_collections.ocistack.engine.plugins.module_utils._errors import OptionError


def _mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def _params(root, **extra):
    params = {
        "directories": [
            {"path": f"{root}/certs.d", "mode": "0755", "purge": "marked"},
            {"path": f"{root}/certs.d/reg", "mode": "0700", "purge": "all"},
        ],
        "files": [
            {"path": f"{root}/certs.d/reg/.ocistack-managed", "content": "# managed\n", "mode": "0644"},
            {"path": f"{root}/certs.d/reg/hosts.toml", "content": 'server = "https://reg"\n', "mode": "0644"},
            {"path": f"{root}/certs.d/reg/client.key", "secret_content": "KEY-123456\n", "mode": "0600"},
        ],
        "absent": [],
    }
    params.update(extra)
    return params


def test_first_run_creates_everything_and_second_changes_nothing(tmp_path) -> None:
    first = run(_params(tmp_path), check_mode=False, want_diff=True)
    assert first["changed"] is True
    assert first["created"] == sorted(
        [f"{tmp_path}/certs.d", f"{tmp_path}/certs.d/reg"]
        + [f"{tmp_path}/certs.d/reg/{name}" for name in (".ocistack-managed", "hosts.toml", "client.key")]
    )
    assert (tmp_path / "certs.d/reg/hosts.toml").read_text() == 'server = "https://reg"\n'
    assert _mode(tmp_path / "certs.d/reg") == 0o700
    assert _mode(tmp_path / "certs.d/reg/client.key") == 0o600
    second = run(_params(tmp_path), check_mode=False, want_diff=True)
    assert second == {
        "changed": False,
        "changed_paths": [],
        "created": [],
        "updated": [],
        "removed": [],
        "written": [],
        "backups": {},
        "diff": [],
    }


def test_check_mode_reports_without_touching(tmp_path) -> None:
    result = run(_params(tmp_path), check_mode=True, want_diff=False)
    assert result["changed"] is True
    assert not (tmp_path / "certs.d").exists()


def test_drift_is_reported_and_repaired(tmp_path) -> None:
    run(_params(tmp_path), check_mode=False, want_diff=False)
    (tmp_path / "certs.d/reg/hosts.toml").write_text("changed by hand\n")
    os.chmod(tmp_path / "certs.d/reg/.ocistack-managed", 0o666)
    (tmp_path / "certs.d/reg/stray.crt").write_text("old")
    check = run(_params(tmp_path), check_mode=True, want_diff=True)
    assert check["updated"] == [f"{tmp_path}/certs.d/reg/.ocistack-managed", f"{tmp_path}/certs.d/reg/hosts.toml"]
    assert check["removed"] == [f"{tmp_path}/certs.d/reg/stray.crt"]
    hosts_diff = [d for d in check["diff"] if d["before_header"].endswith("hosts.toml")][0]
    assert hosts_diff["before"] == "changed by hand\n"
    assert hosts_diff["after"] == 'server = "https://reg"\n'
    assert (tmp_path / "certs.d/reg/stray.crt").exists()
    fixed = run(_params(tmp_path), check_mode=False, want_diff=False)
    assert fixed["changed_paths"] == sorted(check["changed_paths"])
    assert not (tmp_path / "certs.d/reg/stray.crt").exists()
    assert _mode(tmp_path / "certs.d/reg/.ocistack-managed") == 0o644
    assert run(_params(tmp_path), check_mode=False, want_diff=False)["changed"] is False


def test_secret_content_never_reaches_the_diff(tmp_path) -> None:
    result = run(_params(tmp_path), check_mode=True, want_diff=True)
    text = repr(result)
    assert "KEY-123456" not in text
    key_diff = [d for d in result["diff"] if d["after_header"].endswith("client.key")][0]
    assert key_diff["after"] == "(secret content, 11 bytes)\n"


def test_marked_purge_keeps_directories_made_by_hand(tmp_path) -> None:
    run(_params(tmp_path), check_mode=False, want_diff=False)
    (tmp_path / "certs.d/old").mkdir()
    (tmp_path / "certs.d/old/.ocistack-managed").write_text("")
    (tmp_path / "certs.d/old/hosts.toml").write_text("")
    (tmp_path / "certs.d/mine").mkdir()
    (tmp_path / "certs.d/loose-file").write_text("")
    result = run(_params(tmp_path), check_mode=False, want_diff=False)
    assert result["removed"] == [f"{tmp_path}/certs.d/old"]
    assert sorted(os.listdir(tmp_path / "certs.d")) == ["loose-file", "mine", "reg"]


def test_missing_parents_of_a_directory_are_made(tmp_path) -> None:
    params = {"directories": [{"path": f"{tmp_path}/a/b/c", "mode": "0700"}]}
    result = run(params, check_mode=False, want_diff=False)
    assert result["created"] == [f"{tmp_path}/a", f"{tmp_path}/a/b", f"{tmp_path}/a/b/c"]
    assert _mode(tmp_path / "a/b") == 0o755 and _mode(tmp_path / "a/b/c") == 0o700
    (tmp_path / "plain").write_text("")
    with pytest.raises(OptionError, match="plain .above .* exists and is not a directory"):
        run({"directories": [{"path": f"{tmp_path}/plain/sub"}]}, check_mode=False, want_diff=False)


def test_check_mode_accepts_a_file_whose_directory_an_earlier_task_would_make(tmp_path) -> None:
    params = {"files": [{"path": f"{tmp_path}/not-yet/f.conf", "content": "x\n"}]}
    assert run(params, check_mode=True, want_diff=False)["created"] == [f"{tmp_path}/not-yet/f.conf"]
    with pytest.raises(OptionError, match=r"files: .*not-yet \(the directory of .*\) does not exist"):
        run(params, check_mode=False, want_diff=False)


def test_purge_keeps_an_undeclared_directory_that_holds_a_declared_file(tmp_path) -> None:
    (tmp_path / "root/sub").mkdir(parents=True)
    (tmp_path / "root/sub/other").write_text("")
    (tmp_path / "root/stray").write_text("")
    params = {
        "directories": [{"path": f"{tmp_path}/root", "purge": "all"}],
        "files": [{"path": f"{tmp_path}/root/sub/kept.conf", "content": "x\n"}],
    }
    result = run(params, check_mode=False, want_diff=False)
    assert result["removed"] == [f"{tmp_path}/root/stray"]
    assert (tmp_path / "root/sub/kept.conf").read_text() == "x\n"
    assert (tmp_path / "root/sub/other").exists()


def test_absent_removes_files_and_trees(tmp_path) -> None:
    (tmp_path / "gone.conf").write_text("x")
    (tmp_path / "tree/sub").mkdir(parents=True)
    result = run({"absent": [f"{tmp_path}/gone.conf", f"{tmp_path}/tree", f"{tmp_path}/never"]}, False, False)
    assert result["removed"] == [f"{tmp_path}/gone.conf", f"{tmp_path}/tree"]
    assert os.listdir(tmp_path) == []


def test_existing_file_where_a_directory_is_declared_fails_before_any_change(tmp_path) -> None:
    (tmp_path / "certs.d").write_text("a file")
    with pytest.raises(OptionError, match="is not a directory"):
        run(_params(tmp_path), check_mode=False, want_diff=False)
    assert (tmp_path / "certs.d").read_text() == "a file"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"files": [{"path": "relative/x", "content": ""}]},
            r"files\[0\]\.path: 'relative/x' must be an absolute path",
        ),
        ({"files": [{"path": "/nonexistent-ocistack/x", "content": ""}]}, "does not exist; declare it in directories"),
        (
            {"files": [{"path": "/tmp/x", "content": "", "secret_content": ""}]},
            "exactly one of content and secret_content",
        ),
        ({"files": [{"path": "/tmp/x", "content": "", "mode": "rw"}]}, r"files\[0\]\.mode: 'rw' is not an octal mode"),
        ({"directories": [{"path": "/tmp/d"}, {"path": "/tmp/d/"}]}, "declared twice"),
        ({"directories": [{"path": "/tmp/d", "purge": "some"}]}, r"directories\[0\]\.purge"),
        ({"directories": [{"path": "/tmp/d"}], "absent": ["/tmp"]}, r"absent\[0\]: /tmp is also declared"),
        ({"directories": [{"path": "/"}]}, "root directory"),
        (
            {"directories": [{"path": "/tmp/d", "owner": "no-such-user-ocistack"}]},
            r"directories\[0\]\.owner: there is no user 'no-such-user-ocistack'",
        ),
        (
            {"files": [{"path": "/tmp/x", "content": "", "group": "no-such-group-ocistack"}]},
            r"files\[0\]\.group: there is no group",
        ),
        ({"files": [{"path": "/tmp/x", "content": ""}], "permissions": [{"path": "/tmp/x"}]}, "declared twice"),
        ({"permissions": [{"path": "/tmp/k", "mode": "x"}]}, r"permissions\[0\]\.mode"),
    ],
)
def test_bad_declarations_name_the_option(params, message) -> None:
    with pytest.raises(OptionError, match=message):
        plan(
            params.get("directories", ()),
            params.get("files", ()),
            params.get("absent", ()),
            permissions=params.get("permissions", ()),
        )


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="changing ownership needs root")


@needs_root
def test_owner_and_group_are_converged_and_reported(tmp_path) -> None:
    params = {
        "directories": [{"path": f"{tmp_path}/store", "mode": "0750", "owner": "65534", "group": "65534"}],
        "files": [{"path": f"{tmp_path}/store/conf", "content": "a\n", "group": "65534"}],
    }
    first = run(params, check_mode=False, want_diff=False)
    assert first["created"] == [f"{tmp_path}/store", f"{tmp_path}/store/conf"]
    assert (os.lstat(f"{tmp_path}/store").st_uid, os.lstat(f"{tmp_path}/store").st_gid) == (65534, 65534)
    assert (os.lstat(f"{tmp_path}/store/conf").st_uid, os.lstat(f"{tmp_path}/store/conf").st_gid) == (0, 65534)
    assert run(params, check_mode=False, want_diff=False)["changed"] is False

    os.chown(f"{tmp_path}/store", 0, 0)
    drift = run(params, check_mode=True, want_diff=True)
    assert drift["updated"] == [f"{tmp_path}/store"]
    assert drift["diff"][0]["before"] == "owner root:root\n"
    assert os.lstat(f"{tmp_path}/store").st_uid == 0  # check mode changed nothing
    assert run(params, check_mode=False, want_diff=False)["updated"] == [f"{tmp_path}/store"]
    assert os.lstat(f"{tmp_path}/store").st_uid == 65534


@needs_root
def test_a_rewritten_file_keeps_its_owner_when_none_is_declared(tmp_path) -> None:
    path = tmp_path / "conf"
    path.write_text("old\n")
    os.chown(path, 65534, 65534)
    result = run({"files": [{"path": str(path), "content": "new\n"}]}, check_mode=False, want_diff=False)
    assert result["updated"] == [str(path)]
    assert path.read_text() == "new\n"
    assert (os.lstat(path).st_uid, os.lstat(path).st_gid) == (65534, 65534)


@needs_root
def test_permissions_set_modes_of_existing_files_and_skip_missing_ones(tmp_path) -> None:
    os.chmod(tmp_path, 0o755)
    key = tmp_path / "ca.key"
    key.write_text("KEY\n")
    os.chmod(key, 0o644)
    params = {
        "directories": [{"path": str(tmp_path), "purge": "all"}],
        "permissions": [
            {"path": str(key), "mode": "0600", "owner": "root", "group": "65534"},
            {"path": f"{tmp_path}/not-made-yet.crt", "mode": "0644"},
        ],
    }
    check = run(params, check_mode=True, want_diff=True)
    assert check["changed_paths"] == [str(key)]
    assert _mode(key) == 0o644
    applied = run(params, check_mode=False, want_diff=False)
    assert applied["updated"] == [str(key)]
    assert _mode(key) == 0o600 and os.lstat(key).st_gid == 65534
    assert key.read_text() == "KEY\n"  # content is the other tool's: untouched, and never purged
    assert run(params, check_mode=False, want_diff=False)["changed"] is False


def test_parse_mode() -> None:
    assert parse_mode("0644", "m") == 0o644
    assert parse_mode(0o600, "m") == 0o600
    with pytest.raises(OptionError):
        parse_mode("99999", "m")
    with pytest.raises(OptionError):
        parse_mode(True, "m")


def test_a_rejected_candidate_leaves_every_file_as_it_was(tmp_path) -> None:
    good, checked = tmp_path / "good.conf", tmp_path / "checked.conf"
    good.write_text("old\n")
    checked.write_text("valid\n")
    # grep -q valid accepts a candidate holding the word; the new content does not.
    params = {
        "files": [
            {"path": str(good), "content": "new\n"},
            {"path": str(checked), "content": "broken\n", "validate": "grep -q valid %s", "backup": True},
        ]
    }
    rejected = r"files\[1\]\.validate: the new .*checked.conf failed to validate \(exit 1\)"
    with pytest.raises(OptionError, match=rejected):
        run(params, check_mode=False, want_diff=False)
    assert good.read_text() == "old\n" and checked.read_text() == "valid\n"
    assert sorted(os.listdir(tmp_path)) == ["checked.conf", "good.conf"]  # no staged file left behind


def test_an_accepted_candidate_replaces_the_file_and_keeps_a_backup(tmp_path) -> None:
    target = tmp_path / "app.conf"
    target.write_text("valid old\n")
    params = {
        "files": [
            {"path": str(target), "content": "valid new\n", "validate": ["grep", "-q", "valid", "%s"], "backup": True}
        ]
    }
    result = run(params, check_mode=False, want_diff=False)
    assert target.read_text() == "valid new\n"
    backup = result["backups"][str(target)]
    assert backup.startswith(f"{target}.")
    assert Path(backup).read_text(encoding="utf-8") == "valid old\n"
    assert run(params, check_mode=False, want_diff=False)["backups"] == {}


def test_validate_must_name_the_candidate() -> None:
    with pytest.raises(OptionError, match=r"files\[0\]\.validate: .* separate %s"):
        plan(files=[{"path": "/tmp/x", "content": "", "validate": "true"}])


def test_a_rejected_candidate_leaves_modes_alone_too(tmp_path) -> None:
    drifted, checked = tmp_path / "drifted.conf", tmp_path / "checked.conf"
    drifted.write_text("same\n")
    os.chmod(drifted, 0o600)
    checked.write_text("valid\n")
    params = {
        "files": [
            {"path": str(drifted), "content": "same\n", "mode": "0644"},
            {"path": str(checked), "content": "broken\n", "validate": "grep -q valid %s"},
        ]
    }
    with pytest.raises(OptionError, match="failed to validate"):
        run(params, check_mode=False, want_diff=False)
    assert _mode(drifted) == 0o600
    mode_only = run({"files": params["files"][:1]}, check_mode=False, want_diff=False)
    assert mode_only["updated"] == [str(drifted)] and mode_only["written"] == []
    assert _mode(drifted) == 0o644


def test_backups_survive_a_purge_of_their_directory(tmp_path) -> None:
    os.chmod(tmp_path, 0o755)
    target = tmp_path / "app.conf"
    target.write_text("one\n")
    stray = tmp_path / "stray.conf"
    stray.write_text("x\n")

    def params(content: str) -> dict:
        return {
            "directories": [{"path": str(tmp_path), "purge": "all"}],
            "files": [{"path": str(target), "content": content, "backup": True}],
        }

    assert run(params("two\n"), check_mode=True, want_diff=False)["written"] == [str(target)]
    first = run(params("two\n"), check_mode=False, want_diff=False)
    backup = first["backups"][str(target)]
    assert first["removed"] == [str(stray)]
    assert Path(backup).read_text(encoding="utf-8") == "one\n"
    assert run(params("two\n"), check_mode=False, want_diff=False)["changed"] is False
    assert Path(backup).exists()
