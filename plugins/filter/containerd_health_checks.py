# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The containerd_health_checks filter: containerd's health gate as service_config checks."""

from __future__ import annotations

DOCUMENTATION = r"""
name: containerd_health_checks
author: ocistack.engine contributors
version_added: 1.0.0
short_description: containerd's health gate, as checks for the service_config module
description:
  - Builds the O(ocistack.engine.service_config#module:health) checks the containerd role runs after every
    (re)start of containerd, in order.
  - The socket answers C(ctr version) and the server is the installed version (a daemon that was not replaced
    answers with the old one).
  - Each CRI plugin the configuration enables has loaded (C(ctr plugins ls) shows it V(ok)). These checks do not
    run after a rollback, since the previous configuration may enable other plugins.
  - When O(containers=true), a tiny container of a busybox rootfs runs under each runtime of O(runtimes),
    C(ctr run --rm --runc-binary). The rootfs is made once under O(health_dir) from C(/bin/busybox), installed from
    O(rootfs_package) with apt when missing.
positional: _input
options:
  _input:
    description: The directory of containerd's binaries (C(ctr) is there).
    type: string
    required: true
  address:
    description: containerd's socket.
    type: string
    required: true
  version:
    description:
      - The installed version, as the engine_version filter gives it (V(1.7.24)). Empty before containerd is
        installed (check mode), when any server version passes.
    type: string
    required: true
  cri_plugins:
    description: The CRI plugins that must have loaded, as C(<type>.<id>) (V(io.containerd.grpc.v1.cri)).
    type: list
    elements: string
    default: []
  runtimes:
    description: "Runtime name to the OCI runtime binary a health container runs under (V({runc: runc}))."
    type: dict
    default: {}
  containers:
    description: Whether to run the health containers.
    type: bool
    default: true
  health_dir:
    description: Where the health rootfs lives.
    type: string
    default: /var/lib/ocistack/health
  rootfs_package:
    description: The Debian package that provides C(/bin/busybox).
    type: string
    default: busybox-static
  timeout:
    description: Seconds containerd has to answer after a start (retried every 2 seconds).
    type: int
    default: 60
"""

EXAMPLES = r"""
- name: containerd's configuration and service, behind its health gate
  ocistack.engine.service_config:
    service: containerd
    health: >-
      {{ '/usr/bin' | ocistack.engine.containerd_health_checks(address='/run/containerd/containerd.sock',
         version='1.7.24', cri_plugins=['io.containerd.grpc.v1.cri'], runtimes={'runc': 'runc'}) }}
"""

RETURN = r"""
_value:
  description: The checks, each with C(name), C(argv), C(expect), C(retries) and C(delay) (and C(after_rollback)).
  type: list
  elements: dictionary
"""

import re
from typing import Any, Dict, List, Mapping, Optional, Sequence

from ansible.errors import AnsibleFilterError

__all__ = ["FilterModule", "containerd_health_checks"]

# Makes the rootfs once (busybox from its package when missing), then runs one container in it under
# the runtime binary. The arguments: rootfs, package, ctr, socket, runtime binary, runtime name.
_CONTAINER_SCRIPT = r"""set -eu
rootfs=$1 package=$2 ctr=$3 address=$4 binary=$5 name=$6
if [ ! -x "$rootfs/bin/busybox" ]; then
  if [ ! -x /bin/busybox ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq > /dev/null && apt-get install -y -qq "$package" > /dev/null
  fi
  mkdir -p "$rootfs/bin" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev" "$rootfs/tmp" "$rootfs/etc"
  cp /bin/busybox "$rootfs/bin/busybox.new"
  mv "$rootfs/bin/busybox.new" "$rootfs/bin/busybox"
fi
exec "$ctr" --address "$address" --namespace ocistack-health run --rm --rootfs --runc-binary "$binary" \
  "$rootfs" "probe-$name-$$" /bin/busybox echo "ocistack-health $name"
"""


def containerd_health_checks(
    bin_dir: str,
    *,
    address: str,
    version: str,
    cri_plugins: Optional[Sequence[str]] = None,
    runtimes: Optional[Mapping[str, str]] = None,
    containers: bool = True,
    health_dir: str = "/var/lib/ocistack/health",
    rootfs_package: str = "busybox-static",
    timeout: int = 60,
) -> List[Dict[str, Any]]:
    """The checks, in the order service_config runs them."""
    if not address:
        raise AnsibleFilterError("containerd_health_checks: address is required")
    ctr = f"{str(bin_dir).rstrip('/')}/ctr"
    checks: List[Dict[str, Any]] = [
        {
            "name": f"containerd answers as version {version}" if version else "containerd answers",
            "argv": [ctr, "--address", address, "version"],
            # The server's version after "Server:", with Debian's or a build's suffix (~ds1, +unknown). A
            # daemon that was not replaced answers with the old one. No version (check mode on a host
            # without containerd, where the gate does not run): any answer.
            "expect": r"Server:\s*\n\s*Version:\s+v?" + (re.escape(version) + r"(?=[~+\-\s]|$)" if version else r"\S"),
            "retries": max(int(int(timeout) / 2), 1),
            "delay": 2,
        }
    ]
    for plugin in cri_plugins or ():
        kind, _dot, ident = str(plugin).rpartition(".")
        checks.append(
            {
                "name": f"the CRI plugin {plugin} loaded",
                "argv": [ctr, "--address", address, "plugins", "ls"],
                "expect": rf"(?m)^{re.escape(kind)}\s+{re.escape(ident)}\s.*\bok\s*$",
                "retries": 3,
                "delay": 2,
                "after_rollback": False,
            }
        )
    if containers:
        rootfs = f"{str(health_dir).rstrip('/')}/rootfs"
        for name, binary in sorted((runtimes or {}).items()):
            checks.append(
                {
                    "name": f"a container runs under {name}",
                    "argv": [
                        "/bin/sh",
                        "-c",
                        _CONTAINER_SCRIPT,
                        "health",
                        rootfs,
                        rootfs_package,
                        ctr,
                        address,
                        binary,
                        name,
                    ],
                    "expect": rf"ocistack-health {re.escape(name)}",
                    "retries": 2,
                    "delay": 2,
                    "timeout": max(int(timeout), 30),
                }
            )
    return checks


class FilterModule:
    """Ansible filter plugin entry point."""

    def filters(self) -> dict:
        return {"containerd_health_checks": containerd_health_checks}
