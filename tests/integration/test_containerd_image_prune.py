"""containerd_image_prune on a real containerd: only what no container uses goes."""

from __future__ import annotations

import subprocess

import pytest

USED = "ocistack.test/busybox:latest"
SAME_DIGEST = "ocistack.test/busybox:same-digest"
UNUSED = "ocistack.test/other:1"
KEPT = "ocistack.test/other:kept"


@pytest.fixture
def other_archive(test_images, tmp_path):
    """The test image as an OCI manifest (the docker archive's is a docker one): another digest."""
    archive = tmp_path / "other.tar"
    subprocess.run(
        ["skopeo", "copy", "-q", f"oci:{test_images / 'oci'}:latest", f"oci-archive:{archive}:{UNUSED}"],
        check=True,
        capture_output=True,
    )
    return archive


def _images(containerd, namespace):
    return sorted(containerd.ctr(["images", "ls", "-q"], namespace=namespace).stdout.split())


def test_prune_removes_only_images_no_container_uses(  # noqa: PLR0917
    containerd, module_runner, namespace, test_images, other_archive
):
    base = {"address": containerd.address, "namespace": namespace}
    imports = [(USED, test_images / "busybox.tar"), (UNUSED, other_archive)]
    for name, path in imports:
        done = module_runner("containerd_image", {**base, "name": name, "source": "import", "path": str(path)})
        assert done.get("failed") is not True, done
    module_runner("containerd_image", {**base, "name": USED, "tags": [SAME_DIGEST]})
    module_runner("containerd_image", {**base, "name": UNUSED, "tags": [KEPT]})
    created = module_runner(
        "containerd_container", {**base, "name": "uses-it", "image": USED, "command": ["true"], "state": "present"}
    )
    assert created.get("failed") is not True, created
    everything = sorted([USED, SAME_DIGEST, UNUSED, KEPT])
    assert _images(containerd, namespace) == everything
    digests = {
        row.split()[0]: row.split()[2]
        for row in containerd.ctr(["images", "ls"], namespace=namespace).stdout.splitlines()[1:]
    }
    assert digests[USED] != digests[UNUSED]  # two images, not one under four names

    args = {**base, "keep": [KEPT]}
    twin = module_runner("containerd_image_prune", args, check_mode=True, diff=True)
    assert twin["changed"] is True and twin["removed"] == [UNUSED], twin
    assert twin["in_use"] == sorted([USED, SAME_DIGEST])
    assert twin["diff"] == {"before": {"images": everything}, "after": {"images": sorted([USED, SAME_DIGEST, KEPT])}}
    assert _images(containerd, namespace) == everything

    pruned = module_runner("containerd_image_prune", args, diff=True)
    assert pruned["changed"] is True and pruned["removed"] == [UNUSED], pruned
    assert _images(containerd, namespace) == sorted([USED, SAME_DIGEST, KEPT])
    again = module_runner("containerd_image_prune", args)
    assert again["changed"] is False and again["removed"] == [], again

    # Without keep, the kept one goes too; the used one and its other name never.
    assert module_runner("containerd_image_prune", base)["removed"] == [KEPT]
    assert _images(containerd, namespace) == sorted([USED, SAME_DIGEST])
    # A container that is only created (no task) holds its image as well as a running one.
    assert module_runner("containerd_image_prune", base)["changed"] is False


def test_prune_touches_no_other_namespace(containerd, module_runner, namespace, imported_image):
    before = _images(containerd, "default")
    result = module_runner("containerd_image_prune", {"address": containerd.address, "namespace": namespace})
    assert result["changed"] is False and result["removed"] == [], result
    assert _images(containerd, "default") == before and imported_image in before
