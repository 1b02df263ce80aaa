"""The ctr client's pure parts: parsers fed with outputs recorded from the real ctr 1.6 (see fixtures/ctr)."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest

from ansible_collections.ocistack.engine.plugins.module_utils import _registry as registry_module
from ansible_collections.ocistack.engine.plugins.module_utils._cni import load_cni_network
from ansible_collections.ocistack.engine.plugins.module_utils._container_request import user_labels
from ansible_collections.ocistack.engine.plugins.module_utils._ctr import (
    chain_id,
    explain_registry_error,
    image_size_from_manifest,
    parse_container_info,
    parse_images,
    parse_import_output,
    parse_labels,
    parse_namespaces,
    parse_plugins,
    parse_snapshot_mounts,
    parse_tasks,
    parse_version,
    read_local_blob,
    select_manifest,
    validate_reference,
)
from ansible_collections.ocistack.engine.plugins.module_utils._errors import OptionError
from ansible_collections.ocistack.engine.plugins.module_utils._netns import parse_ip_addresses
from ansible_collections.ocistack.engine.plugins.module_utils._registry import RegistryAccess
from ansible_collections.ocistack.engine.plugins.module_utils._units import normalize_signal

FIXTURES = Path(__file__).parent / "fixtures" / "ctr"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def test_version():
    version = parse_version(fixture("version.txt"))
    assert version["client"]["version"] == "1.6.20~ds1"
    assert version["server"] == {
        "version": "1.6.20~ds1",
        "revision": "1.6.20~ds1-1+deb12u3",
        "uuid": "7632bc0e-a01f-48b8-b1c1-6e962f784058",
    }
    assert version["client"]["go_version"] == "go1.19.8"


def test_plugins_without_and_with_cri():
    plugins = parse_plugins(fixture("plugins_ls.txt"))
    assert len(plugins) == 37
    assert {"type": "io.containerd.snapshotter.v1", "id": "devmapper", "platforms": ["linux/amd64"],
            "status": "error"} in plugins  # fmt: skip
    assert {"type": "io.containerd.content.v1", "id": "content", "platforms": [], "status": "ok"} in plugins
    assert not [p for p in plugins if p["id"] == "cri"]
    with_cri = parse_plugins(fixture("plugins_ls_cri.txt"))
    assert [p["status"] for p in with_cri if p["id"] == "cri"] == ["ok"]
    assert any(p["id"] == "restart" and p["status"] == "ok" for p in with_cri)


def test_namespaces_with_labels():
    assert parse_namespaces(fixture("namespaces_ls.txt")) == [
        {"name": "default", "labels": {}},
        {"name": "labelled", "labels": {"team": "web", "tier": "prod"}},
    ]


def test_images():
    images = parse_images(fixture("images_ls.txt"))
    assert [image["name"] for image in images] == ["127.0.0.1:15001/test/busybox:1", "ocistack.test/busybox:latest"]
    first = images[0]
    assert first["digest"] == "sha256:fd6e2974a550c70ba4e35c1125955011f118e881871207b6dccc8bf8345c0499"
    assert first["labels"] == {"owner": "ocistack", "purpose": "test"}
    assert first["platforms"] == ["linux/amd64"]
    assert first["media_type"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert first["approx_size"] == 1024 * 1024
    assert images[1]["labels"] == {}


def test_import_output():
    assert parse_import_output(fixture("images_import.txt")) == [
        ("ocistack.test/busybox:latest", "sha256:b3b28ea8150c001aebb9752d23623cf93fc24deca313dfb5c92227767b35b9e5")
    ]


def test_tasks():
    assert parse_tasks(fixture("tasks_ls.txt")) == {
        "r1": {"pid": 17853, "status": "running"},
        "r3": {"pid": 17973, "status": "stopped"},
    }


def test_container_info_of_a_config_created_container():
    info = parse_container_info(fixture("container_info.json"))
    assert info["id"] == "c2"
    assert info["runtime"] == "io.containerd.runc.v2"
    assert info["image"] == "" and info["snapshot_key"] == ""
    assert info["spec"]["mounts"][0]["destination"] == "/"
    assert info["spec"]["mounts"][0]["type"] == "overlay"


def test_snapshot_mounts_become_a_root_mount():
    mounts = parse_snapshot_mounts(fixture("snapshots_prepare_mounts.json"))
    assert len(mounts) == 1
    mount = mounts[0]
    assert mount["destination"] == "/" and mount["type"] == "overlay" and mount["source"] == "overlay"
    assert any(option.startswith("upperdir=") for option in mount["options"])
    assert any(option.startswith("lowerdir=") for option in mount["options"])
    with pytest.raises(ValueError):
        parse_snapshot_mounts("[]")


def test_manifest_size_and_chain_id():
    raw = (FIXTURES / "content_manifest.json").read_bytes()
    manifest = json.loads(raw)
    # manifest bytes + config 462 + one gzip layer 1087763
    assert image_size_from_manifest(manifest, len(raw)) == len(raw) + 462 + 1087763
    config = json.loads(fixture("content_config.json"))
    diff_ids = config["rootfs"]["diff_ids"]
    # One layer: the chain id is the diff id (the parent of the container snapshot in snapshots ls).
    assert chain_id(diff_ids) == "sha256:c998e810a1d623089cdf0ab863f2fbc4d3a3d9de391e6ee92061926644e2fc64"
    two = chain_id(["sha256:" + "a" * 64, "sha256:" + "b" * 64])
    assert two.startswith("sha256:") and two != "sha256:" + "b" * 64
    with pytest.raises(ValueError):
        chain_id([])


def test_select_manifest_from_an_index():
    index = {
        "manifests": [
            {"digest": "sha256:arm", "platform": {"os": "linux", "architecture": "arm64"}},
            {"digest": "sha256:armv7", "platform": {"os": "linux", "architecture": "arm", "variant": "v7"}},
            {"digest": "sha256:amd", "platform": {"os": "linux", "architecture": "amd64"}},
        ]
    }
    assert select_manifest(index, "linux/amd64")["digest"] == "sha256:amd"
    assert select_manifest(index, "linux/arm/v7")["digest"] == "sha256:armv7"
    assert select_manifest(index, "linux/s390x") is None


@pytest.mark.parametrize(
    ("stderr_file", "option", "words"),
    [
        ("pull_unauthorized.stderr", "username/password", "401 Unauthorized"),
        ("pull_http_to_tls.stderr", "plain_http", "400 Bad Request"),
        ("pull_not_found.stderr", "name", "not found"),
        ("pull_unknown_ca.stderr", "skip_verify", "certificate signed by unknown authority"),
    ],
)
def test_registry_errors_name_the_option(stderr_file, option, words):
    message = explain_registry_error(fixture(stderr_file), "127.0.0.1:15002/test/busybox:1")
    assert message.startswith(option + ":")
    assert words in message


@pytest.mark.parametrize(
    "reference",
    [
        "docker.io/library/busybox:latest",
        "127.0.0.1:5000/team/app:1.0",
        "localhost/app:1",
        "registry.example.com/a/b/c@sha256:" + "0" * 64,
        "ocistack.test/busybox:latest",
    ],
)
def test_valid_references(reference):
    assert validate_reference(reference) == reference


@pytest.mark.parametrize(
    "reference",
    ["", "busybox", "busybox:latest", "library/busybox:1", "Registry.example.com/UP:1", "a.b/c", "a.b/c:bad tag"],
)
def test_invalid_references_name_the_option(reference):
    with pytest.raises(OptionError) as error:
        validate_reference(reference, "image")
    assert str(error.value).startswith("image:")


def test_labels_and_user_labels():
    assert parse_labels("-") == {} and parse_labels("") == {}
    assert parse_labels("a=1,b=") == {"a": "1", "b": ""}
    assert user_labels(
        {
            "team": "web",
            "io.ocistack.engine.spec-digest": "sha256:x",
            "containerd.io/restart.status": "running",
            "io.containerd.image.config.stop-signal": "SIGTERM",
        }
    ) == {"team": "web"}


@pytest.mark.parametrize(
    ("value", "expected"), [("TERM", "SIGTERM"), ("sigint", "SIGINT"), ("9", "SIGKILL"), (15, "SIGTERM")]
)
def test_signals(value, expected):
    assert normalize_signal(value) == expected


def test_unknown_signal():
    with pytest.raises(OptionError, match="^stop_signal:"):
        normalize_signal("SIGNOPE")


def test_credentials_never_in_flags_and_file_is_private(tmp_path, monkeypatch):
    password = "s3cr3t-value"
    # The login itself (tests/unit/test_registry_auth.py) is not what this test is about.
    monkeypatch.setattr(registry_module, "authorization_header", lambda *_a, **_k: "Basic YWxpY2U6czNjcjN0LXZhbHVl")
    access = RegistryAccess(username="alice", password=password, skip_verify=True)
    access.validate()
    with access.arguments("127.0.0.1:5000/team/app:1", str(tmp_path)) as flags:
        assert password not in " ".join(flags)
        hosts_dir = Path(flags[flags.index("--hosts-dir") + 1])
        hosts_toml = hosts_dir / "127.0.0.1:5000" / "hosts.toml"
        assert stat.S_IMODE(os.stat(hosts_dir).st_mode) == 0o700
        assert stat.S_IMODE(os.stat(hosts_toml).st_mode) == 0o600
        text = hosts_toml.read_text()
        assert '[host."https://127.0.0.1:5000"]' in text and "skip_verify = true" in text
        assert "Authorization" in text and password not in text  # base64 of user:password, not the clear text
    assert not hosts_dir.exists()


def test_plain_flags_without_credentials(tmp_path):
    access = RegistryAccess(plain_http=True, skip_verify=True)
    with access.arguments("127.0.0.1:5000/a:1") as flags:
        assert flags == ["--plain-http", "--skip-verify"]
    # HTTPS to a loopback registry: ctr would speak HTTP there, so a hosts.toml forces https.
    with RegistryAccess().arguments("127.0.0.1:5000/a:1", str(tmp_path)) as flags:
        text = (Path(flags[1]) / "127.0.0.1:5000" / "hosts.toml").read_text()
        assert '[host."https://127.0.0.1:5000"]' in text and "Authorization" not in text
    with RegistryAccess().arguments("registry.example.com/a:1") as flags:
        assert flags == []


def test_credentials_validation(tmp_path):
    with pytest.raises(OptionError, match="^password:"):
        RegistryAccess(username="alice").validate()
    with pytest.raises(OptionError, match="^username:"):
        RegistryAccess(username="a:b", password="x").validate()
    with pytest.raises(OptionError, match="^hosts_dir:"):
        RegistryAccess(hosts_dir=str(tmp_path / "missing")).validate()
    own = tmp_path / "hosts" / "127.0.0.1:5000"
    own.mkdir(parents=True)
    (own / "hosts.toml").write_text('server = "https://127.0.0.1:5000"\n')
    access = RegistryAccess(username="a", password="b", hosts_dir=str(tmp_path / "hosts"))
    with pytest.raises(OptionError, match="^hosts_dir:"), access.arguments("127.0.0.1:5000/a:1", str(tmp_path)):
        pass


def test_ip_addresses_keep_global_scope_only():
    assert parse_ip_addresses(fixture("ip_j_addr_show.json")) == ["10.254.1.5/24"]
    assert parse_ip_addresses("[]") == []


def test_load_cni_network(tmp_path):
    (tmp_path / "10-first.conflist").write_text(
        json.dumps({"cniVersion": "1.0.0", "name": "first", "plugins": [{"type": "bridge"}]})
    )
    (tmp_path / "20-single.conf").write_text(json.dumps({"cniVersion": "0.4.0", "name": "single", "type": "ptp"}))
    (tmp_path / "30-broken.conflist").write_text("{not json")
    assert load_cni_network(str(tmp_path), None)["name"] == "first"
    single = load_cni_network(str(tmp_path), "single")
    assert single["plugins"] == [{"cniVersion": "0.4.0", "name": "single", "type": "ptp"}]
    with pytest.raises(OptionError, match="^cni_network:.*first, single"):
        load_cni_network(str(tmp_path), "missing")
    with pytest.raises(OptionError, match="^cni_conf_dir:"):
        load_cni_network(str(tmp_path / "nope"), None)


# -- blobs read from the local content store instead of `ctr content get`


def _store_with(tmp_path, name: str, data: bytes) -> str:
    store = tmp_path / "blobs"
    (store / "sha256").mkdir(parents=True)
    (store / "sha256" / name).write_bytes(data)
    return str(store)


def test_local_blob_is_read_when_its_hash_matches(tmp_path):
    data = b'{"schemaVersion": 2}'
    digest = hashlib.sha256(data).hexdigest()
    store = _store_with(tmp_path, digest, data)
    assert read_local_blob(f"sha256:{digest}", (str(tmp_path / "missing"), store)) == data


def test_local_blob_with_other_bytes_is_not_trusted(tmp_path):
    digest = hashlib.sha256(b"the real manifest").hexdigest()
    store = _store_with(tmp_path, digest, b"something else")
    assert read_local_blob(f"sha256:{digest}", (store,)) is None


def test_local_blob_absent_or_odd_digest_falls_back_to_ctr(tmp_path):
    store = _store_with(tmp_path, "0" * 64, b"")
    assert read_local_blob("sha256:" + "1" * 64, (store,)) is None
    assert read_local_blob("sha512:" + "0" * 64, (store,)) is None
    assert read_local_blob("sha256:../../etc/passwd", (store,)) is None
