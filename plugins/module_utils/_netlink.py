# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pyroute2 behind small functions: bridges, named network namespaces and veth pairs.

Named namespaces live at /run/netns/<name> and are created and removed by _netns (the
collection's one implementation, shared with the CNI path of containerd_container), so OCI
bundles join them by path. Everything that decides (validation, the
comparison, the plan) is a pure function over plain dicts; ``LinkTable`` is the only
place that talks netlink.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

from ansible_collections.ocistack.engine.plugins.module_utils import _netns
from ansible_collections.ocistack.engine.plugins.module_utils._compare import Difference, compare
from ansible_collections.ocistack.engine.plugins.module_utils._errors import OcistackError, OptionError, ToolError

try:
    from pyroute2 import IPRoute, NetlinkError, NetNS

    PYROUTE2_IMPORT_ERROR: Optional[str] = None
    _HOST_ERRORS: Tuple[type, ...] = (NetlinkError, OSError)
except ImportError as _exc:  # the module reports it; nothing else in this file runs without pyroute2
    PYROUTE2_IMPORT_ERROR = str(_exc)
    _HOST_ERRORS = (OSError,)

__all__ = [
    "NETNS_DIR",
    "LinkTable",
    "address_changes",
    "bridge_view",
    "ensure_bridge",
    "ensure_netns",
    "netns_view",
    "parse_interface",
    "plan_bridge",
    "plan_netns",
    "require_pyroute2",
    "validate_gateway",
    "validate_ifname",
    "validate_netns_name",
    "veth_name_for",
]

# The path this module reports; /var/run is /run on every systemd host, where _netns makes them.
NETNS_DIR = "/var/run/netns"
IFNAMSIZ = 15  # the kernel's limit on interface names (16 bytes with the terminating NUL)
_IFNAME_RE = re.compile(r"^[A-Za-z0-9_.\-@+]+$")
_NETNS_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")
_IFF_UP = 0x1
_MAIN_TABLE = 254

Interface = Union[ipaddress.IPv4Interface, ipaddress.IPv6Interface]


def require_pyroute2() -> None:
    if PYROUTE2_IMPORT_ERROR is not None:
        raise OcistackError(
            "this module needs the Python library pyroute2 on the managed host: install the Debian package "
            f"python3-pyroute2 or `pip install pyroute2` ({PYROUTE2_IMPORT_ERROR})"
        )


# ---------------------------------------------------------------------------------------------
# Pure: validation and planning (unit-tested)
# ---------------------------------------------------------------------------------------------


def validate_ifname(name: Any, option: str) -> str:
    if not isinstance(name, str) or not name:
        raise OptionError(option, "give an interface name")
    if len(name) > IFNAMSIZ:
        raise OptionError(option, f"{name!r} is longer than the kernel's {IFNAMSIZ} characters for interface names")
    if not _IFNAME_RE.match(name) or name in (".", ".."):
        raise OptionError(option, f"{name!r} is not a valid interface name; use letters, digits and _ . - only")
    return name


def validate_netns_name(name: Any, option: str = "name") -> str:
    if not isinstance(name, str) or not name:
        raise OptionError(option, "give a network namespace name")
    if not _NETNS_RE.match(name) or name in (".", "..") or len(name) > 255:
        raise OptionError(
            option, f"{name!r} is not a valid network namespace name; use letters, digits and _ . - (no slash)"
        )
    return name


def parse_interface(value: Any, option: str = "address") -> Interface:
    """``"10.0.0.2/24"`` -> an interface address; a bare address, a network address or garbage raise OptionError."""
    if not isinstance(value, str) or "/" not in value:
        raise OptionError(option, f"{value!r} is not an address in CIDR form; give e.g. 10.88.10.1/24")
    try:
        interface = ipaddress.ip_interface(value.strip())
    except ValueError as exc:
        raise OptionError(option, f"{value!r} is not an address in CIDR form ({exc}); give e.g. 10.88.10.1/24") from exc
    network = interface.network
    if network.prefixlen < network.max_prefixlen and interface.ip == network.network_address:
        raise OptionError(option, f"{value} is the network address of {network}; give a host address in it")
    if interface.version == 4 and network.prefixlen < 31 and interface.ip == network.broadcast_address:
        raise OptionError(option, f"{value} is the broadcast address of {network}; give a host address in it")
    return interface


def validate_gateway(gateway: Any, interface: Optional[Interface], option: str = "gateway") -> str:
    if interface is None:
        raise OptionError(option, "needs address: the namespace reaches its gateway through that address")
    try:
        address = ipaddress.ip_address(str(gateway).strip())
    except ValueError as exc:
        raise OptionError(option, f"{gateway!r} is not an IP address") from exc
    if address not in interface.network:
        raise OptionError(option, f"{address} is not in {interface.network} (the subnet of address)")
    if address == interface.ip:
        raise OptionError(option, f"{address} is the namespace's own address; give the bridge's address")
    return str(address)


def veth_name_for(netns_name: str) -> str:
    """Host-side veth name for a namespace: stable, unique enough and within the 15-character limit."""
    return "veth" + hashlib.sha256(netns_name.encode("utf-8")).hexdigest()[:11]


def _global_addresses(addresses: List[str], version: int) -> List[str]:
    """The addresses a user manages: this IP version, no IPv6 link-local (the kernel assigns those)."""
    result = []
    for text in addresses:
        interface = ipaddress.ip_interface(text)
        if interface.version == version and not interface.ip.is_link_local:
            result.append(str(interface))
    return sorted(result)


def address_changes(desired: Optional[str], current: List[str]) -> Tuple[List[str], List[str]]:
    """(to add, to remove) so the link has exactly ``desired`` among addresses of its IP version."""
    if desired is None:
        return [], []
    wanted = str(ipaddress.ip_interface(desired))
    same_family = _global_addresses(current, ipaddress.ip_interface(desired).version)
    to_add = [] if wanted in same_family else [wanted]
    return to_add, [address for address in same_family if address != wanted]


def bridge_view(link: Optional[Mapping[str, Any]], address: Optional[str]) -> Dict[str, Any]:
    """What the bridge module compares, from a ``LinkTable.get`` dict (None: no such link)."""
    if link is None:
        return {"state": "absent"}
    view: Dict[str, Any] = {"state": "present", "mtu": link["mtu"], "up": link["up"]}
    if address is not None:
        view["address"] = _global_addresses(link["addresses"], ipaddress.ip_interface(address).version)
    return view


def plan_bridge(
    desired: Mapping[str, Any], link: Optional[Mapping[str, Any]]
) -> Tuple[List[Tuple[str, Any]], Difference]:
    """Actions (``create``, ``mtu``, ``add_address``, ``remove_address``, ``up``, ``delete``) and the difference."""
    state, address, mtu = desired["state"], desired.get("address"), desired.get("mtu")
    if state == "absent":
        difference = compare({"state": "absent"}, bridge_view(link, None))
        return ([("delete", None)] if link is not None else []), difference
    wanted: Dict[str, Any] = {"state": "present", "mtu": mtu, "up": True}
    if address is not None:
        wanted["address"] = [str(ipaddress.ip_interface(address))]
    difference = compare(wanted, bridge_view(link, address))
    actions: List[Tuple[str, Any]] = []
    current_addresses = list(link["addresses"]) if link else []
    if link is None:
        actions.append(("create", None))
    if mtu is not None and (link is None or link["mtu"] != mtu):
        actions.append(("mtu", mtu))
    to_add, to_remove = address_changes(address, current_addresses)
    actions.extend(("remove_address", item) for item in to_remove)
    actions.extend(("add_address", item) for item in to_add)
    if link is None or not link["up"]:
        actions.append(("up", None))
    return actions, difference


def netns_view(actual: Optional[Mapping[str, Any]], version: Optional[int]) -> Dict[str, Any]:
    """What the netns module compares. ``actual``: see ``LinkTable``-based ``_read_netns`` (None: no namespace)."""
    if actual is None:
        return {"state": "absent"}
    view: Dict[str, Any] = {
        "state": "present",
        "bridge": actual.get("bridge"),
        "veth": actual.get("veth"),
        "interface": actual.get("interface"),
        "gateway": actual.get("gateway"),
    }
    if version is not None:
        view["address"] = _global_addresses(actual.get("addresses", []), version)
    return view


def plan_netns(
    desired: Mapping[str, Any], actual: Optional[Mapping[str, Any]]
) -> Tuple[List[Tuple[str, Any]], Difference]:
    """Actions for one named namespace and its veth attachment to a bridge, and the difference.

    ``desired``: state, bridge, veth, interface, address, gateway (validated).
    ``actual``: None, or {"bridge", "veth", "interface", "addresses", "gateway", "attached", "host_veth_exists",
    "peer_exists", "veth_up", "interface_up"} as read from the host.
    """
    if desired["state"] == "absent":
        difference = compare({"state": "absent"}, netns_view(actual, None))
        if actual is None:
            return [], difference
        return ([("delete_veth", None)] if actual.get("host_veth_exists") else []) + [("delete", None)], difference
    address = desired.get("address")
    version = ipaddress.ip_interface(address).version if address else None
    wanted: Dict[str, Any] = {"state": "present", "gateway": desired.get("gateway")}
    if desired.get("bridge"):
        wanted.update(bridge=desired["bridge"], veth=desired["veth"], interface=desired["interface"])
    if address:
        wanted["address"] = [str(ipaddress.ip_interface(address))]
    difference = compare(wanted, netns_view(actual, version))
    actions: List[Tuple[str, Any]] = []
    current = dict(actual or {})
    if actual is None:
        actions.append(("create", None))
    if desired.get("bridge"):
        if not current.get("attached"):
            if current.get("host_veth_exists"):
                actions.append(("delete_veth", None))
            if current.get("peer_exists"):
                actions.append(("delete_peer", None))
            actions.append(("create_veth", None))
            current = {"addresses": [], "gateway": None}
        if current.get("bridge") != desired["bridge"] or not current.get("veth_up"):
            actions.append(("attach", desired["bridge"]))
        if not current.get("interface_up"):
            actions.append(("interface_up", None))
    to_add, to_remove = address_changes(address, current.get("addresses", []))
    actions.extend(("remove_address", item) for item in to_remove)
    actions.extend(("add_address", item) for item in to_add)
    # Removing an address drops the routes through it (the default route too): set the gateway again.
    if desired.get("gateway") and (current.get("gateway") != desired["gateway"] or to_remove):
        actions.append(("gateway", desired["gateway"]))
    return actions, difference


# ---------------------------------------------------------------------------------------------
# Host side: netlink through pyroute2
# ---------------------------------------------------------------------------------------------


def list_netns() -> List[str]:
    return _netns.list_netns()


def netns_path(name: str) -> str:
    return os.path.join(NETNS_DIR, name)


class LinkTable:
    """Links, addresses and routes of one network namespace (the host's when ``netns`` is None)."""

    def __init__(self, netns: Optional[str] = None) -> None:
        require_pyroute2()
        # NetNS would create a missing namespace; callers check existence first.
        self.ipr = NetNS(netns) if netns else IPRoute()

    def __enter__(self) -> LinkTable:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.ipr.close()

    def index(self, name: str) -> Optional[int]:
        found = self.ipr.link_lookup(ifname=name)
        return found[0] if found else None

    def name_of(self, index: Optional[int]) -> Optional[str]:
        if not index:
            return None
        links = self.ipr.link("get", index=index)
        return links[0].get("ifname") if links else None

    def get(self, name: str) -> Optional[Dict[str, Any]]:
        """{index, ifname, kind, mtu, up, master, peer_index, addresses} or None."""
        index = self.index(name)
        if index is None:
            return None
        link = self.ipr.link("get", index=index)[0]
        addresses = [f"{msg.get('address')}/{msg['prefixlen']}" for msg in self.ipr.addr("dump", index=index)]
        return {
            "index": index,
            "ifname": name,
            "kind": link.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND"),
            "mtu": link.get("mtu"),
            "up": bool(link["flags"] & _IFF_UP),
            "master": link.get("master"),
            "peer_index": link.get("link"),
            "addresses": sorted(addresses),
        }

    def create_bridge(self, name: str) -> None:
        self.ipr.link("add", ifname=name, kind="bridge")

    def create_veth(self, name: str, peer: str, peer_netns: str) -> None:
        self.ipr.link("add", ifname=name, kind="veth", peer={"ifname": peer, "net_ns_fd": peer_netns})

    def set(self, name: str, **settings: Any) -> None:
        self.ipr.link("set", index=self.index(name), **settings)

    def add_address(self, name: str, cidr: str) -> None:
        interface = ipaddress.ip_interface(cidr)
        self.ipr.addr("add", index=self.index(name), address=str(interface.ip), prefixlen=interface.network.prefixlen)

    def remove_address(self, name: str, cidr: str) -> None:
        interface = ipaddress.ip_interface(cidr)
        self.ipr.addr("del", index=self.index(name), address=str(interface.ip), prefixlen=interface.network.prefixlen)

    def delete(self, name: str) -> None:
        index = self.index(name)
        if index is not None:
            self.ipr.link("del", index=index)

    def default_gateway(self, version: int = 4) -> Optional[str]:
        family = 2 if version == 4 else 10
        for route in self.ipr.route("dump", family=family):
            if route["dst_len"] == 0 and route.get("table") == _MAIN_TABLE and route.get("gateway"):
                return route.get("gateway")
        return None

    def set_default_gateway(self, gateway: str) -> None:
        family = 2 if ipaddress.ip_address(gateway).version == 4 else 10
        self.ipr.route("replace", dst="default", gateway=gateway, family=family)


# ---------------------------------------------------------------------------------------------
# The modules' entry points
# ---------------------------------------------------------------------------------------------


def _result(actions: List[Tuple[str, Any]], difference: Difference, diff: bool) -> Dict[str, Any]:
    result: Dict[str, Any] = {"changed": bool(actions), "actions": [name for name, _arg in actions]}
    if diff:
        result["diff"] = difference.diff()
    return result


def _public_link(link: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    if not link:
        return {}
    return {key: link[key] for key in ("ifname", "index", "kind", "mtu", "up", "addresses")}


def ensure_bridge(params: Mapping[str, Any], check_mode: bool, diff: bool) -> Dict[str, Any]:
    """Converge one bridge; returns the module result (changed, actions, diff, bridge)."""
    require_pyroute2()
    try:
        return _ensure_bridge(params, check_mode, diff)
    except _HOST_ERRORS as exc:
        raise ToolError(f"netlink refused a change to bridge {params['name']}: {exc}") from exc


def _ensure_bridge(params: Mapping[str, Any], check_mode: bool, diff: bool) -> Dict[str, Any]:
    name = validate_ifname(params["name"], "name")
    address = str(parse_interface(params["address"])) if params.get("address") is not None else None
    mtu = params.get("mtu")
    if mtu is not None and not 68 <= mtu <= 65535:
        raise OptionError("mtu", f"{mtu} is out of range; give 68 to 65535")
    desired = {"state": params["state"], "address": address, "mtu": mtu}
    with LinkTable() as links:
        link = links.get(name)
        if link is not None and link["kind"] != "bridge":
            raise OptionError("name", f"a {link['kind'] or 'non-bridge'} link named {name} exists; choose another name")
        actions, difference = plan_bridge(desired, link)
        result = _result(actions, difference, diff)
        if check_mode or not actions:
            result["bridge"] = _public_link(link)
            return result
        for action, argument in actions:
            if action == "create":
                links.create_bridge(name)
            elif action == "mtu":
                links.set(name, mtu=argument)
            elif action == "remove_address":
                links.remove_address(name, argument)
            elif action == "add_address":
                links.add_address(name, argument)
            elif action == "up":
                links.set(name, state="up")
            elif action == "delete":
                links.delete(name)
        result["bridge"] = _public_link(links.get(name))
    return result


def _read_netns(name: str, veth: str, interface: str, version: Optional[int]) -> Optional[Dict[str, Any]]:
    """The namespace as the host has it, in the shape ``plan_netns`` reads (None: no such namespace)."""
    if name not in list_netns():
        return None
    with LinkTable() as host, LinkTable(name) as inside:
        host_veth = host.get(veth)
        peer = inside.get(interface)
        attached = bool(
            host_veth and peer and host_veth["kind"] == "veth" and peer["kind"] == "veth"
            and peer["peer_index"] == host_veth["index"]
        )  # fmt: skip
        return {
            "attached": attached,
            "host_veth_exists": host_veth is not None,
            "peer_exists": peer is not None,
            "bridge": host.name_of(host_veth["master"]) if attached and host_veth else None,
            "veth": veth if attached else None,
            "interface": interface if attached else None,
            "veth_up": bool(host_veth and host_veth["up"]),
            "interface_up": bool(peer and peer["up"]),
            "addresses": peer["addresses"] if peer else [],
            "gateway": inside.default_gateway(version or 4),
        }


def ensure_netns(params: Mapping[str, Any], check_mode: bool, diff: bool) -> Dict[str, Any]:
    """Converge one named namespace and its attachment; returns the module result (changed, actions, diff, netns)."""
    require_pyroute2()
    try:
        return _ensure_netns(params, check_mode, diff)
    except _HOST_ERRORS as exc:
        raise ToolError(f"netlink refused a change to network namespace {params['name']}: {exc}") from exc


def _ensure_netns(params: Mapping[str, Any], check_mode: bool, diff: bool) -> Dict[str, Any]:
    name = validate_netns_name(params["name"])
    bridge = validate_ifname(params["bridge"], "bridge") if params.get("bridge") else None
    interface = validate_ifname(params.get("interface") or "eth0", "interface")
    veth = validate_ifname(params["veth"], "veth") if params.get("veth") else veth_name_for(name)
    address = parse_interface(params["address"]) if params.get("address") is not None else None
    gateway = validate_gateway(params["gateway"], address) if params.get("gateway") else None
    if gateway and address and ipaddress.ip_address(gateway).version != address.version:
        raise OptionError("gateway", "must be of the same IP version as address")
    if params["state"] == "present" and bridge is None and (address is not None or params.get("veth")):
        raise OptionError("bridge", "address and veth attach the namespace to a bridge; give bridge too")
    desired = {
        "state": params["state"],
        "bridge": bridge,
        "veth": veth,
        "interface": interface,
        "address": str(address) if address else None,
        "gateway": gateway,
    }
    if params["state"] == "present" and bridge is not None:
        with LinkTable() as host:
            bridge_link = host.get(bridge)
            veth_link = host.get(veth)
        if bridge_link is None or bridge_link["kind"] != "bridge":
            raise OptionError(
                "bridge", f"no bridge named {bridge} on the host; create it first (ocistack.engine.bridge)"
            )
        if veth_link is not None and veth_link["kind"] != "veth":
            raise OptionError("veth", f"a {veth_link['kind'] or 'non-veth'} link named {veth} exists; choose another")
    actual = _read_netns(name, veth, interface, address.version if address else None)
    actions, difference = plan_netns(desired, actual)
    result = _result(actions, difference, diff)
    result["netns"] = _public_netns(name, actual)
    if check_mode or not actions:
        return result
    for action, argument in actions:
        if action == "create":
            _netns.create_netns(name)
            with LinkTable(name) as inside:
                inside.set("lo", state="up")
        elif action == "delete":
            _netns.delete_netns(name)
        elif action in ("delete_veth", "attach"):
            with LinkTable() as host:
                if action == "delete_veth":
                    host.delete(veth)
                else:
                    host.set(veth, master=host.index(argument), state="up")
        elif action == "create_veth":
            with LinkTable() as host:
                host.create_veth(veth, interface, name)
        else:
            with LinkTable(name) as inside:
                if action == "delete_peer":
                    inside.delete(interface)
                elif action == "interface_up":
                    inside.set(interface, state="up")
                elif action == "remove_address":
                    inside.remove_address(interface, argument)
                elif action == "add_address":
                    inside.add_address(interface, argument)
                elif action == "gateway":
                    inside.set_default_gateway(argument)
    final = (
        None
        if params["state"] == "absent"
        else _read_netns(name, veth, interface, address.version if address else None)
    )
    result["netns"] = _public_netns(name, final)
    return result


def _public_netns(name: str, actual: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    if actual is None:
        return {}
    return {
        "name": name,
        "path": netns_path(name),
        "bridge": actual.get("bridge"),
        "veth": actual.get("veth"),
        "interface": actual.get("interface"),
        "addresses": actual.get("addresses", []),
        "gateway": actual.get("gateway"),
    }
