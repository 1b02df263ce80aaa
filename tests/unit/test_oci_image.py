# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile
from pathlib import Path

import pytest

from ansible_collections.ocistack.engine.plugins.module_utils._errors import OptionError
from ansible_collections.ocistack.engine.plugins.module_utils._oci_image import (
    host_platform_string,
    parse_layout_ref,
    read_image,
    unpack_image,
    unpack_tarball,
)

FIXTURES = Path(__file__).parent / "fixtures" / "oci"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _put_blob(layout: Path, data: bytes) -> str:
    digest = _digest(data)
    blob = layout / "blobs" / "sha256" / digest.split(":")[1]
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(data)
    return digest


def _layer(*entries) -> bytes:
    """A layer tar from entries: ("file", name, content[, mode]), ("dir", name), ("symlink", name, target),
    ("hardlink", name, target)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for kind, name, *rest in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1700000000
            data = None
            if kind == "file":
                data = rest[0].encode() if isinstance(rest[0], str) else rest[0]
                info.size = len(data)
                info.mode = rest[1] if len(rest) > 1 else 0o644
            elif kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, rest[0]
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, rest[0]
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def _write_layout(layout: Path, layers, *, config=None, tag="latest", compress=False, tamper_diff_id=False) -> str:
    """An OCI layout with one image; returns its manifest digest."""
    layout.mkdir(parents=True, exist_ok=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    descriptors, diff_ids = [], []
    for data in layers:
        diff_ids.append(_digest(data + (b"x" if tamper_diff_id else b"")))
        blob = gzip.compress(data, mtime=0) if compress else data
        media = "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if compress else "")
        descriptors.append({"mediaType": media, "digest": _put_blob(layout, blob), "size": len(blob)})
    image_config = {
        "architecture": host_platform_string().split("/")[1],
        "os": "linux",
        "config": config if config is not None else {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }
    config_bytes = json.dumps(image_config).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": _put_blob(layout, config_bytes),
            "size": len(config_bytes),
        },
        "layers": descriptors,
    }
    manifest_bytes = json.dumps(manifest).encode()
    manifest_digest = _put_blob(layout, manifest_bytes)
    descriptor = {"mediaType": OCI_MANIFEST, "digest": manifest_digest, "size": len(manifest_bytes)}
    if tag:
        descriptor["annotations"] = {"org.opencontainers.image.ref.name": tag}
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [descriptor]}))
    return manifest_digest


def _layout_from_recorded(tmp_path: Path, name: str) -> Path:
    """A layout made of recorded real metadata (index, manifest, config) without the layer blobs."""
    source = FIXTURES / name
    layout = tmp_path / name
    layout.mkdir()
    shutil.copy(source / "index.json", layout / "index.json")
    for blob in ("manifest.json", "config.json"):
        _put_blob(layout, (source / blob).read_bytes())
    return layout


# -- references ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/srv/oci:v1", ("/srv/oci", "v1")),
        ("/srv/oci", ("/srv/oci", None)),
        ("/srv/oci:latest", ("/srv/oci", "latest")),
        ("/srv/a:b/oci", ("/srv/a:b/oci", None)),
        ("/srv/image.tar:1.2.3-rc_1", ("/srv/image.tar", "1.2.3-rc_1")),
        ("relative/dir:tag", ("relative/dir", "tag")),
    ],
)
def test_parse_layout_ref(value, expected):
    assert parse_layout_ref(value) == expected


@pytest.mark.parametrize("value", ["", "/srv/oci:", None])
def test_parse_layout_ref_rejects(value):
    with pytest.raises(OptionError) as err:
        parse_layout_ref(value, "oci_layout")
    assert err.value.option == "oci_layout"


# -- reading recorded real layouts ---------------------------------------------------------------------------------


def test_read_recorded_umoci_layout(tmp_path):
    info = read_image(str(_layout_from_recorded(tmp_path, "umoci-layout")), "latest")
    index = json.loads((FIXTURES / "umoci-layout" / "index.json").read_text())
    assert info.manifest_digest == index["manifests"][0]["digest"]
    assert info.config == {"Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["/bin/sh"], "WorkingDir": "/"}
    assert info.config_digest == _digest((FIXTURES / "umoci-layout" / "config.json").read_bytes())
    assert info.tag == "latest"
    assert [layer["mediaType"] for layer in info.layers] == ["application/vnd.oci.image.layer.v1.tar+gzip"]


def test_read_recorded_ctr_export_with_docker_media_types(tmp_path):
    layout = str(_layout_from_recorded(tmp_path, "ctr-export"))
    info = read_image(layout)
    assert info.manifest_digest == _digest((FIXTURES / "ctr-export" / "manifest.json").read_bytes())
    assert info.config["Cmd"] == ["/bin/sh"]
    assert info.layers[0]["mediaType"] == "application/vnd.docker.image.rootfs.diff.tar"
    # containerd also records the full image name: it selects the image too
    assert read_image(layout, "ocistack.test/busybox:latest").manifest_digest == info.manifest_digest


def test_unknown_tag_lists_the_tags_there(tmp_path):
    layout = _layout_from_recorded(tmp_path, "umoci-layout")
    with pytest.raises(OptionError, match=r"no image tagged 'v2'; tags there: latest") as err:
        read_image(str(layout), "v2", option="oci_layout")
    assert err.value.option == "oci_layout"


def test_corrupt_config_blob_is_refused(tmp_path):
    layout = _layout_from_recorded(tmp_path, "umoci-layout")
    config_digest = _digest((FIXTURES / "umoci-layout" / "config.json").read_bytes())
    blob = layout / "blobs" / "sha256" / config_digest.split(":")[1]
    blob.write_bytes(blob.read_bytes().replace(b"/bin/sh", b"/bin/XX"))
    with pytest.raises(OptionError, match="does not match its digest"):
        read_image(str(layout))


def test_missing_layout_and_missing_blob(tmp_path):
    with pytest.raises(OptionError, match="does not exist"):
        read_image(str(tmp_path / "nope"))
    layout = _layout_from_recorded(tmp_path, "ctr-export")
    shutil.rmtree(layout / "blobs")
    with pytest.raises(OptionError, match="has no file blobs/sha256/"):
        read_image(str(layout))
    (tmp_path / "garbage.tar").write_bytes(b"this is not a tar")
    with pytest.raises(OptionError, match="neither a directory nor a readable tar"):
        read_image(str(tmp_path / "garbage.tar"))


def test_malformed_digest_cannot_reach_outside_the_layout(tmp_path):
    layout = tmp_path / "layout"
    _write_layout(layout, [_layer(("file", "a", "1"))])
    index = json.loads((layout / "index.json").read_text())
    index["manifests"][0]["digest"] = "sha256:../../../etc/passwd"
    (layout / "index.json").write_text(json.dumps(index))
    with pytest.raises(OptionError, match="malformed digest"):
        read_image(str(layout))


def test_untagged_single_image_layout(tmp_path):
    layout = tmp_path / "layout"
    digest = _write_layout(layout, [_layer(("file", "a", "1"))], tag=None)
    info = read_image(str(layout))
    assert info.manifest_digest == digest
    assert info.tag is None
    with pytest.raises(OptionError, match="no image tagged 'latest'"):
        read_image(str(layout), "latest")


def test_multi_platform_index_picks_the_platform(tmp_path):
    layout = tmp_path / "layout"
    digest = _write_layout(layout, [_layer(("file", "a", "1"))], tag=None)
    manifest_size = len((layout / "blobs" / "sha256" / digest.split(":")[1]).read_bytes())
    host_os, host_arch = host_platform_string().split("/")
    other_arch = "s390x" if host_arch != "s390x" else "ppc64le"
    other = {
        "mediaType": OCI_MANIFEST,
        "digest": _digest(b"missing"),
        "size": 7,
        "platform": {"os": "linux", "architecture": other_arch},
    }
    mine = {
        "mediaType": OCI_MANIFEST,
        "digest": digest,
        "size": manifest_size,
        "platform": {"os": host_os, "architecture": host_arch},
    }
    index_bytes = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [other, mine]}).encode()
    index_descriptor = {
        "mediaType": OCI_INDEX,
        "digest": _put_blob(layout, index_bytes),
        "size": len(index_bytes),
        "annotations": {"org.opencontainers.image.ref.name": "multi"},
    }
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [index_descriptor]}))
    assert read_image(str(layout), "multi").manifest_digest == digest
    with pytest.raises(OptionError, match="no image for platform linux/mips"):
        read_image(str(layout), "multi", platform="linux/mips")


# -- unpacking -----------------------------------------------------------------------------------------------------


def test_unpack_applies_layers_and_whiteouts_in_order(tmp_path):
    bottom = _layer(
        ("dir", "etc/"),
        ("file", "etc/keep", "keep"),
        ("file", "etc/gone", "gone"),
        ("dir", "data/"),
        ("file", "data/old1", "old"),
        ("dir", "data/sub/"),
        ("file", "data/sub/old2", "old"),
        ("file", "bin/tool", "#!/bin/sh\n", 0o755),
        ("symlink", "bin/alias", "tool"),
        ("file", "replaced", "a file first"),
    )
    top = _layer(
        ("file", "etc/.wh.gone", ""),
        ("file", "data/new-before-opaque", "new"),
        ("file", "data/.wh..wh..opq", ""),
        ("file", "data/new-after-opaque", "new"),
        ("hardlink", "bin/tool-link", "bin/tool"),
        ("dir", "replaced/"),
        ("file", "replaced/inside", "now a dir"),
        ("file", ".wh.never-existed", ""),
    )
    layout = tmp_path / "layout"
    digest = _write_layout(layout, [bottom, top], config={"Cmd": ["/bin/tool"], "Env": ["A=1"]}, compress=True)
    rootfs = tmp_path / "rootfs"
    info = unpack_image(str(layout), str(rootfs), "latest")
    assert info.manifest_digest == digest
    assert info.config == {"Cmd": ["/bin/tool"], "Env": ["A=1"]}
    assert (rootfs / "etc" / "keep").read_text() == "keep"
    assert not (rootfs / "etc" / "gone").exists()
    assert sorted(os.listdir(rootfs / "data")) == ["new-after-opaque", "new-before-opaque"]
    assert os.readlink(rootfs / "bin" / "alias") == "tool"
    assert (rootfs / "bin" / "tool").stat().st_mode & 0o777 == 0o755
    assert (rootfs / "bin" / "tool").stat().st_mtime == 1700000000
    assert (rootfs / "bin" / "tool-link").stat().st_ino == (rootfs / "bin" / "tool").stat().st_ino
    assert (rootfs / "replaced" / "inside").read_text() == "now a dir"
    assert not list(rootfs.rglob(".wh.*"))


def test_unpack_from_an_archive_of_the_layout(tmp_path):
    layout = tmp_path / "layout"
    digest = _write_layout(layout, [_layer(("file", "hello", "world"))], tag="v1")
    archive = tmp_path / "image.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(layout, arcname=".")
    rootfs = tmp_path / "rootfs"
    assert unpack_image(str(archive), str(rootfs), "v1").manifest_digest == digest
    assert (rootfs / "hello").read_text() == "world"


def test_absolute_symlinks_resolve_inside_the_rootfs(tmp_path):
    bottom = _layer(("dir", "usr/"), ("dir", "usr/bin/"), ("symlink", "bin", "/usr/bin"))
    top = _layer(("file", "bin/added", "through the link"))
    layout = tmp_path / "layout"
    _write_layout(layout, [bottom, top])
    rootfs = tmp_path / "rootfs"
    unpack_image(str(layout), str(rootfs))
    assert (rootfs / "usr" / "bin" / "added").read_text() == "through the link"
    assert os.path.islink(rootfs / "bin")


@pytest.mark.parametrize(
    ("layers", "text"),
    [
        ([_layer(("file", "../evil", "x"))], "'..' in the path"),
        ([_layer(("file", "a/../../evil", "x"))], "'..' in the path"),
        ([_layer(("file", "/etc/evil", "x"))], "absolute path"),
        ([_layer(("symlink", "out", "../../.."), ("file", "out/evil", "x"))], "leads outside the rootfs"),
        ([_layer(("symlink", "out", "/../..")), _layer(("file", "out/evil", "x"))], "leads outside the rootfs"),
        ([_layer(("hardlink", "h", "../../etc/passwd"))], "'..' in the path"),
        ([_layer(("hardlink", "h", "missing"))], "does not exist"),
        ([_layer(("symlink", "loop", "loop"), ("file", "loop/x", "x"))], "too many levels"),
        ([_layer(("file", "f", "x"), ("file", "f/x", "x"))], "is not a directory"),
    ],
)
def test_unpack_refuses_path_traversal(tmp_path, layers, text):
    layout = tmp_path / "layout"
    _write_layout(layout, layers)
    outside = tmp_path / "outside-marker"
    with pytest.raises(OptionError, match=text) as err:
        unpack_image(str(layout), str(tmp_path / "sub" / "deeper" / "rootfs"), option="oci_layout")
    assert err.value.option == "oci_layout"
    assert not outside.exists()
    assert not (tmp_path / "evil").exists()
    assert not (tmp_path / "sub" / "evil").exists()


def test_corrupt_layer_and_diff_id_are_refused(tmp_path):
    layout = tmp_path / "layout"
    _write_layout(layout, [_layer(("file", "a", "1"))], tamper_diff_id=True)
    with pytest.raises(OptionError, match="does not match its diff_id"):
        unpack_image(str(layout), str(tmp_path / "rootfs"))

    layout2 = tmp_path / "layout2"
    _write_layout(layout2, [_layer(("file", "a", "1"))])
    blob = next(p for p in (layout2 / "blobs" / "sha256").iterdir() if p.read_bytes()[:1] != b"{")
    blob.write_bytes(blob.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(OptionError, match="does not match its digest"):
        unpack_image(str(layout2), str(tmp_path / "rootfs2"))


def test_zstd_layers_are_refused_clearly(tmp_path):
    layout = tmp_path / "layout"
    _write_layout(layout, [b"\x28\xb5\x2f\xfd" + b"\0" * 100])
    with pytest.raises(OptionError, match="zstd"):
        unpack_image(str(layout), str(tmp_path / "rootfs"))


def test_unpack_tarball(tmp_path):
    tarball = tmp_path / "rootfs.tar.gz"
    tarball.write_bytes(gzip.compress(_layer(("dir", "./etc/"), ("file", "./etc/hostname", "box"))))
    rootfs = tmp_path / "rootfs"
    unpack_tarball(str(tarball), str(rootfs))
    assert (rootfs / "etc" / "hostname").read_text() == "box"
    bad = tmp_path / "bad.tar"
    bad.write_bytes(_layer(("file", "../escape", "x")))
    with pytest.raises(OptionError, match="'..'") as err:
        unpack_tarball(str(bad), str(tmp_path / "rootfs2"))
    assert err.value.option == "rootfs"
    with pytest.raises(OptionError, match="does not exist"):
        unpack_tarball(str(tmp_path / "missing.tar"), str(tmp_path / "rootfs3"))
