"""runc_container and runc_container_info against the real runc (and runsc/crun where they run) on this machine.

Bundles come from the locally built test image: the main lifecycle test builds them with the
oci_bundle module, the others copy one umoci-unpacked rootfs and write config.json with the
project's spec builder (faster, and lets the bad-input cases edit config.json by hand).
Every container lives under a runtime root of its own in a temporary directory, so nothing
touches the machine's /run/runc; teardown force-deletes whatever a failed test left behind.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import cgroup_files
import pytest

from ansible_collections.ocistack.engine.plugins.module_utils._oci_spec import build_spec, dump_spec

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
IMAGE_DIR = REPO_ROOT / ".cache" / "testbed" / "images"

# PID 1 in the container: print what the test looks for, then idle until SIGTERM.
IDLE = 'trap "exit 0" TERM; {print}; while :; do sleep 0.2; done'


def _require_root_and_runc() -> None:
    if os.geteuid() != 0:
        pytest.skip("runc containers need root")
    if shutil.which("runc") is None or shutil.which("umoci") is None:
        pytest.skip("runc and umoci are needed (apt packages runc umoci)")


@pytest.fixture(scope="session")
def oci_layout() -> str:
    _require_root_and_runc()
    subprocess.run(["bash", str(REPO_ROOT / "tests/testbed/test-image.sh")], check=True, capture_output=True)
    return f"{IMAGE_DIR / 'oci'}:latest"


@pytest.fixture(scope="session")
def rootfs_template(oci_layout: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test image unpacked once; bundles copy its rootfs."""
    unpacked = tmp_path_factory.mktemp("ocistack-runc-image") / "bundle"
    subprocess.run(["umoci", "unpack", "--image", oci_layout, str(unpacked)], check=True, capture_output=True)
    return unpacked / "rootfs"


@pytest.fixture
def prefix() -> str:
    return f"ocit-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


def make_bundle(directory: Path, rootfs_template: Path, **options: Any) -> str:
    """A bundle at ``directory``: the image's rootfs and a config.json from the spec builder."""
    if not (directory / "rootfs").exists():
        directory.mkdir(parents=True, exist_ok=True)
        shutil.copytree(rootfs_template, directory / "rootfs", symlinks=True)
    (directory / "config.json").write_text(dump_spec(build_spec(options)))
    return str(directory)


def runtime_list(runtime: str, root: Path, flags: Optional[List[str]] = None) -> List[Dict[str, Any]]:
    if not root.exists():
        return []
    proc = subprocess.run(
        [runtime, "--root", str(root), *(flags or []), "list", "--format", "json"],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(proc.stdout or "null") or []


@pytest.fixture
def runc_root(workdir: Path) -> Iterator[Path]:
    root = workdir / "runc-root"
    yield root
    for state in runtime_list("runc", root):
        subprocess.run(["runc", "--root", str(root), "delete", "--force", state["id"]], check=False)


def wait_for_text(path: Path, text: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    content = ""
    while time.monotonic() < deadline:
        content = path.read_text(errors="replace") if path.exists() else ""
        if text in content:
            return content
        time.sleep(0.05)
    raise AssertionError(f"{text!r} did not appear in {path}; it holds {content!r}")


def process_gone(pid: int) -> bool:
    """The process has exited: no /proc entry, or a zombie waiting for this machine's PID 1 to reap it."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return any(line.startswith("State:") and "Z" in line.split()[1] for line in status.splitlines())


def test_lifecycle_runc(module_runner, oci_layout: str, runc_root: Path, workdir: Path, prefix: str) -> None:
    bundle_dir = workdir / "bundle"
    output = workdir / "out.log"
    name = f"{prefix}-life"
    bundle = str(bundle_dir)
    args = {"name": name, "root": str(runc_root), "output": str(output), "bundle": bundle}

    def write_bundle(**options: Any) -> None:
        result = module_runner("oci_bundle", {"path": bundle, "oci_layout": oci_layout, **options})
        assert result.get("failed") is not True, result

    write_bundle(args=["sh", "-c", IDLE.format(print="echo first=$MARK")], env={"MARK": "one"}, memory="64m")

    # Check mode on a new container: predicted change, nothing created.
    predicted = module_runner("runc_container", args, check_mode=True, diff=True)
    assert predicted["changed"] is True, predicted
    assert predicted["diff"]["before"]["state"] == "absent"
    assert runtime_list("runc", runc_root) == []

    created = module_runner("runc_container", args, diff=True)
    assert created["changed"] is True, created
    assert created["actions"] == ["create", "start"]
    assert created["container"]["status"] == "running"
    assert created["container"]["bundle"] == bundle
    first_pid = created["container"]["pid"]
    wait_for_text(output, "first=one")
    assert cgroup_files.memory_limit(first_pid) == 64 * 1024 * 1024

    again = module_runner("runc_container", args)
    assert again["changed"] is False, again
    assert again["container"]["pid"] == first_pid

    listed = module_runner("runc_container_info", {"root": str(runc_root), "name": name})
    assert [c["id"] for c in listed["containers"]] == [name]
    assert listed["containers"][0]["status"] == "running"

    # Change env: check mode predicts the recreate and leaves the container alone.
    write_bundle(args=["sh", "-c", IDLE.format(print="echo second=$MARK")], env={"MARK": "two"}, memory="64m")
    predicted = module_runner("runc_container", args, check_mode=True, diff=True)
    assert predicted["changed"] is True
    assert "config_digest" in predicted["diff"]["after"]
    assert runtime_list("runc", runc_root)[0]["pid"] == first_pid
    recreated = module_runner("runc_container", args)
    assert recreated["changed"] is True, recreated
    assert recreated["actions"] == ["stop", "delete", "create", "start"]
    assert recreated["container"]["pid"] != first_pid
    wait_for_text(output, "second=two")
    assert process_gone(first_pid)

    # Change memory: recreated and the new limit is what the kernel enforces.
    write_bundle(args=["sh", "-c", IDLE.format(print="echo second=$MARK")], env={"MARK": "two"}, memory="96m")
    resized = module_runner("runc_container", args)
    assert resized["changed"] is True
    pid = resized["container"]["pid"]
    assert cgroup_files.memory_limit(pid) == 96 * 1024 * 1024

    # Another output file: recreated, the container now writes there.
    args["output"] = str(workdir / "out2.log")
    moved = module_runner("runc_container", args, diff=True)
    assert moved["diff"]["after"] == {"output": args["output"]}, moved
    wait_for_text(Path(args["output"]), "second=two")
    pid = moved["container"]["pid"]

    # paused: the cgroup is frozen (freezer.state on v1, cgroup.events on v2); rerun unchanged.
    paused = module_runner("runc_container", {**args, "state": "paused"})
    assert paused["changed"] is True
    assert paused["container"]["status"] == "paused"
    assert cgroup_files.frozen(pid)
    assert module_runner("runc_container", {**args, "state": "paused"})["changed"] is False

    resumed = module_runner("runc_container", args)
    assert resumed["actions"] == ["resume"]
    assert not cgroup_files.frozen(pid)

    # stopped: the process is gone, the runtime still knows the container.
    stopped = module_runner("runc_container", {**args, "state": "stopped", "stop_timeout": 5})
    assert stopped["changed"] is True, stopped
    assert stopped["container"]["status"] == "stopped"
    assert process_gone(pid)
    assert module_runner("runc_container", {**args, "state": "stopped"})["changed"] is False

    # absent: the runtime forgets it, the bundle stays.
    removed = module_runner("runc_container", {"name": name, "root": str(runc_root), "state": "absent"}, diff=True)
    assert removed["changed"] is True
    assert removed["diff"]["after"] == {"state": "absent"}
    assert runtime_list("runc", runc_root) == []
    assert (bundle_dir / "config.json").exists() and (bundle_dir / "rootfs" / "bin").exists()
    assert not (runc_root / f".ocistack-{name}.json").exists()
    again = module_runner("runc_container", {"name": name, "root": str(runc_root), "state": "absent"})
    assert again["changed"] is False


def test_created_then_stopped_without_start(
    module_runner, rootfs_template: Path, runc_root: Path, workdir: Path, prefix: str
) -> None:
    """created runs no user process; stopped from nothing creates then kills without waiting on SIGTERM."""
    bundle = make_bundle(workdir / "bundle", rootfs_template, args=["sh", "-c", "echo started; sleep 60"])
    output = workdir / "out.log"
    args = {"name": f"{prefix}-cr", "root": str(runc_root), "bundle": bundle, "output": str(output)}
    created = module_runner("runc_container", {**args, "state": "created"})
    assert created["container"]["status"] == "created", created
    assert module_runner("runc_container", {**args, "state": "created"})["changed"] is False
    stopped = module_runner("runc_container", {**args, "state": "stopped", "stop_timeout": 30})
    assert stopped["actions"] == ["stop"]
    assert stopped["container"]["status"] == "stopped"
    assert "started" not in (output.read_text() if output.exists() else "")
    # A stopped container cannot be restarted in place: running recreates it.
    running = module_runner("runc_container", args)
    assert running["actions"] == ["delete", "create", "start"]
    wait_for_text(output, "started")
    # sh as PID 1 without a trap ignores SIGTERM: after stop_timeout the module sends SIGKILL.
    pid = running["container"]["pid"]
    killed = module_runner("runc_container", {**args, "state": "stopped", "stop_timeout": 1})
    assert killed["container"]["status"] == "stopped", killed
    assert process_gone(pid)


def _probe_runtime(runtime: str, bundle: str, root: Path, flags: List[str]) -> Optional[str]:
    """Try the runtime by hand on ``bundle``; return why it cannot run here, or None when it can."""
    probe_id = f"probe-{uuid.uuid4().hex[:8]}"
    base = [runtime, "--root", str(root), *flags]
    try:
        proc = subprocess.run(
            [*base, "run", "--bundle", bundle, probe_id],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        subprocess.run([*base, "delete", "--force", probe_id], capture_output=True, check=False)
    if proc.returncode != 0:
        return f"{runtime} cannot run a container on this machine: {(proc.stderr or proc.stdout).strip()[-300:]}"
    return None


@pytest.mark.parametrize(
    ("runtime", "flags", "marker_command"),
    [
        pytest.param("runsc", ["--network=none"], "uname -r", id="runsc"),
        pytest.param("crun", [], "echo crun-ran", id="crun"),
    ],
)
def test_other_runtimes(  # noqa: PLR0917 (pytest fixtures and parameters)
    module_runner, rootfs_template: Path, workdir: Path, prefix: str, runtime: str, flags: List[str], marker_command
) -> None:
    if shutil.which(runtime) is None:
        pytest.skip(f"{runtime} is not installed (apt package {runtime})")
    root = workdir / f"{runtime}-root"
    probe_bundle = make_bundle(workdir / "probe", rootfs_template, args=["true"])
    reason = _probe_runtime(runtime, probe_bundle, root, flags)
    if reason:
        pytest.skip(reason)
    output = workdir / "out.log"
    bundle = make_bundle(workdir / "bundle", rootfs_template, args=["sh", "-c", IDLE.format(print=marker_command)])
    args = {"name": f"{prefix}-{runtime}", "bundle": bundle, "root": str(root), "runtime": runtime,
            "runtime_flags": flags, "output": str(output)}  # fmt: skip
    try:
        started = module_runner("runc_container", args)
        assert started["changed"] is True, started
        assert started["container"]["status"] == "running"
        content = wait_for_text(output, "4.4.0" if runtime == "runsc" else "crun-ran", timeout=30)
        if runtime == "runsc":
            # gVisor answers with its own kernel version, not the machine's.
            assert os.uname().release not in content
        assert module_runner("runc_container", args)["changed"] is False
        listed = module_runner("runc_container_info", {"root": str(root), "runtime": runtime, "runtime_flags": flags})
        assert [c["id"] for c in listed["containers"]] == [args["name"]]
        removed = module_runner("runc_container", {**args, "state": "absent", "stop_timeout": 5})
        assert removed["changed"] is True, removed
        assert runtime_list(runtime, root, flags) == []
    finally:
        for state in runtime_list(runtime, root, flags):
            subprocess.run([runtime, "--root", str(root), *flags, "delete", "--force", state["id"]], check=False)


def _netns_names() -> List[str]:
    return sorted(os.listdir("/var/run/netns")) if os.path.isdir("/var/run/netns") else []


def _snapshot(root: Path) -> Any:
    files = sorted(os.listdir(root)) if root.exists() else None
    return files, runtime_list("runc", root), _netns_names(), sorted(os.listdir("/sys/class/net"))


def _bad_cases(rootfs_template: Path, workdir: Path) -> Dict[str, Any]:
    good = make_bundle(workdir / "good", rootfs_template, args=["true"])

    def edited(label: str, edit) -> str:
        directory = workdir / label
        directory.mkdir()
        config = json.loads((Path(good) / "config.json").read_text())
        edit(config)
        (directory / "config.json").write_text(json.dumps(config))
        os.symlink(Path(good) / "rootfs", directory / "rootfs")
        return str(directory)

    def set_uid(config):
        config["process"]["user"]["uid"] = -5

    def add_namespace(config):
        config["linux"]["namespaces"].append({"type": "wormhole"})

    def tiny_memory(config):
        config["linux"]["resources"]["memory"] = {"limit": 1024 * 1024}

    def terminal(config):
        config["process"]["terminal"] = True

    def missing_netns(config):
        config["linux"]["namespaces"] = [
            {"type": "network", "path": f"/var/run/netns/{workdir.name}-none"} if ns["type"] == "network" else ns
            for ns in config["linux"]["namespaces"]
        ]

    no_rootfs = workdir / "no-rootfs"
    no_rootfs.mkdir()
    shutil.copy(Path(good) / "config.json", no_rootfs / "config.json")
    broken_json = workdir / "broken-json"
    broken_json.mkdir()
    (broken_json / "config.json").write_text("{not json")
    return {
        "relative bundle": ({"bundle": "relative/bundle"}, "bundle:"),
        "missing bundle": ({"bundle": str(workdir / "nowhere")}, "bundle:"),
        "missing rootfs": ({"bundle": str(no_rootfs)}, "root file system"),
        "broken config": ({"bundle": str(broken_json)}, "not valid JSON"),
        "bad uid": ({"bundle": edited("bad-uid", set_uid)}, "process.user.uid"),
        "unknown namespace": ({"bundle": edited("bad-ns", add_namespace)}, "wormhole"),
        "memory below minimum": ({"bundle": edited("tiny-mem", tiny_memory)}, "kernel minimum"),
        "terminal": ({"bundle": edited("tty", terminal)}, "process.terminal"),
        "missing netns": ({"bundle": edited("no-netns", missing_netns)}, "namespace"),
        "runtime missing": ({"bundle": good, "runtime": "no-such-runtime-xyz"}, "runtime:"),
        "runtime relative": ({"bundle": good, "runtime": "bin/runc"}, "runtime:"),
        "id with slash": ({"bundle": good, "name": "a/b"}, "name:"),
        "id dot-dot": ({"bundle": good, "name": ".."}, "name:"),
        "bad signal": ({"bundle": good, "stop_signal": "SIGNOPE"}, "stop_signal:"),
        "negative timeout": ({"bundle": good, "stop_timeout": -1}, "stop_timeout:"),
        "relative output": ({"bundle": good, "output": "out.log"}, "output:"),
        "output dir missing": ({"bundle": good, "output": str(workdir / "nodir" / "out.log")}, "output:"),
        "relative root": ({"bundle": good, "root": "state"}, "root:"),
        "root flag in runtime_flags": ({"bundle": good, "runtime_flags": ["--root=/tmp"]}, "runtime_flags:"),
        "missing bundle option": ({"bundle": None}, "bundle"),
    }


def test_bad_input_changes_nothing(
    module_runner, rootfs_template: Path, runc_root: Path, workdir: Path, prefix: str
) -> None:
    # One live container under the root, so "unchanged" is checked against a non-empty state.
    keeper = make_bundle(workdir / "keeper", rootfs_template, args=["sh", "-c", IDLE.format(print="echo keep")])
    assert module_runner("runc_container", {"name": f"{prefix}-keep", "bundle": keeper, "root": str(runc_root)})[
        "changed"
    ]
    cases = _bad_cases(rootfs_template, workdir)
    assert len(cases) >= 10
    before = _snapshot(runc_root)
    for label, (overrides, expected) in cases.items():
        args = {"name": f"{prefix}-bad", "root": str(runc_root), **overrides}
        args = {key: value for key, value in args.items() if value is not None}
        result = module_runner("runc_container", args)
        assert result.get("failed") is True, (label, result)
        assert expected in result["msg"], (label, result["msg"])
        assert _snapshot(runc_root) == before, label
