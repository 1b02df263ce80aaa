"""Pure logic of _runc: parsing recorded runtime outputs, validation and the action plan."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from ansible_collections.ocistack.engine.plugins.module_utils._errors import OptionError, ToolError
from ansible_collections.ocistack.engine.plugins.module_utils._oci_spec import build_spec
from ansible_collections.ocistack.engine.plugins.module_utils._runc import (
    bundle_problems,
    container_view,
    parse_list,
    plan_actions,
    resolve_root,
    resolve_signal,
    validate_container_id,
    validate_runtime_flags,
)

FIXTURES = Path(__file__).parent / "fixtures" / "runc"


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text()


# -- parsing recorded outputs ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["runc-list-empty.json", "runsc-list-empty.json", "crun-list-empty.json"])
def test_parse_list_empty(name: str) -> None:
    assert parse_list(fixture_text(name)) == []


def test_parse_list_runc_all_statuses() -> None:
    containers = parse_list(fixture_text("runc-list-four.json"))
    assert {c["id"]: c["status"] for c in containers} == {
        "fx-created": "created",
        "fx-running": "running",
        "fx-paused": "paused",
        "fx-stopped": "stopped",
    }
    stopped = next(c for c in containers if c["status"] == "stopped")
    assert stopped["pid"] == 0


@pytest.mark.parametrize(
    ("name", "expected_id"), [("runsc-list-one.json", "fx-running"), ("crun-list-one.json", "fx-d")]
)
def test_parse_list_other_runtimes(name: str, expected_id: str) -> None:
    (container,) = parse_list(fixture_text(name))
    view = container_view(container)
    assert view["id"] == expected_id
    assert view["status"] == "running"
    assert view["pid"] > 0
    assert view["bundle"] == "/tmp/rx/b1"


@pytest.mark.parametrize("text", ["not json", '{"id": "x"}', "[1, 2]", '[{"status": "running"}]'])
def test_parse_list_rejects_garbage(text: str) -> None:
    with pytest.raises(ToolError):
        parse_list(text)


@pytest.mark.parametrize("status", ["created", "running", "paused", "stopped"])
def test_container_view_of_runc_state(status: str) -> None:
    state = json.loads(fixture_text(f"runc-state-{status}.json"))
    view = container_view(state)
    assert view["status"] == status
    assert view["id"] == f"fx-{status}"
    assert set(view) == {"id", "pid", "status", "bundle", "created", "annotations"}


def test_container_view_without_created_time() -> None:
    view = container_view(json.loads(fixture_text("runsc-state-running.json")))
    assert "created" not in view
    assert view["status"] == "running"
    assert container_view(None) == {}


# -- validation ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["web", "web-1", "a.b_c+d", "x" * 64])
def test_valid_ids(name: str) -> None:
    assert validate_container_id(name) == name


@pytest.mark.parametrize("name", ["a/b", "", "..", ".", "has space", "tab\t", "é", None])
def test_invalid_ids_name_the_option(name) -> None:
    with pytest.raises(OptionError, match=r"^name: "):
        validate_container_id(name)


@pytest.mark.parametrize(("value", "expected"), [("SIGTERM", 15), ("term", 15), ("9", 9), ("SIGUSR1", 10)])
def test_resolve_signal(value: str, expected: int) -> None:
    assert resolve_signal(value) == expected
    assert resolve_signal(value) == int(signal.Signals(expected))


@pytest.mark.parametrize("value", ["SIGNOPE", "0", "65", "", "-1"])
def test_resolve_signal_rejects(value: str) -> None:
    with pytest.raises(OptionError, match=r"^stop_signal: "):
        resolve_signal(value)


def test_runtime_flags() -> None:
    assert validate_runtime_flags(["--network=none", "--debug"]) == ["--network=none", "--debug"]
    assert validate_runtime_flags(None) == []
    for bad in (["network=none"], ["--root=/x"], ["--root"]):
        with pytest.raises(OptionError, match=r"^runtime_flags: "):
            validate_runtime_flags(bad)


def test_resolve_root() -> None:
    assert resolve_root(None, "runc") == "/run/runc"
    assert resolve_root(None, "runsc") == "/var/run/runsc"
    assert resolve_root("/tmp/x/", "anything") == "/tmp/x"
    with pytest.raises(OptionError, match=r"^root: .*relative"):
        resolve_root("state", "runc")
    with pytest.raises(OptionError, match=r"^root: .*no known default"):
        resolve_root(None, "youki")


def good_config() -> dict:
    return build_spec({"args": ["sleep", "1"], "memory": "64m"})


def test_bundle_problems_none_for_built_spec() -> None:
    assert bundle_problems(good_config()) == []


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda c: c["process"].update(terminal=True), "process.terminal"),
        (lambda c: c["process"].update(args=[]), "process.args"),
        (lambda c: c["process"]["user"].update(uid=-1), "process.user.uid"),
        (lambda c: c["process"]["user"].update(gid="root"), "process.user.gid"),
        (lambda c: c["linux"]["namespaces"].append({"type": "wormhole"}), "wormhole"),
        (lambda c: c["linux"]["namespaces"].append({"type": "network", "path": "netns/x"}), "absolute"),
        (lambda c: c["linux"]["resources"]["memory"].update(limit=4096), "kernel minimum"),
        (lambda c: c.pop("root"), "root.path"),
        (lambda c: c.pop("process"), "no process"),
    ],
)
def test_bundle_problems(edit, expected: str) -> None:
    config = good_config()
    edit(config)
    problems = bundle_problems(config)
    assert any(expected in problem for problem in problems), problems


def test_unlimited_memory_is_fine() -> None:
    config = good_config()
    config["linux"]["resources"]["memory"]["limit"] = -1
    assert bundle_problems(config) == []


# -- the plan --------------------------------------------------------------------------------------

BUNDLE = "/b"
DIGEST = "sha256:new"
RECORD = {"bundle": BUNDLE, "config_digest": DIGEST}


def state(status: str, bundle: str = BUNDLE) -> dict:
    return {"id": "c", "status": status, "bundle": bundle, "pid": 0 if status == "stopped" else 42}


@pytest.mark.parametrize(
    ("desired", "status", "expected"),
    [
        ("running", None, ["create", "start"]),
        ("running", "running", []),
        ("running", "created", ["start"]),
        ("running", "paused", ["resume"]),
        ("running", "stopped", ["delete", "create", "start"]),
        ("created", None, ["create"]),
        ("created", "created", []),
        ("created", "running", ["stop", "delete", "create"]),
        ("paused", None, ["create", "start", "pause"]),
        ("paused", "running", ["pause"]),
        ("paused", "created", ["start", "pause"]),
        ("paused", "paused", []),
        ("stopped", None, ["create", "stop"]),
        ("stopped", "running", ["stop"]),
        ("stopped", "paused", ["stop"]),
        ("stopped", "stopped", []),
        ("absent", None, []),
        ("absent", "running", ["stop", "delete"]),
        ("absent", "stopped", ["delete"]),
        ("absent", "created", ["stop", "delete"]),
    ],
)
def test_plan_state_transitions(desired: str, status, expected) -> None:
    current = state(status) if status else None
    actions, difference = plan_actions(desired, current, RECORD if current else None, BUNDLE, DIGEST)
    assert actions == expected
    # changed, check mode and diff come from one computation: they must agree.
    assert difference.changed == bool(actions)


def test_plan_recreates_on_new_digest() -> None:
    actions, difference = plan_actions(
        "running", state("running"), {**RECORD, "config_digest": "sha256:old"}, BUNDLE, DIGEST
    )
    assert actions == ["stop", "delete", "create", "start"]
    assert difference.diff() == {"before": {"config_digest": "sha256:old"}, "after": {"config_digest": DIGEST}}


def test_plan_recreates_on_other_bundle() -> None:
    actions, difference = plan_actions(
        "running", state("running", "/old"), {"bundle": "/old", "config_digest": DIGEST}, BUNDLE, DIGEST
    )
    assert actions == ["stop", "delete", "create", "start"]
    assert difference.diff()["after"] == {"bundle": BUNDLE}


def test_plan_recreates_without_record() -> None:
    actions, difference = plan_actions("stopped", state("stopped"), None, BUNDLE, DIGEST)
    assert actions == ["delete", "create", "stop"]
    assert difference.diff()["before"] == {"config_digest": None}


def test_plan_absent_diff_shows_only_state() -> None:
    _actions, difference = plan_actions("absent", state("paused"), RECORD, "", "")
    assert difference.diff() == {"before": {"state": "paused"}, "after": {"state": "absent"}}


def test_plan_recreates_on_other_output_file() -> None:
    record = {**RECORD, "output": "/var/log/old.log"}
    actions, difference = plan_actions("running", state("running"), record, BUNDLE, DIGEST, output="/var/log/new.log")
    assert actions == ["stop", "delete", "create", "start"]
    assert difference.diff() == {"before": {"output": "/var/log/old.log"}, "after": {"output": "/var/log/new.log"}}
    # Not giving output leaves whatever the container writes to alone.
    assert plan_actions("running", state("running"), record, BUNDLE, DIGEST)[0] == []
