# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``/etc/resolv.conf``, ``/etc/hosts`` and ``/etc/hostname`` of a container with a network of its own.

Pure functions: the options are validated here (before anything on the host changes) and the
files rendered from them and the host's ``resolv.conf``. The container manager writes them under
the container's state directory and bind-mounts them into the container; the boot-time restore
(_cni) renders ``hosts`` again when the container's address changed.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Dict, List, Mapping, Optional, Sequence

from ansible_collections.ocistack.engine.plugins.module_utils._errors import OptionError

__all__ = [
    "FALLBACK_NAME_SERVERS",
    "container_hostname",
    "parse_resolv_conf",
    "render_hostname",
    "render_hosts",
    "render_resolv_conf",
    "validate_dns",
]

# What docker falls back to when the host only has loopback name servers (they would answer
# inside the container's own network namespace, where nothing listens).
FALLBACK_NAME_SERVERS = ("8.8.8.8", "8.8.4.4")
# systemd-resolved's list of the real upstream servers, used when /etc/resolv.conf names its stub.
RESOLVED_UPSTREAM = "/run/systemd/resolve/resolv.conf"
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME_RE = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")
_OPTION_RE = re.compile(r"^[A-Za-z0-9_-]+(:[0-9]+)?$")


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def parse_resolv_conf(text: str) -> Dict[str, List[str]]:
    """``resolv.conf`` text -> ``{"nameservers", "search", "options"}`` (last ``search`` wins, as the resolver does)."""
    parsed: Dict[str, List[str]] = {"nameservers": [], "search": [], "options": []}
    for raw in (text or "").splitlines():
        line = raw.split("#", 1)[0].split(";", 1)[0].split()
        if not line:
            continue
        keyword, values = line[0], line[1:]
        if keyword == "nameserver" and values:
            parsed["nameservers"].append(values[0])
        elif keyword in ("search", "domain"):
            parsed["search"] = values
        elif keyword == "options":
            parsed["options"].extend(values)
    return parsed


def validate_dns(params: Mapping[str, Any]) -> Dict[str, Any]:
    """The DNS and hosts options, checked and normalised (None where the user set nothing)."""
    servers = params.get("dns_servers")
    if servers is not None:
        checked = []
        for server in servers:
            try:
                checked.append(str(ipaddress.ip_address(str(server).strip())))
            except ValueError:
                raise OptionError(
                    "dns_servers", f"{server!r} is not an IP address; give name servers as addresses, e.g. 192.0.2.53"
                ) from None
        servers = checked
    domains = params.get("dns_search_domains")
    if domains is not None:
        for domain in domains:
            if not _HOSTNAME_RE.match(str(domain).rstrip(".")):
                raise OptionError("dns_search_domains", f"{domain!r} is not a domain name")
        domains = [str(domain) for domain in domains]
    options = params.get("dns_options")
    if options is not None:
        for option in options:
            if not _OPTION_RE.match(str(option)):
                raise OptionError("dns_options", f"{option!r} is not a resolver option such as ndots:2 or edns0")
        options = [str(option) for option in options]
    hosts = params.get("etc_hosts")
    if hosts is not None:
        checked_hosts = {}
        for name, address in hosts.items():
            if not _HOSTNAME_RE.match(str(name)):
                raise OptionError("etc_hosts", f"{name!r} is not a host name")
            try:
                checked_hosts[str(name)] = str(ipaddress.ip_address(str(address).strip()))
            except ValueError:
                raise OptionError(
                    "etc_hosts", f"{name}: {address!r} is not an IP address; map each name to an address"
                ) from None
        hosts = dict(sorted(checked_hosts.items()))
    return {"dns_servers": servers, "dns_search_domains": domains, "dns_options": options, "etc_hosts": hosts}


def container_hostname(name: str, hostname: Optional[str]) -> str:
    """The container's host name: ``hostname`` when given, else its name made a valid host name."""
    if hostname:
        return hostname
    cleaned = re.sub(r"[^A-Za-z0-9-]+", "-", name).strip("-")[:63].strip("-")
    return cleaned or "container"


def render_resolv_conf(dns: Mapping[str, Any], host_text: str, upstream_text: Optional[str] = None) -> str:
    """The container's resolv.conf: the user's servers, domains and options over the host's.

    Loopback name servers of the host are dropped (systemd-resolved's upstream list is taken
    instead when there is one); when none is left, FALLBACK_NAME_SERVERS.
    """
    host = parse_resolv_conf(host_text)
    servers = dns.get("dns_servers")
    if servers is None:
        servers = [server for server in host["nameservers"] if not _is_loopback(server)]
        if not servers and upstream_text:
            servers = [server for server in parse_resolv_conf(upstream_text)["nameservers"] if not _is_loopback(server)]
        servers = servers or list(FALLBACK_NAME_SERVERS)
    search = dns.get("dns_search_domains")
    search = host["search"] if search is None else search
    options = dns.get("dns_options")
    options = host["options"] if options is None else options
    lines = ["# Written by ocistack.engine for this container"]
    lines += [f"nameserver {server}" for server in servers]
    if search:
        lines.append("search " + " ".join(search))
    if options:
        lines.append("options " + " ".join(options))
    return "\n".join(lines) + "\n"


def render_hosts(hostname: str, addresses: Sequence[str], extra: Optional[Mapping[str, str]] = None) -> str:
    """The container's /etc/hosts: localhost, its own name on its addresses (127.0.1.1 without any), ``extra``."""
    lines = [
        "# Written by ocistack.engine for this container",
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
    ]
    own = [address.split("/", 1)[0] for address in addresses] or ["127.0.1.1"]
    lines += [f"{address}\t{hostname}" for address in own]
    lines += [f"{address}\t{name}" for name, address in (extra or {}).items()]
    return "\n".join(lines) + "\n"


def render_hostname(hostname: str) -> str:
    return hostname + "\n"
