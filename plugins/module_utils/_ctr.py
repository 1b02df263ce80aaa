# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one containerd client: every ``ctr`` call and every parse of its output lives here.

``ctr`` calls itself an unstable debug client, so the parsers below are small pure
functions, unit-tested on outputs recorded from the real tool (tests/unit/fixtures/ctr/),
and decisions are taken by identity (digests, labels) rather than by re-reading text.
JSON is used wherever ctr offers it (``containers info``, ``content get``,
``snapshots prepare --mounts``); tables only where it offers nothing else.

The concerns built on this client have files of their own: _registry (registry access and
credentials), _images, _server (server info, namespaces, runtimes), _cni and _netns (networks),
_container_request and _containers (containers).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import subprocess
import tempfile
import time
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.ocistack.engine.plugins.module_utils._errors import OptionError, ToolError
from ansible_collections.ocistack.engine.plugins.module_utils._oci_image import host_platform_string, select_manifest

if TYPE_CHECKING:  # only for annotations: _registry builds on this client
    from ansible_collections.ocistack.engine.plugins.module_utils._registry import RegistryAccess

__all__ = [
    "CONNECTION_ARGUMENT_SPEC",
    "DEFAULT_ADDRESS",
    "DEFAULT_NAMESPACE",
    "NAME_RE",
    "Ctr",
    "chain_id",
    "client_from_params",
    "explain_registry_error",
    "host_platform_string",
    "image_size_from_manifest",
    "last_ctr_line",
    "parse_container_info",
    "parse_images",
    "parse_import_output",
    "parse_labels",
    "parse_namespaces",
    "parse_plugins",
    "parse_snapshot_mounts",
    "parse_tasks",
    "parse_version",
    "read_local_blob",
    "registry_host",
    "select_manifest",
    "validate_platform",
    "validate_reference",
]

DEFAULT_ADDRESS = "/run/containerd/containerd.sock"
DEFAULT_NAMESPACE = "default"
# The options every module that talks to containerd takes, declared once here for the
# argument specs and once in doc_fragments/_containerd.py for the docs.
CONNECTION_ARGUMENT_SPEC: Dict[str, Dict[str, Any]] = {
    "address": {"type": "str", "default": DEFAULT_ADDRESS},
    "namespace": {"type": "str", "default": DEFAULT_NAMESPACE},
}

_INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
# name[:tag][@digest]; lower-case path components as the distribution spec wants.
_REFERENCE_RE = re.compile(
    r"^(?:(?P<domain>[a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?(?::[0-9]+)?)/)?"
    r"(?P<path>[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[a-f0-9]{64}))?$"
)
_DIGEST_RE = re.compile(r"sha256:[a-f0-9]{64}")
_SIZE_UNITS = {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4}


# --------------------------------------------------------------------------- pure helpers


def validate_reference(reference: str, option: str = "name") -> str:
    """Return ``reference`` if it is a valid image reference (``host/path:tag`` or ``@sha256:...``)."""
    text = str(reference or "").strip()
    if not text:
        raise OptionError(option, "an image reference is required, e.g. registry.example.com/app:1.0")
    match = _REFERENCE_RE.match(text)
    if not match or len(text) > 255:
        raise OptionError(
            option,
            f"{text!r} is not a valid image reference; use [registry/]path[:tag][@sha256:<64 hex>] "
            "with a lower-case path, e.g. registry.example.com/team/app:1.0",
        )
    # ctr needs a fully qualified name: a bare "busybox" is not resolved against Docker Hub by ctr.
    domain = match.group("domain") or ""
    if not ("." in domain or ":" in domain or domain == "localhost"):
        raise OptionError(
            option,
            f"{text!r} is not fully qualified; containerd needs the registry host, "
            "e.g. docker.io/library/busybox:latest",
        )
    if not match.group("tag") and not match.group("digest"):
        raise OptionError(option, f"{text!r} has neither a tag nor a digest; add one, e.g. {text}:latest")
    return text


def registry_host(reference: str) -> str:
    """The registry part of a fully qualified reference (``127.0.0.1:5000`` of ``127.0.0.1:5000/a:1``)."""
    return reference.split("/", 1)[0]


def parse_labels(text: str) -> Dict[str, str]:
    """``"a=1,b=2"`` (ctr's LABELS column) -> dict; ``"-"`` or empty -> {}."""
    text = (text or "").strip()
    if not text or text == "-":
        return {}
    labels: Dict[str, str] = {}
    for item in text.split(","):
        key, _sep, value = item.partition("=")
        if key:
            labels[key] = value
    return labels


def _table_rows(text: str) -> List[List[str]]:
    lines = [line for line in (text or "").splitlines() if line.strip()]
    return [line.split() for line in lines[1:]]


def parse_version(text: str) -> Dict[str, Dict[str, str]]:
    """``ctr version`` -> ``{"client": {"version": ..., "revision": ..., "go_version": ...}, "server": {...}}``."""
    result: Dict[str, Dict[str, str]] = {}
    section: Optional[Dict[str, str]] = None
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        if not line.startswith(" ") and line.rstrip().endswith(":"):
            section = result.setdefault(line.strip().rstrip(":").lower(), {})
            continue
        if section is not None and ":" in line:
            key, _sep, value = line.strip().partition(":")
            section[key.strip().lower().replace(" ", "_")] = value.strip()
    return result


def parse_plugins(text: str) -> List[Dict[str, Any]]:
    """``ctr plugins ls`` -> ``[{"type", "id", "platforms": [...], "status"}]``."""
    plugins = []
    for row in _table_rows(text):
        if len(row) < 4:
            continue
        platforms = [] if row[2] == "-" else row[2].split(",")
        plugins.append({"type": row[0], "id": row[1], "platforms": platforms, "status": row[3]})
    return plugins


def parse_namespaces(text: str) -> List[Dict[str, Any]]:
    """``ctr namespaces ls`` -> ``[{"name", "labels"}]``."""
    return [{"name": row[0], "labels": parse_labels(" ".join(row[1:]))} for row in _table_rows(text) if row]


def _parse_size(number: str, unit: str) -> Optional[int]:
    try:
        return int(round(float(number) * _SIZE_UNITS[unit]))
    except (KeyError, ValueError):
        return None


def parse_images(text: str) -> List[Dict[str, Any]]:
    """``ctr images ls`` -> ``[{"name", "media_type", "digest", "size_text", "platforms", "labels"}]``.

    The SIZE column is rounded (``2.0 MiB``); exact sizes come from the manifest
    (``image_size_from_manifest``).
    """
    images = []
    for row in _table_rows(text):
        # REF TYPE DIGEST <size number> <size unit> PLATFORMS LABELS
        if len(row) < 6 or not _DIGEST_RE.fullmatch(row[2]):
            continue
        images.append(
            {
                "name": row[0],
                "media_type": row[1],
                "digest": row[2],
                "size_text": f"{row[3]} {row[4]}",
                "approx_size": _parse_size(row[3], row[4]),
                "platforms": [] if row[5] == "-" else row[5].split(","),
                "labels": parse_labels(" ".join(row[6:])),
            }
        )
    return images


def parse_tasks(text: str) -> Dict[str, Dict[str, Any]]:
    """``ctr tasks ls`` -> ``{container_id: {"pid": int, "status": "running"|"stopped"|"created"|...}}``."""
    tasks = {}
    for row in _table_rows(text):
        if len(row) < 3:
            continue
        try:
            pid = int(row[1])
        except ValueError:
            pid = 0
        tasks[row[0]] = {"pid": pid, "status": row[2].lower()}
    return tasks


def parse_container_info(text: str) -> Dict[str, Any]:
    """``ctr containers info <id>`` (JSON) -> a dict with the fields we rely on."""
    data = json.loads(text)
    runtime = data.get("Runtime") or {}
    return {
        "id": data.get("ID"),
        "labels": dict(data.get("Labels") or {}),
        "image": data.get("Image") or "",
        "runtime": runtime.get("Name") or "",
        "snapshot_key": data.get("SnapshotKey") or "",
        "snapshotter": data.get("Snapshotter") or "",
        "created_at": data.get("CreatedAt"),
        "spec": data.get("Spec") or {},
    }


def parse_snapshot_mounts(text: str) -> List[Dict[str, Any]]:
    """``ctr snapshots prepare --mounts`` (JSON) -> OCI spec mounts of the snapshot at ``/``."""
    mounts = []
    for mount in json.loads(text) or []:
        mounts.append(
            {
                "destination": "/",
                "type": mount.get("Type") or "bind",
                "source": mount.get("Source") or "",
                "options": list(mount.get("Options") or []),
            }
        )
    if not mounts:
        raise ValueError("the snapshotter returned no mounts for the container's root filesystem")
    return mounts


def parse_import_output(text: str) -> List[Tuple[str, str]]:
    """``ctr images import`` output -> ``[(name, digest)]`` of the images it unpacked."""
    found = []
    for match in re.finditer(r"unpacking (\S+) \((sha256:[a-f0-9]{64})\)", text or ""):
        found.append((match.group(1), match.group(2)))
    return found


def image_size_from_manifest(manifest: Mapping[str, Any], manifest_size: int) -> int:
    """Bytes of an image for one platform: manifest + config + layers (as containerd counts them)."""
    total = int(manifest_size)
    total += int((manifest.get("config") or {}).get("size") or 0)
    total += sum(int(layer.get("size") or 0) for layer in manifest.get("layers") or [])
    return total


def chain_id(diff_ids: Sequence[str]) -> str:
    """The snapshot chain ID of an image's layers (OCI image spec: sha256 of "parent child")."""
    if not diff_ids:
        raise ValueError("the image has no layers")
    current = diff_ids[0]
    for diff_id in diff_ids[1:]:
        current = "sha256:" + hashlib.sha256(f"{current} {diff_id}".encode()).hexdigest()
    return current


def explain_registry_error(stderr: str, reference: str) -> str:
    """A message saying what to do, from ctr's stderr after a failed registry call."""
    text = stderr or ""
    last = last_ctr_line(text)
    if "401 Unauthorized" in text or "403 Forbidden" in text:
        return (
            f"username/password: the registry refused the credentials for {reference} ({last}); "
            "check username and password"
        )
    if "x509:" in text or "certificate" in text:
        return (
            f"skip_verify: TLS verification failed for {reference} ({last}); trust the registry's CA "
            "(system store or a ca in hosts_dir) or set skip_verify"
        )
    if "http: server gave HTTP response to HTTPS client" in text:
        return f"plain_http: {registry_host(reference)} speaks plain HTTP; set plain_http: true ({last})"
    if "400 Bad Request" in text:
        return (
            f"plain_http: the registry answered 400 Bad Request for {reference}, which usually means "
            f"plain HTTP was sent to a TLS port; set plain_http: false, or give a hosts_dir whose hosts.toml "
            f"uses https ({last})"
        )
    if ": not found" in text or "404" in text:
        return f"name: {reference} was not found in the registry ({last}); check the repository and tag"
    if "connection refused" in text or "no such host" in text or "i/o timeout" in text:
        return f"name: cannot reach the registry of {reference} ({last})"
    return f"ctr failed for {reference}: {last}"


# containerd's content store under its default root. Blobs are content-addressed, so a blob
# found here whose hash matches is the same bytes `ctr content get` would return, at the cost
# of one file read instead of one ctr process (a third of a small image pull's module time).
LOCAL_CONTENT_STORES = ("/var/lib/containerd/io.containerd.content.v1.content/blobs",)
_LOCAL_BLOB_LIMIT = 4 * 1024 * 1024  # manifests, indexes and configs; never layers


def read_local_blob(digest: str, stores: Sequence[str] = LOCAL_CONTENT_STORES) -> Optional[bytes]:
    """The blob ``digest`` from a local content store when present and intact, else None."""
    algorithm, _sep, encoded = digest.partition(":")
    if algorithm != "sha256" or not re.fullmatch(r"[0-9a-f]{64}", encoded):
        return None
    for store in stores:
        try:
            with open(os.path.join(store, algorithm, encoded), "rb") as handle:
                data = handle.read(_LOCAL_BLOB_LIMIT + 1)
        except OSError:
            continue
        if len(data) <= _LOCAL_BLOB_LIMIT and hashlib.sha256(data).hexdigest() == encoded:
            return data
    return None


def last_ctr_line(stderr: str) -> str:
    lines = [line.strip() for line in (stderr or "").splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith("ctr:"):
            return line[4:].strip()
    return lines[-1] if lines else "no error output"


# --------------------------------------------------------------------------- the client


class Ctr:
    """Talks to one containerd (``address``) in one namespace through the ``ctr`` binary."""

    def __init__(self, module: Any, address: str = DEFAULT_ADDRESS, namespace: str = DEFAULT_NAMESPACE) -> None:
        self.module = module
        self.address = address or DEFAULT_ADDRESS
        self.namespace = namespace or DEFAULT_NAMESPACE
        self._binary: Optional[str] = None

    # -- plumbing

    @property
    def binary(self) -> str:
        if self._binary is None:
            found = self.module.get_bin_path("ctr", required=False)
            if not found:
                raise ToolError("ctr was not found on the host; install containerd (it ships ctr)")
            self._binary = found
        return self._binary

    def check_connection(self) -> None:
        """Fail early, naming the option, when the socket is missing."""
        if not self.address.startswith(("unix://", "/")):
            raise OptionError("address", f"{self.address!r} must be the path of containerd's unix socket")
        path = self.address[len("unix://") :] if self.address.startswith("unix://") else self.address
        try:
            mode = os.stat(path).st_mode
        except OSError:
            raise OptionError(
                "address", f"no containerd socket at {path}; start containerd or point address at its socket"
            ) from None
        if not stat.S_ISSOCK(mode):
            raise OptionError("address", f"{path} is not a socket; point address at containerd's grpc socket")

    def command(self, args: Sequence[str]) -> List[str]:
        return [
            self.binary,
            "--address",
            self.address,
            "--namespace",
            self.namespace,
            "--connect-timeout",
            "10s",
            *args,
        ]

    def run(
        self,
        args: Sequence[str],
        data: Optional[str] = None,
        check: bool = True,
        binary_output: bool = False,
        what: str = "",
    ) -> Tuple[int, Any, str]:
        cmd = self.command(args)
        if binary_output:
            rc, out, err = self.module.run_command(cmd, data=data, encoding=None)
            err = err.decode("utf-8", "replace") if isinstance(err, bytes) else err
        else:
            rc, out, err = self.module.run_command(cmd, data=data)
        if check and rc != 0:
            detail = last_ctr_line(err)
            raise ToolError(f"{what or 'ctr ' + ' '.join(args[:2])} failed: {detail}", cmd=cmd, rc=rc, stderr=err)
        return rc, out, err

    # -- server

    def version(self) -> Dict[str, Dict[str, str]]:
        return parse_version(self.run(["version"], what="reading the containerd version")[1])

    def plugins(self) -> List[Dict[str, Any]]:
        return parse_plugins(self.run(["plugins", "ls"], what="listing containerd plugins")[1])

    # -- namespaces

    def namespaces(self) -> List[Dict[str, Any]]:
        return parse_namespaces(self.run(["namespaces", "ls"], what="listing namespaces")[1])

    def namespace_info(self, name: str) -> Optional[Dict[str, Any]]:
        for entry in self.namespaces():
            if entry["name"] == name:
                return entry
        return None

    def create_namespace(self, name: str, labels: Mapping[str, str]) -> None:
        self.run(["namespaces", "create", name, *_label_args(labels)], what=f"creating namespace {name}")

    def label_namespace(self, name: str, key: str, value: str) -> None:
        # An empty value removes the label.
        self.run(["namespaces", "label", name, f"{key}={value}"], what=f"labelling namespace {name}")

    def remove_namespace(self, name: str) -> None:
        self.run(["namespaces", "remove", name], what=f"removing namespace {name}")

    # -- images

    def images(self, filters: Sequence[str] = ()) -> List[Dict[str, Any]]:
        return parse_images(self.run(["images", "ls", *filters], what="listing images")[1])

    def image(self, reference: str) -> Optional[Dict[str, Any]]:
        for image in self.images([f"name=={reference}"]):
            if image["name"] == reference:
                return image
        return None

    def content_bytes(self, digest: str) -> bytes:
        local = read_local_blob(digest)
        if local is not None:
            return local
        return self.run(["content", "get", digest], binary_output=True, what=f"reading content {digest}")[1]

    def content_json(self, digest: str) -> Dict[str, Any]:
        return json.loads(self.content_bytes(digest))

    def platform_manifest(self, image: Mapping[str, Any], platform: Optional[str] = None) -> Tuple[Dict, int]:
        """The image manifest for ``platform`` (host's by default) and its size in bytes."""
        wanted = platform or host_platform_string()
        raw = self.content_bytes(image["digest"])
        document = json.loads(raw)
        size = len(raw)
        if document.get("mediaType") in _INDEX_TYPES or "manifests" in document:
            descriptor = select_manifest(document, wanted)
            if descriptor is None:
                raise OptionError("platform", f"{image['name']} has no manifest for platform {wanted}")
            raw = self.content_bytes(descriptor["digest"])
            document = json.loads(raw)
            size = len(raw)
        return document, size

    def image_details(self, image: Mapping[str, Any], platform: Optional[str] = None) -> Dict[str, Any]:
        """Name, digest, exact size, labels and the OCI config of an image from ``images()``."""
        manifest, manifest_size = self.platform_manifest(image, platform)
        config = self.content_json(manifest["config"]["digest"])
        return {
            "name": image["name"],
            "digest": image["digest"],
            "size": image_size_from_manifest(manifest, manifest_size),
            "labels": dict(image.get("labels") or {}),
            "platforms": list(image.get("platforms") or []),
            "media_type": image.get("media_type"),
            "config_digest": manifest["config"]["digest"],
            "config": config,
        }

    def resolve_remote_digest(self, reference: str, access: RegistryAccess) -> str:
        """The digest the registry serves for ``reference`` now, fetching only its manifest."""
        with access.arguments(reference, self._tmp_root()) as flags:
            rc, out, err = self.run(["content", "fetch-object", *flags, reference], binary_output=True, check=False)
        if rc != 0:
            raise ToolError(access.explain(err, reference), cmd=["ctr", "content", "fetch-object"], rc=rc)
        return "sha256:" + hashlib.sha256(out).hexdigest()

    def pull(self, reference: str, access: RegistryAccess, platform: Optional[str] = None) -> None:
        args = ["images", "pull"]
        if platform:
            args += ["--platform", platform]
        with access.arguments(reference, self._tmp_root()) as flags:
            rc, _out, err = self.run([*args, *flags, reference], check=False)
        if rc != 0:
            raise ToolError(access.explain(err, reference), cmd=["ctr", *args, reference], rc=rc)

    def push(self, reference: str, access: RegistryAccess, platform: Optional[str] = None) -> None:
        args = ["images", "push"]
        if platform:
            args += ["--platform", platform]
        with access.arguments(reference, self._tmp_root(), push=True) as flags:
            rc, _out, err = self.run([*args, *flags, reference], check=False)
        if rc != 0:
            raise ToolError(access.explain(err, reference), cmd=["ctr", *args, reference], rc=rc)

    def import_archive(self, path: str, platform: Optional[str] = None) -> List[Tuple[str, str]]:
        args = ["images", "import"]
        if platform:
            args += ["--platform", platform]
        out = self.run([*args, path], what=f"importing {path}")[1]
        return parse_import_output(out)

    def export_image(self, ref: str, dest_path: str, platform: Optional[str] = None) -> None:
        """Write ``ref`` as an OCI archive (tar of an image layout, plus Docker's manifest.json) to ``dest_path``."""
        args = ["images", "export"]
        if platform:
            args += ["--platform", platform]
        self.run([*args, dest_path, ref], what=f"exporting {ref}")

    def tag(self, source: str, target: str) -> None:
        self.run(["images", "tag", "--force", source, target], what=f"tagging {source} as {target}")

    def remove_image(self, reference: str) -> None:
        self.run(["images", "rm", reference], what=f"removing image {reference}")

    # -- containers and tasks

    def container_ids(self) -> List[str]:
        out = self.run(["containers", "ls", "-q"], what="listing containers")[1]
        return [line.strip() for line in out.splitlines() if line.strip()]

    def container(self, container_id: str) -> Optional[Dict[str, Any]]:
        rc, out, err = self.run(["containers", "info", container_id], check=False)
        if rc != 0:
            if "not found" in err:
                return None
            raise ToolError(f"reading container {container_id} failed: {last_ctr_line(err)}", rc=rc, stderr=err)
        return parse_container_info(out)

    def tasks(self) -> Dict[str, Dict[str, Any]]:
        return parse_tasks(self.run(["tasks", "ls"], what="listing tasks")[1])

    def prepare_snapshot(self, key: str, parent: str) -> List[Dict[str, Any]]:
        """An active snapshot on top of an image's layers; returns its mounts as OCI spec mounts."""
        out = self.run(["snapshots", "prepare", "--mounts", key, parent], what=f"preparing snapshot {key}")[1]
        return parse_snapshot_mounts(out)

    def snapshot_exists(self, key: str) -> bool:
        rc, _out, _err = self.run(["snapshots", "info", key], check=False)
        return rc == 0

    def remove_snapshot(self, key: str) -> None:
        rc, _out, err = self.run(["snapshots", "rm", key], check=False)
        if rc != 0 and "not found" not in err:
            raise ToolError(f"removing snapshot {key} failed: {last_ctr_line(err)}", rc=rc, stderr=err)

    def create_container(
        self,
        container_id: str,
        spec: Mapping[str, Any],
        labels: Mapping[str, str],
        runtime: str,
        *,
        start: bool = False,
        log_uri: Optional[str] = None,
        runc_binary: Optional[str] = None,
        systemd_cgroup: bool = False,
    ) -> None:
        """``ctr containers create --config``: the spec is exactly what _oci_spec built.

        With ``start``, ``ctr run --detach --config`` creates the container and starts its task in
        one ctr process instead of two, its output to ``log_uri`` (none: /dev/null). Only that
        form takes the runc shim's options (``runc_binary``, ``systemd_cgroup``): ctr stores them
        with the container, so every later start of its task (the restart monitor's too) uses them.
        """
        handle, path = tempfile.mkstemp(prefix="ocistack-spec-", suffix=".json", dir=self._tmp_root())
        try:
            with os.fdopen(handle, "w") as fh:
                json.dump(spec, fh)
            if start:
                args = ["run", "--detach", *_io_args(log_uri), "--config", path]
                if runc_binary:
                    args += ["--runc-binary", runc_binary]
                if systemd_cgroup:
                    # ctr insists on --cgroup with it: the same slice:prefix:name the spec carries.
                    args += [
                        "--runc-systemd-cgroup",
                        "--cgroup",
                        str((spec.get("linux") or {}).get("cgroupsPath") or ""),
                    ]
                what = f"creating and starting container {container_id}"
            else:
                args = ["containers", "create", "--config", path]
                what = f"creating container {container_id}"
            args += ["--runtime", runtime, *_label_args(labels, "--label")]
            self.run([*args, container_id], what=what)
        finally:
            os.unlink(path)

    def set_container_labels(self, container_id: str, labels: Mapping[str, str]) -> None:
        pairs = [f"{key}={value}" for key, value in labels.items()]
        self.run(["containers", "label", container_id, *pairs], what=f"labelling container {container_id}")

    def start_task(self, container_id: str, log_uri: Optional[str] = None) -> None:
        self.run(["tasks", "start", "--detach", *_io_args(log_uri), container_id], what=f"starting {container_id}")

    def kill_task(self, container_id: str, signal: str = "SIGTERM", all_processes: bool = False) -> None:
        args = ["tasks", "kill", "--signal", signal]
        if all_processes:
            args.append("--all")
        rc, _out, err = self.run([*args, container_id], check=False)
        if rc != 0 and "not found" not in err and "process already finished" not in err:
            raise ToolError(f"signalling {container_id} failed: {last_ctr_line(err)}", rc=rc, stderr=err)

    def delete_task(self, container_id: str) -> None:
        rc, _out, err = self.run(["tasks", "delete", "--force", container_id], check=False)
        if rc != 0 and "not found" not in err:
            raise ToolError(f"deleting the task of {container_id} failed: {last_ctr_line(err)}", rc=rc, stderr=err)

    def remove_container(self, container_id: str) -> None:
        rc, _out, err = self.run(["containers", "rm", container_id], check=False)
        if rc != 0 and "not found" not in err:
            raise ToolError(f"removing container {container_id} failed: {last_ctr_line(err)}", rc=rc, stderr=err)

    def exec_in_task(self, container_id: str, exec_id: str, args: Sequence[str]) -> Tuple[int, str, str]:
        """Run a command inside a running task (for checks); returns (rc, stdout, stderr)."""
        return self.run(["tasks", "exec", "--exec-id", exec_id, container_id, *args], check=False)

    def exec_with_timeout(self, container_id: str, args: Sequence[str], timeout: float) -> Tuple[int, str]:
        """A health probe: ``args`` inside the task, killed after ``timeout``; returns (rc, output)."""
        exec_id = f"health-{os.getpid()}-{int(time.monotonic() * 1000) % 100000}"
        cmd = self.command(["tasks", "exec", "--exec-id", exec_id, container_id, *args])
        try:
            process = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            self.run(["tasks", "kill", "--exec-id", exec_id, "--signal", "SIGKILL", container_id], check=False)
            return 124, f"timed out after {timeout:g}s"
        return process.returncode, (process.stdout + process.stderr).strip()[-2000:]

    def _tmp_root(self) -> Optional[str]:
        tmpdir = getattr(self.module, "tmpdir", None)
        return tmpdir if tmpdir and os.path.isdir(tmpdir) else None


def _io_args(log_uri: Optional[str]) -> List[str]:
    return ["--log-uri", log_uri] if log_uri else ["--null-io"]


def _label_args(labels: Mapping[str, str], flag: Optional[str] = None) -> List[str]:
    args: List[str] = []
    for key in sorted(labels):
        pair = f"{key}={labels[key]}"
        args += [flag, pair] if flag else [pair]
    return args


# --------------------------------------------------------------------------- shared by the modules


def client_from_params(module: Any) -> Ctr:
    """A client for the module's ``address``/``namespace``, after checking the socket is there."""
    params = module.params
    namespace = params.get("namespace") or DEFAULT_NAMESPACE
    if not NAME_RE.match(namespace):
        raise OptionError("namespace", f"{namespace!r} is not a valid namespace name (letters, digits, '.', '_', '-')")
    client = Ctr(module, params.get("address") or DEFAULT_ADDRESS, namespace)
    client.check_connection()
    return client


def validate_platform(value: Optional[str]) -> Optional[str]:
    if value is None:
        return None
    if not _PLATFORM_RE.match(value):
        raise OptionError("platform", f"{value!r} is not a platform; use os/arch[/variant], e.g. linux/amd64")
    return value


NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,75}$")
_PLATFORM_RE = re.compile(r"^[a-z0-9]+/[a-z0-9_]+(?:/[a-z0-9]+)?$")
