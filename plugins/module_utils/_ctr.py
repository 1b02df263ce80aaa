# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one containerd client: every ``ctr`` call and every parse of its output lives here.

``ctr`` calls itself an unstable debug client, so the parsers below are small pure
functions, unit-tested on outputs recorded from the real tool (tests/unit/fixtures/ctr/),
and decisions are taken by identity (digests, labels) rather than by re-reading text.
JSON is used wherever ctr offers it (``containers info``, ``content get``,
``snapshots prepare --mounts``); tables only where it offers nothing else.

Registry passwords never reach argv: ``ctr --user name`` would prompt on a terminal,
so credentials go into a private (0700 dir, 0600 file) ``hosts.toml`` as an HTTP
``Authorization`` header, passed with ``--hosts-dir`` and removed right after the call.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import platform as host_platform
import re
import shutil
import stat
import tarfile
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager, suppress
from functools import lru_cache
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.ocistack.engine.plugins.module_utils._compare import compare
from ansible_collections.ocistack.engine.plugins.module_utils._errors import OptionError, ToolError
from ansible_collections.ocistack.engine.plugins.module_utils._oci_spec import build_spec, spec_digest

__all__ = [
    "CONNECTION_ARGUMENT_SPEC",
    "DEFAULT_ADDRESS",
    "DEFAULT_NAMESPACE",
    "LABEL_IMAGE",
    "LABEL_IMAGE_DIGEST",
    "LABEL_NETWORK",
    "LABEL_PREFIX",
    "LABEL_RESTART_POLICY",
    "LABEL_RESTART_STATUS",
    "LABEL_SNAPSHOT",
    "LABEL_SPEC_DIGEST",
    "LABEL_STOP_SIGNAL",
    "LABEL_STOP_TIMEOUT",
    "CniNetwork",
    "CONTAINER_ARGUMENT_SPEC",
    "CONTAINER_REQUIRED_IF",
    "ContainerManager",
    "ContainerRequest",
    "ContainerdView",
    "REGISTRY_ARGUMENT_SPEC",
    "Ctr",
    "RegistryAccess",
    "access_from_params",
    "available_runtimes",
    "client_from_params",
    "container_info",
    "image_info",
    "load_cni_network",
    "manage_container",
    "manage_image",
    "manage_namespace",
    "normalize_signal",
    "server_info",
    "user_labels",
    "validate_platform",
    "chain_id",
    "explain_registry_error",
    "host_platform_string",
    "image_size_from_manifest",
    "parse_container_info",
    "parse_images",
    "parse_ip_addresses",
    "parse_import_output",
    "parse_labels",
    "parse_namespaces",
    "parse_plugins",
    "parse_snapshot_mounts",
    "parse_tasks",
    "parse_version",
    "registry_host",
    "run_parallel",
    "select_manifest",
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
# Registry access of the modules that pull (documented in doc_fragments/_containerd.py REGISTRY).
REGISTRY_ARGUMENT_SPEC: Dict[str, Dict[str, Any]] = {
    "username": {"type": "str"},
    "password": {"type": "str", "no_log": True},
    "plain_http": {"type": "bool", "default": False},
    "skip_verify": {"type": "bool", "default": False},
    "hosts_dir": {"type": "path"},
}
# One container's options: containerd_container's own, and each item of containerd_containers'
# ``containers`` (validated against this same spec), so both accept and convert alike.
CONTAINER_ARGUMENT_SPEC: Dict[str, Dict[str, Any]] = {
    "name": {"type": "str", "required": True},
    "image": {"type": "str"},
    "state": {"type": "str", "choices": ["started", "present", "stopped", "absent"], "default": "started"},
    "command": {"type": "list", "elements": "str"},
    "env": {"type": "dict"},
    "labels": {"type": "dict"},
    "mounts": {
        "type": "list",
        "elements": "dict",
        "options": {
            "type": {"type": "str", "default": "bind"},
            "source": {"type": "str"},
            "target": {"type": "str", "required": True},
            "options": {"type": "list", "elements": "str"},
        },
    },
    "user": {"type": "str"},
    "working_dir": {"type": "str"},
    "hostname": {"type": "str"},
    "network": {"type": "str", "choices": ["none", "host", "cni"], "default": "none"},
    "cni_network": {"type": "str"},
    "cni_conf_dir": {"type": "path", "default": "/etc/cni/net.d"},
    "cni_bin_dirs": {"type": "list", "elements": "path", "default": ["/opt/cni/bin", "/usr/lib/cni"]},
    "memory": {"type": "str"},
    "cpus": {"type": "float"},
    "pids_limit": {"type": "int"},
    "restart_policy": {"type": "str", "choices": ["no", "always", "unless-stopped"], "default": "no"},
    "runtime": {"type": "str", "default": "io.containerd.runc.v2"},
    "pull": {"type": "str", "choices": ["missing", "always", "never"], "default": "missing"},
    "platform": {"type": "str"},
    "recreate": {"type": "bool", "default": False},
    "stop_signal": {"type": "str", "default": "SIGTERM"},
    "stop_timeout": {"type": "int", "default": 10},
}
CONTAINER_REQUIRED_IF: List[Tuple[str, str, List[str]]] = [
    ("state", "started", ["image"]),
    ("state", "present", ["image"]),
    ("state", "stopped", ["image"]),
]

# Labels this collection puts on the containers it creates: drift is decided by these identities.
LABEL_PREFIX = "io.ocistack.engine."
LABEL_SPEC_DIGEST = LABEL_PREFIX + "spec-digest"
LABEL_IMAGE = LABEL_PREFIX + "image"
LABEL_IMAGE_DIGEST = LABEL_PREFIX + "image-digest"
LABEL_SNAPSHOT = LABEL_PREFIX + "snapshot"
LABEL_STOP_TIMEOUT = LABEL_PREFIX + "stop-timeout"
LABEL_NETWORK = LABEL_PREFIX + "network"
LABEL_CNI_CONF_DIR = LABEL_PREFIX + "cni-conf-dir"
# containerd's own: the restart monitor keeps a task whose status label says "running" running
# (1.6 knows only this label; 1.7+ also reads the policy label).
LABEL_RESTART_STATUS = "containerd.io/restart.status"
LABEL_RESTART_POLICY = "containerd.io/restart.policy"
# ctr and containerd's restart monitor read the stop signal from this image-config label.
LABEL_STOP_SIGNAL = "io.containerd.image.config.stop-signal"

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


def host_platform_string() -> str:
    """``linux/amd64`` style platform of this host (the default ctr pulls and exports)."""
    machine = host_platform.machine().lower()
    arch = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x"}.get(
        machine, machine
    )
    return f"linux/{arch}"


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


def select_manifest(document: Mapping[str, Any], platform: str) -> Optional[Dict[str, Any]]:
    """From an index/manifest list, the descriptor matching ``platform`` (``os/arch[/variant]``)."""
    wanted = platform.split("/")
    for descriptor in document.get("manifests") or []:
        plat = descriptor.get("platform") or {}
        have = [plat.get("os", ""), plat.get("architecture", "")]
        if len(wanted) > 2:
            have.append(plat.get("variant", ""))
        if have == wanted[: len(have)] and len(have) == len(wanted):
            return dict(descriptor)
    return None


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
    last = _last_ctr_line(text)
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


def _last_ctr_line(stderr: str) -> str:
    lines = [line.strip() for line in (stderr or "").splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith("ctr:"):
            return line[4:].strip()
    return lines[-1] if lines else "no error output"


# --------------------------------------------------------------------------- registry access


class RegistryAccess:
    """How to reach a registry: plain HTTP, TLS checks, a hosts dir and credentials.

    ``arguments()`` is a context manager yielding the ctr flags; with credentials it writes
    a private hosts dir (0700) whose hosts.toml (0600) carries the Authorization header,
    and removes it when the call is done. The password is never part of the flags.
    """

    def __init__(
        self,
        plain_http: bool = False,
        skip_verify: bool = False,
        hosts_dir: Optional[str] = None,
        username: Optional[str] = None,
        password: Optional[str] = None,
    ) -> None:
        self.plain_http = bool(plain_http)
        self.skip_verify = bool(skip_verify)
        self.hosts_dir = hosts_dir
        self.username = username
        self.password = password

    def validate(self) -> None:
        if bool(self.username) != bool(self.password):
            missing = "password" if self.username else "username"
            raise OptionError(missing, "username and password go together; give both or neither")
        if self.username and ":" in self.username:
            raise OptionError("username", "must not contain ':' (HTTP basic auth separates user and password by it)")
        if self.hosts_dir is not None and not os.path.isdir(self.hosts_dir):
            raise OptionError(
                "hosts_dir", f"{self.hosts_dir} is not a directory; give a dir laid out as <host[:port]>/hosts.toml"
            )

    def _common_flags(self) -> List[str]:
        flags = []
        if self.plain_http:
            flags.append("--plain-http")
        if self.skip_verify:
            flags.append("--skip-verify")
        return flags

    def needs_generated_hosts(self, host: str) -> bool:
        """Credentials need a hosts.toml; so does HTTPS to a loopback registry, which ctr talks plain HTTP to."""
        if self.username:
            return True
        loopback = host.split(":", maxsplit=1)[0] in ("localhost", "127.0.0.1") or host.startswith(("127.", "[::1]"))
        return loopback and not self.plain_http and not self.hosts_dir

    @contextmanager
    def arguments(self, reference: str, tmp_root: Optional[str] = None) -> Iterator[List[str]]:
        if not self.needs_generated_hosts(registry_host(reference)):
            flags = self._common_flags()
            if self.hosts_dir:
                flags += ["--hosts-dir", self.hosts_dir]
            yield flags
            return
        host = registry_host(reference)
        workdir = tempfile.mkdtemp(prefix="ocistack-hosts-", dir=tmp_root)
        try:
            os.chmod(workdir, stat.S_IRWXU)
            host_dir = os.path.join(workdir, host)
            own_certs: List[str] = []
            if self.hosts_dir:
                user_host_dir = os.path.join(self.hosts_dir, host)
                if os.path.exists(os.path.join(user_host_dir, "hosts.toml")):
                    raise OptionError(
                        "hosts_dir",
                        f"{user_host_dir}/hosts.toml exists, and username/password need a generated hosts.toml "
                        "for that host; put the registry's certificates (*.crt) there instead of a hosts.toml, "
                        "or drop username/password and configure the auth header in your hosts.toml",
                    )
                for entry in os.listdir(self.hosts_dir):
                    source = os.path.join(self.hosts_dir, entry)
                    if entry != host and os.path.isdir(source):
                        shutil.copytree(source, os.path.join(workdir, entry))
                if os.path.isdir(user_host_dir):
                    own_certs = sorted(
                        os.path.join(user_host_dir, name) for name in os.listdir(user_host_dir) if name.endswith(".crt")
                    )
            os.mkdir(host_dir, stat.S_IRWXU)
            path = os.path.join(host_dir, "hosts.toml")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
            with os.fdopen(fd, "w") as handle:
                handle.write(self.hosts_toml(host, own_certs))
            yield ["--hosts-dir", workdir]
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def hosts_toml(self, host: str, ca_files: Sequence[str] = ()) -> str:
        """The hosts.toml text for ``host`` with the credentials as a basic-auth header."""
        scheme = "http" if self.plain_http else "https"
        url = f"{scheme}://{host}"
        lines = [
            f'[host."{url}"]',
            '  capabilities = ["pull", "resolve", "push"]',
            f"  skip_verify = {'true' if self.skip_verify else 'false'}",
        ]
        if ca_files:
            lines.append("  ca = [" + ", ".join(json.dumps(path) for path in ca_files) + "]")
        if self.username:
            token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            lines += [f'  [host."{url}".header]', f'    Authorization = ["Basic {token}"]']
        return "\n".join(lines) + "\n"


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
            detail = _last_ctr_line(err)
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
            raise ToolError(explain_registry_error(err, reference), cmd=["ctr", "content", "fetch-object"], rc=rc)
        return "sha256:" + hashlib.sha256(out).hexdigest()

    def pull(self, reference: str, access: RegistryAccess, platform: Optional[str] = None) -> None:
        args = ["images", "pull"]
        if platform:
            args += ["--platform", platform]
        with access.arguments(reference, self._tmp_root()) as flags:
            rc, _out, err = self.run([*args, *flags, reference], check=False)
        if rc != 0:
            raise ToolError(explain_registry_error(err, reference), cmd=["ctr", *args, reference], rc=rc)

    def push(self, reference: str, access: RegistryAccess, platform: Optional[str] = None) -> None:
        args = ["images", "push"]
        if platform:
            args += ["--platform", platform]
        with access.arguments(reference, self._tmp_root()) as flags:
            rc, _out, err = self.run([*args, *flags, reference], check=False)
        if rc != 0:
            raise ToolError(explain_registry_error(err, reference), cmd=["ctr", *args, reference], rc=rc)

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
            raise ToolError(f"reading container {container_id} failed: {_last_ctr_line(err)}", rc=rc, stderr=err)
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
            raise ToolError(f"removing snapshot {key} failed: {_last_ctr_line(err)}", rc=rc, stderr=err)

    def create_container(
        self,
        container_id: str,
        spec: Mapping[str, Any],
        labels: Mapping[str, str],
        runtime: str,
        start: bool = False,
    ) -> None:
        """``ctr containers create --config``: the spec is exactly what _oci_spec built.

        With ``start``, ``ctr run --detach --config`` creates the container and starts its task in
        one ctr process instead of two (the same spec and labels; IO to /dev/null as start_task).
        """
        handle, path = tempfile.mkstemp(prefix="ocistack-spec-", suffix=".json", dir=self._tmp_root())
        try:
            with os.fdopen(handle, "w") as fh:
                json.dump(spec, fh)
            if start:
                args = ["run", "--detach", "--null-io", "--config", path]
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

    def start_task(self, container_id: str) -> None:
        self.run(["tasks", "start", "--detach", "--null-io", container_id], what=f"starting {container_id}")

    def kill_task(self, container_id: str, signal: str = "SIGTERM", all_processes: bool = False) -> None:
        args = ["tasks", "kill", "--signal", signal]
        if all_processes:
            args.append("--all")
        rc, _out, err = self.run([*args, container_id], check=False)
        if rc != 0 and "not found" not in err and "process already finished" not in err:
            raise ToolError(f"signalling {container_id} failed: {_last_ctr_line(err)}", rc=rc, stderr=err)

    def delete_task(self, container_id: str) -> None:
        rc, _out, err = self.run(["tasks", "delete", "--force", container_id], check=False)
        if rc != 0 and "not found" not in err:
            raise ToolError(f"deleting the task of {container_id} failed: {_last_ctr_line(err)}", rc=rc, stderr=err)

    def remove_container(self, container_id: str) -> None:
        rc, _out, err = self.run(["containers", "rm", container_id], check=False)
        if rc != 0 and "not found" not in err:
            raise ToolError(f"removing container {container_id} failed: {_last_ctr_line(err)}", rc=rc, stderr=err)

    def exec_in_task(self, container_id: str, exec_id: str, args: Sequence[str]) -> Tuple[int, str, str]:
        """Run a command inside a running task (for checks); returns (rc, stdout, stderr)."""
        return self.run(["tasks", "exec", "--exec-id", exec_id, container_id, *args], check=False)

    def _tmp_root(self) -> Optional[str]:
        tmpdir = getattr(self.module, "tmpdir", None)
        return tmpdir if tmpdir and os.path.isdir(tmpdir) else None


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
    if not _NAME_RE.match(namespace):
        raise OptionError("namespace", f"{namespace!r} is not a valid namespace name (letters, digits, '.', '_', '-')")
    client = Ctr(module, params.get("address") or DEFAULT_ADDRESS, namespace)
    client.check_connection()
    return client


def access_from_params(params: Mapping[str, Any]) -> RegistryAccess:
    access = RegistryAccess(
        plain_http=bool(params.get("plain_http")),
        skip_verify=bool(params.get("skip_verify")),
        hosts_dir=params.get("hosts_dir"),
        username=params.get("username"),
        password=params.get("password"),
    )
    access.validate()
    return access


def validate_platform(value: Optional[str]) -> Optional[str]:
    if value is None:
        return None
    if not _PLATFORM_RE.match(value):
        raise OptionError("platform", f"{value!r} is not a platform; use os/arch[/variant], e.g. linux/amd64")
    return value


_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,75}$")
_PLATFORM_RE = re.compile(r"^[a-z0-9]+/[a-z0-9_]+(?:/[a-z0-9]+)?$")


def _public_image(details: Optional[Mapping[str, Any]]) -> Optional[Dict[str, Any]]:
    if details is None:
        return None
    return {key: details[key] for key in ("name", "digest", "size", "labels", "platforms", "media_type")}


# --------------------------------------------------------------------------- containerd_image


def _archive_digests(path: str) -> List[str]:
    """Digests listed in an OCI archive's index.json (what ``export_image`` wrote), or [] if unreadable."""
    try:
        with tarfile.open(path) as archive:
            member = archive.extractfile("index.json")
            if member is None:
                return []
            index = json.load(member)
    except (OSError, KeyError, ValueError, tarfile.TarError):
        return []
    return [str(entry.get("digest")) for entry in index.get("manifests") or []]


def manage_image(module: Any) -> Dict[str, Any]:
    """containerd_image: pull/import, tag, export, push or remove one image; returns the module result."""
    params = module.params
    check_mode = module.check_mode
    name = validate_reference(params["name"], "name")
    tags = [validate_reference(tag, "tags") for tag in params.get("tags") or []]
    platform = validate_platform(params.get("platform"))
    state = params["state"]
    source = params.get("source") or "pull"
    access = access_from_params(params)
    path = params.get("path")
    archive_path = params.get("archive_path")
    if source == "import":
        if not path:
            raise OptionError("path", "source: import needs path, the archive to import")
        if not os.path.isfile(path):
            raise OptionError("path", f"{path} does not exist or is not a file; give the image archive to import")
    elif path:
        raise OptionError("path", "path is only used with source: import; set source: import or drop path")
    if archive_path:
        archive_path = os.path.abspath(archive_path)
        if not os.path.isdir(os.path.dirname(archive_path)):
            raise OptionError("archive_path", f"the directory of {archive_path} does not exist; create it first")
    if state == "absent" and (params.get("push") or archive_path):
        raise OptionError("state", "push and archive_path need the image; they cannot be combined with state: absent")

    client = client_from_params(module)
    before = client.image(name)
    before_tags = {tag: (client.image(tag) or {}).get("digest") for tag in tags}
    before_state = {"name": name, "present": before is not None, "digest": (before or {}).get("digest")}
    if tags:
        before_state["tags"] = before_tags
    result: Dict[str, Any] = {"changed": False, "actions": []}

    if state == "absent":
        desired_state = {"present": False, "digest": None}
        if tags:
            desired_state["tags"] = {tag: None for tag in tags}
        difference = compare(desired_state, before_state, ignore_none=False)
        for reference in [name, *tags]:
            exists = before is not None if reference == name else before_tags.get(reference) is not None
            if exists:
                result["actions"].append(f"remove {reference}")
                if not check_mode:
                    client.remove_image(reference)
        result.update(changed=difference.changed, image=None)
        if module._diff:
            result["diff"] = difference.diff()
        return result

    digest = (before or {}).get("digest")
    # The listing of `name` after a pull: tags, exports and pushes leave it as it is.
    pulled: Optional[Dict[str, Any]] = None
    if before is None:
        if source == "import":
            result["actions"].append(f"import {path}")
            if not check_mode:
                digest = _import_for(client, name, path, platform)
        else:
            result["actions"].append(f"pull {name}")
            if not check_mode:
                client.pull(name, access, platform)
                pulled = client.image(name)
                digest = (pulled or {}).get("digest")
    elif params.get("pull") == "always" and source == "pull":
        if check_mode:
            remote = client.resolve_remote_digest(name, access)
            if remote != digest:
                result["actions"].append(f"pull {name}")
                digest = remote
        else:
            client.pull(name, access, platform)
            pulled = client.image(name)
            digest = (pulled or {}).get("digest")
            if digest != before["digest"]:
                result["actions"].append(f"pull {name}")
    # In check mode a missing image has no digest yet: a placeholder stands for the one it would get.
    known_digest = digest or "(to be pulled)"

    for tag in tags:
        if before_tags.get(tag) != known_digest:
            result["actions"].append(f"tag {tag}")
            if not check_mode:
                client.tag(name, tag)

    if archive_path and (not os.path.exists(archive_path) or known_digest not in _archive_digests(archive_path)):
        result["actions"].append(f"export {archive_path}")
        if not check_mode:
            _export_atomically(client, name, archive_path, platform)

    pushed = None
    if params.get("push"):
        # With tags, push the tags (retag-and-push); without, push the image's own reference.
        for reference in tags or [name]:
            try:
                remote = client.resolve_remote_digest(reference, access)
            except ToolError as error:
                if "was not found" not in str(error):
                    raise
                remote = None
            if remote != known_digest:
                result["actions"].append(f"push {reference}")
                if not check_mode:
                    client.push(reference, access, platform)
        pushed = True

    after_state = {"name": name, "present": True, "digest": known_digest}
    if tags:
        after_state["tags"] = {tag: known_digest for tag in tags}
    difference = compare(after_state, before_state)
    changed = difference.changed or bool(result["actions"])
    result["changed"] = changed
    if module._diff:
        diff = difference.diff()
        if archive_path:
            diff["before"]["archive_path"] = archive_path if "export" not in " ".join(result["actions"]) else None
            diff["after"]["archive_path"] = archive_path
        if pushed:
            diff["before"]["pushed"] = not any(action.startswith("push") for action in result["actions"])
            diff["after"]["pushed"] = True
        result["diff"] = diff
    if check_mode and before is None:
        result["image"] = {"name": name, "digest": None, "size": None, "labels": {}}
    else:
        current = pulled or client.image(name)
        result["image"] = _public_image(client.image_details(current, platform)) if current else None
    return result


def _import_for(client: Ctr, name: str, path: str, platform: Optional[str]) -> str:
    """Import an archive and make sure it gave us ``name``; images it added under other names are removed."""
    existing = {image["name"] for image in client.images()}
    imported = client.import_archive(path, platform)
    image = client.image(name)
    if image is None:
        for other, _digest in imported:
            if other not in existing:
                client.remove_image(other)
        found = ", ".join(sorted({other for other, _digest in imported})) or "no named image"
        raise OptionError(
            "name", f"the archive {path} holds {found}, not {name}; set name to one of the names in the archive"
        )
    return image["digest"]


def _export_atomically(client: Ctr, name: str, archive_path: str, platform: Optional[str]) -> None:
    # Write next to the target and rename: a failed export leaves the old archive untouched.
    directory = os.path.dirname(archive_path)
    handle, temp_path = tempfile.mkstemp(prefix=".ocistack-export-", dir=directory)
    os.close(handle)
    try:
        client.export_image(name, temp_path, platform)
        os.chmod(temp_path, 0o644)
        os.replace(temp_path, archive_path)
    finally:
        if os.path.exists(temp_path):
            os.unlink(temp_path)


# --------------------------------------------------------------------------- containerd_image_info


def image_info(module: Any) -> Dict[str, Any]:
    params = module.params
    client = client_from_params(module)
    names = params.get("name") or []
    images = []
    if names:
        for name in names:
            image = client.image(validate_reference(name, "name"))
            if image:
                images.append(image)
    else:
        images = client.images()
    return {"changed": False, "images": [_public_image(client.image_details(image)) for image in images]}


# --------------------------------------------------------------------------- containerd_namespace


def manage_namespace(module: Any) -> Dict[str, Any]:
    params = module.params
    name = params["name"]
    if not _NAME_RE.match(name or ""):
        raise OptionError("name", f"{name!r} is not a valid namespace name (letters, digits, '.', '_', '-')")
    labels = {str(key): str(value) for key, value in (params.get("labels") or {}).items()}
    for key in labels:
        if not key or "=" in key or "," in key:
            raise OptionError("labels", f"label key {key!r} must be non-empty and contain neither '=' nor ','")
    client = client_from_params(module)
    current = client.namespace_info(name)
    before = None if current is None else {"name": name, "labels": current["labels"]}
    if params["state"] == "absent":
        changed = current is not None
        if changed and not module.check_mode:
            client.remove_namespace(name)
        result = {"changed": changed, "namespace": None}
        if module._diff:
            result["diff"] = {"before": before or {}, "after": {}}
        return result
    wanted_labels = labels if params.get("purge_labels") else {**(current or {}).get("labels", {}), **labels}
    desired = {"name": name, "labels": wanted_labels}
    difference = compare(desired, before)
    if difference.changed and not module.check_mode:
        if current is None:
            client.create_namespace(name, wanted_labels)
        else:
            for key in sorted(set(current["labels"]) | set(wanted_labels)):
                if current["labels"].get(key) != wanted_labels.get(key):
                    client.label_namespace(name, key, wanted_labels.get(key, ""))
    result = {"changed": difference.changed, "namespace": desired}
    if module._diff:
        result["diff"] = {"before": before or {}, "after": desired}
    return result


# --------------------------------------------------------------------------- containerd_info


def server_info(module: Any) -> Dict[str, Any]:
    client = client_from_params(module)
    version = client.version()
    plugins = client.plugins()
    server = version.get("server") or {}

    def ids(plugin_type: str) -> List[str]:
        return [p["id"] for p in plugins if p["type"] == plugin_type and p["status"] == "ok"]

    cri = [p for p in plugins if p["type"] == "io.containerd.grpc.v1" and p["id"] == "cri"]
    return {
        "changed": False,
        "containerd": {
            "version": server.get("version"),
            "revision": server.get("revision"),
            "uuid": server.get("uuid"),
            "client_version": (version.get("client") or {}).get("version"),
            "plugins": plugins,
            "cri": {"enabled": bool(cri), "status": cri[0]["status"] if cri else "disabled"},
            "snapshotters": ids("io.containerd.snapshotter.v1"),
            # Runtime plugins are "task"/"linux"; the runtimes users name are the shims on the host.
            "runtimes": available_runtimes(),
            "restart_monitor": any(p["id"] == "restart" and p["status"] == "ok" for p in plugins),
            "namespaces": [entry["name"] for entry in client.namespaces()],
        },
    }


def available_runtimes() -> List[str]:
    """Runtime names (``io.containerd.runc.v2``) whose shim binary is on this host's PATH."""
    return list(_runtimes_on_path(os.environ.get("PATH", "")))


@lru_cache(maxsize=4)
def _runtimes_on_path(path: str) -> Tuple[str, ...]:
    # Cached: a batch of twenty containers validates twenty runtimes against one PATH scan.
    found = set()
    directories = path.split(os.pathsep) + ["/usr/bin", "/usr/local/bin", "/usr/sbin"]
    for directory in directories:
        try:
            entries = os.listdir(directory)
        except OSError:
            continue
        for entry in entries:
            match = _SHIM_RE.match(entry)
            if match and os.access(os.path.join(directory, entry), os.X_OK):
                found.add(f"io.containerd.{match.group(1)}.{match.group(2)}")
    return tuple(sorted(found))


_SHIM_RE = re.compile(r"^containerd-shim-([a-z0-9]+)-(v[0-9]+)$")
_RUNTIME_RE = re.compile(r"^io\.containerd\.([a-z0-9]+)\.(v[0-9]+)$")


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


def create_netns(module: Any, name: str) -> str:
    ip = module.get_bin_path("ip", required=False)
    if not ip:
        raise ToolError("ip (iproute2) was not found on the host; install iproute2 for network: cni")
    path = os.path.join(NETNS_DIR, name)
    if not os.path.exists(path):
        rc, _out, err = module.run_command([ip, "netns", "add", name])
        if rc != 0:
            raise ToolError(f"creating network namespace {name} failed: {err.strip()}", rc=rc, stderr=err)
    return path


def parse_ip_addresses(text: str) -> List[str]:
    """``ip -j addr show`` -> ``["10.88.0.5/16", ...]`` (global scope only)."""
    addresses = []
    for link in json.loads(text or "[]"):
        for info in link.get("addr_info") or []:
            if info.get("scope") == "global" and info.get("local"):
                addresses.append(f"{info['local']}/{info.get('prefixlen')}")
    return addresses


def netns_addresses(module: Any, name: str) -> List[str]:
    ip = module.get_bin_path("ip", required=False)
    if not ip or not os.path.exists(os.path.join(NETNS_DIR, name)):
        return []
    rc, out, _err = module.run_command([ip, "-j", "-n", name, "addr", "show"])
    return parse_ip_addresses(out) if rc == 0 else []


def delete_netns(module: Any, name: str) -> None:
    if not os.path.exists(os.path.join(NETNS_DIR, name)):
        return
    ip = module.get_bin_path("ip", required=True)
    rc, _out, err = module.run_command([ip, "netns", "delete", name])
    if rc != 0:
        raise ToolError(f"removing network namespace {name} failed: {err.strip()}", rc=rc, stderr=err)


# --------------------------------------------------------------------------- containerd_container

# Labels we own (identity) or containerd owns (restart monitor): not part of the user's `labels`.
_MANAGED_LABEL_PREFIXES = (LABEL_PREFIX, "containerd.io/restart.", LABEL_STOP_SIGNAL)
_SIGNALS = {
    "SIGHUP": 1,
    "SIGINT": 2,
    "SIGQUIT": 3,
    "SIGKILL": 9,
    "SIGUSR1": 10,
    "SIGUSR2": 12,
    "SIGTERM": 15,
    "SIGWINCH": 28,
    "SIGPWR": 30,
    "SIGRTMIN+3": 37,
}


def normalize_signal(value: Any, option: str = "stop_signal") -> str:
    """``"TERM"``, ``"sigterm"``, ``15`` -> ``"SIGTERM"``."""
    text = str(value).strip().upper()
    if text.isdigit():
        for name, number in _SIGNALS.items():
            if number == int(text):
                return name
        raise OptionError(option, f"signal number {text} is not one of {sorted(_SIGNALS.values())}; use a name")
    if not text.startswith("SIG"):
        text = "SIG" + text
    if text not in _SIGNALS:
        raise OptionError(option, f"unknown signal {value!r}; use one of {', '.join(_SIGNALS)}")
    return text


def user_labels(labels: Mapping[str, str]) -> Dict[str, str]:
    return {key: value for key, value in labels.items() if not key.startswith(_MANAGED_LABEL_PREFIXES)}


# _oci_spec's option names -> this module's, for error messages.
_SPEC_OPTION_NAMES = {"args": "command", "cwd": "working_dir", "namespaces": "network"}


class ContainerRequest:
    """The validated options of containerd_container (no host access here)."""

    def __init__(self, params: Mapping[str, Any], namespace: str) -> None:
        self.params = params
        self.name = params["name"]
        if not _NAME_RE.match(self.name or ""):
            raise OptionError("name", f"{self.name!r} is not a valid container name (letters, digits, '.', '_', '-')")
        self.state = params["state"]
        self.platform = validate_platform(params.get("platform"))
        self.image = None if params.get("image") is None else validate_reference(params["image"], "image")
        if self.state != "absent" and not self.image:
            raise OptionError("image", f"state {self.state} needs image, the reference to run")
        self.runtime = params.get("runtime") or "io.containerd.runc.v2"
        self.restart_policy = params.get("restart_policy") or "no"
        if self.restart_policy != "no" and self.state == "present":
            raise OptionError(
                "restart_policy",
                f"restart_policy {self.restart_policy} keeps the container running, which contradicts state present; "
                "use state started (or stopped to hold it down)",
            )
        self.stop_signal = normalize_signal(params.get("stop_signal") or "SIGTERM")
        self.stop_timeout = int(params.get("stop_timeout") if params.get("stop_timeout") is not None else 10)
        if self.stop_timeout < 0:
            raise OptionError("stop_timeout", f"{self.stop_timeout} is negative; give seconds to wait (0 or more)")
        self.labels = {str(key): str(value) for key, value in (params.get("labels") or {}).items()}
        for key in self.labels:
            if not key or "=" in key or key.startswith(_MANAGED_LABEL_PREFIXES):
                raise OptionError(
                    "labels",
                    f"label key {key!r} is empty, contains '=' or is reserved ({', '.join(_MANAGED_LABEL_PREFIXES)})",
                )
        self.cni_config: Dict[str, Any] = {}
        self.cni_bin_dirs = list(params.get("cni_bin_dirs") or DEFAULT_CNI_BIN_DIRS)
        if params.get("network") != "cni" and params.get("cni_network"):
            raise OptionError("cni_network", "is only used with network: cni; set network: cni or drop cni_network")
        if self.state != "absent" and params.get("network") == "cni":
            conf_dir = params.get("cni_conf_dir") or DEFAULT_CNI_CONF_DIR
            self.cni_config = load_cni_network(conf_dir, params.get("cni_network"))
        if self.state != "absent":
            self._validate_runtime()
            self._validate_mount_sources()
            # Every spec option is checked now, before any pull: an image config with a command stands in.
            self.build(namespace, {"Cmd": ["/bin/true"]})

    def _validate_runtime(self) -> None:
        match = _RUNTIME_RE.match(self.runtime)
        if not match:
            raise OptionError(
                "runtime",
                f"{self.runtime!r} is not a runtime name; use io.containerd.<name>.<version> "
                "such as io.containerd.runc.v2",
            )
        if self.runtime not in available_runtimes():
            raise OptionError(
                "runtime",
                f"unknown runtime {self.runtime}: no containerd-shim-{match.group(1)}-{match.group(2)} on the host; "
                f"install its shim or choose one of {', '.join(available_runtimes()) or 'none found'}",
            )

    def _validate_mount_sources(self) -> None:
        for index, mount in enumerate(self.params.get("mounts") or []):
            is_bind = (mount.get("type") or "bind") == "bind"
            if is_bind and mount.get("source") and not os.path.exists(str(mount["source"])):
                raise OptionError(
                    "mounts", f"mounts[{index}].source {mount['source']} does not exist on the host; create it first"
                )

    def build(self, namespace: str, image_config: Mapping[str, Any]) -> Dict[str, Any]:
        """The runtime spec from _oci_spec, with its errors naming this module's options."""
        try:
            return build_spec(self.spec_options(namespace), image_config)
        except OptionError as error:
            option = _SPEC_OPTION_NAMES.get(error.option)
            if option is None:
                raise
            message = str(error)[len(error.option) + 2 :]
            raise OptionError(option, message) from None

    def spec_options(self, namespace: str) -> Dict[str, Any]:
        params = self.params
        options: Dict[str, Any] = {
            "args": params.get("command"),
            "env": params.get("env"),
            "cwd": params.get("working_dir"),
            "user": params.get("user"),
            "hostname": params.get("hostname"),
            "mounts": params.get("mounts"),
            "memory": params.get("memory"),
            "cpus": params.get("cpus"),
            "pids_limit": params.get("pids_limit"),
            "rootfs_path": "rootfs",
            "cgroups_path": f"/{namespace}/{self.name}",
        }
        # A cgroup namespace of its own: the spec mounts /sys/fs/cgroup, and on a cgroup v1 host whose
        # containerd itself runs in a container (a nested host) the host's cgroup paths cannot be
        # mounted ("stat /sys/fs/default/<name>: no such file"). Private is also dockerd's v2 default.
        namespaces: List[Dict[str, str]] = [{"type": ns} for ns in ("pid", "ipc", "uts", "mount", "cgroup")]
        network = params.get("network")
        if network == "cni":
            namespaces.append({"type": "network", "path": os.path.join(NETNS_DIR, netns_name(namespace, self.name))})
        elif network != "host":
            namespaces.append({"type": "network"})
        options["namespaces"] = namespaces
        return options

    def network_identity(self) -> str:
        network = self.params.get("network") or "none"
        if network == "cni":
            return f"cni:{self.cni_config['name']}"
        return network

    def restart_labels(self, running: bool) -> Dict[str, str]:
        if self.restart_policy == "no":
            return {}
        labels = {LABEL_RESTART_STATUS: "running" if running else "stopped"}
        # containerd 1.7+ reads the policy; 1.6 ignores it and restarts whatever is labelled running.
        labels[LABEL_RESTART_POLICY] = self.restart_policy
        return labels


def _status_of(task: Optional[Mapping[str, Any]]) -> str:
    if not task:
        return "created"
    status = task.get("status")
    return "running" if status in ("running", "pausing", "paused") else "stopped" if status == "stopped" else "created"


def _actual_identity(info: Mapping[str, Any]) -> Dict[str, Any]:
    labels = info["labels"]
    return {
        "image": labels.get(LABEL_IMAGE, info.get("image")),
        "image_digest": labels.get(LABEL_IMAGE_DIGEST),
        "spec_digest": labels.get(LABEL_SPEC_DIGEST),
        "runtime": info.get("runtime"),
        "labels": user_labels(labels),
        "restart_policy": labels.get(LABEL_RESTART_POLICY, "no"),
        "stop_signal": labels.get(LABEL_STOP_SIGNAL),
        "stop_timeout": labels.get(LABEL_STOP_TIMEOUT),
        "network": labels.get(LABEL_NETWORK, "none"),
    }


def _spec_without_rootfs(spec: Mapping[str, Any]) -> Dict[str, Any]:
    """The stored spec minus the snapshot mount we add at ``/`` (what build_spec produced)."""
    copy = json.loads(json.dumps(spec))
    copy["mounts"] = [mount for mount in copy.get("mounts") or [] if mount.get("destination") != "/"]
    return copy


# Marks "not read yet" where None already means "no such container".
_UNREAD: Any = object()


def run_parallel(function: Callable[[Any], Any], items: Sequence[Any], workers: int) -> List[Any]:
    """``[function(item) for item in items]`` on up to ``workers`` threads, results in order.

    Every item runs even when another raises; the first exception (in item order) is raised
    after all are done, so no container is left half-converged by an early exit.
    """
    if workers <= 1 or len(items) <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        futures = [pool.submit(function, item) for item in items]
        wait(futures)
    return [future.result() for future in futures]


class ContainerdView:
    """What one module run has read from containerd, shared by every container it converges.

    A run over twenty containers then lists containers, tasks and images once instead of once
    per container. A container the run changed is forgotten, so the next read of it (and of
    the task list) goes back to containerd. Safe to use from the batch's worker threads.
    """

    def __init__(self, client: Ctr) -> None:
        self.client = client
        self._lock = threading.RLock()
        self._infos: Dict[str, Optional[Dict[str, Any]]] = {}
        self._tasks: Optional[Dict[str, Dict[str, Any]]] = None
        self._stale_tasks: set = set()
        self._images: Dict[str, Optional[Dict[str, Any]]] = {}
        self._details: Dict[Tuple[str, Optional[str]], Dict[str, Any]] = {}
        self._remote_digests: Dict[str, str] = {}
        self._image_locks: Dict[str, threading.Lock] = {}
        self._pulled: set = set()

    def prefetch(self, names: Sequence[str], workers: int = 1) -> None:
        """Read the given containers (one listing, then ``info`` of those that exist) and the tasks."""
        existing = set(self.client.container_ids())
        present = [name for name in names if name in existing]
        infos = run_parallel(self.client.container, present, workers)
        with self._lock:
            for name in names:
                self._infos[name] = None
            self._infos.update(zip(present, infos))
        self.tasks()

    def container(self, name: str) -> Optional[Dict[str, Any]]:
        with self._lock:
            if name in self._infos:
                info = self._infos[name]
                return None if info is None else dict(info)
        info = self.client.container(name)
        with self._lock:
            self._infos[name] = info
        return None if info is None else dict(info)

    def tasks(self) -> Dict[str, Dict[str, Any]]:
        with self._lock:
            if self._tasks is None or self._stale_tasks:
                self._tasks = self.client.tasks()
                self._stale_tasks.clear()
            return dict(self._tasks)

    def task(self, name: str) -> Optional[Dict[str, Any]]:
        return self.tasks().get(name)

    def forget(self, name: str) -> None:
        """``name`` was changed: read it and the task list again when next asked."""
        with self._lock:
            self._infos.pop(name, None)
            self._stale_tasks.add(name)

    def remember(self, name: str, info: Dict[str, Any]) -> None:
        """``name`` was just created as ``info`` says (what we wrote is what containerd stores)."""
        with self._lock:
            self._infos[name] = info
            self._stale_tasks.add(name)

    def labelled(self, name: str, labels: Mapping[str, str]) -> None:
        """``labels`` were just set on ``name``."""
        with self._lock:
            info = self._infos.get(name)
            if info is None:
                self._infos.pop(name, None)
            else:
                info["labels"] = {**info["labels"], **labels}

    # -- images: one lookup per reference, one pull per reference and run

    @contextmanager
    def image_lock(self, reference: str) -> Iterator[None]:
        """Serialises lookups and pulls of one reference, so two containers never pull it twice at once."""
        with self._lock:
            lock = self._image_locks.setdefault(reference, threading.Lock())
        with lock:
            yield

    def image(self, reference: str) -> Optional[Dict[str, Any]]:
        if reference not in self._images:
            self._images[reference] = self.client.image(reference)
        return self._images[reference]

    def pulled(self, reference: str) -> bool:
        return reference in self._pulled

    def pull(self, reference: str, access: RegistryAccess, platform: Optional[str]) -> Optional[Dict[str, Any]]:
        self.client.pull(reference, access, platform)
        self._pulled.add(reference)
        self._images.pop(reference, None)
        return self.image(reference)

    def remote_digest(self, reference: str, access: RegistryAccess) -> str:
        if reference not in self._remote_digests:
            self._remote_digests[reference] = self.client.resolve_remote_digest(reference, access)
        return self._remote_digests[reference]

    def image_details(self, image: Mapping[str, Any], platform: Optional[str]) -> Dict[str, Any]:
        key = (image["digest"], platform)
        with self._lock:
            if key in self._details:
                return self._details[key]
        details = self.client.image_details(image, platform)
        with self._lock:
            self._details[key] = details
        return details


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

    # -- observing

    def observe(self) -> Optional[Dict[str, Any]]:
        info = self.view.container(self.request.name)
        if info is None:
            return None
        task = self.view.task(self.request.name)
        info["task"] = task
        info["status"] = _status_of(task)
        return info

    def public(self, info: Optional[Mapping[str, Any]]) -> Optional[Dict[str, Any]]:
        if info is None:
            return None
        identity = _actual_identity(info)
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
        }

    def _addresses(self, network: str) -> List[str]:
        if not network.startswith("cni:"):
            return []
        return netns_addresses(self.module, self._netns()[0])

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
            "runtime": request.runtime,
            "labels": request.labels,
            "restart_policy": request.restart_policy,
            "stop_signal": request.stop_signal,
            "stop_timeout": str(request.stop_timeout),
            "network": request.network_identity(),
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

    def remove(self, info: Mapping[str, Any]) -> None:
        name = self.request.name
        self.stop(info)
        if info.get("task") is not None:
            self.client.delete_task(name)
        self.client.remove_container(name)
        snapshot = info["labels"].get(LABEL_SNAPSHOT)
        if snapshot:
            self.client.remove_snapshot(snapshot)
        network = info["labels"].get(LABEL_NETWORK, "")
        if network.startswith("cni:"):
            self._teardown_cni(network[len("cni:") :], info["labels"].get(LABEL_CNI_CONF_DIR))
        self.view.forget(name)

    def _netns(self) -> Tuple[str, str]:
        name = netns_name(self.client.namespace, self.request.name)
        return name, os.path.join(NETNS_DIR, name)

    def _cni_container_id(self) -> str:
        return f"{self.client.namespace}-{self.request.name}"

    def _teardown_cni(self, network: str, conf_dir: Optional[str] = None) -> None:
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
                CniNetwork(self.module, config, self.request.cni_bin_dirs).delete(self._cni_container_id(), path)
        delete_netns(self.module, netns)

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
        if request.cni_config:
            labels[LABEL_CNI_CONF_DIR] = self.params.get("cni_conf_dir") or DEFAULT_CNI_CONF_DIR
        cni = None
        if request.cni_config:
            netns, path = self._netns()
            cni = CniNetwork(self.module, request.cni_config, request.cni_bin_dirs)
            cni.check_plugins()
            create_netns(self.module, netns)
            try:
                self.cni_result = cni.add(self._cni_container_id(), path)
            except Exception:
                delete_netns(self.module, netns)
                self.client.remove_snapshot(snapshot_key)
                raise
        try:
            self.client.create_container(request.name, full_spec, labels, request.runtime, start=start)
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
            {"id": request.name, "labels": labels, "image": "", "runtime": request.runtime, "spec": full_spec},
        )

    def start(self, has_task: bool, started: bool = False) -> None:
        """Start the task (unless ``started`` by create), then hand it to the restart monitor if asked."""
        name = self.request.name
        if not started:
            if has_task:
                # An exited task keeps its id until deleted; a new one cannot start before that.
                self.client.delete_task(name)
            self.client.start_task(name)
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
        before_view = {} if before is None else {**_actual_identity(before), "status": before["status"]}

        if request.state == "absent":
            if before is not None:
                self.actions.append("remove")
                if not self.check_mode:
                    self.remove(before)
            result.update(changed=bool(self.actions), actions=self.actions, container=None)
            if self.module._diff:
                result["diff"] = {"before": before_view or {}, "after": {}}
            return result

        image = self.resolve_image()
        identity, spec = self.desired(image)
        difference = compare(identity, None if before is None else _actual_identity(before))
        recreate = before is not None and (difference.changed or bool(self.params.get("recreate")))
        if before is not None and identity["network"].startswith("cni:") and not os.path.exists(self._netns()[1]):
            # The named netns is gone (a reboot empties /run/netns): the container cannot start without it.
            recreate = True
        wanted_status = {"started": "running", "stopped": "stopped", "present": None}[request.state]

        # After a create the container is exactly what create() wrote: no task, no restart status label.
        current = before
        if recreate:
            self.actions.append("recreate")
            if not self.check_mode:
                self.remove(before)
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
                    "runtime": request.runtime,
                    "labels": request.labels,
                    "restart_policy": request.restart_policy,
                    "spec_digest": identity["spec_digest"],
                    "network": identity["network"],
                    "addresses": [],
                }
            result["container"] = preview
        elif observe_after:
            self.finish(result)
        if self.module._diff:
            diff = status_difference.diff()
            if before is None:
                diff = {"before": {}, "after": after_view}
            if (
                spec is not None
                and before is not None
                and identity["spec_digest"] != _actual_identity(before)["spec_digest"]
            ):
                diff["before"]["spec"] = _spec_without_rootfs(before.get("spec") or {})
                diff["after"]["spec"] = spec
            result["diff"] = diff
        return result

    def finish(self, result: Dict[str, Any]) -> Dict[str, Any]:
        """Fill ``result["container"]`` with the container as containerd now reports it."""
        if not self.check_mode and self.request.state != "absent":
            result["container"] = self.public(self.observe())
        return result


def manage_container(module: Any) -> Dict[str, Any]:
    """containerd_container: converge one container; returns the module result."""
    params = module.params
    request = ContainerRequest(params, params.get("namespace") or DEFAULT_NAMESPACE)
    access = access_from_params(params)
    view = ContainerdView(client_from_params(module))
    return ContainerManager(module, request, view, access).run()


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
        identity = _actual_identity(info)
        status = _status_of(task)
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
            }
        )
    return {"changed": False, "containers": containers}
