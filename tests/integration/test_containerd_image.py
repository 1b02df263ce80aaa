"""containerd_image / containerd_image_info / containerd_namespace / containerd_info, for real.

Images are handled in a namespace of their own per test (random name), removed afterwards.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import subprocess
import tarfile
from pathlib import Path

from ansible_collections.ocistack.engine.plugins.filter.containerd_registry_files import containerd_registry_files
from ansible_collections.ocistack.engine.plugins.module_utils._config_files import run as run_config_files


def test_import_check_apply_idempotent(containerd, module_runner, namespace, test_images):
    args = {
        "address": containerd.address,
        "namespace": namespace,
        "name": "ocistack.test/busybox:latest",
        "source": "import",
        "path": str(test_images / "busybox.tar"),
    }
    predicted = module_runner("containerd_image", args, check_mode=True, diff=True)
    assert predicted["changed"] is True
    assert containerd.ctr(["images", "ls", "-q"], namespace=namespace).stdout.strip() == ""

    applied = module_runner("containerd_image", args, diff=True)
    assert applied["changed"] is True, applied
    assert predicted["actions"] == applied["actions"]
    image = applied["image"]
    assert image["name"] == "ocistack.test/busybox:latest"
    assert image["digest"].startswith("sha256:") and image["size"] > 1_000_000
    assert applied["diff"]["after"]["digest"] == image["digest"]

    again = module_runner("containerd_image", args)
    assert again["changed"] is False and again["image"]["digest"] == image["digest"]

    info = module_runner("containerd_image_info", {"address": containerd.address, "namespace": namespace})
    assert [i["name"] for i in info["images"]] == ["ocistack.test/busybox:latest"]
    assert info["images"][0]["size"] == image["size"]


def test_import_wrong_name_names_option_and_leaves_nothing(containerd, module_runner, namespace, test_images):
    result = module_runner(
        "containerd_image",
        {
            "address": containerd.address,
            "namespace": namespace,
            "name": "ocistack.test/other:1",
            "source": "import",
            "path": str(test_images / "busybox.tar"),
        },
    )
    assert result.get("failed") is True
    assert result["msg"].startswith("name:") and "ocistack.test/busybox:latest" in result["msg"]
    assert containerd.ctr(["images", "ls", "-q"], namespace=namespace).stdout.strip() == ""


def test_pull_plain_http_then_always_unchanged(containerd, module_runner, namespace, registries):
    args = {
        "address": containerd.address,
        "namespace": namespace,
        "name": f"{registries.plain}/test/busybox:1",
        "plain_http": True,
    }
    pulled = module_runner("containerd_image", args)
    assert pulled["changed"] is True, pulled
    assert pulled["actions"] == [f"pull {args['name']}"]
    digest = pulled["image"]["digest"]

    always = {**args, "pull": "always"}
    assert module_runner("containerd_image", always, check_mode=True)["changed"] is False
    repull = module_runner("containerd_image", always)
    assert repull["changed"] is False, repull
    assert repull["image"]["digest"] == digest


def test_pull_tls_with_auth_keeps_password_secret(containerd, run_watching_argv, namespace, registries):
    args = {
        "address": containerd.address,
        "namespace": namespace,
        "name": f"{registries.tls}/test/busybox:1",
        "username": registries.username,
        "password": registries.password,
        "skip_verify": True,
    }
    pulled, seen = run_watching_argv("containerd_image", args)
    assert pulled["changed"] is True, pulled
    assert pulled["image"]["digest"].startswith("sha256:")
    assert seen and not any(registries.password in sample for sample in seen)
    assert registries.password not in json.dumps(pulled)
    assert registries.password not in pulled.stderr


def test_pull_tls_with_ca_in_hosts_dir(containerd, module_runner, namespace, registries, tmp_path):
    host_dir = tmp_path / "hosts" / registries.tls
    host_dir.mkdir(parents=True)
    shutil.copy(registries.ca_file, host_dir / "ca.crt")
    pulled = module_runner(
        "containerd_image",
        {
            "address": containerd.address,
            "namespace": namespace,
            "name": f"{registries.tls}/test/busybox:1",
            "username": registries.username,
            "password": registries.password,
            "hosts_dir": str(tmp_path / "hosts"),
        },
    )
    assert pulled["changed"] is True, pulled


def test_role_registry_files_reach_a_tls_registry_with_auth(containerd, module_runner, namespace, registries, tmp_path):
    """The containerd role's certs.d (filter + config_files) as this containerd reads it: CA and auth header.

    containerd 1.6 ignores a hosts.toml without a [host] table; the header would then be lost (401).
    """
    token = base64.b64encode(f"{registries.username}:{registries.password}".encode()).decode()
    settings = {"ca": Path(registries.ca_file).read_text(), "header": {"Authorization": f"Basic {token}"}}
    certs = tmp_path / "certs.d"
    certs.mkdir()
    tree = containerd_registry_files({registries.tls: settings}, str(certs))
    assert run_config_files(tree, check_mode=False, want_diff=False)["changed"] is True
    pulled = module_runner(
        "containerd_image",
        {
            "address": containerd.address,
            "namespace": namespace,
            "name": f"{registries.tls}/test/busybox:1",
            "hosts_dir": str(certs),
        },
    )
    assert pulled.get("failed") is not True, pulled
    assert pulled["changed"] is True and pulled["image"]["digest"].startswith("sha256:")


def test_wrong_password_is_a_clear_error(containerd, module_runner, namespace, registries):
    wrong = "nope-" + secrets.token_hex(6)
    result = module_runner(
        "containerd_image",
        {
            "address": containerd.address,
            "namespace": namespace,
            "name": f"{registries.tls}/test/busybox:1",
            "username": registries.username,
            "password": wrong,
            "skip_verify": True,
        },
    )
    assert result.get("failed") is True
    assert "username/password" in result["msg"] and "401" in result["msg"]
    assert wrong not in json.dumps(result) and wrong not in result.stderr
    assert containerd.ctr(["images", "ls", "-q"], namespace=namespace).stdout.strip() == ""


def test_tags_export_push_and_absent(containerd, module_runner, namespace, registries, test_images, tmp_path):  # noqa: PLR0917
    base = {"address": containerd.address, "namespace": namespace}
    module_runner(
        "containerd_image",
        {**base, "name": "ocistack.test/busybox:latest", "source": "import", "path": str(test_images / "busybox.tar")},
    )
    pushed_ref = f"{registries.plain}/pushed/{secrets.token_hex(3)}:1"
    archive = tmp_path / "out" / "busybox-oci.tar"
    archive.parent.mkdir()
    args = {
        **base,
        "name": "ocistack.test/busybox:latest",
        "tags": [pushed_ref],
        "archive_path": str(archive),
        "push": True,
        "plain_http": True,
    }
    predicted = module_runner("containerd_image", args, check_mode=True)
    assert predicted.get("changed") is True, predicted
    assert not archive.exists()

    done = module_runner("containerd_image", args, diff=True)
    assert done["changed"] is True, done
    assert predicted["actions"] == done["actions"] == [f"tag {pushed_ref}", f"export {archive}", f"push {pushed_ref}"]
    digest = done["image"]["digest"]
    tags = containerd.ctr(["images", "ls", "-q"], namespace=namespace).stdout.split()
    assert pushed_ref in tags
    with tarfile.open(archive) as exported:
        index = json.load(exported.extractfile("index.json"))
    assert digest in [entry["digest"] for entry in index["manifests"]]
    inspect = subprocess.run(
        ["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{pushed_ref}"],
        capture_output=True,
        check=True,
    )
    assert inspect.stdout  # the registry serves it now

    again = module_runner("containerd_image", args)
    assert again["changed"] is False, again

    local_tag = {**base, "name": "ocistack.test/busybox:latest", "tags": ["ocistack.test/busybox:copy"]}
    assert module_runner("containerd_image", local_tag)["changed"] is True
    assert module_runner("containerd_image", local_tag)["changed"] is False

    removed = module_runner("containerd_image", {**base, "name": "ocistack.test/busybox:latest", "state": "absent",
                                                 "tags": ["ocistack.test/busybox:copy"]})  # fmt: skip
    assert removed["changed"] is True
    left = containerd.ctr(["images", "ls", "-q"], namespace=namespace).stdout.split()
    assert "ocistack.test/busybox:latest" not in left and "ocistack.test/busybox:copy" not in left
    assert os.path.exists(archive)


def test_namespace_lifecycle(containerd, module_runner):
    name = "it-ns-" + secrets.token_hex(4)
    base = {"address": containerd.address, "name": name}
    try:
        assert module_runner("containerd_namespace", {**base, "labels": {"team": "a"}}, check_mode=True)["changed"]
        assert name not in containerd.ctr(["namespaces", "ls", "-q"]).stdout.split()
        created = module_runner("containerd_namespace", {**base, "labels": {"team": "a"}})
        assert created["changed"] is True and created["namespace"]["labels"] == {"team": "a"}
        assert module_runner("containerd_namespace", {**base, "labels": {"team": "a"}})["changed"] is False
        relabelled = module_runner("containerd_namespace", {**base, "labels": {"team": "b"}}, diff=True)
        assert relabelled["changed"] is True and relabelled["diff"]["after"]["labels"] == {"team": "b"}
        assert "team=b" in containerd.ctr(["namespaces", "ls"]).stdout
        removed = module_runner("containerd_namespace", {**base, "state": "absent"})
        assert removed["changed"] is True
        assert name not in containerd.ctr(["namespaces", "ls", "-q"]).stdout.split()
    finally:
        containerd.ctr(["namespaces", "rm", name], check=False)


def test_containerd_info(containerd, module_runner):
    info = module_runner("containerd_info", {"address": containerd.address})["containerd"]
    assert info["version"] == containerd.ctr(["version"]).stdout.split("Server:")[1].split("Version:")[1].split()[0]
    assert info["cri"] == {"enabled": False, "status": "disabled"}
    assert "overlayfs" in info["snapshotters"]
    assert "io.containerd.runc.v2" in info["runtimes"]
    assert info["restart_monitor"] is True
    assert info["namespaces"] == containerd.ctr(["namespaces", "ls", "-q"]).stdout.split()
