# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""oci_bundle run for real: bundles from the test image's OCI layout, its archive, a rootfs dir and tarball.

Every bundle lives under a random prefix in pytest's temporary directory and is removed by the
fixtures, also when a test fails. One bundle is run with runc to prove config.json is valid.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import time
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
IMAGE_DIR = REPO_ROOT / ".cache" / "testbed" / "images"
STATE_FILE = ".ocistack-source.json"


def _require_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("unpacking images with their owners needs root")


@pytest.fixture(scope="session")
def test_image() -> Path:
    _require_root()
    subprocess.run(["bash", str(REPO_ROOT / "tests/testbed/test-image.sh")], check=True, capture_output=True)
    return IMAGE_DIR


@pytest.fixture(scope="session")
def image_rootfs(test_image: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test image unpacked once (by umoci, an independent unpacker), used as a `rootfs` source."""
    unpacked = tmp_path_factory.mktemp("ocistack-bundle-image") / "bundle"
    subprocess.run(["umoci", "unpack", "--image", f"{test_image / 'oci'}:latest", str(unpacked)], check=True)
    return unpacked / "rootfs"


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    """A random-prefixed directory for this test's bundles; removed whatever happens."""
    directory = tmp_path / f"ocit-{uuid.uuid4().hex[:8]}"
    directory.mkdir()
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def _ok(result: Dict[str, Any]) -> Dict[str, Any]:
    assert result.rc == 0 and not result.get("failed"), f"{result.get('msg')}\n{result.stderr[-2000:]}"
    return result


def _config_on_disk(bundle: Path) -> Dict[str, Any]:
    return json.loads((bundle / "config.json").read_text())


def _layout(test_image: Path) -> str:
    return f"{test_image / 'oci'}:latest"


def test_layout_bundle_lifecycle(module_runner, test_image: Path, workdir: Path) -> None:
    bundle = workdir / "web"
    args = {"path": str(bundle), "oci_layout": _layout(test_image), "args": ["echo", "hi"], "env": {"A": "1"}}

    first = _ok(module_runner("oci_bundle", args, diff=True))
    assert first["changed"] is True
    assert first["diff"]["before"] == {"config": None, "source": None}
    assert first["config"] == _config_on_disk(bundle) == first["diff"]["after"]["config"]
    assert first["config"]["process"]["env"] == ["A=1", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"]  # image's PATH
    assert first["bundle"]["source"]["type"] == "oci_layout"
    assert first["bundle"]["source"]["manifest_digest"].startswith("sha256:")
    assert os.path.islink(bundle / "rootfs" / "bin" / "sh")
    assert (bundle / "rootfs" / "bin" / "busybox").stat().st_mode & 0o111
    record = json.loads((bundle / STATE_FILE).read_text())
    assert record["source"]["manifest_digest"] == first["bundle"]["source"]["manifest_digest"]
    assert record["config_digest"] == first["bundle"]["config_digest"]

    again = _ok(module_runner("oci_bundle", args, diff=True))
    assert again["changed"] is False
    assert again["bundle"]["config_digest"] == first["bundle"]["config_digest"]

    # runc itself accepts the config.json (a container run to completion, in the foreground)
    container_id = f"{workdir.name}-run"
    try:
        run = subprocess.run(
            ["runc", "--root", str(workdir / "runc"), "run", "--bundle", str(bundle), container_id],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        subprocess.run(
            ["runc", "--root", str(workdir / "runc"), "delete", "-f", container_id], capture_output=True, check=False
        )
    assert run.returncode == 0, run.stderr
    assert run.stdout == "hi\n"

    # check mode predicts the env change and writes nothing
    before_bytes = (bundle / "config.json").read_bytes()
    before_mtime = (bundle / "config.json").stat().st_mtime_ns
    changed_env = dict(args, env={"A": "2"})
    predicted = _ok(module_runner("oci_bundle", changed_env, check_mode=True, diff=True))
    assert predicted["changed"] is True
    assert "A=1" in predicted["diff"]["before"]["config"]["process"]["env"]
    assert "A=2" in predicted["diff"]["after"]["config"]["process"]["env"]
    assert "source" not in predicted["diff"]["after"]  # the rootfs source did not change
    assert (bundle / "config.json").read_bytes() == before_bytes
    assert (bundle / "config.json").stat().st_mtime_ns == before_mtime

    applied = _ok(module_runner("oci_bundle", changed_env, diff=True))
    assert applied["changed"] is True
    assert applied["diff"] == predicted["diff"]
    assert "A=2" in _config_on_disk(bundle)["process"]["env"]
    assert (bundle / "rootfs" / "bin" / "busybox").exists()

    memory = _ok(module_runner("oci_bundle", dict(changed_env, memory="64m"), diff=True))
    assert memory["changed"] is True
    assert "memory" not in memory["diff"]["before"]["config"]["linux"]["resources"]
    assert memory["diff"]["after"]["config"]["linux"]["resources"]["memory"] == {"limit": 64 * 1024 * 1024}
    assert _config_on_disk(bundle)["linux"]["resources"]["memory"]["limit"] == 64 * 1024 * 1024
    # same bytes written another way: no change
    same = _ok(module_runner("oci_bundle", dict(changed_env, memory="67108864")))
    assert same["changed"] is False

    absent_check = _ok(module_runner("oci_bundle", {"path": str(bundle), "state": "absent"}, check_mode=True))
    assert absent_check["changed"] is True
    assert (bundle / "config.json").exists()
    removed = _ok(module_runner("oci_bundle", {"path": str(bundle), "state": "absent"}, diff=True))
    assert removed["changed"] is True
    assert removed["diff"]["after"]["state"] == "absent"
    assert not bundle.exists()
    assert _ok(module_runner("oci_bundle", {"path": str(bundle), "state": "absent"}))["changed"] is False


def test_archive_and_layout_of_the_same_image_are_the_same_source(
    module_runner, test_image: Path, workdir: Path
) -> None:
    bundle = workdir / "archive"
    args = {"path": str(bundle), "oci_layout": f"{test_image / 'busybox-oci.tar'}:latest"}
    first = _ok(module_runner("oci_bundle", args))
    assert first["changed"] is True
    # the image's Cmd and WorkingDir are the defaults
    assert first["config"]["process"]["args"] == ["/bin/sh"]
    assert first["config"]["process"]["cwd"] == "/"
    assert os.path.islink(bundle / "rootfs" / "bin" / "sh")
    rootfs_inode = (bundle / "rootfs").stat().st_ino

    same_image = _ok(module_runner("oci_bundle", dict(args, oci_layout=str(test_image / "oci"))))
    assert same_image["changed"] is False
    assert same_image["bundle"]["source"]["manifest_digest"] == first["bundle"]["source"]["manifest_digest"]
    assert (bundle / "rootfs").stat().st_ino == rootfs_inode  # not unpacked again

    # a deleted rootfs is noticed and unpacked again
    shutil.rmtree(bundle / "rootfs")
    restored = _ok(module_runner("oci_bundle", args))
    assert restored["changed"] is True
    assert (bundle / "rootfs" / "bin" / "busybox").exists()


def test_rootfs_directory_and_tarball_sources(module_runner, image_rootfs: Path, workdir: Path) -> None:
    in_place = workdir / "in-place"
    args = {"path": str(in_place), "rootfs": str(image_rootfs), "args": ["sh"], "user": "65534:65534"}
    result = _ok(module_runner("oci_bundle", args))
    assert result["changed"] is True
    assert result["config"]["root"]["path"] == str(image_rootfs)
    assert result["config"]["process"]["user"] == {"uid": 65534, "gid": 65534}
    assert not (in_place / "rootfs").exists()  # used in place, not copied
    assert _ok(module_runner("oci_bundle", args))["changed"] is False

    tarball = workdir / "rootfs.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(image_rootfs, arcname=".")
    from_tar = workdir / "from-tar"
    tar_args = {"path": str(from_tar), "rootfs": str(tarball), "args": ["sh"]}
    first = _ok(module_runner("oci_bundle", tar_args))
    assert first["changed"] is True
    assert first["config"]["root"]["path"] == "rootfs"
    assert first["bundle"]["source"]["type"] == "rootfs_tarball"
    assert os.readlink(from_tar / "rootfs" / "bin" / "sh") == os.readlink(image_rootfs / "bin" / "sh")
    assert _ok(module_runner("oci_bundle", tar_args))["changed"] is False

    # new tarball content: the rootfs is rebuilt, the config stays
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(image_rootfs, arcname=".")
        tar.add(tarball.parent / "from-tar" / "config.json", arcname="./etc/extra.json")
    rebuilt = _ok(module_runner("oci_bundle", tar_args, diff=True))
    assert rebuilt["changed"] is True
    assert list(rebuilt["diff"]["after"]) == ["source"]
    assert (from_tar / "rootfs" / "etc" / "extra.json").exists()
    assert not [name for name in os.listdir(from_tar) if name.startswith(".rootfs-")]


def _snapshot(directory: Path) -> Dict[str, Any]:
    """Names, sizes and mtimes below ``directory``: equal snapshots mean nothing was touched."""
    found = {}
    for root, dirs, files in os.walk(directory):
        for name in dirs + files:
            path = Path(root) / name
            info = path.lstat()
            found[str(path.relative_to(directory))] = (info.st_size, info.st_mtime_ns)
    return found


@pytest.mark.parametrize(
    ("label", "extra", "option"),
    [
        ("relative path", {"path": "relative/bundle"}, "path"),
        ("two sources", {"rootfs": "/nonexistent"}, "mutually exclusive"),
        ("bad user", {"user": "nobody"}, "user"),
        ("unknown namespace", {"namespaces": [{"type": "time"}]}, "namespaces"),
        ("tiny memory", {"memory": "4m"}, "memory"),
        ("missing tag", {"oci_layout": "LAYOUT:v999"}, "oci_layout"),
        ("relative layout", {"oci_layout": "relative/oci:latest"}, "oci_layout"),
        ("user namespace", {"namespaces": [{"type": "user"}]}, "namespaces"),
        ("bind without source", {"mounts": [{"target": "/data"}]}, "mounts"),
        ("bad capability", {"capabilities": ["CAP_FLY"]}, "capabilities"),
        ("system path", {"path": "/var"}, "path"),
    ],
)
def test_bad_input_fails_before_anything_changes(  # noqa: PLR0917 (pytest fixtures and parameters)
    module_runner, test_image: Path, workdir: Path, label: str, extra: Dict[str, Any], option: str
) -> None:
    bundle = workdir / "bad"
    args = {"path": str(bundle), "oci_layout": _layout(test_image), "args": ["sh"]}
    for key, value in extra.items():
        args[key] = value.replace("LAYOUT", str(test_image / "oci")) if isinstance(value, str) else value
    before = _snapshot(workdir)
    result = module_runner("oci_bundle", args)
    assert result.get("failed") is True, label
    assert option in result["msg"], result["msg"]
    assert not bundle.exists()
    assert _snapshot(workdir) == before


@pytest.mark.parametrize(
    ("label", "args", "option"),
    [
        ("no source", {}, "any of the following are missing: image, oci_layout, rootfs"),
        ("missing rootfs", {"rootfs": "/nonexistent/ocit-rootfs"}, "rootfs"),
        ("missing layout", {"oci_layout": "/nonexistent/ocit-layout:latest"}, "oci_layout"),
        (
            "image without containerd",
            {"image": "ocistack.test/busybox:latest", "address": "/nonexistent.sock"},
            "address",
        ),
    ],
)
def test_bad_sources_fail_cleanly(module_runner, workdir: Path, label: str, args: Dict[str, Any], option: str) -> None:
    bundle = workdir / "bad-source"
    result = module_runner("oci_bundle", dict(args, path=str(bundle), args=["sh"]))
    assert result.get("failed") is True, label
    assert option in result["msg"], result["msg"]
    assert not bundle.exists()


def test_refuses_to_take_over_or_remove_a_directory_that_is_not_a_bundle(
    module_runner, test_image: Path, workdir: Path
) -> None:
    precious = workdir / "precious"
    precious.mkdir()
    (precious / "data.txt").write_text("keep me")
    present = module_runner("oci_bundle", {"path": str(precious), "oci_layout": _layout(test_image)})
    assert present.get("failed") is True and "not a bundle" in present["msg"]
    absent = module_runner("oci_bundle", {"path": str(precious), "state": "absent"})
    assert absent.get("failed") is True and "not a bundle" in absent["msg"]
    assert (precious / "data.txt").read_text() == "keep me"
    assert sorted(os.listdir(precious)) == ["data.txt"]


def test_failed_update_keeps_the_previous_bundle(module_runner, test_image: Path, workdir: Path) -> None:
    bundle = workdir / "keep"
    args = {"path": str(bundle), "oci_layout": _layout(test_image), "args": ["sh"]}
    _ok(module_runner("oci_bundle", args))
    before = _snapshot(bundle)

    # A copy of the layout with a new manifest (so the source differs) whose layer is corrupt
    corrupt = workdir / "corrupt-layout"
    shutil.copytree(test_image / "oci", corrupt)
    blobs = corrupt / "blobs" / "sha256"
    index = json.loads((corrupt / "index.json").read_text())
    manifest = json.loads((blobs / index["manifests"][0]["digest"].split(":")[1]).read_text())
    manifest["annotations"] = {"org.example.variant": "corrupt"}
    manifest_bytes = json.dumps(manifest).encode()
    manifest_hex = hashlib.sha256(manifest_bytes).hexdigest()
    (blobs / manifest_hex).write_bytes(manifest_bytes)
    index["manifests"][0].update(digest=f"sha256:{manifest_hex}", size=len(manifest_bytes))
    (corrupt / "index.json").write_text(json.dumps(index))
    layer_blob = blobs / manifest["layers"][0]["digest"].split(":")[1]
    data = bytearray(layer_blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    layer_blob.write_bytes(bytes(data))

    failed = module_runner("oci_bundle", dict(args, oci_layout=f"{corrupt}:latest", env={"NEW": "1"}))
    assert failed.get("failed") is True
    assert "does not match its digest" in failed["msg"]
    assert _snapshot(bundle) == before  # old config.json and rootfs untouched, no temporary leftovers
    # and the bundle still converges from its real source without change
    assert _ok(module_runner("oci_bundle", args))["changed"] is False


def test_image_from_containerd(module_runner, containerd, imported_image: str, workdir: Path) -> None:
    bundle = workdir / "from-image"
    args = {"path": str(bundle), "image": imported_image, "address": containerd.address, "args": ["sh"]}

    predicted = _ok(module_runner("oci_bundle", args, check_mode=True))
    assert predicted["changed"] is True
    assert not bundle.exists()

    first = _ok(module_runner("oci_bundle", args, diff=True))
    assert first["changed"] is True
    assert first["bundle"]["source"]["type"] == "image"
    assert first["bundle"]["source"]["origin"] == imported_image
    assert first["config"]["process"]["env"] == ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]  # from the image config
    assert (bundle / "rootfs" / "bin" / "busybox").exists()
    assert not [name for name in os.listdir(bundle) if name.startswith((".image-", ".rootfs-"))]
    rootfs_inode = (bundle / "rootfs").stat().st_ino

    again = _ok(module_runner("oci_bundle", args))
    assert again["changed"] is False
    assert (bundle / "rootfs").stat().st_ino == rootfs_inode  # not exported and unpacked again

    missing = module_runner("oci_bundle", dict(args, namespace=f"{workdir.name}-empty"))
    assert missing.get("failed") is True
    assert missing["msg"].startswith("image: ")
    assert _ok(module_runner("oci_bundle", {"path": str(bundle), "state": "absent"}))["changed"] is True


def test_a_running_container_keeps_its_rootfs(
    module_runner, test_image: Path, image_rootfs: Path, workdir: Path
) -> None:
    bundle = workdir / "busy"
    args = {"path": str(bundle), "oci_layout": _layout(test_image), "args": ["sleep", "60"]}
    _ok(module_runner("oci_bundle", args))
    runc = ["runc", "--root", str(workdir / "runc")]
    container_id = f"{workdir.name}-busy"
    container = subprocess.Popen(
        [*runc, "run", "--bundle", str(bundle), container_id],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # wait (without timing assertions) until runc reports the container running
        for _attempt in range(100):
            state = subprocess.run([*runc, "state", container_id], capture_output=True, text=True, check=False)
            if state.returncode == 0 and json.loads(state.stdout)["status"] == "running":
                break
            assert container.poll() is None, "runc run exited early"
            time.sleep(0.1)
        assert json.loads(state.stdout)["status"] == "running"
        before = _snapshot(bundle / "rootfs")

        tarball = workdir / "other.tar"
        with tarfile.open(tarball, "w") as tar:
            tar.add(image_rootfs, arcname=".")
        swap = module_runner("oci_bundle", {"path": str(bundle), "rootfs": str(tarball), "args": ["sleep", "60"]})
        assert swap.get("failed") is True
        assert "a container runs from" in swap["msg"] and swap["msg"].startswith("path: ")
        removal = module_runner("oci_bundle", {"path": str(bundle), "state": "absent"})
        assert removal.get("failed") is True and "a container runs from" in removal["msg"]
        assert _snapshot(bundle / "rootfs") == before

        # a config-only change is fine while it runs
        assert _ok(module_runner("oci_bundle", dict(args, env={"LATER": "1"})))["changed"] is True
    finally:
        subprocess.run([*runc, "kill", container_id, "KILL"], capture_output=True, check=False)
        container.wait(timeout=60)
        subprocess.run([*runc, "delete", "-f", container_id], capture_output=True, check=False)
    assert _ok(module_runner("oci_bundle", {"path": str(bundle), "state": "absent"}))["changed"] is True
