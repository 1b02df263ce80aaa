"""bridge and netns against the real kernel (pyroute2), and two runc containers talking over them.

Everything is created under a random prefix on a private 10.x /24 that no route of this machine
uses; teardown removes the namespaces, veths and bridge even when a test fails.
"""

from __future__ import annotations

import ipaddress
import json
import os
import random
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

# Shared bundle helpers and the session-scoped image fixtures (pytest puts this directory on sys.path).
import test_runc_container
from test_runc_container import IDLE, make_bundle, runtime_list, wait_for_text

# The session fixtures, shared by name (rootfs_template needs oci_layout).
oci_layout = test_runc_container.oci_layout
rootfs_template = test_runc_container.rootfs_template

pytestmark = pytest.mark.integration


def _require_network_tools() -> None:
    if os.geteuid() != 0:
        pytest.skip("network namespaces and bridges need root")
    pytest.importorskip("pyroute2", reason="pyroute2 is needed (pip install pyroute2)")
    if shutil.which("ip") is None:
        pytest.skip("iproute2 is needed to look at the result independently")


def _ip_json(*args: str, netns: str = "") -> Any:
    prefix = ["ip", "-n", netns] if netns else ["ip"]
    proc = subprocess.run([*prefix, "-j", *args], check=True, capture_output=True, text=True)
    return json.loads(proc.stdout or "[]")


def _used_networks() -> List[ipaddress.IPv4Network]:
    used = []
    for route in _ip_json("-4", "route", "show", "table", "all"):
        dst = route.get("dst", "")
        if dst and dst != "default" and "/" in dst:
            used.append(ipaddress.ip_network(dst, strict=False))
        elif dst and dst != "default":
            used.append(ipaddress.ip_network(dst + "/32"))
    return used


@pytest.fixture
def subnet() -> ipaddress.IPv4Network:
    """A private /24 in 10.200-254.x that overlaps no route of this machine."""
    _require_network_tools()
    used = _used_networks()
    rng = random.Random()
    for _attempt in range(100):
        candidate = ipaddress.ip_network(f"10.{rng.randint(200, 254)}.{rng.randint(0, 255)}.0/24")
        if not any(candidate.overlaps(network) for network in used):
            return candidate
    pytest.skip("no free private /24 found in 10.200.0.0/16-10.254.0.0/16")


@pytest.fixture
def names() -> Iterator[Dict[str, str]]:
    _require_network_tools()
    tag = uuid.uuid4().hex[:6]
    created = {"bridge": f"otb{tag}", "ns_a": f"otn-{tag}-a", "ns_b": f"otn-{tag}-b", "veth_a": f"otv{tag}a"}
    yield created
    for key in ("ns_a", "ns_b"):
        subprocess.run(["ip", "netns", "delete", created[key]], capture_output=True, check=False)
    for link in (created["veth_a"], created["bridge"]):
        subprocess.run(["ip", "link", "delete", link], capture_output=True, check=False)


def host(subnet: ipaddress.IPv4Network, number: int) -> str:
    return f"{subnet.network_address + number}/{subnet.prefixlen}"


def link_info(name: str, netns: str = "") -> Dict[str, Any]:
    (link,) = _ip_json("-d", "addr", "show", "dev", name, netns=netns)
    return link


def ipv4_of(link: Dict[str, Any]) -> List[str]:
    return [f"{a['local']}/{a['prefixlen']}" for a in link.get("addr_info", []) if a["family"] == "inet"]


def netns_list() -> List[str]:
    return sorted(os.listdir("/var/run/netns")) if os.path.isdir("/var/run/netns") else []


def test_bridge(module_runner, names: Dict[str, str], subnet) -> None:
    bridge = names["bridge"]
    args = {"name": bridge, "address": host(subnet, 1), "mtu": 1400}

    predicted = module_runner("bridge", args, check_mode=True, diff=True)
    assert predicted["changed"] is True
    assert predicted["diff"]["after"]["address"] == [host(subnet, 1)]
    assert not Path(f"/sys/class/net/{bridge}").exists()

    created = module_runner("bridge", args, diff=True)
    assert created["changed"] is True, created
    link = link_info(bridge)
    assert link["linkinfo"]["info_kind"] == "bridge"
    assert link["mtu"] == 1400
    assert "UP" in link["flags"]
    assert ipv4_of(link) == [host(subnet, 1)]

    assert module_runner("bridge", args)["changed"] is False
    assert module_runner("bridge", args, check_mode=True)["changed"] is False

    # A wrong address (set behind the module's back) is corrected; MTU changes in place.
    subprocess.run(["ip", "addr", "add", host(subnet, 77), "dev", bridge], check=True)
    fixed = module_runner("bridge", {**args, "mtu": 1450}, diff=True)
    assert fixed["changed"] is True
    assert fixed["diff"]["before"]["address"] == sorted([host(subnet, 1), host(subnet, 77)])
    link = link_info(bridge)
    assert ipv4_of(link) == [host(subnet, 1)]
    assert link["mtu"] == 1450

    removed = module_runner("bridge", {"name": bridge, "state": "absent"})
    assert removed["changed"] is True
    assert not Path(f"/sys/class/net/{bridge}").exists()
    assert module_runner("bridge", {"name": bridge, "state": "absent"})["changed"] is False


def test_netns_attachment(module_runner, names: Dict[str, str], subnet) -> None:
    bridge, ns = names["bridge"], names["ns_a"]
    assert module_runner("bridge", {"name": bridge, "address": host(subnet, 1)})["changed"]
    args = {"name": ns, "bridge": bridge, "veth": names["veth_a"], "address": host(subnet, 2),
            "gateway": str(subnet.network_address + 1)}  # fmt: skip

    predicted = module_runner("netns", args, check_mode=True, diff=True)
    assert predicted["changed"] is True
    assert ns not in netns_list()

    created = module_runner("netns", args, diff=True)
    assert created["changed"] is True, created
    assert created["netns"]["path"] == f"/var/run/netns/{ns}"
    assert ns in netns_list()
    inside = link_info("eth0", netns=ns)
    assert ipv4_of(inside) == [host(subnet, 2)]
    (default,) = _ip_json("route", "show", "default", netns=ns)
    assert default["gateway"] == str(subnet.network_address + 1)
    assert link_info(names["veth_a"])["master"] == bridge
    assert "UP" in link_info("lo", netns=ns)["flags"]

    assert module_runner("netns", args)["changed"] is False

    # A wrong address is corrected and the default route survives the change.
    subprocess.run(["ip", "-n", ns, "addr", "flush", "dev", "eth0"], check=True)
    subprocess.run(["ip", "-n", ns, "addr", "add", host(subnet, 99), "dev", "eth0"], check=True)
    fixed = module_runner("netns", args, diff=True)
    assert fixed["changed"] is True
    assert fixed["diff"]["before"]["address"] == [host(subnet, 99)]
    assert ipv4_of(link_info("eth0", netns=ns)) == [host(subnet, 2)]
    assert _ip_json("route", "show", "default", netns=ns)[0]["gateway"] == str(subnet.network_address + 1)
    assert module_runner("netns", args)["changed"] is False

    removed = module_runner("netns", {"name": ns, "state": "absent", "veth": names["veth_a"]}, diff=True)
    assert removed["changed"] is True
    assert ns not in netns_list()
    assert not Path(f"/sys/class/net/{names['veth_a']}").exists()
    assert module_runner("netns", {"name": ns, "state": "absent"})["changed"] is False


def test_two_containers_on_one_bridge(
    module_runner, names: Dict[str, str], subnet, rootfs_template: Path, tmp_path: Path
) -> None:
    bridge = names["bridge"]
    gateway = str(subnet.network_address + 1)
    assert module_runner("bridge", {"name": bridge, "address": host(subnet, 1)})["changed"]
    for key, number in (("ns_a", 2), ("ns_b", 3)):
        result = module_runner(
            "netns", {"name": names[key], "bridge": bridge, "address": host(subnet, number), "gateway": gateway}
        )
        assert result["changed"] is True, result

    root = tmp_path / "runc-root"
    address_a = str(subnet.network_address + 2)
    pinger = f"ping -c 1 -W 5 {address_a}; echo ping-a-rc=$?; ping -c 1 -W 5 {gateway}; echo ping-gw-rc=$?"
    containers = {
        "a": (names["ns_a"], "echo a-up"),
        "b": (names["ns_b"], pinger),
    }
    try:
        for label, (ns, command) in containers.items():
            bundle = make_bundle(
                tmp_path / f"bundle-{label}",
                rootfs_template,
                args=["sh", "-c", IDLE.format(print=command)],
                capabilities=["CAP_NET_RAW", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"],
                namespaces=[{"type": "network", "path": f"/var/run/netns/{ns}"}, {"type": "pid"},
                            {"type": "mount"}, {"type": "ipc"}, {"type": "uts"}],
            )  # fmt: skip
            result = module_runner(
                "runc_container",
                {"name": f"{names['bridge']}-{label}", "bundle": bundle, "root": str(root),
                 "output": str(tmp_path / f"{label}.log")},
            )  # fmt: skip
            assert result["container"]["status"] == "running", result
            if label == "a":
                wait_for_text(tmp_path / "a.log", "a-up")
        log = wait_for_text(tmp_path / "b.log", "ping-gw-rc=", timeout=20)
        assert "ping-a-rc=0" in log, log
        assert "ping-gw-rc=0" in log, log
    finally:
        for state in runtime_list("runc", root):
            subprocess.run(["runc", "--root", str(root), "delete", "--force", state["id"]], check=False)


def _links() -> List[str]:
    return sorted(os.listdir("/sys/class/net"))


def test_bad_input_changes_nothing(module_runner, names: Dict[str, str], subnet) -> None:
    bridge = names["bridge"]
    assert module_runner("bridge", {"name": bridge, "address": host(subnet, 1)})["changed"]
    before = (_links(), netns_list(), ipv4_of(link_info(bridge)))
    cases = [
        ("bridge", {"name": "x" * 16}, "name:"),
        ("bridge", {"name": "bad/name"}, "name:"),
        ("bridge", {"name": bridge, "address": "10.1.2.3"}, "address:"),
        ("bridge", {"name": bridge, "address": "10.1.2.0/24"}, "network address"),
        ("bridge", {"name": bridge, "address": "nonsense/24"}, "address:"),
        ("bridge", {"name": bridge, "mtu": 10}, "mtu:"),
        ("bridge", {"name": "lo"}, "name:"),
        ("netns", {"name": "a/b"}, "name:"),
        ("netns", {"name": names["ns_a"], "bridge": f"{bridge}nx"[:15], "address": host(subnet, 2)}, "bridge:"),
        ("netns", {"name": names["ns_a"], "address": host(subnet, 2)}, "bridge:"),
        (
            "netns",
            {"name": names["ns_a"], "bridge": bridge, "address": host(subnet, 2), "gateway": "192.0.2.1"},
            "gateway:",
        ),  # fmt: skip
        ("netns", {"name": names["ns_a"], "bridge": bridge, "gateway": str(subnet.network_address + 1)}, "gateway:"),
        ("netns", {"name": names["ns_a"], "bridge": bridge, "veth": "lo"}, "veth:"),
        ("netns", {"name": names["ns_a"], "bridge": bridge, "interface": "x" * 20}, "interface:"),
    ]
    for module, args, expected in cases:
        result = module_runner(module, args)
        assert result.get("failed") is True, (module, args, result)
        assert expected in result["msg"], (module, args, result["msg"])
        assert (_links(), netns_list(), ipv4_of(link_info(bridge))) == before, (module, args)
