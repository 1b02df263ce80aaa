"""containerd_container against the session's real containerd + runc.

Each option runs the sequence: apply (changed) -> apply again (unchanged) -> check-mode
twin of a change (reports changed, host untouched) -> apply the change (changed, the
container is recreated and the new value is observed inside it or in its cgroup).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import time
from pathlib import Path
from typing import Any, Callable, Dict

import cgroup_files
import pytest

# sh as PID 1 ignores SIGTERM unless it traps it; trap it so stops are quick.
LOOP = ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]


@pytest.fixture(scope="module")
def base_args(containerd, imported_image) -> Dict[str, Any]:
    return {
        "address": containerd.address,
        "namespace": "default",
        "image": imported_image,
        "command": LOOP,
        "stop_timeout": 3,
    }


@pytest.fixture
def name(containerd, module_runner) -> str:
    container = "it-" + secrets.token_hex(4)
    yield container
    module_runner("containerd_container", {"address": containerd.address, "name": container, "state": "absent"})


def exec_in(containerd, container: str, *args: str) -> str:
    exec_id = "probe-" + secrets.token_hex(3)
    return containerd.ctr(["tasks", "exec", "--exec-id", exec_id, container, *args]).stdout


def container_labels(containerd, container: str) -> Dict[str, str]:
    return json.loads(containerd.ctr(["containers", "info", container]).stdout).get("Labels") or {}


def container_runtime(containerd, container: str) -> str:
    return json.loads(containerd.ctr(["containers", "info", container]).stdout)["Runtime"]["Name"]


def proc_status_uid(containerd, container: str) -> str:
    for line in exec_in(containerd, container, "cat", "/proc/1/status").splitlines():
        if line.startswith("Uid:"):
            return line.split()[1]
    raise AssertionError("no Uid line")


def net_namespace_is_host(pid: int) -> bool:
    return os.readlink(f"/proc/{pid}/ns/net") == os.readlink("/proc/self/ns/net")


def _bind_dirs(tmp_path: Path):
    first, second = tmp_path / "one", tmp_path / "two"
    for directory, text in ((first, "one"), (second, "two")):
        directory.mkdir(exist_ok=True)
        (directory / "marker").write_text(text)
    return first, second


# option -> (first value, second value, observe(containerd, name, result) -> comparable value, expected for value 2)
Observe = Callable[[Any, str, Dict[str, Any]], Any]
CASES: Dict[str, Any] = {
    "command": (
        LOOP,
        ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 2; done"],
        lambda c, n, r: exec_in(c, n, "cat", "/proc/1/cmdline").replace("\0", " ").strip(),
        "sh -c trap 'exit 0' TERM; while :; do sleep 2; done",
    ),
    "env": (
        {"GREETING": "hello", "OTHER": "x"},
        {"OTHER": "x", "GREETING": "bonjour"},
        lambda c, n, r: "GREETING=bonjour" in exec_in(c, n, "cat", "/proc/1/environ").split("\0"),
        True,
    ),
    "labels": (
        {"team": "web", "tier": "front"},
        {"tier": "front", "team": "ops"},
        lambda c, n, r: container_labels(c, n).get("team"),
        "ops",
    ),
    "user": ("0:0", "65534:65534", lambda c, n, r: proc_status_uid(c, n), "65534"),
    "working_dir": ("/", "/tmp", lambda c, n, r: exec_in(c, n, "readlink", "/proc/1/cwd").strip(), "/tmp"),
    "hostname": ("alpha", "beta", lambda c, n, r: exec_in(c, n, "hostname").strip(), "beta"),
    "network": ("none", "host", lambda c, n, r: net_namespace_is_host(r["container"]["pid"]), True),
    # Read from the task's cgroup files of the host's cgroup version (v1 here, v2 on servers).
    "memory": ("64m", "96m", lambda c, n, r: cgroup_files.memory_limit(r["container"]["pid"]), 96 * 1024**2),
    "cpus": (0.5, 1.5, lambda c, n, r: cgroup_files.cpu_quota(r["container"]["pid"]), 150000),
    "pids_limit": (32, 48, lambda c, n, r: cgroup_files.pids_limit(r["container"]["pid"]), 48),
    "runtime": (
        "io.containerd.runc.v2",
        "io.containerd.runc.v1",
        lambda c, n, r: container_runtime(c, n),
        "io.containerd.runc.v1",
    ),
    "restart_policy": (
        "no",
        "always",
        lambda c, n, r: container_labels(c, n).get("containerd.io/restart.status"),
        "running",
    ),
    "stop_signal": (
        "SIGTERM",
        "SIGINT",
        lambda c, n, r: container_labels(c, n).get("io.containerd.image.config.stop-signal"),
        "SIGINT",
    ),
    "stop_timeout": (3, 4, lambda c, n, r: container_labels(c, n).get("io.ocistack.engine.stop-timeout"), "4"),
}


@pytest.mark.parametrize("option", sorted([*CASES, "mounts", "image"]))
def test_option_sequence(option, containerd, module_runner, base_args, name, tmp_path, registries):  # noqa: PLR0917
    if option == "mounts":
        first, second = _bind_dirs(tmp_path)
        value_1 = [{"type": "bind", "source": str(first), "target": "/data", "options": ["ro"]}]
        value_2 = [{"type": "bind", "source": str(second), "target": "/data", "options": ["ro"]}]

        def observe(c, n, r):
            return exec_in(c, n, "cat", "/data/marker").strip()

        expected = "two"
    elif option == "image":
        # Same content, pushed through a registry: another manifest digest.
        value_1, value_2 = base_args["image"], f"{registries.plain}/test/busybox:1"

        def observe(c, n, r):
            return r["container"]["image_digest"]

        expected = None
        base_args = {**base_args, "plain_http": True}
    else:
        value_1, value_2, observe, expected = CASES[option]

    args_1 = {**base_args, "name": name, option: value_1}
    args_2 = {**base_args, "name": name, option: value_2}

    first = module_runner("containerd_container", args_1, diff=True)
    assert first.get("changed") is True, first
    assert first["container"]["status"] == "running"
    pid_1 = first["container"]["pid"]

    again = module_runner("containerd_container", args_1)
    assert again.get("changed") is False, again
    assert again["container"]["pid"] == pid_1

    predicted = module_runner("containerd_container", args_2, check_mode=True, diff=True)
    assert predicted.get("changed") is True, predicted
    assert "recreate" in predicted["actions"]
    untouched = module_runner("containerd_container", args_1)
    assert untouched.get("changed") is False, "check mode changed the host"
    assert untouched["container"]["pid"] == pid_1

    changed = module_runner("containerd_container", args_2, diff=True)
    assert changed.get("changed") is True, changed
    assert "recreate" in changed["actions"]
    assert predicted["actions"] == changed["actions"], "check mode must predict what the real run does"
    assert changed["container"]["status"] == "running"
    assert changed["container"]["pid"] != pid_1
    assert changed["diff"]["before"] != changed["diff"]["after"]
    observed = observe(containerd, name, changed)
    if option == "image":
        assert observed != first["container"]["image_digest"]
    else:
        assert observed == expected

    settled = module_runner("containerd_container", args_2)
    assert settled.get("changed") is False, settled


def test_reordered_dicts_and_containerd_restart_are_not_drift(containerd, module_runner, base_args, name, tmp_path):
    first, _second = _bind_dirs(tmp_path)
    args = {
        **base_args,
        "name": name,
        "env": {"A": "1", "B": "2"},
        "labels": {"x": "1", "y": "2"},
        "mounts": [
            {"type": "bind", "source": str(first), "target": "/one"},
            {"type": "tmpfs", "source": "tmpfs", "target": "/scratch", "options": ["size=1m"]},
        ],
    }
    created = module_runner("containerd_container", args)
    assert created["changed"] is True
    containerd.restart()
    reordered = {
        **args,
        "env": {"B": "2", "A": "1"},
        "labels": {"y": "2", "x": "1"},
    }
    rerun = module_runner("containerd_container", reordered)
    assert rerun["changed"] is False, rerun
    assert rerun["container"]["pid"] == created["container"]["pid"]


def test_states_stop_start_absent(containerd, module_runner, base_args, name):
    args = {**base_args, "name": name}
    present = module_runner("containerd_container", {**args, "state": "present"})
    assert present["changed"] is True
    assert present["container"]["status"] == "created"
    assert module_runner("containerd_container", {**args, "state": "present"})["changed"] is False

    started = module_runner("containerd_container", args)
    assert started["changed"] is True and started["container"]["status"] == "running"

    check_stop = module_runner("containerd_container", {**args, "state": "stopped"}, check_mode=True)
    assert check_stop["changed"] is True
    assert containerd.ctr(["tasks", "ls"]).stdout.count("RUNNING") >= 1

    stopped = module_runner("containerd_container", {**args, "state": "stopped"})
    assert stopped["changed"] is True and stopped["container"]["status"] == "stopped"
    assert module_runner("containerd_container", {**args, "state": "stopped"})["changed"] is False

    check_absent = module_runner("containerd_container", {**args, "state": "absent"}, check_mode=True)
    assert check_absent["changed"] is True
    assert containerd.ctr(["containers", "info", name], check=False).returncode == 0

    absent = module_runner("containerd_container", {**args, "state": "absent"})
    assert absent["changed"] is True and absent["container"] is None
    assert containerd.ctr(["containers", "info", name], check=False).returncode != 0
    snapshots = containerd.ctr(["snapshots", "ls"]).stdout
    assert name not in snapshots
    assert module_runner("containerd_container", {**args, "state": "absent"})["changed"] is False


def _wait_for_new_pid(module_runner, args, old_pid, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = module_runner("containerd_container_info", {"address": args["address"], "name": [args["name"]]})
        containers = info["containers"]
        if containers and containers[0]["status"] == "running" and containers[0]["pid"] not in (None, old_pid):
            return containers[0]
        time.sleep(0.5)
    raise AssertionError("the restart monitor did not bring the task back")


def test_restart_policy_always_survives_kill_and_containerd_restart(containerd, module_runner, base_args, name):
    args = {**base_args, "name": name, "restart_policy": "always"}
    started = module_runner("containerd_container", args)
    assert started["changed"] is True
    pid = started["container"]["pid"]

    os.kill(pid, signal.SIGKILL)
    back = _wait_for_new_pid(module_runner, args, pid)

    containerd.restart()
    info = module_runner("containerd_container_info", {"address": args["address"], "name": [name]})
    assert info["containers"][0]["status"] == "running"
    assert module_runner("containerd_container", args)["changed"] is False

    # Stopping holds it down: the monitor must not bring it back.
    stopped = module_runner("containerd_container", {**args, "state": "stopped"})
    assert stopped["changed"] is True
    time.sleep(2.5)  # more than two restart-monitor intervals (1 s in the session config)
    info = module_runner("containerd_container_info", {"address": args["address"], "name": [name]})
    # containerd 1.6's monitor also deletes the stopped task of a container labelled stopped: "created".
    assert info["containers"][0]["status"] in ("stopped", "created"), back
    assert module_runner("containerd_container", {**args, "state": "stopped"})["changed"] is False


def test_info_lists_managed_container(containerd, module_runner, base_args, name):
    module_runner("containerd_container", {**base_args, "name": name, "labels": {"role": "probe"}})
    info = module_runner("containerd_container_info", {"address": containerd.address})
    mine = [c for c in info["containers"] if c["name"] == name]
    assert mine and mine[0]["managed"] is True and mine[0]["labels"]["role"] == "probe"
    assert mine[0]["status"] == "running" and mine[0]["pid"] > 0


def test_pull_always_with_unchanged_digest_is_not_a_change(containerd, module_runner, base_args, name, registries):
    args = {**base_args, "name": name, "image": f"{registries.plain}/test/busybox:1", "plain_http": True}
    first = module_runner("containerd_container", {**args, "pull": "missing"})
    assert first["changed"] is True, first
    always = {**args, "pull": "always"}
    assert module_runner("containerd_container", always, check_mode=True)["changed"] is False
    again = module_runner("containerd_container", always)
    assert again["changed"] is False, again
    assert again["container"]["pid"] == first["container"]["pid"]


def test_cni_network_lifecycle(containerd, module_runner, base_args, name, cni_network):
    args = {
        **base_args,
        "name": name,
        "network": "cni",
        "cni_network": cni_network["name"],
        "cni_conf_dir": cni_network["conf_dir"],
        "restart_policy": "always",
    }
    netns_path = f"/run/netns/ocistack-default-{name}"
    predicted = module_runner("containerd_container", args, check_mode=True)
    assert predicted["changed"] is True and not os.path.exists(netns_path)

    created = module_runner("containerd_container", args)
    assert created["changed"] is True, created
    assert created["container"]["network"] == f"cni:{cni_network['name']}"
    prefix = cni_network["subnet"].rsplit(".", 1)[0] + "."
    addresses = created["container"]["addresses"]
    assert len(addresses) == 1 and addresses[0].startswith(prefix), addresses
    inside = exec_in(containerd, name, "ip", "-o", "-4", "addr", "show", "eth0")
    assert addresses[0] in inside
    assert module_runner("containerd_container", args)["changed"] is False

    # The restart monitor brings the task back in the same network namespace.
    os.kill(created["container"]["pid"], signal.SIGKILL)
    back = _wait_for_new_pid(module_runner, args, created["container"]["pid"])
    assert back["status"] == "running"
    assert addresses[0] in exec_in(containerd, name, "ip", "-o", "-4", "addr", "show", "eth0")

    # Removal needs no network options: the config dir is remembered in a label.
    removed = module_runner("containerd_container", {"address": containerd.address, "name": name, "state": "absent"})
    assert removed["changed"] is True
    assert not os.path.exists(netns_path)
    # host-local released the address
    assert not os.path.exists(os.path.join(cni_network["ipam_dir"], addresses[0].split("/")[0]))


def test_cni_unknown_network_is_an_option_error(containerd, module_runner, base_args, name, cni_network):
    args = {**base_args, "name": name, "network": "cni", "cni_network": "nope", "cni_conf_dir": cni_network["conf_dir"]}
    result = module_runner("containerd_container", args)
    assert result.get("failed") is True and result["msg"].startswith("cni_network:"), result
    assert cni_network["name"] in result["msg"]
    assert containerd.ctr(["containers", "info", name], check=False).returncode != 0
