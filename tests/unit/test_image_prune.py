"""plan_prune: what containerd_image_prune removes, from the listing alone."""

from __future__ import annotations

from ansible_collections.ocistack.engine.plugins.module_utils._images import plan_prune

D1, D2, D3 = ("sha256:" + c * 64 for c in "123")
IMAGES = [
    {"name": "r.test/web:1", "digest": D1},
    {"name": "r.test/web:stable", "digest": D1},
    {"name": "r.test/web:0", "digest": D2},
    {"name": "r.test/tool:1", "digest": D3},
]


def test_used_names_and_their_digests_stay_the_rest_goes_unless_kept():
    plan = plan_prune(IMAGES, [("r.test/web:1", "")], keep=["r.test/tool:1"])
    assert plan == {"remove": ["r.test/web:0"], "in_use": ["r.test/web:1", "r.test/web:stable"]}


def test_a_container_whose_tag_moved_still_holds_the_digest_it_runs():
    # web:0 was re-tagged since; the container's label keeps the digest it was created from.
    plan = plan_prune(IMAGES, [("r.test/web:gone", D2)], keep=[])
    assert plan["in_use"] == ["r.test/web:0"]
    assert plan["remove"] == ["r.test/tool:1", "r.test/web:1", "r.test/web:stable"]


def test_no_containers_and_nothing_kept_removes_everything():
    assert plan_prune(IMAGES, [], keep=[])["remove"] == sorted(image["name"] for image in IMAGES)
    assert plan_prune([], [("r.test/web:1", D1)], keep=[]) == {"remove": [], "in_use": []}
