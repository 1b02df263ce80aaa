"""Pure logic of _netlink: validation, address bookkeeping and the bridge/netns plans (no netlink calls)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.ocistack.engine.plugins.module_utils._errors import OptionError
from ansible_collections.ocistack.engine.plugins.module_utils._netlink import (
    IFNAMSIZ,
    address_changes,
    parse_interface,
    plan_bridge,
    plan_netns,
    validate_gateway,
    validate_ifname,
    validate_netns_name,
    veth_name_for,
)

COLLECTIONS_DIR = Path(__file__).resolve().parents[2] / ".cache" / "collections"
LINK_LOCAL = "fe80::1c2b:3aff:fe4d:5e6f/64"


def bridge_link(**overrides):
    link = {"index": 7, "ifname": "br0", "kind": "bridge", "mtu": 1500, "up": True, "addresses": []}
    link.update(overrides)
    return link


# -- validation ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["br0", "ocibr-test", "a" * IFNAMSIZ, "veth.1"])
def test_valid_ifnames(name: str) -> None:
    assert validate_ifname(name, "name") == name


@pytest.mark.parametrize("name", ["", "a" * (IFNAMSIZ + 1), "has space", "a/b", ".", "..", None])
def test_invalid_ifnames_name_the_option(name) -> None:
    with pytest.raises(OptionError, match=r"^veth: "):
        validate_ifname(name, "veth")


@pytest.mark.parametrize("name", ["a/b", "", "..", "sp ace"])
def test_invalid_netns_names(name: str) -> None:
    with pytest.raises(OptionError, match=r"^name: "):
        validate_netns_name(name)


def test_parse_interface() -> None:
    assert str(parse_interface("10.88.10.2/24")) == "10.88.10.2/24"
    assert str(parse_interface(" fd00::2/64 ")) == "fd00::2/64"
    assert str(parse_interface("10.0.0.1/32")) == "10.0.0.1/32"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10.88.10.2", "CIDR"),
        ("10.88.10.0/24", "network address"),
        ("10.88.10.255/24", "broadcast"),
        ("10.88.10.2/33", "CIDR"),
        ("banana/24", "CIDR"),
        (24, "CIDR"),
    ],
)
def test_parse_interface_rejects(value, expected: str) -> None:
    with pytest.raises(OptionError, match=rf"^address: .*{expected}"):
        parse_interface(value)


def test_gateway_must_be_in_subnet_and_not_self() -> None:
    interface = parse_interface("10.88.10.2/24")
    assert validate_gateway("10.88.10.1", interface) == "10.88.10.1"
    for bad, expected in (("10.88.11.1", "not in"), ("10.88.10.2", "own address"), ("gw", "not an IP")):
        with pytest.raises(OptionError, match=rf"^gateway: .*{expected}"):
            validate_gateway(bad, interface)
    with pytest.raises(OptionError, match=r"^gateway: needs address"):
        validate_gateway("10.88.10.1", None)


def test_veth_name_is_stable_short_and_distinct() -> None:
    name = veth_name_for("web")
    assert name == veth_name_for("web")
    assert len(name) <= IFNAMSIZ
    assert validate_ifname(name, "veth") == name
    assert name != veth_name_for("web2")


# -- addresses -------------------------------------------------------------------------------------


def test_address_changes() -> None:
    assert address_changes(None, ["10.0.0.5/24"]) == ([], [])
    assert address_changes("10.0.0.2/24", []) == (["10.0.0.2/24"], [])
    assert address_changes("10.0.0.2/24", ["10.0.0.2/24", LINK_LOCAL]) == ([], [])
    # Another address of the same version is replaced; other versions and link-local ones are kept.
    assert address_changes("10.0.0.2/24", ["10.0.0.9/24", "fd00::1/64", LINK_LOCAL]) == (
        ["10.0.0.2/24"],
        ["10.0.0.9/24"],
    )
    # Same address, other prefix length: a different address.
    assert address_changes("10.0.0.2/24", ["10.0.0.2/16"]) == (["10.0.0.2/24"], ["10.0.0.2/16"])


# -- bridge plan -----------------------------------------------------------------------------------


def test_plan_bridge_create() -> None:
    actions, difference = plan_bridge({"state": "present", "address": "10.0.0.1/24", "mtu": 1400}, None)
    assert names(actions) == ["create", "mtu", "add_address", "up"]
    assert difference.diff()["before"]["state"] == "absent"
    assert difference.diff()["after"] == {"state": "present", "mtu": 1400, "up": True, "address": ["10.0.0.1/24"]}


def test_plan_bridge_unchanged() -> None:
    link = bridge_link(mtu=1400, addresses=["10.0.0.1/24", LINK_LOCAL])
    actions, difference = plan_bridge({"state": "present", "address": "10.0.0.1/24", "mtu": 1400}, link)
    assert actions == []
    assert not difference.changed


def test_plan_bridge_unmanaged_settings_are_left_alone() -> None:
    link = bridge_link(mtu=9000, addresses=["10.9.9.9/24"])
    actions, difference = plan_bridge({"state": "present", "address": None, "mtu": None}, link)
    assert actions == []
    assert not difference.changed


def test_plan_bridge_corrects_address_and_mtu_and_up() -> None:
    link = bridge_link(up=False, addresses=["10.0.0.7/24"])
    actions, difference = plan_bridge({"state": "present", "address": "10.0.0.1/24", "mtu": 1400}, link)
    assert actions == [("mtu", 1400), ("remove_address", "10.0.0.7/24"), ("add_address", "10.0.0.1/24"), ("up", None)]
    assert set(difference.keys) == {"mtu", "up", "address"}


def test_plan_bridge_absent() -> None:
    actions, difference = plan_bridge({"state": "absent"}, bridge_link())
    assert actions == [("delete", None)]
    assert difference.diff() == {"before": {"state": "present"}, "after": {"state": "absent"}}
    actions, difference = plan_bridge({"state": "absent"}, None)
    assert actions == [] and not difference.changed


# -- netns plan ------------------------------------------------------------------------------------

DESIRED = {
    "state": "present",
    "bridge": "br0",
    "veth": "vethabc",
    "interface": "eth0",
    "address": "10.0.0.2/24",
    "gateway": "10.0.0.1",
}


def attached(**overrides):
    actual = {
        "attached": True,
        "host_veth_exists": True,
        "peer_exists": True,
        "bridge": "br0",
        "veth": "vethabc",
        "interface": "eth0",
        "veth_up": True,
        "interface_up": True,
        "addresses": ["10.0.0.2/24", LINK_LOCAL],
        "gateway": "10.0.0.1",
    }
    actual.update(overrides)
    return actual


def names(actions):
    return [name for name, _argument in actions]


def test_plan_netns_from_nothing() -> None:
    actions, difference = plan_netns(DESIRED, None)
    assert names(actions) == ["create", "create_veth", "attach", "interface_up", "add_address", "gateway"]
    assert difference.diff()["after"]["address"] == ["10.0.0.2/24"]


def test_plan_netns_unchanged() -> None:
    actions, difference = plan_netns(DESIRED, attached())
    assert actions == [] and not difference.changed


def test_plan_netns_plain_namespace() -> None:
    desired = {"state": "present", "bridge": None, "veth": "vethabc", "interface": "eth0", "address": None}
    assert plan_netns(desired, None)[0] == [("create", None)]
    bare = {"attached": False, "host_veth_exists": False, "peer_exists": False, "addresses": [], "gateway": None}
    actions, difference = plan_netns(desired, bare)
    assert actions == [] and not difference.changed


def test_plan_netns_wrong_address_resets_gateway() -> None:
    actions, difference = plan_netns(DESIRED, attached(addresses=["10.0.0.99/24"], gateway=None))
    assert actions == [
        ("remove_address", "10.0.0.99/24"),
        ("add_address", "10.0.0.2/24"),
        ("gateway", "10.0.0.1"),
    ]
    assert set(difference.keys) == {"address", "gateway"}


def test_plan_netns_moves_to_other_bridge() -> None:
    actions, difference = plan_netns(DESIRED, attached(bridge="br-old"))
    assert actions == [("attach", "br0")]
    assert difference.diff() == {"before": {"bridge": "br-old"}, "after": {"bridge": "br0"}}


def test_plan_netns_replaces_a_broken_pair() -> None:
    broken = attached(attached=False, bridge=None, veth=None, interface=None, peer_exists=False)
    actions, _difference = plan_netns(DESIRED, broken)
    assert names(actions) == ["delete_veth", "create_veth", "attach", "interface_up", "add_address", "gateway"]


def test_plan_netns_absent() -> None:
    actions, difference = plan_netns({"state": "absent"}, attached())
    assert names(actions) == ["delete_veth", "delete"]
    assert difference.diff() == {"before": {"state": "present"}, "after": {"state": "absent"}}
    assert plan_netns({"state": "absent"}, None)[0] == []


def test_missing_pyroute2_says_what_to_install() -> None:
    # A fresh interpreter in which `import pyroute2` fails, as on a host without it.
    code = (
        "import sys; sys.modules['pyroute2'] = None\n"
        "from ansible_collections.ocistack.engine.plugins.module_utils import _netlink\n"
        "try:\n"
        "    _netlink.ensure_bridge({'name': 'br0', 'state': 'present'}, True, False)\n"
        "except _netlink.OcistackError as exc:\n"
        "    print(exc)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), check=True)
    assert "python3-pyroute2" in proc.stdout
    assert "pip install pyroute2" in proc.stdout


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(COLLECTIONS_DIR), env.get("PYTHONPATH")]))
    return env
