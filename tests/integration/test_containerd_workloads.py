"""containerd_container as a service: published ports, logs, DNS and host files, runtimes, reboots.

Against the session's real containerd, runc and kernel. Each option: apply (changed), apply again
(unchanged), the check-mode twin of a change (reports it, host untouched), the change (recreated,
the new value seen from inside the container or through the published port).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

HTTPD = ["sh", "-c", "mkdir -p /www && echo served-by-$(hostname) > /www/index.html && exec httpd -f -p 80 -h /www"]
TICKER = ["sh", "-c", "trap 'exit 0' TERM; i=0; while :; do i=$((i+1)); echo tick-$i; echo err-$i >&2; sleep 0.2; done"]
LOG_DIR = Path("/var/log/ocistack/containers")
STATE_DIR = Path("/var/lib/ocistack/containers")


@pytest.fixture(scope="module")
def base_args(containerd, imported_image) -> Dict[str, Any]:
    return {"address": containerd.address, "namespace": "default", "image": imported_image, "stop_timeout": 3}


@pytest.fixture
def name(containerd, module_runner) -> Iterator[str]:
    container = "wl-" + secrets.token_hex(4)
    yield container
    module_runner("containerd_container", {"address": containerd.address, "name": container, "state": "absent"})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))
        return sock.getsockname()[1]


def fetch(address: str, port: int, timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    error: Exception = RuntimeError("never tried")
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://{address}:{port}/", timeout=2) as response:  # noqa: S310
                return response.read().decode().strip()
        except OSError as exc:
            error = exc
            time.sleep(0.3)
    raise AssertionError(f"http://{address}:{port}/ did not answer: {error}")


def answers(address: str, port: int) -> bool:
    try:
        fetch(address, port, timeout=2)
    except AssertionError:
        return False
    return True


def exec_in(containerd, container: str, *args: str) -> str:
    return containerd.ctr(["tasks", "exec", "--exec-id", "p-" + secrets.token_hex(3), container, *args]).stdout


def wait_for(check, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()


def sequence(
    module_runner, args: Dict[str, Any], changed_args: Dict[str, Any], applied: bool = False
) -> Dict[str, Any]:
    """apply -> apply again -> check-mode twin of the change -> the change; returns the last result.

    ``applied``: the caller made the first apply itself (and checked it changed).
    """
    if not applied:
        first = module_runner("containerd_container", args)
        assert first["changed"] is True and not first.get("failed"), first
    again = module_runner("containerd_container", args)
    assert again["changed"] is False, again
    twin = module_runner("containerd_container", changed_args, check_mode=True, diff=True)
    assert twin["changed"] is True and "recreate" in twin["actions"], twin
    untouched = module_runner("containerd_container", args)
    assert untouched["changed"] is False, untouched
    changed = module_runner("containerd_container", changed_args)
    assert changed.get("changed") is True and "recreate" in changed["actions"], dict(changed)
    return changed


def test_published_ports(containerd, module_runner, base_args, name, port_network, host_address):  # noqa: PLR0917
    first_port, second_port = free_port(), free_port()
    args = {
        **base_args,
        "name": name,
        "command": HTTPD,
        "network": "cni",
        "cni_network": port_network["name"],
        "cni_conf_dir": port_network["conf_dir"],
        "published_ports": [f"{first_port}:80"],
    }
    first = module_runner("containerd_container", args)
    assert first["changed"] is True, first
    assert first["container"]["published_ports"] == [f"{first_port}:80/tcp"]
    assert fetch(host_address, first_port) == f"served-by-{name}"
    changed = sequence(module_runner, args, {**args, "published_ports": [f"{second_port}:80/tcp"]}, applied=True)
    assert changed["container"]["published_ports"] == [f"{second_port}:80/tcp"]
    assert fetch(host_address, second_port) == f"served-by-{name}"
    assert not answers(host_address, first_port), "the old port still answers"
    module_runner("containerd_container", {**base_args, "name": name, "state": "absent"})
    assert not answers(host_address, second_port), "the port still answers after removal"


def test_log_driver_file_rotates_and_info_reads_it(containerd, module_runner, base_args, name):
    args = {
        **base_args,
        "name": name,
        "command": TICKER,
        "log_driver": "file",
        "log_options": {"max_size": "2k", "max_files": 2},
    }
    changed = sequence(module_runner, args, {**args, "log_options": {"max_size": "1k", "max_files": 2}})
    assert changed["container"]["log_driver"] == "file"
    log = LOG_DIR / "default" / f"{name}.log"
    assert wait_for(lambda: log.exists() and Path(f"{log}.1").exists(), 20), "no rotation"
    assert log.stat().st_size <= 1024 and Path(f"{log}.1").stat().st_size <= 1024
    assert not Path(f"{log}.2").exists(), "max_files 2 keeps two files in all"
    text = Path(f"{log}.1").read_text() + log.read_text()
    assert "tick-" in text and "err-" in text, text
    info = module_runner("containerd_container_info", {"address": containerd.address, "name": [name], "log_lines": 4})
    logs = info["containers"][0]["logs"]
    assert len(logs) == 4 and all(line.startswith(("tick-", "err-")) for line in logs), logs
    numbers = [int(line.split("-")[1]) for line in logs if line.startswith("tick-")]
    assert numbers == sorted(numbers), f"oldest first: {logs}"
    module_runner("containerd_container", {**base_args, "name": name, "state": "absent"})
    assert not log.exists() and not Path(f"{log}.1").exists(), "logs outlive the container"


def test_logs_continue_after_a_restart_by_the_monitor(containerd, module_runner, base_args, name):
    args = {**base_args, "name": name, "command": TICKER, "log_driver": "file", "restart_policy": "always"}
    created = module_runner("containerd_container", args)
    log = LOG_DIR / "default" / f"{name}.log"
    assert wait_for(lambda: log.exists() and "tick-2" in log.read_text())
    pid = created["container"]["pid"]
    os.kill(pid, 9)
    # The new task starts counting at tick-1 again; the file keeps the earlier lines too.
    assert wait_for(lambda: log.read_text().count("tick-1\n") >= 2, 20), log.read_text()[-400:]


def test_log_driver_none_and_back(containerd, module_runner, base_args, name):
    args = {**base_args, "name": name, "command": TICKER, "log_driver": "none"}
    changed = sequence(module_runner, args, {**args, "log_driver": "file"})
    assert changed["container"]["log_driver"] == "file"
    assert wait_for((LOG_DIR / "default" / f"{name}.log").exists)


def test_dns_and_host_files(containerd, module_runner, base_args, name):
    args = {
        **base_args,
        "name": name,
        "command": TICKER,
        "dns_servers": ["192.0.2.53"],
        "etc_hosts": {"db": "192.0.2.10"},
    }
    first = module_runner("containerd_container", args)
    assert first["changed"] is True, first
    resolv = exec_in(containerd, name, "cat", "/etc/resolv.conf")
    assert "nameserver 192.0.2.53" in resolv, resolv
    hosts = exec_in(containerd, name, "cat", "/etc/hosts")
    assert "localhost" in hosts and f"\t{name}" in hosts and "192.0.2.10\tdb" in hosts, hosts
    assert exec_in(containerd, name, "hostname").strip() == name
    changed = sequence(
        module_runner,
        args,
        {**args, "dns_servers": ["192.0.2.54"], "dns_search_domains": ["example.test"], "dns_options": ["ndots:2"]},
        applied=True,
    )
    assert not changed.get("failed"), changed
    resolv = exec_in(containerd, name, "cat", "/etc/resolv.conf")
    assert "nameserver 192.0.2.54" in resolv and "search example.test" in resolv and "options ndots:2" in resolv


def test_default_resolv_conf_is_the_hosts_without_loopback(containerd, module_runner, base_args, name):
    module_runner("containerd_container", {**base_args, "name": name, "command": TICKER})
    resolv = exec_in(containerd, name, "cat", "/etc/resolv.conf")
    servers = [line.split()[1] for line in resolv.splitlines() if line.startswith("nameserver")]
    assert servers and not any(server.startswith("127.") or server == "::1" for server in servers), resolv
    host = Path("/etc/resolv.conf").read_text()
    for server in servers:
        assert server in host or server in ("8.8.8.8", "8.8.4.4"), (server, host)


def test_network_host_uses_the_hosts_files(containerd, module_runner, base_args, name):
    module_runner("containerd_container", {**base_args, "name": name, "command": TICKER, "network": "host"})
    assert exec_in(containerd, name, "cat", "/etc/hosts") == Path("/etc/hosts").read_text()


def test_runtime_by_name(containerd, module_runner, base_args, name):
    """runc by its name: the runc v2 shim with runc's own binary (crun cannot run on this machine's hybrid cgroups)."""
    args = {**base_args, "name": name, "command": TICKER}
    changed = sequence(module_runner, args, {**args, "runtime": "runc"})
    assert changed["container"]["runtime"] == "runc"
    info = json.loads(containerd.ctr(["containers", "info", name]).stdout)
    assert info["Runtime"]["Name"] == "io.containerd.runc.v2"
    assert info["Labels"]["io.ocistack.engine.runtime"] == "runc"


def test_state_stopped_and_absent_with_only_a_name(containerd, module_runner, base_args, name):
    module_runner("containerd_container", {**base_args, "name": name, "command": TICKER, "restart_policy": "always"})
    only_name = {"address": containerd.address, "name": name}
    twin = module_runner("containerd_container", {**only_name, "state": "stopped"}, check_mode=True)
    assert twin["changed"] is True and twin["actions"] == ["stop"], twin
    stopped = module_runner("containerd_container", {**only_name, "state": "stopped"})
    assert stopped["changed"] is True and stopped["container"]["status"] == "stopped", stopped
    assert module_runner("containerd_container", {**only_name, "state": "stopped"})["changed"] is False
    time.sleep(2.5)  # the session's restart monitor runs every second: it must leave it down
    assert module_runner("containerd_container", {**only_name, "state": "stopped"})["changed"] is False
    gone = module_runner("containerd_container", {**only_name, "state": "absent"})
    assert gone["changed"] is True and gone["container"] is None
    missing = module_runner("containerd_container", {**only_name, "state": "stopped"})
    assert missing.get("failed") and missing["msg"].startswith("image:"), missing


def test_cni_container_comes_back_after_its_namespace_is_lost(  # noqa: PLR0917
    containerd, module_runner, base_args, name, port_network, host_address
):
    """What a reboot does to a CNI container, on the real kernel: /run/netns is emptied and the task dies.

    The boot-time program (the one ocistack-cni-restore.service runs) sets the namespace up again
    from the container's record; containerd's restart monitor then starts the task with its port.
    """
    port = free_port()
    args = {
        **base_args,
        "name": name,
        "command": HTTPD,
        "network": "cni",
        "cni_network": port_network["name"],
        "cni_conf_dir": port_network["conf_dir"],
        "published_ports": [f"{port}:80"],
        "restart_policy": "always",
    }
    created = module_runner("containerd_container", args)
    assert fetch(host_address, port) == f"served-by-{name}"
    netns = f"ocistack-default-{name}"
    assert (STATE_DIR / "default" / name / "network.json").exists()
    # "Reboot": hold the monitor off, kill the task, lose the namespace and the port's rules.
    containerd.ctr(["containers", "label", name, "containerd.io/restart.status=stopped"])
    os.kill(created["container"]["pid"], 9)
    assert wait_for(
        lambda: (
            "STOPPED" in containerd.ctr(["tasks", "ls"]).stdout or name not in containerd.ctr(["tasks", "ls"]).stdout
        )
    )
    containerd.ctr(["tasks", "delete", name], check=False)
    subprocess.run(["ip", "netns", "delete", netns], check=True)
    assert not answers(host_address, port)
    restore = subprocess.run(
        ["/usr/local/lib/ocistack/bin/ocistack-cni-restore"], capture_output=True, text=True, check=False
    )
    assert restore.returncode == 0, restore.stderr
    assert f"{netns}: restored" in restore.stdout, restore.stdout
    assert os.path.exists(f"/run/netns/{netns}")
    containerd.ctr(["containers", "label", name, "containerd.io/restart.status=running"])
    assert fetch(host_address, port, timeout=30) == f"served-by-{name}"
    hosts = exec_in(containerd, name, "cat", "/etc/hosts")
    address = json.loads(
        subprocess.run(
            ["ip", "-j", "-n", netns, "-4", "addr", "show", "eth0"], capture_output=True, text=True, check=False
        ).stdout
    )[0]["addr_info"][0]["local"]
    assert f"{address}\t{name}" in hosts, hosts
    # The module sees nothing to do: same namespace, same spec.
    assert module_runner("containerd_container", args)["changed"] is False


BAD_INPUTS: List[Any] = [
    ({"published_ports": ["80"], "network": "cni"}, "published_ports:"),
    ({"published_ports": ["8080:80/sctp"], "network": "cni"}, "published_ports:"),
    ({"published_ports": ["8080:80"], "network": "none"}, "published_ports:"),
    ({"published_ports": ["8080:80"], "network": "host"}, "published_ports:"),
    ({"published_ports": ["8080:80", "8080:81"], "network": "cni"}, "published_ports:"),
    ({"runtime": "kata-nope"}, "runtime:"),
    ({"dns_servers": ["not-an-address"]}, "dns_servers:"),
    ({"etc_hosts": {"db": "300.1.1.1"}}, "etc_hosts:"),
    ({"log_driver": "journald", "log_options": {"max_size": "1m"}}, "log_options:"),
    ({"log_driver": "syslog"}, "log_driver"),
    ({"log_driver": "file", "log_options": {"max_files": 0}}, "log_options:"),
]


@pytest.mark.parametrize(("extra", "option"), BAD_INPUTS)
def test_bad_input_is_refused_before_anything_changes(  # noqa: PLR0917
    containerd, module_runner, base_args, name, port_network, extra, option
):
    args = {**base_args, "name": name, "command": TICKER, **extra}
    if extra.get("network") == "cni":
        args.update(cni_network=port_network["name"], cni_conf_dir=port_network["conf_dir"])
    result = module_runner("containerd_container", args)
    assert result.get("failed") is True and option in result["msg"], result
    if option != "log_driver":
        assert result["msg"].startswith(option), result["msg"]
    assert name not in containerd.ctr(["containers", "ls", "-q"]).stdout
    assert not (STATE_DIR / "default" / name).exists()


def test_batch_refuses_the_same_host_port_twice(containerd, module_runner, base_args, port_network):
    item = {"network": "cni", "cni_network": port_network["name"], "cni_conf_dir": port_network["conf_dir"]}
    result = module_runner(
        "containerd_containers",
        {
            "address": containerd.address,
            "defaults": {"image": base_args["image"], "command": TICKER},
            "containers": [
                {"name": "wl-dup-a", **item, "published_ports": ["18080:80"]},
                {"name": "wl-dup-b", **item, "published_ports": ["18080:81"]},
            ],
        },
    )
    assert result.get("failed") and result["msg"].startswith("containers[1].published_ports:"), result
    assert "wl-dup-a" not in containerd.ctr(["containers", "ls", "-q"]).stdout


def test_batch_names_an_unknown_key(containerd, module_runner, base_args):
    result = module_runner(
        "containerd_containers",
        {
            "address": containerd.address,
            "containers": [{"name": "wl-x", "image": base_args["image"], "publish": ["1:1"]}],
        },
    )
    assert result.get("failed") and "publish" in result["msg"] and result["msg"].startswith("containers[0]"), result
