# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one OCI runtime CLI client: runc, crun, runsc (gVisor) and any binary with the same CLI.

Every call of the runtime binary and every parse of its output lives here. The runtime's
JSON (``list --format json``) is parsed, never its text tables. Drift of a bundle is decided
by identity: the digest of config.json at creation time is kept in a small record file in
the runtime's state directory (``<root>/.ocistack-<id>.json``) and compared with the digest
of the bundle's config.json now.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ansible_collections.ocistack.engine.plugins.module_utils._compare import Difference, compare
from ansible_collections.ocistack.engine.plugins.module_utils._errors import OptionError, ToolError
from ansible_collections.ocistack.engine.plugins.module_utils._oci_spec import (
    MIN_MEMORY,
    NAMESPACE_TYPES,
    spec_digest,
)
from ansible_collections.ocistack.engine.plugins.module_utils._units import parse_signal

__all__ = [
    "CONTAINER_STATES",
    "DEFAULT_ROOTS",
    "RuntimeClient",
    "bundle_problems",
    "container_view",
    "desired_view",
    "ensure_container",
    "list_containers",
    "parse_list",
    "plan_actions",
    "read_bundle",
    "resolve_root",
    "resolve_signal",
    "validate_container_id",
    "validate_runtime_flags",
]

# Desired states of runc_container (the runtime's own statuses plus "absent").
CONTAINER_STATES = ("running", "created", "paused", "stopped", "absent")
# Where each known runtime keeps its state when called without --root.
DEFAULT_ROOTS = {"runc": "/run/runc", "crun": "/run/crun", "runsc": "/var/run/runsc"}
# The runtimes' own rule for container ids (runc: ^[\w+-\.]+$).
_ID_RE = re.compile(r"^[A-Za-z0-9_+\-.]+$")
_RECORD_PREFIX = ".ocistack-"
# Statuses in which a container has a process that must be stopped before it is deleted.
_LIVE_STATUSES = ("running", "paused", "created")
_POLL_SECONDS = 0.1
# After SIGKILL the kernel needs a moment to reap; a container still alive after this is an error.
_KILL_GRACE_SECONDS = 10.0
_CREATE_TIMEOUT_SECONDS = 120


# ---------------------------------------------------------------------------------------------
# Pure functions: validation, parsing, planning (unit-tested)
# ---------------------------------------------------------------------------------------------


def validate_container_id(name: Any) -> str:
    """Container ids the runtimes accept: letters, digits, ``_ + - .``; no slash, not ``.``/``..``."""
    if not isinstance(name, str) or not name:
        raise OptionError("name", "give a container id (letters, digits, _ + - .)")
    if not _ID_RE.match(name) or name in (".", ".."):
        raise OptionError(
            "name", f"{name!r} is not a valid container id; use only letters, digits and _ + - . (no slash or space)"
        )
    if len(name) > 1024:
        raise OptionError("name", "is longer than 1024 characters")
    return name


def validate_runtime_flags(flags: Optional[List[str]]) -> List[str]:
    """Extra global flags for the runtime (e.g. ``--network=none`` for runsc); ``--root`` has its own option."""
    result = []
    for flag in flags or []:
        if not isinstance(flag, str) or not flag.startswith("-"):
            raise OptionError("runtime_flags", f"{flag!r} is not a flag; give global flags such as --network=none")
        if flag.split("=", 1)[0].lstrip("-") == "root":
            raise OptionError("runtime_flags", "do not pass --root here; use the root option")
        result.append(flag)
    return result


def resolve_signal(value: Any, option: str = "stop_signal") -> int:
    """``"SIGTERM"``, ``"term"``, ``"15"`` or ``15`` -> 15; unknown names raise OptionError."""
    return parse_signal(value, option)[1]


def resolve_root(root: Optional[str], runtime_name: str) -> str:
    """The runtime's state directory: ``root`` if given (absolute), else the runtime's known default."""
    if root:
        if not os.path.isabs(root):
            raise OptionError("root", f"{root!r} is relative; give an absolute directory such as /run/runc")
        return os.path.normpath(root)
    default = DEFAULT_ROOTS.get(runtime_name)
    if default is None:
        raise OptionError(
            "root", f"the runtime {runtime_name!r} has no known default state directory; set root explicitly"
        )
    return default


def bundle_problems(config: Mapping[str, Any]) -> List[str]:
    """What in a bundle's config.json would make a detached container fail; empty when fine.

    Pure: checks of the file system (rootfs, namespace paths) are made by ``read_bundle``.
    """
    problems: List[str] = []
    process = config.get("process")
    if not isinstance(process, Mapping):
        return ["config.json has no process object; rebuild the bundle (e.g. with oci_bundle)"]
    if process.get("terminal"):
        problems.append(
            "process.terminal is true; a detached container needs terminal false (its output goes to the output file)"
        )
    args = process.get("args")
    if not isinstance(args, list) or not args or not all(isinstance(arg, str) for arg in args):
        problems.append("process.args must be a non-empty list of strings")
    user = process.get("user", {})
    for key in ("uid", "gid"):
        value = user.get(key, 0) if isinstance(user, Mapping) else None
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 4294967294:
            problems.append(f"process.user.{key} {value!r} is not a valid id; give an integer from 0 to 4294967294")
    root = config.get("root")
    if not isinstance(root, Mapping) or not isinstance(root.get("path"), str) or not root.get("path"):
        problems.append("root.path is missing; the bundle needs a root file system (usually rootfs)")
    linux = config.get("linux", {})
    if not isinstance(linux, Mapping):
        problems.append("linux must be an object")
        return problems
    for index, namespace in enumerate(linux.get("namespaces") or []):
        ns_type = namespace.get("type") if isinstance(namespace, Mapping) else None
        if ns_type not in NAMESPACE_TYPES:
            problems.append(
                f"linux.namespaces[{index}] has unknown type {ns_type!r}; choose from {', '.join(NAMESPACE_TYPES)}"
            )
        path = namespace.get("path") if isinstance(namespace, Mapping) else None
        if path is not None and (not isinstance(path, str) or not os.path.isabs(path)):
            problems.append(f"linux.namespaces[{index}].path {path!r} must be an absolute path")
    memory = ((linux.get("resources") or {}).get("memory") or {}).get("limit")
    invalid_memory = isinstance(memory, bool) or not isinstance(memory, int) or memory < MIN_MEMORY
    if memory is not None and memory != -1 and invalid_memory:
        problems.append(
            f"linux.resources.memory.limit {memory!r} is below the kernel minimum of {MIN_MEMORY} bytes (6 MiB)"
        )
    return problems


def parse_list(text: str) -> List[Dict[str, Any]]:
    """``<runtime> list --format json`` -> list of container state dicts (runc/runsc print ``null`` for none)."""
    text = text.strip()
    if not text:
        return []
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ToolError(f"the runtime printed a container list that is not JSON: {exc}") from exc
    if data is None:
        return []
    if not isinstance(data, list) or not all(isinstance(item, dict) and "id" in item for item in data):
        raise ToolError("the runtime's container list is not a JSON list of containers")
    return data


def container_view(state: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """The runtime state reduced to what the module returns: id, pid, status, bundle (+ created, annotations)."""
    if not state:
        return {}
    view = {key: state.get(key) for key in ("id", "pid", "status", "bundle")}
    for optional in ("created", "annotations"):
        if optional in state:
            view[optional] = state[optional]
    return view


def desired_view(
    state: str, bundle: Optional[str], digest: Optional[str], output: Optional[str] = None
) -> Dict[str, Any]:
    """What the module compares: state, bundle path, config digest and output file (only state when absent).

    ``output`` None means "not managed" (compare skips it).
    """
    if state == "absent":
        return {"state": "absent"}
    return {"state": state, "bundle": bundle, "config_digest": digest, "output": output}


def _actual_view(current: Optional[Mapping[str, Any]], record: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    if current is None:
        return {"state": "absent", "bundle": None, "config_digest": None, "output": None}
    # The record belongs to this container only if it names the bundle the runtime reports.
    if not record or record.get("bundle") != current.get("bundle"):
        record = {}
    return {
        "state": current.get("status"),
        "bundle": current.get("bundle"),
        "config_digest": record.get("config_digest"),
        "output": record.get("output"),
    }


def plan_actions(
    desired: str,
    current: Optional[Mapping[str, Any]],
    record: Optional[Mapping[str, Any]],
    bundle: str,
    digest: str,
    *,
    output: Optional[str] = None,
) -> Tuple[List[str], Difference]:
    """The runtime calls that turn ``current`` into ``desired``, and the difference they realise.

    Actions: ``stop`` (signal, wait, SIGKILL), ``delete``, ``create``, ``start``, ``resume``, ``pause``.
    A container whose bundle, config.json digest or output file (when given) differs from what it was
    created with, or whose
    state the runtime cannot reach in place (stopped -> running, running -> created), is recreated.
    """
    actual = _actual_view(current, record)
    difference = compare(desired_view(desired, bundle, digest, output), actual)
    status = actual["state"] if current is not None else None
    actions: List[str] = []
    if desired == "absent":
        if status is not None:
            actions.extend((["stop"] if status in _LIVE_STATUSES else []) + ["delete"])
        return actions, difference
    if status is not None:
        drifted = (
            actual["bundle"] != bundle
            or actual["config_digest"] != digest
            or (output is not None and actual["output"] != output)
        )
        unreachable = (desired != "stopped" and status == "stopped") or (desired == "created" and status != "created")
        if drifted or unreachable:
            actions.extend((["stop"] if status in _LIVE_STATUSES else []) + ["delete"])
            status = None
    if status is None:
        actions.append("create")
        status = "created"
    if desired == "stopped":
        if status in _LIVE_STATUSES:
            actions.append("stop")
    elif desired in ("running", "paused"):
        if status == "created":
            actions.append("start")
        elif status == "paused" and desired == "running":
            actions.append("resume")
        if desired == "paused" and status != "paused":
            actions.append("pause")
    return actions, difference


# ---------------------------------------------------------------------------------------------
# Host side: the bundle on disk and the runtime binary
# ---------------------------------------------------------------------------------------------


def read_bundle(bundle: str) -> Tuple[Dict[str, Any], str]:
    """Validate the bundle directory and return its config.json and the config's digest."""
    if not isinstance(bundle, str) or not os.path.isabs(bundle):
        raise OptionError("bundle", f"{bundle!r} is not an absolute path; give the bundle directory's full path")
    bundle = os.path.normpath(bundle)
    config_path = os.path.join(bundle, "config.json")
    if not os.path.isdir(bundle):
        raise OptionError("bundle", f"{bundle} is not a directory; create the bundle first (e.g. with oci_bundle)")
    if not os.path.isfile(config_path):
        raise OptionError("bundle", f"{config_path} does not exist; create the bundle first (e.g. with oci_bundle)")
    try:
        with open(config_path, encoding="utf-8") as handle:
            config = json.load(handle)
    except ValueError as exc:
        raise OptionError("bundle", f"{config_path} is not valid JSON ({exc}); rebuild the bundle") from exc
    if not isinstance(config, dict):
        raise OptionError("bundle", f"{config_path} is not a JSON object; rebuild the bundle")
    problems = bundle_problems(config)
    if not problems:
        rootfs = config["root"]["path"]
        rootfs = rootfs if os.path.isabs(rootfs) else os.path.join(bundle, rootfs)
        if not os.path.isdir(rootfs):
            problems.append(f"the root file system {rootfs} does not exist; unpack an image into it (oci_bundle)")
        for namespace in (config.get("linux") or {}).get("namespaces") or []:
            path = namespace.get("path")
            if path and not os.path.exists(path):
                problems.append(
                    f"the {namespace['type']} namespace {path} does not exist; create it first (e.g. with netns)"
                )
    if problems:
        raise OptionError("bundle", f"{config_path}: " + "; ".join(problems))
    return config, spec_digest(config)


class RuntimeClient:
    """Calls one OCI runtime binary with one state directory (``--root``)."""

    def __init__(
        self,
        module: Any,
        runtime: str = "runc",
        root: Optional[str] = None,
        flags: Optional[List[str]] = None,
    ) -> None:
        self.module = module
        self.binary = self._resolve_binary(module, runtime)
        self.name = os.path.basename(self.binary)
        self.root = resolve_root(root, self.name)
        self.flags = validate_runtime_flags(flags)

    @staticmethod
    def _resolve_binary(module: Any, runtime: str) -> str:
        if not runtime or not isinstance(runtime, str):
            raise OptionError("runtime", "give a runtime name (runc, crun, runsc) or the absolute path of its binary")
        if "/" in runtime:
            if not os.path.isabs(runtime):
                raise OptionError("runtime", f"{runtime!r} is a relative path; give a name on PATH or an absolute path")
            if not (os.path.isfile(runtime) and os.access(runtime, os.X_OK)):
                raise OptionError("runtime", f"{runtime} does not exist or is not executable; install the runtime")
            return runtime
        found = module.get_bin_path(runtime)
        if not found:
            raise OptionError(
                "runtime", f"the runtime binary {runtime!r} was not found on PATH; install it or give its absolute path"
            )
        return found

    # -- plumbing ---------------------------------------------------------------------------------

    def command(self, *args: str) -> List[str]:
        return [self.binary, "--root", self.root, *self.flags, *args]

    def call(self, *args: str) -> str:
        cmd = self.command(*args)
        rc, out, err = self.module.run_command(cmd)
        if rc != 0:
            raise ToolError(
                f"{self.name} {args[0]} failed (rc={rc}): {err.strip() or out.strip()}", cmd=cmd, rc=rc, stderr=err
            )
        return out

    # -- queries ----------------------------------------------------------------------------------

    def list(self) -> List[Dict[str, Any]]:
        if not os.path.isdir(self.root):
            return []  # nothing was ever created under this root; some runtimes fail on a missing root
        return parse_list(self.call("list", "--format", "json"))

    def get(self, container_id: str) -> Optional[Dict[str, Any]]:
        for state in self.list():
            if state.get("id") == container_id:
                return state
        return None

    def status(self, container_id: str) -> Optional[str]:
        state = self.get(container_id)
        return state.get("status") if state else None

    # -- the digest record ------------------------------------------------------------------------

    def record_path(self, container_id: str) -> str:
        return os.path.join(self.root, f"{_RECORD_PREFIX}{container_id}.json")

    def read_record(self, container_id: str) -> Optional[Dict[str, Any]]:
        try:
            with open(self.record_path(container_id), encoding="utf-8") as handle:
                record = json.load(handle)
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) else None

    def write_record(self, container_id: str, bundle: str, digest: str, output: Optional[str]) -> None:
        path = self.record_path(container_id)
        temporary = path + ".tmp"
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump({"bundle": bundle, "config_digest": digest, "output": output}, handle)
        os.replace(temporary, path)

    def remove_record(self, container_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.record_path(container_id))

    # -- lifecycle --------------------------------------------------------------------------------

    def create(self, container_id: str, bundle: str, digest: str, output: Optional[str]) -> None:
        """``create`` with the container's stdio on ``output`` (appended) and stdin /dev/null.

        module.run_command cannot give a child a file as its stdout/stderr, and the container
        inherits the runtime's stdio: pipes would keep the module waiting for the container to
        exit. So this one call uses subprocess with the file itself; the runtime's own error
        message lands in the same file and is read back from where it started.
        """
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        cmd = self.command("create", "--bundle", bundle, container_id)
        target = output or os.devnull
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
        descriptor = os.open(target, flags, 0o640)
        start_offset = os.lseek(descriptor, 0, os.SEEK_END) if output else 0
        try:
            with open(os.devnull, "rb") as stdin:
                proc = subprocess.run(
                    cmd,
                    stdin=stdin,
                    stdout=descriptor,
                    stderr=descriptor,
                    cwd=bundle,
                    timeout=_CREATE_TIMEOUT_SECONDS,
                    check=False,
                )
        except subprocess.TimeoutExpired as exc:
            raise ToolError(f"{self.name} create did not return within {_CREATE_TIMEOUT_SECONDS}s", cmd=cmd) from exc
        finally:
            os.close(descriptor)
        if proc.returncode != 0:
            message = _read_from(output, start_offset) if output else "(set output to capture the runtime's message)"
            raise ToolError(
                f"{self.name} create failed (rc={proc.returncode}): {message}",
                cmd=cmd,
                rc=proc.returncode,
                stderr=message,
            )
        self.write_record(container_id, bundle, digest, output)

    def start(self, container_id: str) -> None:
        self.call("start", container_id)

    def pause(self, container_id: str) -> None:
        self.call("pause", container_id)

    def resume(self, container_id: str) -> None:
        self.call("resume", container_id)

    def delete(self, container_id: str) -> None:
        if self.status(container_id) is not None:
            self.call("delete", "--force", container_id)
        self.remove_record(container_id)

    def kill(self, container_id: str, signal_number: int) -> None:
        try:
            self.call("kill", container_id, str(signal_number))
        except ToolError:
            # The process may have exited between our look and the kill; only a live one is an error.
            if self.status(container_id) in ("running", "paused"):
                raise

    def wait_for(self, container_id: str, statuses: Tuple[str, ...], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            if self.status(container_id) in statuses:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(_POLL_SECONDS)

    def stop(self, container_id: str, signal_number: int, timeout: float) -> None:
        """Send ``signal_number``, wait up to ``timeout`` seconds, then SIGKILL; ends in status stopped."""
        status = self.status(container_id)
        if status in (None, "stopped"):
            return
        if status == "paused":
            self.resume(container_id)  # a frozen process cannot act on (or die of) a signal
        if status != "created" and timeout > 0:
            # A created container runs only the runtime's init, which has nothing to shut down gracefully.
            self.kill(container_id, signal_number)
            if self.wait_for(container_id, ("stopped",), timeout):
                return
        self.kill(container_id, int(signal.SIGKILL))
        if not self.wait_for(container_id, ("stopped",), _KILL_GRACE_SECONDS):
            raise ToolError(f"container {container_id} did not stop after SIGKILL; see `{self.name} state`")


def _read_from(path: str, offset: int, limit: int = 4000) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            return handle.read(limit).decode("utf-8", "replace").strip()
    except OSError:
        return ""


def list_containers(client: RuntimeClient, name: Optional[str] = None) -> List[Dict[str, Any]]:
    """Containers under the client's root (optionally only ``name``), as ``container_view`` dicts."""
    return [container_view(state) for state in client.list() if name is None or state.get("id") == name]


def _check_output(output: Optional[str]) -> Optional[str]:
    if output is None:
        return None
    if not os.path.isabs(output):
        raise OptionError("output", f"{output!r} is relative; give an absolute file path")
    parent = os.path.dirname(output) or "/"
    if not os.path.isdir(parent):
        raise OptionError("output", f"the directory {parent} does not exist; create it first")
    if os.path.isdir(output):
        raise OptionError("output", f"{output} is a directory; give a file path")
    return output


def ensure_container(module: Any, params: Mapping[str, Any]) -> Dict[str, Any]:
    """Converge one container to ``params['state']``; returns the module result (changed, diff, container)."""
    # Validate everything before touching the host.
    container_id = validate_container_id(params["name"])
    desired = params["state"]
    signal_number = resolve_signal(params.get("stop_signal") or "SIGTERM")
    stop_timeout = params.get("stop_timeout")
    stop_timeout = 10 if stop_timeout is None else stop_timeout
    if stop_timeout < 0:
        raise OptionError("stop_timeout", f"{stop_timeout} is negative; give seconds to wait (0 or more)")
    output = _check_output(params.get("output"))
    client = RuntimeClient(module, params.get("runtime") or "runc", params.get("root"), params.get("runtime_flags"))
    bundle = digest = None
    if desired != "absent":
        if not params.get("bundle"):
            raise OptionError("bundle", f"is required when state is {desired}")
        bundle = os.path.normpath(params["bundle"]) if os.path.isabs(params["bundle"]) else params["bundle"]
        _config, digest = read_bundle(bundle)

    current = client.get(container_id)
    record = client.read_record(container_id) if current is not None else None
    actions, difference = plan_actions(desired, current, record, bundle or "", digest or "", output=output)
    result: Dict[str, Any] = {"changed": bool(actions), "actions": actions}
    if module._diff:
        result["diff"] = difference.diff()
    if module.check_mode or not actions:
        result["container"] = container_view(current)
        return result

    for action in actions:
        if action == "stop":
            client.stop(container_id, signal_number, stop_timeout)
        elif action == "delete":
            client.delete(container_id)
        elif action == "create":
            client.create(container_id, bundle, digest, output)
        elif action == "start":
            client.start(container_id)
        elif action == "resume":
            client.resume(container_id)
        elif action == "pause":
            client.pause(container_id)
    result["container"] = container_view(client.get(container_id))
    return result
