# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""containerd_container and containerd_container_info: converge one container (ContainerManager),
with what a run has read from containerd shared by every container it handles (ContainerdView).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import time
from contextlib import suppress
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.ocistack.engine.plugins.module_utils._cni import (
    DEFAULT_CNI_CONF_DIR,
    RECORD_NAME,
    CniNetwork,
    format_ports,
    load_cni_network,
    netns_name,
    parse_published_ports,
    rewrite_in_place,
    write_record,
)
from ansible_collections.ocistack.engine.plugins.module_utils._compare import compare
from ansible_collections.ocistack.engine.plugins.module_utils._container_request import (
    ETC_FILES,
    LABEL_CNI_CONF_DIR,
    LABEL_IMAGE,
    LABEL_IMAGE_DIGEST,
    LABEL_LOG,
    LABEL_NETWORK,
    LABEL_PORTS,
    LABEL_PREFIX,
    LABEL_RESTART_LOGURI,
    LABEL_RESTART_POLICY,
    LABEL_RESTART_STATUS,
    LABEL_RUNTIME,
    LABEL_RUNTIME_OPTIONS,
    LABEL_SNAPSHOT,
    LABEL_SPEC_DIGEST,
    LABEL_STOP_SIGNAL,
    LABEL_STOP_TIMEOUT,
    ContainerRequest,
    actual_identity,
    spec_without_rootfs,
    status_of,
)
from ansible_collections.ocistack.engine.plugins.module_utils._containerd_view import ContainerdView
from ansible_collections.ocistack.engine.plugins.module_utils._ctr import (
    DEFAULT_NAMESPACE,
    chain_id,
    client_from_params,
)
from ansible_collections.ocistack.engine.plugins.module_utils._errors import OcistackError, OptionError, ToolError
from ansible_collections.ocistack.engine.plugins.module_utils._etc_files import (
    RESOLVED_UPSTREAM,
    render_hostname,
    render_hosts,
    render_resolv_conf,
)
from ansible_collections.ocistack.engine.plugins.module_utils._health import wait_healthy
from ansible_collections.ocistack.engine.plugins.module_utils._host_tools import (
    ensure_apparmor_profile,
    ensure_boot_unit,
    ensure_tools,
)
from ansible_collections.ocistack.engine.plugins.module_utils._log_driver import (
    DEFAULT_LOG_DIR,
    file_log_path,
    log_identity,
    read_file_logs,
    read_journal_logs,
    uri_for_identity,
)
from ansible_collections.ocistack.engine.plugins.module_utils._netns import (
    NETNS_DIR,
    create_netns,
    delete_netns,
    netns_addresses,
)
from ansible_collections.ocistack.engine.plugins.module_utils._oci_security import DEFAULT_APPARMOR_PROFILE
from ansible_collections.ocistack.engine.plugins.module_utils._oci_spec import spec_digest
from ansible_collections.ocistack.engine.plugins.module_utils._registry import RegistryAccess, access_from_params
from ansible_collections.ocistack.engine.plugins.module_utils._server import resolve_runtime

__all__ = [
    "container_info",
    "ContainerManager",
    "manage_container",
]

# Marks "not read yet" where None already means "no such container".
_UNREAD: Any = object()


class HealthError(OcistackError):
    """A (re)created container did not become healthy (the message says whether it was rolled back)."""


class ContainerManager:
    """Converges one containerd container: decides by identity labels, acts through Ctr.

    containerd_container runs one; containerd_containers runs many sharing one ContainerdView.
    """

    def __init__(self, module: Any, request: ContainerRequest, view: ContainerdView, access: RegistryAccess) -> None:
        self.module = module
        self.check_mode = module.check_mode
        self.request = request
        self.params = request.params
        self.platform = request.platform
        self.access = access
        self.view = view
        self.client = view.client
        self.actions: List[str] = []
        self.cni_result: Any = None
        self._diff_ids: List[str] = []
        # The container a recreate replaced, kept (with its snapshot and files) until the new one is healthy.
        self._kept: Optional[Dict[str, Any]] = None
        self.health: Optional[str] = None
        self.rolled_back = False

    # -- observing

    def observe(self) -> Optional[Dict[str, Any]]:
        info = self.view.container(self.request.name)
        if info is None:
            return None
        task = self.view.task(self.request.name)
        info["task"] = task
        info["status"] = status_of(task, info["labels"])
        return info

    def public(self, info: Optional[Mapping[str, Any]]) -> Optional[Dict[str, Any]]:
        if info is None:
            return None
        identity = actual_identity(info)
        task = info.get("task") or {}
        return {
            "name": info["id"],
            "image": identity["image"],
            "image_digest": identity["image_digest"],
            "status": info["status"],
            "pid": task.get("pid") if info["status"] == "running" else None,
            "runtime": identity["runtime"],
            "labels": identity["labels"],
            "restart_policy": identity["restart_policy"],
            "spec_digest": identity["spec_digest"],
            "network": identity["network"],
            "addresses": self._addresses(identity["network"]),
            "published_ports": identity["published_ports"],
            "log_driver": identity["log"].split(":", 1)[0],
        }

    def _addresses(self, network: str) -> List[str]:
        if not network.startswith("cni:"):
            return []
        return netns_addresses(self._netns()[0])

    # -- image and desired spec

    def resolve_image(self) -> Optional[Dict[str, Any]]:
        """The local image to run (pulling per ``pull``); None only in check mode when it would be pulled."""
        reference = self.request.image
        pull = self.params.get("pull") or "missing"
        with self.view.image_lock(reference):
            image = self.view.image(reference)
            if image is None and pull == "never":
                raise OptionError(
                    "pull", f"image {reference} is not present and pull is never; pull it first or allow pull"
                )
            # One pull per reference and run: the containers after the first that pulled it share its result.
            if image is not None and (pull != "always" or self.view.pulled(reference)):
                return image
            if self.check_mode:
                if image is None or self.view.remote_digest(reference, self.access) != image["digest"]:
                    self.actions.append(f"pull {reference}")
                    return None
                return image
            previous = image
            image = self.view.pull(reference, self.access, self.platform)
            if image is None:
                raise ToolError(f"image {reference} is still missing after the pull")
            if previous is None or previous["digest"] != image["digest"]:
                self.actions.append(f"pull {reference}")
        return image

    def desired(self, image: Optional[Mapping[str, Any]]) -> Tuple[Dict[str, Any], Optional[Dict[str, Any]]]:
        request = self.request
        identity: Dict[str, Any] = {
            "image": request.image,
            "image_digest": image["digest"] if image else "(to be pulled)",
            "spec_digest": "(from the pulled image)",
            "runtime": request.runtime_name,
            "labels": request.labels,
            "restart_policy": request.restart_policy,
            "stop_signal": request.stop_signal,
            "stop_timeout": str(request.stop_timeout),
            "network": request.network_identity(),
            "published_ports": format_ports(request.ports),
            "log": log_identity(request.log_driver, request.log_options),
        }
        spec = None
        if image is not None:
            details = self.view.image_details(image, self.platform)
            image_config = (details["config"] or {}).get("config") or {}
            spec = request.build(self.client.namespace, image_config)
            identity["spec_digest"] = spec_digest(spec)
            self._diff_ids = list(((details["config"] or {}).get("rootfs") or {}).get("diff_ids") or [])
        return identity, spec

    # -- acting

    def stop(self, info: Mapping[str, Any], restart_labels_off: bool = True) -> None:
        name = self.request.name
        labels = info["labels"]
        if restart_labels_off and labels.get(LABEL_RESTART_STATUS) == "running":
            # First tell the restart monitor, or it brings the task straight back.
            self.client.set_container_labels(name, {LABEL_RESTART_STATUS: "stopped"})
        if info["status"] != "running":
            return
        signal = labels.get(LABEL_STOP_SIGNAL) or "SIGTERM"
        try:
            timeout = int(labels.get(LABEL_STOP_TIMEOUT, "10"))
        except ValueError:
            timeout = 10
        self.client.kill_task(name, signal)
        if not self._wait_stopped(timeout):
            self.client.kill_task(name, "SIGKILL", all_processes=True)
            if not self._wait_stopped(30):
                raise ToolError(f"{name} did not stop after SIGKILL within 30 seconds")

    def _wait_stopped(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            # Straight from containerd, not from the view: this is the one read that must be fresh.
            task = self.client.tasks().get(self.request.name)
            if task is None or task["status"] == "stopped":
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)

    def remove(self, info: Mapping[str, Any], purge: bool = True, keep_snapshot: bool = False) -> None:
        """Stop and remove; ``purge`` also removes its files and logs (not for a recreate)."""
        name = self.request.name
        self.stop(info)
        if info.get("task") is not None:
            self.client.delete_task(name)
        self.client.remove_container(name)
        snapshot = info["labels"].get(LABEL_SNAPSHOT)
        if snapshot and not keep_snapshot:
            self.client.remove_snapshot(snapshot)
        labels = info["labels"]
        network = labels.get(LABEL_NETWORK, "")
        if network.startswith("cni:"):
            ports = parse_published_ports([port for port in labels.get(LABEL_PORTS, "").split(",") if port])
            self._teardown_cni(network[len("cni:") :], labels.get(LABEL_CNI_CONF_DIR), ports)
        if purge:
            # Its resolv.conf, hosts, hostname and CNI record, and its log files: gone with it, as docker does.
            shutil.rmtree(self.request.state_dir, ignore_errors=True)
            for path in glob.glob(file_log_path(DEFAULT_LOG_DIR, self.client.namespace, name) + "*"):
                with suppress(OSError):
                    os.unlink(path)
        self.view.forget(name)

    def _netns(self) -> Tuple[str, str]:
        name = netns_name(self.client.namespace, self.request.name)
        return name, os.path.join(NETNS_DIR, name)

    def _cni_container_id(self) -> str:
        return f"{self.client.namespace}-{self.request.name}"

    def _teardown_cni(self, network: str, conf_dir: Optional[str] = None, ports: Sequence[Any] = ()) -> None:
        netns, path = self._netns()
        # The config dir used at creation (a label) wins: removal needs no network options.
        conf_dir = conf_dir or self.params.get("cni_conf_dir") or DEFAULT_CNI_CONF_DIR
        try:
            config = load_cni_network(conf_dir, network)
        except OptionError:
            # The config is gone: nothing can release the address, but the namespace still goes.
            self.module.warn(f"CNI network {network} has no config in {conf_dir} any more; skipped its DEL")
        else:
            if os.path.exists(path):
                CniNetwork(config, self.request.cni_bin_dirs, ports).delete(self._cni_container_id(), path)
        delete_netns(netns)

    def _prepare_rootfs(self, snapshot_key: str, parent: str) -> List[Dict[str, Any]]:
        try:
            return self.client.prepare_snapshot(snapshot_key, parent)
        except ToolError as error:
            if "already exists" in error.stderr:
                # Left by an interrupted earlier run; it holds nothing of the user's: start clean.
                self.client.remove_snapshot(snapshot_key)
                return self.client.prepare_snapshot(snapshot_key, parent)
            if "not found" in error.stderr:
                raise ToolError(
                    f"image {self.request.image} is not unpacked in the default snapshotter; pull it again "
                    "(pull: always) or import it without --no-unpack",
                    stderr=error.stderr,
                ) from None
            raise

    def create(self, spec: Dict[str, Any], identity: Mapping[str, Any], start: bool = False) -> None:
        """Create the container (and start its task too, with ``start``)."""
        request = self.request
        snapshot_key = f"{LABEL_PREFIX}rootfs.{request.name}"
        if self._kept is not None and self._kept["info"]["labels"].get(LABEL_SNAPSHOT) == snapshot_key:
            snapshot_key += ".next"
        if not self._diff_ids:
            raise ToolError(f"image {request.image} has no layers to run")
        rootfs_mounts = self._prepare_rootfs(snapshot_key, chain_id(self._diff_ids))
        # The image snapshot becomes the container's root: a mount at "/" that the runtime
        # performs on every start (also when containerd's restart monitor starts it).
        full_spec = dict(spec)
        full_spec["mounts"] = rootfs_mounts + list(spec.get("mounts") or [])
        labels = dict(request.labels)
        labels.update(
            {
                LABEL_IMAGE: request.image,
                LABEL_IMAGE_DIGEST: identity["image_digest"],
                LABEL_SPEC_DIGEST: identity["spec_digest"],
                LABEL_SNAPSHOT: snapshot_key,
                LABEL_STOP_SIGNAL: request.stop_signal,
                LABEL_STOP_TIMEOUT: str(request.stop_timeout),
            }
        )
        if request.restart_policy != "no":
            labels[LABEL_RESTART_POLICY] = request.restart_policy
        labels[LABEL_NETWORK] = identity["network"]
        labels[LABEL_RUNTIME] = request.runtime_name
        labels[LABEL_LOG] = identity["log"]
        if request.ports:
            labels[LABEL_PORTS] = ",".join(identity["published_ports"])
        if request.needs_runtime_options() and not start:
            labels[LABEL_RUNTIME_OPTIONS] = "pending"
        if request.cni_config:
            labels[LABEL_CNI_CONF_DIR] = self.params.get("cni_conf_dir") or DEFAULT_CNI_CONF_DIR
        self._install_host_tools()
        if full_spec.get("process", {}).get("apparmorProfile") == DEFAULT_APPARMOR_PROFILE:
            ensure_apparmor_profile(DEFAULT_APPARMOR_PROFILE)
        addresses: List[str] = []
        cni = None
        if request.cni_config:
            netns, path = self._netns()
            cni = CniNetwork(request.cni_config, request.cni_bin_dirs, request.ports)
            cni.check_plugins()
            create_netns(netns)
            try:
                self.cni_result = cni.add(self._cni_container_id(), path)
            except Exception:
                delete_netns(netns)
                self.client.remove_snapshot(snapshot_key)
                raise
            addresses = [str(ip["address"]) for ip in (self.cni_result or {}).get("ips") or [] if ip.get("address")]
        try:
            self._write_etc_files(addresses)
            if request.cni_config:
                write_record(
                    request.state_dir,
                    {
                        "netns": self._netns()[0],
                        "cni_id": self._cni_container_id(),
                        "config": request.cni_config,
                        "bin_dirs": request.cni_bin_dirs,
                        "ports": request.ports,
                        "hostname": request.hostname,
                        "etc_hosts": request.dns["etc_hosts"],
                    },
                )
            self.client.create_container(
                request.name,
                full_spec,
                labels,
                request.runtime.shim,
                start=start,
                log_uri=request.log_uri(),
                runc_binary=request.runtime.binary,
                systemd_cgroup=request.cgroup_driver == "systemd",
            )
        except Exception:
            if start:
                # The container may exist with a task that failed: leave nothing that points at the snapshot.
                with suppress(ToolError):
                    self.client.remove_container(request.name)
            self.client.remove_snapshot(snapshot_key)
            if cni is not None:
                self._teardown_cni(request.cni_config["name"], self.params.get("cni_conf_dir"))
            raise
        # What containerd stores is what we just wrote: no need to read it back.
        self.view.remember(
            request.name,
            {"id": request.name, "labels": labels, "image": "", "runtime": request.runtime.shim, "spec": full_spec},
        )

    def _install_host_tools(self) -> None:
        """The log driver and, for CNI containers on systemd hosts, the boot-time network restore."""
        ensure_tools()
        if self.request.cni_config:
            ensure_boot_unit()

    def _write_etc_files(self, addresses: Sequence[str]) -> None:
        request = self.request
        if request.network == "host":
            return
        os.makedirs(request.state_dir, mode=0o755, exist_ok=True)
        host_resolv = _read_text("/etc/resolv.conf")
        files = {
            "resolv.conf": render_resolv_conf(request.dns, host_resolv, _read_text(RESOLVED_UPSTREAM) or None),
            "hosts": render_hosts(request.hostname, addresses, request.dns["etc_hosts"]),
            "hostname": render_hostname(request.hostname),
        }
        for name, text in files.items():
            rewrite_in_place(os.path.join(request.state_dir, name), text)

    def start(self, has_task: bool, started: bool = False) -> None:
        """Start the task (unless ``started`` by create), then hand it to the restart monitor if asked."""
        name = self.request.name
        if not started:
            if has_task:
                # An exited task keeps its id until deleted; a new one cannot start before that.
                self.client.delete_task(name)
            self.client.start_task(name, self.request.log_uri())
            self.view.forget(name)
        restart = self.request.restart_labels(True)
        if restart:
            self.client.set_container_labels(name, restart)
            self.view.labelled(name, restart)

    # -- the run

    def run(self, before: Any = _UNREAD, observe_after: bool = True) -> Dict[str, Any]:
        """Converge and return the module result.

        ``before`` is the container as already observed (the batch reads all of them first);
        with ``observe_after`` false the caller fills ``result["container"]`` with ``finish()``.
        """
        request = self.request
        if before is _UNREAD:
            before = self.observe()
        result: Dict[str, Any] = {"changed": False}
        before_view = {} if before is None else {**actual_identity(before), "status": before["status"]}

        if request.state == "absent":
            if before is not None:
                self.actions.append("remove")
                if not self.check_mode:
                    self.remove(before)
            result.update(changed=bool(self.actions), actions=self.actions, container=None)
            if self.module._diff:
                result["diff"] = {"before": before_view or {}, "after": {}}
            return result

        if request.image is None:
            # state stopped with only a name: hold down what is there, compare nothing else.
            if before is None:
                raise OptionError(
                    "image", f"{request.name} does not exist; state stopped creates it, which needs image"
                )
            return self._hold_stopped(before, before_view, result, observe_after)

        image = self.resolve_image()
        identity, spec = self.desired(image)
        difference = compare(identity, None if before is None else actual_identity(before))
        recreate = before is not None and (difference.changed or bool(self.params.get("recreate")))
        if before is not None and identity["network"].startswith("cni:") and not os.path.exists(self._netns()[1]):
            # The named netns is gone (a reboot empties /run/netns): the container cannot start without it.
            recreate = True
        wanted_status = {"started": "running", "stopped": "stopped", "present": None}[request.state]
        if (
            before is not None
            and wanted_status == "running"
            and before["labels"].get(LABEL_RUNTIME_OPTIONS) == "pending"
        ):
            # Created without its runtime options (state present or stopped): only ctr run gives them.
            recreate = True

        # After a create the container is exactly what create() wrote: no task, no restart status label.
        current = before
        gated = request.healthcheck is not None and wanted_status == "running"
        if recreate:
            self.actions.append("recreate")
            if not self.check_mode:
                if gated:
                    self._kept = self._keep(before)
                self.remove(before, purge=False, keep_snapshot=gated)
                current = None
        if before is None:
            self.actions.append("create")
        fresh = before is None or recreate
        if fresh and not self.check_mode:
            # A new container that should run is created and started by one ctr process.
            self.create(spec, identity, start=wanted_status == "running")

        status_now = "created" if fresh else before["status"]
        if wanted_status == "running" and status_now != "running":
            self.actions.append("start")
            if not self.check_mode:
                self.start(has_task=not fresh and before.get("task") is not None, started=fresh)
        elif wanted_status == "stopped" and status_now == "running":
            self.actions.append("stop")
            if not self.check_mode:
                self.stop(current)
                self.view.forget(request.name)
        elif wanted_status == "stopped" and current is not None and not self.check_mode:
            # Already down: make sure the restart monitor agrees.
            if current["labels"].get(LABEL_RESTART_STATUS) == "running":
                self.actions.append("hold stopped")
                self.client.set_container_labels(request.name, {LABEL_RESTART_STATUS: "stopped"})
                self.view.forget(request.name)
        elif wanted_status == "running" and status_now == "running" and not fresh:
            wanted_label = request.restart_labels(True).get(LABEL_RESTART_STATUS)
            if wanted_label and before["labels"].get(LABEL_RESTART_STATUS) != wanted_label:
                self.actions.append("enable restart monitor")
                if not self.check_mode:
                    self.client.set_container_labels(request.name, request.restart_labels(True))
                    self.view.forget(request.name)

        if fresh and gated:
            self.actions.append("health check")
            if not self.check_mode:
                self._gate()

        after_status = wanted_status or status_now
        after_view = {**identity, "status": after_status}
        status_difference = compare(after_view, before_view)
        changed = bool(self.actions)
        result.update(changed=changed, actions=self.actions)
        if self.check_mode:
            preview = self.public(before) if before and not changed else None
            if preview is None:
                preview = {
                    "name": request.name,
                    "image": request.image,
                    "image_digest": identity["image_digest"],
                    "status": after_status,
                    "pid": None,
                    "runtime": request.runtime_name,
                    "labels": request.labels,
                    "restart_policy": request.restart_policy,
                    "spec_digest": identity["spec_digest"],
                    "network": identity["network"],
                    "addresses": [],
                    "published_ports": identity["published_ports"],
                    "log_driver": request.log_driver,
                }
            result["container"] = preview
        elif observe_after:
            self.finish(result)
        if self.health is not None:
            result["health"] = self.health
        if self.module._diff:
            diff = status_difference.diff()
            if before is None:
                diff = {"before": {}, "after": after_view}
            if (
                spec is not None
                and before is not None
                and identity["spec_digest"] != actual_identity(before)["spec_digest"]
            ):
                diff["before"]["spec"] = spec_without_rootfs(before.get("spec") or {})
                diff["after"]["spec"] = spec
            result["diff"] = diff
        return result

    def _hold_stopped(
        self, before: Mapping[str, Any], before_view: Dict[str, Any], result: Dict[str, Any], observe_after: bool
    ) -> Dict[str, Any]:
        name = self.request.name
        if before["status"] == "running":
            self.actions.append("stop")
            if not self.check_mode:
                self.stop(before)
                self.view.forget(name)
        elif before["labels"].get(LABEL_RESTART_STATUS) == "running":
            self.actions.append("hold stopped")
            if not self.check_mode:
                self.client.set_container_labels(name, {LABEL_RESTART_STATUS: "stopped"})
                self.view.forget(name)
        result.update(changed=bool(self.actions), actions=self.actions)
        if self.check_mode:
            result["container"] = {**(self.public(before) or {}), "status": "stopped"}
        elif observe_after:
            self.finish(result)
        if self.module._diff:
            result["diff"] = {"before": before_view, "after": {**before_view, "status": "stopped"}}
        return result

    def finish(self, result: Dict[str, Any]) -> Dict[str, Any]:
        """Fill ``result["container"]`` with the container as containerd now reports it."""
        if not self.check_mode and self.request.state != "absent":
            result["container"] = self.public(self.observe())
            if result["container"] is not None and self.health is not None:
                result["container"]["health"] = self.health
        return result

    # -- the health gate

    def _keep(self, before: Mapping[str, Any]) -> Dict[str, Any]:
        """What it takes to put ``before`` back: its record, and its files as they are now."""
        files = {}
        for name in (*ETC_FILES, RECORD_NAME):
            path = os.path.join(self.request.state_dir, name)
            with suppress(OSError), open(path) as handle:
                files[name] = handle.read()
        return {"info": dict(before), "files": files}

    def _probe(self, argv: List[str], timeout: float) -> Tuple[int, str]:
        return self.client.exec_with_timeout(self.request.name, argv, timeout)

    def _running(self) -> bool:
        task = self.client.tasks().get(self.request.name)
        return task is not None and task["status"] == "running"

    def _gate(self) -> None:
        """Wait for the health check; on failure put the previous container back and fail."""
        check = self.request.healthcheck
        outcome = wait_healthy(check, self._probe, self._running)
        self.health = outcome.status
        self.view.forget(self.request.name)
        kept, self._kept = self._kept, None
        if outcome.status == "healthy":
            if kept is not None and kept["info"]["labels"].get(LABEL_SNAPSHOT):
                self.client.remove_snapshot(kept["info"]["labels"][LABEL_SNAPSHOT])
            return
        test = " ".join(check["test"])
        what = f"healthcheck: {self.request.name} did not become healthy ({test}, {outcome.attempts} attempts)"
        detail = f"; its last output: {outcome.output or '(none)'}"
        if kept is None:
            raise HealthError(what + detail)
        failed = self.observe()
        if failed is not None:
            self.remove(failed, purge=False)
        self._restore(kept)
        self.rolled_back = True
        self.actions.append("roll back")
        raise HealthError(what + detail + "; the previous container runs again")

    def _restore(self, kept: Mapping[str, Any]) -> None:
        """Create the kept container again from its own record: spec, labels, runtime, snapshot, network."""
        info = kept["info"]
        labels = dict(info["labels"])
        name = self.request.name
        state_dir = self.request.state_dir
        os.makedirs(state_dir, mode=0o755, exist_ok=True)
        for file_name, text in kept["files"].items():
            rewrite_in_place(os.path.join(state_dir, file_name), text)
        network = labels.get(LABEL_NETWORK, "")
        if network.startswith("cni:"):
            record = json.loads(kept["files"].get(RECORD_NAME) or "{}")
            config = record.get("config") or load_cni_network(
                labels.get(LABEL_CNI_CONF_DIR) or DEFAULT_CNI_CONF_DIR, network[len("cni:") :]
            )
            ports = parse_published_ports([port for port in labels.get(LABEL_PORTS, "").split(",") if port])
            netns, path = self._netns()
            create_netns(netns)
            result = CniNetwork(config, record.get("bin_dirs") or self.request.cni_bin_dirs, ports).add(
                self._cni_container_id(), path
            )
            addresses = [str(ip["address"]) for ip in (result or {}).get("ips") or [] if ip.get("address")]
            if record:
                rewrite_in_place(
                    os.path.join(state_dir, "hosts"),
                    render_hosts(record.get("hostname") or name, addresses, record.get("etc_hosts")),
                )
        spec = info.get("spec") or {}
        runtime_name = labels.get(LABEL_RUNTIME)
        binary = resolve_runtime(runtime_name).binary if runtime_name else None
        cgroups_path = str((spec.get("linux") or {}).get("cgroupsPath") or "")
        self.client.create_container(
            name,
            spec,
            labels,
            info.get("runtime") or "io.containerd.runc.v2",
            start=True,
            log_uri=labels.get(LABEL_RESTART_LOGURI) or uri_for_identity(labels.get(LABEL_LOG, "none")),
            runc_binary=binary,
            systemd_cgroup=":" in cgroups_path,
        )
        self.view.forget(name)


def manage_container(module: Any) -> Dict[str, Any]:
    """containerd_container: converge one container; returns the module result."""
    params = module.params
    request = ContainerRequest(params, params.get("namespace") or DEFAULT_NAMESPACE)
    access = access_from_params(params)
    view = ContainerdView(client_from_params(module))
    manager = ContainerManager(module, request, view, access)
    try:
        return manager.run()
    except HealthError as error:
        # A failed result with what is there now: the previous container (rolled back) or the unhealthy one.
        result = {"changed": True, "failed": True, "msg": str(error), "actions": manager.actions}
        result.update(rolled_back=manager.rolled_back, health=manager.health)
        return manager.finish(result)


def container_info(module: Any) -> Dict[str, Any]:
    params = module.params
    client = client_from_params(module)
    names = params.get("name") or client.container_ids()
    tasks = client.tasks()
    containers = []
    for name in names:
        info = client.container(name)
        if info is None:
            continue
        task = tasks.get(name)
        identity = actual_identity(info)
        status = status_of(task, info["labels"])
        containers.append(
            {
                "name": name,
                "image": identity["image"] or None,
                "image_digest": identity["image_digest"],
                "status": status,
                "pid": (task or {}).get("pid") if status == "running" else None,
                "runtime": identity["runtime"],
                "labels": info["labels"],
                "restart_policy": identity["restart_policy"],
                "spec_digest": identity["spec_digest"],
                "managed": LABEL_SPEC_DIGEST in info["labels"],
                "created_at": info.get("created_at"),
                "published_ports": identity["published_ports"],
                "log_driver": identity["log"].split(":", 1)[0],
            }
        )
        lines = params.get("log_lines")
        if lines:
            containers[-1]["logs"] = container_logs(client.namespace, name, identity["log"], int(lines))
    return {"changed": False, "containers": containers}


def container_logs(namespace: str, name: str, log_identity_label: str, lines: int) -> List[str]:
    """A container's last ``lines`` log lines, oldest first, from where its log driver keeps them."""
    driver = log_identity_label.split(":", 1)[0]
    if driver == "journald":
        return read_journal_logs(namespace, name, lines)
    if driver == "file":
        return read_file_logs(DEFAULT_LOG_DIR, namespace, name, lines)
    return []


def _read_text(path: str) -> str:
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return ""
