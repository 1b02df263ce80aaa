# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""CNI for containerd_container: load a network config, run its plugins (ADD/DEL) for a container.

The container's network namespace is a named one (``/run/netns/<name>``, see _netns), so it outlives
the task and containerd's restart monitor starts the task again in the same configured namespace.

A reboot empties ``/run/netns``. So every CNI container leaves a record (``network.json`` in its
state directory: the network config it was set up with, its published ports, its host name) and
``restore_all`` (run at boot by ``ocistack-cni-restore.service``, before containerd starts, see
_host_tools) sets each namespace up again; the restart monitor then finds what the tasks need.
Standard library only, as that boot-time program runs outside Ansible.
"""

from __future__ import annotations

import glob
import ipaddress
import json
import os
import re
import subprocess
import sys
from contextlib import suppress
from typing import Any, Dict, List, Mapping, Optional, Sequence

from ansible_collections.ocistack.engine.plugins.module_utils._errors import OptionError, ToolError
from ansible_collections.ocistack.engine.plugins.module_utils._etc_files import render_hosts
from ansible_collections.ocistack.engine.plugins.module_utils._netns import create_netns, netns_addresses, netns_path

__all__ = [
    "CniNetwork",
    "DEFAULT_CNI_BIN_DIRS",
    "DEFAULT_CNI_CONF_DIR",
    "RECORD_NAME",
    "format_ports",
    "load_cni_network",
    "netns_name",
    "parse_published_ports",
    "read_record",
    "restore_all",
    "write_record",
]

DEFAULT_CNI_CONF_DIR = "/etc/cni/net.d"
DEFAULT_CNI_BIN_DIRS = ("/opt/cni/bin", "/usr/lib/cni")
RECORD_NAME = "network.json"
# [ip:]hostPort:containerPort[/proto]; an IPv6 host address goes in brackets.
_PORT_RE = re.compile(
    r"^(?:(?P<ip>\[[0-9A-Fa-f:.]+\]|[0-9.]+):)?(?P<host>\d{1,5}):(?P<container>\d{1,5})(?:/(?P<proto>[A-Za-z]+))?$"
)


def parse_published_ports(values: Optional[Sequence[Any]], option: str = "published_ports") -> List[Dict[str, Any]]:
    """``["8080:80", "127.0.0.1:53:53/udp"]`` -> CNI portMappings, sorted; errors name the option."""
    mappings: List[Dict[str, Any]] = []
    seen: Dict[tuple, str] = {}
    for value in values or []:
        text = str(value).strip()
        match = _PORT_RE.match(text)
        if not match:
            raise OptionError(
                option, f"{text!r} is not a port mapping; use [ip:]hostPort:containerPort[/tcp|udp], e.g. 8080:80"
            )
        protocol = (match.group("proto") or "tcp").lower()
        if protocol not in ("tcp", "udp"):
            raise OptionError(option, f"{text!r}: the protocol must be tcp or udp, not {protocol}")
        host_ip = (match.group("ip") or "").strip("[]")
        if host_ip:
            try:
                host_ip = str(ipaddress.ip_address(host_ip))
            except ValueError:
                raise OptionError(option, f"{text!r}: {host_ip} is not an IP address of the host") from None
        host_port, container_port = int(match.group("host")), int(match.group("container"))
        for port in (host_port, container_port):
            if not 1 <= port <= 65535:
                raise OptionError(option, f"{text!r}: port {port} is out of range (1-65535)")
        key = (host_ip, host_port, protocol)
        clash = next(
            (
                other
                for (ip, port, proto), other in seen.items()
                if port == host_port and proto == protocol and (not ip or not host_ip or ip == host_ip)
            ),
            None,
        )
        if clash is not None:
            raise OptionError(option, f"{text!r} publishes host port {host_port}/{protocol} again (also {clash!r})")
        seen[key] = text
        mapping: Dict[str, Any] = {"hostPort": host_port, "containerPort": container_port, "protocol": protocol}
        if host_ip:
            mapping["hostIP"] = host_ip
        mappings.append(mapping)
    return sorted(mappings, key=lambda m: (m["protocol"], m["hostPort"], m.get("hostIP", "")))


def format_ports(mappings: Sequence[Mapping[str, Any]]) -> List[str]:
    """CNI portMappings -> ``["8080:80/tcp", ...]`` (how containers and labels show them)."""
    shown = []
    for mapping in mappings:
        ip = mapping.get("hostIP") or ""
        prefix = (f"[{ip}]:" if ":" in ip else f"{ip}:") if ip else ""
        shown.append(f"{prefix}{mapping['hostPort']}:{mapping['containerPort']}/{mapping['protocol']}")
    return shown


def load_cni_network(conf_dir: str, network: Optional[str]) -> Dict[str, Any]:
    """The conflist named ``network`` in ``conf_dir`` (the first one in file order when None), as a dict.

    Single-plugin ``.conf`` files are wrapped into the conflist form.
    """
    try:
        names = sorted(os.listdir(conf_dir))
    except OSError:
        raise OptionError("cni_conf_dir", f"{conf_dir} cannot be read; install a CNI network config there") from None
    found = []
    for entry in names:
        if not entry.endswith((".conflist", ".conf", ".json")):
            continue
        try:
            with open(os.path.join(conf_dir, entry)) as handle:
                config = json.load(handle)
        except (OSError, ValueError):
            continue
        if "plugins" not in config and "type" in config:
            config = {"cniVersion": config.get("cniVersion"), "name": config.get("name"), "plugins": [config]}
        if not isinstance(config.get("plugins"), list) or not config.get("name"):
            continue
        found.append(config)
        if network is None or config["name"] == network:
            return config
    known = ", ".join(sorted(config["name"] for config in found)) or "none"
    raise OptionError(
        "cni_network", f"no CNI network {network!r} in {conf_dir} (found: {known}); give one of those or add its config"
    )


def netns_name(namespace: str, container: str) -> str:
    return f"ocistack-{namespace}-{container}"


class CniNetwork:
    """Runs a CNI conflist (ADD/DEL) for a container whose network namespace is a named netns.

    ``ports`` (CNI portMappings) go to the plugins that declare the ``portMappings`` capability,
    on ADD and DEL alike (portmap removes its rules by them).
    """

    def __init__(
        self, config: Mapping[str, Any], bin_dirs: Sequence[str], ports: Sequence[Mapping[str, Any]] = ()
    ) -> None:
        self.config = config
        self.bin_dirs = list(bin_dirs)
        self.ports = [dict(port) for port in ports]

    def _plugin_path(self, plugin_type: str) -> str:
        for directory in self.bin_dirs:
            path = os.path.join(directory, plugin_type)
            if os.access(path, os.X_OK):
                return path
        raise OptionError(
            "cni_bin_dirs", f"CNI plugin {plugin_type!r} is not in {', '.join(self.bin_dirs)}; install the CNI plugins"
        )

    def check_plugins(self) -> None:
        for plugin in self.config["plugins"]:
            self._plugin_path(str(plugin.get("type")))

    def check_ports(self) -> None:
        """Published ports need a plugin with the portMappings capability (CNI's portmap)."""
        if self.ports and not any(
            (plugin.get("capabilities") or {}).get("portMappings") for plugin in self.config["plugins"]
        ):
            raise OptionError(
                "published_ports",
                f"CNI network {self.config['name']} has no plugin with the portMappings capability; add "
                '{"type": "portmap", "capabilities": {"portMappings": true}} to its plugins (the cni role\'s '
                "default network has it)",
            )

    def _call(self, command: str, plugin: Mapping[str, Any], container_id: str, netns: str, prev: Any) -> Any:
        config = dict(plugin)
        config["cniVersion"] = self.config.get("cniVersion") or "0.4.0"
        config["name"] = self.config["name"]
        if self.ports and (plugin.get("capabilities") or {}).get("portMappings"):
            config["runtimeConfig"] = {"portMappings": self.ports}
        if prev is not None:
            config["prevResult"] = prev
        environ = dict(os.environ)
        environ.update(
            CNI_COMMAND=command,
            CNI_CONTAINERID=container_id,
            CNI_NETNS=netns,
            CNI_IFNAME="eth0",
            CNI_PATH=os.pathsep.join(self.bin_dirs),
        )
        cmd = [self._plugin_path(str(plugin.get("type")))]
        process = subprocess.run(
            cmd, input=json.dumps(config), capture_output=True, text=True, env=environ, check=False
        )
        out, err = process.stdout, process.stderr
        if process.returncode != 0:
            try:
                detail = json.loads(out).get("msg") or out
            except ValueError:
                detail = (out or err).strip()
            raise ToolError(
                f"CNI {command} of network {self.config['name']} failed in plugin {plugin.get('type')}: {detail}",
                cmd=cmd,
                rc=process.returncode,
                stderr=err,
            )
        return json.loads(out) if out.strip() else None

    def add(self, container_id: str, netns: str) -> Any:
        result = None
        done: List[Mapping[str, Any]] = []
        try:
            for plugin in self.config["plugins"]:
                result = self._call("ADD", plugin, container_id, netns, result)
                done.append(plugin)
        except Exception:
            for plugin in reversed(done):
                with suppress(ToolError):
                    self._call("DEL", plugin, container_id, netns, None)
            raise
        return result

    def delete(self, container_id: str, netns: str) -> None:
        for plugin in reversed(self.config["plugins"]):
            self._call("DEL", plugin, container_id, netns, None)


# --------------------------------------------------------------------------- records and the boot-time restore


def write_record(state_dir: str, record: Mapping[str, Any]) -> None:
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    path = os.path.join(state_dir, RECORD_NAME)
    temp = path + ".tmp"
    with open(temp, "w") as handle:
        json.dump(record, handle, sort_keys=True, indent=2)
    os.replace(temp, path)


def read_record(state_dir: str) -> Optional[Dict[str, Any]]:
    try:
        with open(os.path.join(state_dir, RECORD_NAME)) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def rewrite_in_place(path: str, text: str) -> None:
    """Write ``text`` into ``path`` keeping its inode: a running container bind-mounts this very file."""
    with open(path, "r+" if os.path.exists(path) else "w") as handle:
        handle.seek(0)
        handle.write(text)
        handle.truncate()


def restore_one(state_dir: str, record: Mapping[str, Any]) -> str:
    """Set a container's network namespace up again (after a reboot emptied /run/netns)."""
    netns = record["netns"]
    if os.path.exists(netns_path(netns)):
        return f"{netns}: present"
    network = CniNetwork(record["config"], record["bin_dirs"], record.get("ports") or [])
    path = create_netns(netns)
    # The IPAM store outlives a reboot: release what the namespace had before taking an address again.
    with suppress(ToolError):
        network.delete(record["cni_id"], path)
    network.add(record["cni_id"], path)
    hosts = os.path.join(state_dir, "hosts")
    if os.path.exists(hosts):
        rewrite_in_place(hosts, render_hosts(record["hostname"], netns_addresses(netns), record.get("etc_hosts")))
    return f"{netns}: restored"


def restore_all(state_root: str) -> int:
    """Every recorded CNI container's namespace, set up again; the boot unit's program. Returns an exit code."""
    failed = 0
    for record_path in sorted(glob.glob(os.path.join(state_root, "*", "*", RECORD_NAME))):
        state_dir = os.path.dirname(record_path)
        record = read_record(state_dir)
        if record is None:
            continue
        try:
            sys.stdout.write(restore_one(state_dir, record) + "\n")
        except Exception as error:  # noqa: BLE001 - one container's failure must not keep the others down
            failed += 1
            sys.stderr.write(f"{record.get('netns')}: {error}\n")
    return 1 if failed else 0
