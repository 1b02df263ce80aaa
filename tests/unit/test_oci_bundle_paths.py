# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from ansible_collections.ocistack.engine.plugins.module_utils._errors import OptionError
from ansible_collections.ocistack.engine.plugins.module_utils._oci_bundle import (
    BUNDLE_SPEC_OPTIONS,
    STATE_FILE,
    BundleManager,
    mounts_under,
    processes_rooted_in,
    validate_bundle_path,
)
from ansible_collections.ocistack.engine.plugins.module_utils._oci_spec import SPEC_OPTION_KEYS

MOUNTINFO = str(Path(__file__).parent / "fixtures" / "oci" / "mountinfo.txt")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("/srv/bundles/web", "/srv/bundles/web"), ("/srv/bundles/web/", "/srv/bundles/web"), ("//srv//b/./c", "/srv/b/c")],
)
def test_bundle_path_is_normalised(value, expected):
    assert validate_bundle_path(value) == expected


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("relative/bundle", "must be an absolute path"),
        ("", "must be an absolute path"),
        (None, "must be an absolute path"),
        ("/", "system directory"),
        ("/var/lib/", "system directory"),
        ("/srv/../etc", "system directory"),
    ],
)
def test_bad_bundle_paths(value, text):
    with pytest.raises(OptionError, match=text) as err:
        validate_bundle_path(value)
    assert err.value.option == "path"


def test_symlink_and_file_paths_are_refused(tmp_path):
    target = tmp_path / "real"
    target.mkdir()
    (tmp_path / "link").symlink_to(target)
    (tmp_path / "file").write_text("x")
    with pytest.raises(OptionError, match="symlink"):
        validate_bundle_path(str(tmp_path / "link"))
    with pytest.raises(OptionError, match="not a directory"):
        validate_bundle_path(str(tmp_path / "file"))


def test_mounts_under_reads_recorded_mountinfo_with_escaped_blanks():
    assert mounts_under("/tmp/core-rec/my bundle", MOUNTINFO) == ["/tmp/core-rec/my bundle/rootfs"]
    assert mounts_under("/tmp/core-rec/my bundle/rootfs", MOUNTINFO) == ["/tmp/core-rec/my bundle/rootfs"]
    # a sibling whose name only starts the same is not below the bundle
    assert mounts_under("/tmp/core-rec/my", MOUNTINFO) == []
    assert mounts_under("/dev", MOUNTINFO) == ["/dev", "/dev/shm", "/dev/pts"]
    assert mounts_under("/srv/none", MOUNTINFO) == []
    assert mounts_under("/srv", "/nonexistent/mountinfo") == []


def test_module_spec_options_are_all_known_to_the_builder():
    assert set(BUNDLE_SPEC_OPTIONS) <= set(SPEC_OPTION_KEYS)


class _FakeModule:
    """The few AnsibleModule attributes BundleManager reads (image sources, which need ctr, are not used here)."""

    def __init__(self, params: dict, check_mode: bool = False) -> None:
        self.params = dict.fromkeys(("image", "oci_layout", "rootfs", *BUNDLE_SPEC_OPTIONS))
        self.params.update(state="present", address=None, namespace=None, readonly_rootfs=False)
        self.params.update(no_new_privileges=True)
        self.params.update(params)
        self.check_mode = check_mode
        self._diff = True


def _tarball(path: Path, files: dict) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return path


def test_a_failure_after_the_swap_puts_the_previous_bundle_back(tmp_path):
    bundle = tmp_path / "bundle"
    first_tar = _tarball(tmp_path / "one.tar", {"etc/version": "one"})
    result = BundleManager(_FakeModule({"path": str(bundle), "rootfs": str(first_tar), "args": ["sh"]})).run()
    assert result["changed"] is True
    config_before = (bundle / "config.json").read_bytes()

    # The record cannot be replaced (a non-empty directory in its place): the last step fails.
    (bundle / STATE_FILE).unlink()
    (bundle / STATE_FILE).mkdir()
    (bundle / STATE_FILE / "blocker").write_text("x")
    second_tar = _tarball(tmp_path / "two.tar", {"etc/version": "two"})
    manager = BundleManager(_FakeModule({"path": str(bundle), "rootfs": str(second_tar), "args": ["sh", "-x"]}))
    with pytest.raises(OSError):
        manager.run()
    assert (bundle / "rootfs" / "etc" / "version").read_text() == "one"
    assert (bundle / "config.json").read_bytes() == config_before
    assert sorted(p.name for p in bundle.iterdir()) == sorted([STATE_FILE, "config.json", "rootfs"])


def test_check_mode_and_diff_without_ansible(tmp_path):
    bundle = tmp_path / "bundle"
    tarball = _tarball(tmp_path / "one.tar", {"etc/version": "one"})
    params = {"path": str(bundle), "rootfs": str(tarball), "args": ["sh"], "memory": "64m"}
    predicted = BundleManager(_FakeModule(params, check_mode=True)).run()
    assert predicted["changed"] is True
    assert predicted["diff"]["before"] == {"config": None, "source": None}
    assert predicted["diff"]["after"]["source"]["type"] == "rootfs_tarball"
    assert not bundle.exists()
    applied = BundleManager(_FakeModule(params)).run()
    assert applied["diff"] == predicted["diff"]
    assert BundleManager(_FakeModule(params)).run()["changed"] is False


def test_processes_rooted_in_finds_pids_by_their_root(tmp_path):
    # A fake /proc: "root" links pointing at directories, like the kernel's magic links.
    rootfs, other = tmp_path / "rootfs", tmp_path / "other"
    rootfs.mkdir()
    other.mkdir()
    proc = tmp_path / "proc"
    for pid, root in (("10", rootfs), ("11", other), ("12", rootfs)):
        (proc / pid).mkdir(parents=True)
        (proc / pid / "root").symlink_to(root)
    (proc / "13").mkdir()  # a process that went away: no root link
    (proc / "self").mkdir()
    assert processes_rooted_in(str(rootfs), str(proc)) == [10, 12]
    assert processes_rooted_in(str(tmp_path / "missing"), str(proc)) == []
    # this test's own process has "/" as its root
    assert os.getpid() in processes_rooted_in("/")
