"""containerd_container's security defaults and options, and its health gate, read from inside the container.

Against the session's real containerd, runc and kernel: /proc/1/status of the container's process
shows its seccomp mode and effective capabilities; writes, sysctls and limits are tried for real.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any, Dict, Iterator

import pytest
from test_containerd_workloads import HTTPD, fetch, free_port, sequence

LOOP = ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]
DOCKER_CAPS = [
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "NET_RAW",
    "SYS_CHROOT",
    "MKNOD",
    "AUDIT_WRITE",
    "SETFCAP",
]
CAP_BITS = {
    "CHOWN": 0, "DAC_OVERRIDE": 1, "FOWNER": 3, "FSETID": 4, "KILL": 5, "SETGID": 6, "SETUID": 7, "SETPCAP": 8,
    "NET_BIND_SERVICE": 10, "NET_ADMIN": 12, "NET_RAW": 13, "SYS_CHROOT": 18, "MKNOD": 27, "AUDIT_WRITE": 29,
    "SETFCAP": 31,
}  # fmt: skip


@pytest.fixture(scope="module")
def base_args(containerd, imported_image) -> Dict[str, Any]:
    return {"address": containerd.address, "namespace": "default", "image": imported_image, "stop_timeout": 3}


@pytest.fixture
def name(containerd, module_runner) -> Iterator[str]:
    container = "sec-" + secrets.token_hex(4)
    yield container
    module_runner("containerd_container", {"address": containerd.address, "name": container, "state": "absent"})


def run_in(containerd, container: str, *args: str, check: bool = True):
    return containerd.ctr(["tasks", "exec", "--exec-id", "p-" + secrets.token_hex(3), container, *args], check=check)


def status_field(containerd, container: str, field: str) -> str:
    for line in run_in(containerd, container, "cat", "/proc/1/status").stdout.splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no {field} in /proc/1/status")


def cap_mask(names) -> int:
    return sum(1 << CAP_BITS[name] for name in names)


def cap_eff(containerd, container: str) -> int:
    return int(status_field(containerd, container, "CapEff"), 16)


def test_defaults_seccomp_and_dockers_capabilities(containerd, module_runner, base_args, name):
    module_runner("containerd_container", {**base_args, "name": name, "command": LOOP})
    assert status_field(containerd, name, "Seccomp") == "2"
    assert cap_eff(containerd, name) == cap_mask(DOCKER_CAPS)
    # A call the default filter refuses: unshare of a new mount namespace.
    refused = run_in(containerd, name, "unshare", "-m", "true", check=False)
    assert refused.returncode != 0


def test_seccomp_unconfined(containerd, module_runner, base_args, name):
    args = {**base_args, "name": name, "command": LOOP}
    sequence(module_runner, args, {**args, "seccomp_profile": "unconfined"})
    assert status_field(containerd, name, "Seccomp") == "0"


def test_seccomp_profile_from_a_file(containerd, module_runner, base_args, name, tmp_path):
    profile = tmp_path / "profile.json"
    refuse_mkdir = {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [refuse_mkdir]}))
    module_runner("containerd_container", {**base_args, "name": name, "command": LOOP, "seccomp_profile": str(profile)})
    assert status_field(containerd, name, "Seccomp") == "2"
    assert run_in(containerd, name, "mkdir", "/tmp/nope", check=False).returncode != 0


def test_capabilities_added_and_dropped(containerd, module_runner, base_args, name):
    args = {**base_args, "name": name, "command": LOOP, "capabilities": ["NET_ADMIN"]}
    changed = sequence(module_runner, args, {**args, "cap_drop": ["CAP_CHOWN"]})
    assert not changed.get("failed")
    mask = cap_eff(containerd, name)
    assert mask & (1 << CAP_BITS["NET_ADMIN"]) and not mask & (1 << CAP_BITS["CHOWN"])
    assert mask == cap_mask([*DOCKER_CAPS, "NET_ADMIN"]) & ~(1 << CAP_BITS["CHOWN"])


def test_privileged(containerd, module_runner, base_args, name):
    args = {**base_args, "name": name, "command": LOOP}
    sequence(module_runner, args, {**args, "privileged": True})
    assert status_field(containerd, name, "Seccomp") == "0"
    with open("/proc/self/status") as handle:
        bounding = next(int(line.split()[1], 16) for line in handle if line.startswith("CapBnd:"))
    assert cap_eff(containerd, name) == bounding
    mounts = run_in(containerd, name, "cat", "/proc/mounts").stdout
    sysfs = next(line for line in mounts.splitlines() if line.split()[1] == "/sys")
    assert "rw" in sysfs.split()[3].split(","), sysfs


def test_read_only_root_with_a_tmpfs(containerd, module_runner, base_args, name):
    args = {**base_args, "name": name, "command": LOOP, "read_only": True}
    sequence(module_runner, args, {**args, "tmpfs": ["/scratch:size=1m"]})
    assert run_in(containerd, name, "touch", "/written", check=False).returncode != 0
    assert run_in(containerd, name, "touch", "/scratch/written", check=False).returncode == 0
    mounts = run_in(containerd, name, "cat", "/proc/mounts").stdout
    assert any(line.split()[1] == "/scratch" and line.split()[2] == "tmpfs" for line in mounts.splitlines())


def test_sysctl_ulimit_and_shm_size(containerd, module_runner, base_args, name):
    args = {**base_args, "name": name, "command": LOOP, "sysctls": {"net.ipv4.ip_unprivileged_port_start": 80}}
    changed_args = {**args, "ulimits": ["nofile:2048:4096"], "shm_size": "32m"}
    sequence(module_runner, args, changed_args)
    value = run_in(containerd, name, "cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start").stdout.strip()
    assert value == "80"
    limits = run_in(containerd, name, "cat", "/proc/1/limits").stdout
    line = next(line for line in limits.splitlines() if line.startswith("Max open files"))
    assert line.split()[3:5] == ["2048", "4096"], line
    shm = next(
        line for line in run_in(containerd, name, "cat", "/proc/mounts").stdout.splitlines() if " /dev/shm " in line
    )
    assert "size=32768k" in shm, shm


def test_device(containerd, module_runner, base_args, name):
    args = {**base_args, "name": name, "command": LOOP, "devices": ["/dev/null:/dev/xnull:rw"]}
    module_runner("containerd_container", args)
    assert run_in(containerd, name, "test", "-c", "/dev/xnull", check=False).returncode == 0
    assert module_runner("containerd_container", args)["changed"] is False


BAD_INPUTS = [
    ({"capabilities": ["CAP_FLY"]}, "capabilities:"),
    ({"cap_drop": ["NOPE"]}, "cap_drop:"),
    ({"sysctls": {"vm.swappiness": 10}}, "sysctls:"),
    ({"sysctls": {"net.ipv4.ip_forward": 1}, "network": "host"}, "sysctls:"),
    ({"ulimits": ["nofile=1024"]}, "ulimits:"),
    ({"ulimits": ["nofile:4096:1024"]}, "ulimits:"),
    ({"devices": ["/dev/does-not-exist"]}, "devices:"),
    ({"devices": ["null"]}, "devices:"),
    ({"seccomp_profile": "/nonexistent/profile.json"}, "seccomp_profile:"),
    ({"privileged": True, "seccomp_profile": "default"}, "seccomp_profile:"),
    ({"tmpfs": ["relative"]}, "tmpfs:"),
    ({"healthcheck": {"interval": "1s"}}, "healthcheck"),
    ({"healthcheck": {"test": ["CMD", "true"], "interval": "-1s"}}, "healthcheck.interval:"),
    ({"healthcheck": {"test": ["CMD", "true"], "timeout": "soon"}}, "healthcheck.timeout:"),
]


@pytest.mark.parametrize(("extra", "option"), BAD_INPUTS)
def test_bad_input_is_refused_before_anything_changes(containerd, module_runner, base_args, name, extra, option):  # noqa: PLR0917
    result = module_runner("containerd_container", {**base_args, "name": name, "command": LOOP, **extra})
    assert result.get("failed") is True and option in result["msg"], dict(result)
    assert name not in containerd.ctr(["containers", "ls", "-q"]).stdout


# --------------------------------------------------------------------------- the health gate

HEALTHY = {"test": ["CMD-SHELL", "test -f /www/index.html"], "interval": "200ms", "retries": 10}
NEVER = {"test": ["CMD", "false"], "interval": "200ms", "retries": 3}


def test_health_gate_healthy_then_a_failed_update_is_rolled_back(  # noqa: PLR0917
    containerd,
    module_runner,
    base_args,
    name,
    port_network,
    host_address,
):
    port = free_port()
    first = {
        **base_args,
        "name": name,
        "command": HTTPD,
        "network": "cni",
        "cni_network": port_network["name"],
        "cni_conf_dir": port_network["conf_dir"],
        "published_ports": [f"{port}:80"],
        "restart_policy": "always",
        "healthcheck": HEALTHY,
    }
    deployed = module_runner("containerd_container", first)
    assert deployed.get("changed") is True and deployed["container"]["health"] == "healthy", dict(deployed)
    assert "health check" in deployed["actions"]
    digest = deployed["container"]["spec_digest"]
    assert fetch(host_address, port) == f"served-by-{name}"

    twin = module_runner("containerd_container", {**first, "env": {"V": "2"}, "healthcheck": NEVER}, check_mode=True)
    assert twin["changed"] is True and "health check" in twin["actions"] and "health" not in twin, dict(twin)

    broken = module_runner("containerd_container", {**first, "env": {"V": "2"}, "healthcheck": NEVER})
    assert broken.get("failed") is True and broken["rolled_back"] is True, dict(broken)
    assert broken["msg"].startswith("healthcheck:") and "false" in broken["msg"], broken["msg"]
    assert broken["container"]["spec_digest"] == digest and broken["container"]["status"] == "running"
    assert fetch(host_address, port, timeout=20) == f"served-by-{name}"
    env = run_in(containerd, name, "cat", "/proc/1/environ").stdout.split("\0")
    assert "V=2" not in env

    again = module_runner("containerd_container", first)
    assert again["changed"] is False, dict(again)


def test_health_gate_in_a_batch_rolls_back_one_item_only(containerd, module_runner, base_args):
    names = [f"sec-b{index}-" + secrets.token_hex(3) for index in range(2)]
    common = {
        "address": containerd.address,
        "defaults": {"image": base_args["image"], "command": LOOP, "stop_timeout": 1},
    }
    healthy = {"test": ["CMD", "true"], "interval": "200ms", "retries": 2}
    try:
        first = module_runner(
            "containerd_containers", {**common, "containers": [{"name": n, "healthcheck": healthy} for n in names]}
        )
        assert first.get("changed") is True and not first.get("failed"), dict(first)
        update = module_runner(
            "containerd_containers",
            {
                **common,
                "containers": [
                    {"name": names[0], "healthcheck": NEVER, "env": {"V": "2"}},
                    {"name": names[1], "healthcheck": healthy, "env": {"V": "2"}},
                ],
            },
        )
        assert update.get("failed") is True and update["rolled_back"] == [names[0]], dict(update)
        items = {item["name"]: item for item in update["containers"]}
        assert items[names[1]]["changed"] is True and not items[names[1]].get("failed")
        assert items[names[0]]["container"]["status"] == "running"
        time.sleep(0.5)
        tasks = containerd.ctr(["tasks", "ls"]).stdout
        assert all(n in tasks for n in names)
    finally:
        for n in names:
            module_runner("containerd_container", {"address": containerd.address, "name": n, "state": "absent"})
