# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""CNI for containerd_container: load a network config, run its plugins (ADD/DEL) for a container.

The container's network namespace is a named one (``/run/netns/<name>``, see _netns), so it outlives
the task and containerd's restart monitor starts the task again in the same configured namespace.
"""

from __future__ import annotations

import json
import os
from contextlib import suppress
from typing import Any, Dict, List, Mapping, Optional, Sequence

from ansible_collections.ocistack.engine.plugins.module_utils._errors import OptionError, ToolError

__all__ = [
    "CniNetwork",
    "DEFAULT_CNI_BIN_DIRS",
    "DEFAULT_CNI_CONF_DIR",
    "load_cni_network",
    "netns_name",
]

# --------------------------------------------------------------------------- CNI for containerd_container

NETNS_DIR = "/run/netns"
DEFAULT_CNI_CONF_DIR = "/etc/cni/net.d"
DEFAULT_CNI_BIN_DIRS = ("/opt/cni/bin", "/usr/lib/cni")


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

    The netns (``/run/netns/<name>``, made by ``ip netns add``) outlives the task, so containerd's
    restart monitor starts the task again in the same configured namespace.
    """

    def __init__(self, module: Any, config: Mapping[str, Any], bin_dirs: Sequence[str]) -> None:
        self.module = module
        self.config = config
        self.bin_dirs = list(bin_dirs)

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

    def _call(self, command: str, plugin: Mapping[str, Any], container_id: str, netns: str, prev: Any) -> Any:
        config = dict(plugin)
        config["cniVersion"] = self.config.get("cniVersion") or "0.4.0"
        config["name"] = self.config["name"]
        if prev is not None:
            config["prevResult"] = prev
        environ = {
            "CNI_COMMAND": command,
            "CNI_CONTAINERID": container_id,
            "CNI_NETNS": netns,
            "CNI_IFNAME": "eth0",
            "CNI_PATH": os.pathsep.join(self.bin_dirs),
        }
        cmd = [self._plugin_path(str(plugin.get("type")))]
        rc, out, err = self.module.run_command(cmd, data=json.dumps(config), environ_update=environ)
        if rc != 0:
            try:
                detail = json.loads(out).get("msg") or out
            except ValueError:
                detail = (out or err).strip()
            raise ToolError(
                f"CNI {command} of network {self.config['name']} failed in plugin {plugin.get('type')}: {detail}",
                cmd=cmd,
                rc=rc,
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
