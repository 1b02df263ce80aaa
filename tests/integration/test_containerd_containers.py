"""containerd_containers against the session's real containerd + runc.

The batch must behave like a loop of containerd_container: create, leave alone, recreate
exactly the container whose options changed, predict all of it in check mode, remove, and
refuse bad input before touching anything.
"""

from __future__ import annotations

import json
import secrets
from typing import Any, Dict, List

import pytest

LOOP = ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]


@pytest.fixture
def prefix(containerd, module_runner) -> str:
    value = "itb-" + secrets.token_hex(3)
    yield value
    names = [line for line in containerd.ctr(["containers", "ls", "-q"]).stdout.split() if line.startswith(value)]
    if names:
        module_runner(
            "containerd_containers",
            {"address": containerd.address, "containers": [{"name": name, "state": "absent"} for name in names]},
        )


def batch_args(containerd, image: str, items: List[Dict[str, Any]], **extra: Any) -> Dict[str, Any]:
    return {
        "address": containerd.address,
        "defaults": {"image": image, "command": LOOP, "stop_timeout": 3},
        "containers": items,
        **extra,
    }


def three(prefix: str) -> List[Dict[str, Any]]:
    return [{"name": f"{prefix}-{index}", "env": {"INDEX": str(index)}} for index in range(3)]


def by_name(result) -> Dict[str, Dict[str, Any]]:
    return {item["name"]: item for item in result["containers"]}


def environ_of(containerd, name: str) -> List[str]:
    exec_id = "probe-" + secrets.token_hex(3)
    out = containerd.ctr(["tasks", "exec", "--exec-id", exec_id, name, "cat", "/proc/1/environ"]).stdout
    return out.split("\0")


def running_pids(containerd, prefix: str) -> Dict[str, int]:
    pids = {}
    for line in containerd.ctr(["tasks", "ls"]).stdout.splitlines()[1:]:
        task, pid, status = line.split()[:3]
        if task.startswith(prefix) and status == "RUNNING":
            pids[task] = int(pid)
    return pids


def test_create_rerun_change_one_and_remove(containerd, imported_image, module_runner, prefix):  # noqa: PLR0915
    items = three(prefix)
    args = batch_args(containerd, imported_image, items)

    predicted = module_runner("containerd_containers", args, check_mode=True, diff=True)
    assert predicted.get("changed") is True, predicted
    assert running_pids(containerd, prefix) == {}, "check mode created something"

    created = module_runner("containerd_containers", args, diff=True)
    assert created.get("changed") is True, created
    assert [item["name"] for item in created["containers"]] == [item["name"] for item in items]
    for item in created["containers"]:
        assert item["actions"] == ["create", "start"], item
        assert item["container"]["status"] == "running"
    assert [item["actions"] for item in predicted["containers"]] == [item["actions"] for item in created["containers"]]
    assert {entry["after_header"] for entry in created["diff"]} == {item["name"] for item in items}
    pids = running_pids(containerd, prefix)
    assert pids == {item["name"]: item["container"]["pid"] for item in created["containers"]}
    assert "INDEX=2" in environ_of(containerd, f"{prefix}-2")

    again = module_runner("containerd_containers", args, diff=True)
    assert again.get("changed") is False, again
    assert all(item["actions"] == [] for item in again["containers"])
    assert again["diff"] == []
    assert running_pids(containerd, prefix) == pids

    # One option of one container: only that one is recreated.
    changed_items = three(prefix)
    changed_items[1]["env"] = {"INDEX": "1", "COLOR": "blue"}
    changed_args = batch_args(containerd, imported_image, changed_items)
    check = module_runner("containerd_containers", changed_args, check_mode=True, diff=True)
    assert check.get("changed") is True, check
    assert running_pids(containerd, prefix) == pids, "check mode touched the host"
    real = module_runner("containerd_containers", changed_args, diff=True)
    assert real.get("changed") is True, real
    assert [item["actions"] for item in check["containers"]] == [item["actions"] for item in real["containers"]]
    assert [item["changed"] for item in real["containers"]] == [False, True, False]
    assert by_name(real)[f"{prefix}-1"]["actions"] == ["recreate", "start"]
    assert [entry["after_header"] for entry in real["diff"]] == [f"{prefix}-1"]
    assert real["diff"] == check["diff"], "check mode and the real run must show the same diff"
    after = running_pids(containerd, prefix)
    assert after[f"{prefix}-0"] == pids[f"{prefix}-0"]
    assert after[f"{prefix}-2"] == pids[f"{prefix}-2"]
    assert after[f"{prefix}-1"] != pids[f"{prefix}-1"]
    assert "COLOR=blue" in environ_of(containerd, f"{prefix}-1")

    # The single-container module sees the batch's containers as its own: same labels, same spec digest.
    single = module_runner(
        "containerd_container",
        {"address": containerd.address, "image": imported_image, "command": LOOP, "stop_timeout": 3,
         **changed_items[1]},
    )  # fmt: skip
    assert single.get("changed") is False, single

    gone = [{"name": item["name"], "state": "absent"} for item in items]
    removal = {"address": containerd.address, "containers": gone}
    removed_check = module_runner("containerd_containers", removal, check_mode=True)
    assert removed_check.get("changed") is True
    assert len(running_pids(containerd, prefix)) == 3
    removed = module_runner("containerd_containers", removal)
    assert removed.get("changed") is True, removed
    assert all(item["actions"] == ["remove"] and item["container"] is None for item in removed["containers"])
    left = [line for line in containerd.ctr(["containers", "ls", "-q"]).stdout.split() if line.startswith(prefix)]
    assert left == []
    snapshots = containerd.ctr(["snapshots", "ls"]).stdout
    assert prefix not in snapshots, "the root filesystem snapshots must go with the containers"
    assert module_runner("containerd_containers", removal).get("changed") is False


def test_stopped_and_present_states_and_serial_run(containerd, imported_image, module_runner, prefix):
    items = [
        {"name": f"{prefix}-up", "state": "started"},
        {"name": f"{prefix}-down", "state": "stopped"},
        {"name": f"{prefix}-idle", "state": "present"},
    ]
    result = module_runner("containerd_containers", batch_args(containerd, imported_image, items, parallel=1))
    assert result.get("changed") is True, result
    status = {name: item["container"]["status"] for name, item in by_name(result).items()}
    assert status == {f"{prefix}-up": "running", f"{prefix}-down": "created", f"{prefix}-idle": "created"}
    assert list(running_pids(containerd, prefix)) == [f"{prefix}-up"]
    again = module_runner("containerd_containers", batch_args(containerd, imported_image, items, parallel=1))
    assert again.get("changed") is False, again


BAD_ITEMS = [
    ({"name": "{p}-ok"}, {"name": "{p}-bad", "memory": "1k"}, "containers[1].memory"),
    ({"name": "{p}-ok"}, {"name": "{p}-bad", "state": "sideways"}, "containers[1] ({p}-bad)"),
    ({"name": "{p}-ok"}, {"name": "{p}-bad", "no_such_option": 1}, "containers[1] ({p}-bad)"),
    ({"name": "{p}-ok"}, {"name": "bad/name"}, "containers[1].name"),
    ({"name": "{p}-ok"}, {"name": "{p}-ok"}, "containers[1].name"),
    ({"name": "{p}-ok"}, {"name": "{p}-bad", "image": "no-registry:1"}, "containers[1].image"),
    ({"name": "{p}-ok"}, {"image": "{image}"}, "containers[1]"),
]


@pytest.mark.parametrize(("good", "bad", "where"), BAD_ITEMS, ids=[case[2] for case in BAD_ITEMS])
def test_bad_item_fails_before_any_change(containerd, imported_image, module_runner, prefix, good, bad, where):  # noqa: PLR0917
    def fill(value):
        return json.loads(json.dumps(value).replace("{p}", prefix).replace("{image}", imported_image))

    containers_before = containerd.ctr(["containers", "ls", "-q"]).stdout
    result = module_runner("containerd_containers", batch_args(containerd, imported_image, [fill(good), fill(bad)]))
    assert result.get("failed") is True, result
    assert fill(where) in result["msg"], result["msg"]
    assert "Traceback" not in result.stderr
    assert containerd.ctr(["containers", "ls", "-q"]).stdout == containers_before, "the good item was created"


def test_bad_defaults_name_the_option(containerd, imported_image, module_runner, prefix):
    args = batch_args(containerd, imported_image, three(prefix))
    args["defaults"]["name"] = "everyone"
    result = module_runner("containerd_containers", args)
    assert result.get("failed") is True
    assert result["msg"].startswith("defaults:"), result["msg"]
    assert running_pids(containerd, prefix) == {}
