# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The two programs containerd containers need on the host when no Ansible runs.

- ``ocistack-log-driver``: the ``binary://`` log driver containerd's shim starts per task (_log_driver).
- ``ocistack-cni-restore``: run at boot by ``ocistack-cni-restore.service``, ordered before
  containerd, it sets up the CNI network namespaces of the recorded containers again (_cni).

Both are launchers of this collection's own module_utils, copied under ``TOOLS_ROOT/python`` by
the module that needs them (the same source text the module runs, read back through its
loader, so the host never runs another version of the code than the last module did). A
file is written only when its content differs; check mode writes nothing.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from functools import lru_cache
from typing import Dict, Tuple

from ansible_collections.ocistack.engine.plugins.module_utils._errors import ToolError

__all__ = [
    "BOOT_UNIT",
    "LOG_DRIVER",
    "STATE_ROOT",
    "TOOLS_ROOT",
    "ensure_apparmor_profile",
    "ensure_boot_unit",
    "ensure_tools",
]

TOOLS_ROOT = "/usr/local/lib/ocistack"
LOG_DRIVER = TOOLS_ROOT + "/bin/ocistack-log-driver"
CNI_RESTORE = TOOLS_ROOT + "/bin/ocistack-cni-restore"
# Per container: its resolv.conf, hosts, hostname and CNI record (<namespace>/<name>/); survives reboots.
STATE_ROOT = "/var/lib/ocistack/containers"
BOOT_UNIT = "ocistack-cni-restore.service"
UNIT_DIR = "/etc/systemd/system"
_PACKAGE = "ansible_collections.ocistack.engine.plugins.module_utils"
_MODULES = ("_errors", "_netns", "_etc_files", "_cni", "_log_driver")
_LAUNCHER = """#!{python} -I
# Written by ocistack.engine: {what}
import sys

sys.path.insert(0, {path!r})
from {package}.{module} import {function}

sys.exit({call})
"""
_UNIT = f"""# Written by ocistack.engine: the CNI network namespaces of containerd containers, set up again at
# boot before containerd's restart monitor starts their tasks.
[Unit]
Description=Restore the CNI networks of ocistack.engine containers
After=local-fs.target network.target
Before=containerd.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart={CNI_RESTORE}

[Install]
WantedBy=multi-user.target containerd.service
"""


def _write_if_changed(path: str, text: str, mode: int) -> bool:
    try:
        with open(path) as handle:
            if handle.read() == text and (os.stat(path).st_mode & 0o777) == mode:
                return False
    except OSError:
        pass
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    # A temp file of its own: a batch's threads may install the same file at the same moment.
    handle_fd, temp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=os.path.dirname(path))
    with os.fdopen(handle_fd, "w") as handle:
        handle.write(text)
    os.chmod(temp, mode)
    os.replace(temp, path)
    return True


def _wanted_files() -> Dict[str, tuple]:
    files: Dict[str, tuple] = {}
    python_root = os.path.join(TOOLS_ROOT, "python")
    for name in _MODULES:
        module = importlib.import_module(f"{_PACKAGE}.{name}")
        source = module.__loader__.get_source(module.__name__)  # type: ignore[union-attr]
        path = os.path.join(python_root, *_PACKAGE.split("."), f"{name}.py")
        files[path] = (source, 0o644)
    python = sys.executable or "/usr/bin/python3"
    files[LOG_DRIVER] = (
        _LAUNCHER.format(
            python=python,
            what="the log driver of containerd tasks (binary:// log URI)",
            path=python_root,
            package=_PACKAGE,
            module="_log_driver",
            function="run_driver",
            call="run_driver(sys.argv[1:], __import__('os').environ)",
        ),
        0o755,
    )
    files[CNI_RESTORE] = (
        _LAUNCHER.format(
            python=python,
            what=f"run by {BOOT_UNIT} at boot",
            path=python_root,
            package=_PACKAGE,
            module="_cni",
            function="restore_all",
            call=f"restore_all({STATE_ROOT!r})",
        ),
        0o755,
    )
    return files


_INSTALL_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def ensure_tools() -> Tuple[str, ...]:
    """Install or refresh the programs (once per module run, however many containers); returns the paths written."""
    with _INSTALL_LOCK:
        return tuple(path for path, (text, mode) in _wanted_files().items() if _write_if_changed(path, text, mode))


def systemd_running() -> bool:
    return os.path.isdir("/run/systemd/system")


@lru_cache(maxsize=1)
def ensure_boot_unit() -> Tuple[str, ...]:
    """Install and enable the boot unit (systemd hosts only, once per module run); returns the paths written."""
    if not systemd_running():
        return ()
    with _INSTALL_LOCK:
        return _install_boot_unit()


def _install_boot_unit() -> Tuple[str, ...]:
    written = []
    unit_path = os.path.join(UNIT_DIR, BOOT_UNIT)
    if _write_if_changed(unit_path, _UNIT, 0o644):
        written.append(unit_path)
    for target in ("multi-user.target", "containerd.service"):
        link = os.path.join(UNIT_DIR, f"{target}.wants", BOOT_UNIT)
        if os.path.islink(link) and os.readlink(link) == unit_path:
            continue
        os.makedirs(os.path.dirname(link), exist_ok=True)
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(unit_path, link)
        written.append(link)
    if written:
        subprocess.run(["systemctl", "daemon-reload"], capture_output=True, check=False)
    return tuple(written)


APPARMOR_PROFILE_PATH = "/etc/apparmor.d/ocistack-default"
# The collection's own default profile for containers: what a container process may not touch on the
# host even as root (its own mount table, the kernel's tunables and memory, the host's cgroups).
_APPARMOR_PROFILE = """# Written by ocistack.engine: the default AppArmor profile of its containers.
abi <abi/3.0>,
#include <tunables/global>

profile ocistack-default flags=(attach_disconnected,mediate_deleted) {
  #include <abstractions/base>

  network,
  capability,
  file,
  umount,
  signal,
  ptrace peer=ocistack-default,

  # Its own mounts are runc's business, made before the profile applies.
  deny mount,
  # Kernel tunables, memory and triggers of the host.
  deny /proc/sys/** w,
  deny /proc/sysrq-trigger rwklx,
  deny /proc/kcore rwklx,
  deny /proc/kmem rwklx,
  deny /proc/mem rwklx,
  deny /sys/** w,
  deny /sys/firmware/** rwklx,
  deny /sys/kernel/security/** rwklx,
}
"""


def _loaded_apparmor_profiles() -> str:
    try:
        with open("/sys/kernel/security/apparmor/profiles") as handle:
            return handle.read()
    except OSError:
        return ""


def ensure_apparmor_profile(name: str) -> bool:
    """Load the collection's default profile ``name`` unless the kernel has it; True when it loaded it."""
    if any(line.split(" (", 1)[0] == name for line in _loaded_apparmor_profiles().splitlines()):
        return False
    parser = shutil.which("apparmor_parser") or "/sbin/apparmor_parser"
    if not os.access(parser, os.X_OK):
        raise ToolError(
            f"AppArmor is enabled but apparmor_parser is missing, so the profile {name} cannot be loaded; "
            "install the apparmor package, or set apparmor_profile: unconfined"
        )
    _write_if_changed(APPARMOR_PROFILE_PATH, _APPARMOR_PROFILE, 0o644)
    process = subprocess.run([parser, "-r", "-W", APPARMOR_PROFILE_PATH], capture_output=True, text=True, check=False)
    if process.returncode != 0:
        raise ToolError(f"loading the AppArmor profile {name} failed: {process.stderr.strip()}")
    return True
