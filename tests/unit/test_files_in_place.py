# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""files_in_place (in_place of _config_files) against plan() on a real directory tree: the controller's
answer from host_probe's report must be yes only where the module would change nothing."""

from __future__ import annotations

import os
import pwd

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.ocistack.engine.plugins.filter.files_in_place import files_in_place
from ansible_collections.ocistack.engine.plugins.module_utils._config_files import plan, run
from ansible_collections.ocistack.engine.plugins.module_utils._host_probe import probe_paths

UID, GID = os.getuid(), os.getgid()


def _declaration(root, **extra):
    declaration = {
        "directories": [{"path": f"{root}/conf.d", "mode": "0750"}],
        "files": [
            {"path": f"{root}/conf.d/app.conf", "content": "key = value\n", "mode": "0640", "owner": str(UID)},
            {"path": f"{root}/secret", "secret_content": "s3cret\n", "mode": "0600"},
        ],
        "absent": [f"{root}/old.conf"],
        "permissions": [{"path": f"{root}/made-elsewhere", "mode": "0644"}],
    }
    declaration.update(extra)
    return declaration


def _paths(declaration):
    paths = [entry["path"] for part in ("directories", "files", "permissions") for entry in declaration.get(part, [])]
    return paths + list(declaration.get("absent", []))


def _agree(declaration) -> bool:
    """files_in_place's answer, after checking that plan() agrees with it."""
    observed = probe_paths(_paths(declaration), checksum=True)
    answer = files_in_place(declaration, observed)
    work = plan(
        declaration.get("directories", ()),
        declaration.get("files", ()),
        declaration.get("absent", ()),
        False,
        declaration.get("permissions", ()),
    )
    assert answer is work.empty, (answer, work)
    return answer


def _make(path, mode) -> None:
    path.write_text("made by another tool\n")
    path.chmod(mode)


def _converge(declaration) -> None:
    run(declaration, check_mode=False, want_diff=False)


def test_a_fresh_tree_is_not_in_place_and_a_converged_one_is(tmp_path) -> None:
    declaration = _declaration(tmp_path)
    assert _agree(declaration) is False
    _converge(declaration)
    assert _agree(declaration) is True


@pytest.mark.parametrize(
    "drift",
    [
        lambda root: (root / "conf.d" / "app.conf").write_text("key = other\n"),
        lambda root: (root / "conf.d" / "app.conf").chmod(0o644),
        lambda root: (root / "conf.d").chmod(0o755),
        lambda root: (root / "secret").write_text("changed\n"),
        lambda root: (root / "secret").unlink(),
        lambda root: (root / "old.conf").write_text("left over\n"),
        lambda root: _make(root / "made-elsewhere", 0o600),
    ],
    ids=["content", "file mode", "directory mode", "secret content", "file removed", "absent exists", "permissions"],
)
def test_every_drift_the_module_would_fix_is_seen(tmp_path, drift) -> None:
    declaration = _declaration(tmp_path)
    _converge(declaration)
    drift(tmp_path)
    assert _agree(declaration) is False
    _converge(declaration)
    assert _agree(declaration) is True


def test_a_path_the_probe_did_not_look_at_is_never_in_place(tmp_path) -> None:
    declaration = _declaration(tmp_path)
    _converge(declaration)
    observed = probe_paths(_paths(declaration)[1:], checksum=True)
    assert files_in_place(declaration, observed) is False
    # without checksums the content cannot be compared
    assert files_in_place(declaration, probe_paths(_paths(declaration))) is False


def test_owner_by_name_and_by_id(tmp_path) -> None:
    name = pwd.getpwuid(UID).pw_name
    by_name = _declaration(tmp_path)
    by_name["files"][0]["owner"] = name
    _converge(by_name)
    assert _agree(by_name) is True
    other = dict(by_name, files=[dict(by_name["files"][0], owner=str(UID + 1))] + by_name["files"][1:])
    assert files_in_place(other, probe_paths(_paths(other), checksum=True)) is False


def test_what_the_module_would_refuse_or_purge_is_left_to_the_module(tmp_path) -> None:
    declaration = _declaration(tmp_path)
    _converge(declaration)
    observed = probe_paths(_paths(declaration), checksum=True)
    purging = dict(declaration, directories=[dict(declaration["directories"][0], purge="all")])
    assert files_in_place(purging, observed) is False
    twice = dict(declaration, files=declaration["files"] + declaration["files"][:1])
    assert files_in_place(twice, observed) is False
    bad_mode = dict(declaration, files=[dict(declaration["files"][0], mode="rw")] + declaration["files"][1:])
    assert files_in_place(bad_mode, observed) is False
    covering = dict(declaration, absent=[f"{tmp_path}/conf.d"])
    assert files_in_place(covering, probe_paths(_paths(covering), checksum=True)) is False
    with pytest.raises(AnsibleFilterError, match="declaration dict"):
        files_in_place(["not", "a", "dict"], observed)


def _purging(root):
    return {
        "directories": [
            {"path": f"{root}/certs.d", "purge": "marked"},
            {"path": f"{root}/certs.d/reg", "mode": "0700", "purge": "all"},
        ],
        "files": [
            {"path": f"{root}/certs.d/reg/.ocistack-managed", "content": "# managed\n"},
            {"path": f"{root}/certs.d/reg/hosts.toml", "content": 'server = "https://reg"\n', "backup": True},
        ],
    }


def _listings(declaration):
    purged = [entry["path"] for entry in declaration["directories"] if entry.get("purge", "none") != "none"]
    return {path: sorted(os.listdir(path)) if os.path.isdir(path) else None for path in purged}


def _agree_purging(declaration) -> bool:
    observed = probe_paths(_paths(declaration), checksum=True)
    answer = files_in_place(declaration, observed, _listings(declaration))
    work = plan(declaration["directories"], declaration["files"])
    # plan() keeps what a marked purge does not own; in_place says no to any undeclared entry, so it may
    # only err on the side of running the module.
    assert not (answer and not work.empty), (answer, work)
    return answer


def test_purged_directories_are_in_place_only_with_nothing_undeclared_in_them(tmp_path) -> None:
    declaration = _purging(tmp_path)
    _converge(declaration)
    assert _agree_purging(declaration) is True
    # a backup of a declared file is kept by the module
    (tmp_path / "certs.d" / "reg" / "hosts.toml.123.2026-12-04@10:00:00~").write_text("old\n")
    assert _agree_purging(declaration) is True
    # a stray file in a purge-all directory would be removed
    (tmp_path / "certs.d" / "reg" / "stray.crt").write_text("x\n")
    assert _agree_purging(declaration) is False
    _converge(declaration)
    assert _agree_purging(declaration) is True
    # a registry directory whose entry went would be purged (marked)
    (tmp_path / "certs.d" / "gone").mkdir()
    (tmp_path / "certs.d" / "gone" / ".ocistack-managed").write_text("# managed\n")
    assert _agree_purging(declaration) is False
    _converge(declaration)
    assert _agree_purging(declaration) is True
    # no listing: no answer
    observed = probe_paths(_paths(declaration), checksum=True)
    assert files_in_place(declaration, observed) is False
