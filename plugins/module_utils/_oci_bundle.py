# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""OCI bundles on disk: ``<path>/config.json`` + a rootfs, made from an image or a directory/tarball.

What the bundle was made from is recorded in ``<path>/.ocistack-source.json`` (a content identity:
manifest digest, tarball sha256 or directory path), so a run changes the bundle only when its
config.json or its rootfs source really changed. Everything is validated before the host is touched;
the rootfs is unpacked into a temporary directory inside the bundle and swapped in, and config.json
is replaced atomically, so a failed run leaves the previous bundle as it was.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

from ansible_collections.ocistack.engine.plugins.module_utils._compare import Difference, compare
from ansible_collections.ocistack.engine.plugins.module_utils._errors import OptionError
from ansible_collections.ocistack.engine.plugins.module_utils._host_tools import ensure_apparmor_profile
from ansible_collections.ocistack.engine.plugins.module_utils._oci_image import (
    host_platform_string,
    parse_layout_ref,
    read_image,
    unpack_image,
    unpack_tarball,
)
from ansible_collections.ocistack.engine.plugins.module_utils._oci_security import DEFAULT_APPARMOR_PROFILE
from ansible_collections.ocistack.engine.plugins.module_utils._oci_spec import (
    SPEC_OPTION_KEYS,
    build_spec,
    dump_spec,
    spec_digest,
)

__all__ = [
    "BUNDLE_SPEC_OPTIONS",
    "SOURCE_OPTIONS",
    "STATE_FILE",
    "BundleManager",
    "mounts_under",
    "processes_rooted_in",
    "validate_bundle_path",
]

STATE_FILE = ".ocistack-source.json"
CONFIG_FILE = "config.json"
ROOTFS_DIR = "rootfs"
MANAGED_BY = "ocistack.engine.oci_bundle"
SOURCE_OPTIONS = ("image", "oci_layout", "rootfs")
# Module options that go straight to build_spec: all of its keys but the two the bundle
# layout itself decides (the rootfs is always ./rootfs; runc picks the cgroup path).
BUNDLE_SPEC_OPTIONS = tuple(key for key in SPEC_OPTION_KEYS if key not in ("rootfs_path", "cgroups_path"))
# Directories a bundle may never be (removing one would break the host).
_PROTECTED = frozenset(
    ["/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib64", "/opt", "/proc", "/root", "/run", "/sbin"]
    + ["/srv", "/sys", "/tmp", "/usr", "/var", "/var/lib", "/var/run", "/var/tmp"]
)


_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")


@dataclass
class Source:
    """Where the rootfs comes from, as far as deciding change and building it are concerned."""

    identity: Dict[str, Any]  # compared with the recorded one: it decides whether the rootfs changes
    origin: str  # what the user wrote, for the record and the result
    root_path: str  # the spec's root.path: "rootfs" (unpacked into the bundle) or an absolute directory
    image_config: Optional[Dict[str, Any]] = None
    fill: Optional[Callable[[str], None]] = None  # unpacks into a fresh directory; None: nothing to unpack
    details: Dict[str, Any] = field(default_factory=dict)


def validate_bundle_path(value: Any) -> str:
    """The bundle directory as a clean absolute path; refuses relative paths and system directories."""
    text = str(value or "")
    if not text.startswith("/"):
        raise OptionError("path", f"{text!r} must be an absolute path (the bundle directory)")
    path = os.path.normpath(text)
    if path.startswith("//"):
        path = "/" + path.lstrip("/")
    if path in _PROTECTED:
        raise OptionError("path", f"{path} is a system directory, not a bundle; use a directory of its own")
    if os.path.islink(path):
        raise OptionError("path", f"{path} is a symlink; give the real bundle directory")
    if os.path.lexists(path) and not os.path.isdir(path):
        raise OptionError("path", f"{path} exists and is not a directory")
    return path


def mounts_under(path: str, mountinfo: str = "/proc/self/mountinfo") -> List[str]:
    """Mount points at or below ``path`` in our mount namespace (removing through a mount would empty it)."""
    found = []
    try:
        with open(mountinfo, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return found
    prefix = path.rstrip("/") + "/"
    for line in lines:
        fields = line.split()
        if len(fields) < 5:
            continue
        # mountinfo escapes blanks in paths as octal (\040)
        point = _OCTAL_ESCAPE.sub(lambda match: chr(int(match.group(1), 8)), fields[4])
        if point == path or point.startswith(prefix):
            found.append(point)
    return found


def processes_rooted_in(directory: str, proc: str = "/proc") -> List[int]:
    """PIDs whose root directory is ``directory``: the processes of a container running from it.

    A runtime's mounts live in the container's own mount namespace, invisible in ours, but the
    root of each of its processes is the rootfs directory itself (same device and inode).
    """
    try:
        wanted = os.stat(directory)
    except OSError:
        return []
    found = []
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        try:
            root = os.stat(os.path.join(proc, entry, "root"))
        except OSError:
            continue  # gone, or not ours to look at
        if (root.st_dev, root.st_ino) == (wanted.st_dev, wanted.st_ino):
            found.append(int(entry))
    return sorted(found)


def _refuse_if_in_use(rootfs: str, action: str) -> None:
    pids = processes_rooted_in(rootfs)
    if pids:
        shown = ", ".join(str(pid) for pid in pids[:5])
        raise OptionError("path", f"a container runs from {rootfs} (pids {shown}); stop it before {action}")
    mounted = mounts_under(rootfs)
    if mounted:
        raise OptionError("path", f"{', '.join(mounted[:3])} is mounted; unmount it before {action}")


def _in_use(rootfs: str) -> bool:
    return bool(processes_rooted_in(rootfs) or mounts_under(rootfs))


def _sha256_file(path: str) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            hasher.update(chunk)
    return "sha256:" + hasher.hexdigest()


def _read_bytes(path: str) -> Optional[bytes]:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def _restore_file(path: str, content: Optional[bytes]) -> None:
    if content is None:
        if os.path.lexists(path):
            os.unlink(path)
        return
    _write_atomic(path, content.decode("utf-8", "surrogateescape"))


def _unused_name(directory: str, prefix: str) -> str:
    """A fresh name in ``directory`` to rename something to (mkdtemp reserves it, then frees it)."""
    reserved = tempfile.mkdtemp(prefix=prefix, dir=directory)
    os.rmdir(reserved)
    return reserved


def _write_atomic(path: str, text: str, mode: int = 0o644) -> None:
    directory = os.path.dirname(path)
    fd, temp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        if os.path.lexists(temp):
            os.unlink(temp)
        raise


class BundleManager:
    """Decides and applies one oci_bundle task: ``run()`` returns the module result."""

    def __init__(self, module: Any) -> None:
        self.module = module
        self.params = module.params
        self.check_mode = bool(module.check_mode)

    # -- entry point

    def run(self) -> Dict[str, Any]:
        path = validate_bundle_path(self.params["path"])
        if self.params["state"] == "absent":
            return self.remove(path)
        return self.present(path)

    # -- reading what is there

    def _read_current(self, path: str) -> Dict[str, Any]:
        """config.json and the recorded source of an existing bundle (None where missing)."""
        current: Dict[str, Any] = {"exists": os.path.isdir(path), "config": None, "record": None}
        if not current["exists"]:
            return current
        config_path = os.path.join(path, CONFIG_FILE)
        if os.path.isfile(config_path):
            try:
                with open(config_path, encoding="utf-8") as handle:
                    current["config"] = json.load(handle)
            except ValueError:
                current["config"] = {"unreadable": "config.json is not valid JSON"}
        state_path = os.path.join(path, STATE_FILE)
        if os.path.isfile(state_path):
            try:
                with open(state_path, encoding="utf-8") as handle:
                    record = json.load(handle)
                if isinstance(record, dict) and record.get("managed_by") == MANAGED_BY:
                    current["record"] = record
            except ValueError:
                current["record"] = None
        return current

    # -- sources

    def resolve_source(self, path: str) -> Source:
        given = [name for name in SOURCE_OPTIONS if self.params.get(name)]
        if len(given) != 1:
            names = ", ".join(given) if given else "none"
            raise OptionError("image/oci_layout/rootfs", f"give exactly one rootfs source (got {names})")
        if given[0] == "oci_layout":
            return self._layout_source()
        if given[0] == "rootfs":
            return self._rootfs_source(path)
        return self._image_source()

    def _layout_source(self) -> Source:
        origin = str(self.params["oci_layout"])
        layout, tag = parse_layout_ref(origin, "oci_layout")
        if not layout.startswith("/"):
            raise OptionError("oci_layout", f"{layout!r} must be an absolute path (<dir>:<tag>)")
        info = read_image(layout, tag, option="oci_layout")

        def fill(target: str) -> None:
            unpack_image(layout, target, tag, option="oci_layout")

        return Source(
            identity={"type": "oci_layout", "manifest_digest": info.manifest_digest},
            origin=origin,
            root_path=ROOTFS_DIR,
            image_config=info.config,
            fill=fill,
            details={"manifest_digest": info.manifest_digest, "config_digest": info.config_digest},
        )

    def _rootfs_source(self, path: str) -> Source:
        origin = str(self.params["rootfs"])
        if not origin.startswith("/"):
            raise OptionError("rootfs", f"{origin!r} must be an absolute path (a directory or a tarball)")
        rootfs = os.path.normpath(origin)
        if os.path.isdir(rootfs):
            if rootfs == path or rootfs in _PROTECTED:
                raise OptionError("rootfs", f"{rootfs} cannot be a container's root file system")
            inside = rootfs == os.path.join(path, ROOTFS_DIR)
            return Source(
                identity={"type": "rootfs_dir", "path": rootfs},
                origin=origin,
                root_path=ROOTFS_DIR if inside else rootfs,
            )
        if os.path.isfile(rootfs):
            digest = _sha256_file(rootfs)
            return Source(
                identity={"type": "rootfs_tarball", "sha256": digest},
                origin=origin,
                root_path=ROOTFS_DIR,
                fill=lambda target: unpack_tarball(rootfs, target, option="rootfs"),
                details={"sha256": digest},
            )
        raise OptionError("rootfs", f"{rootfs} does not exist; give an existing directory or tarball")

    def _image_source(self) -> Source:
        # Imported here: only the image source needs ctr on the host.
        from ansible_collections.ocistack.engine.plugins.module_utils._ctr import (  # noqa: PLC0415
            Ctr,
            validate_reference,
        )

        reference = validate_reference(str(self.params["image"]), "image")
        ctr = Ctr(self.module, self.params["address"], self.params["namespace"])
        ctr.check_connection()
        image = ctr.image(reference)
        if image is None:
            raise OptionError(
                "image",
                f"{reference} is not in containerd namespace {ctr.namespace!r}; pull or import it first "
                "(ocistack.engine.containerd_image)",
            )
        details = ctr.image_details(image)
        config = (details.get("config") or {}).get("config") or {}

        def fill(target: str) -> None:
            # ctr writes an OCI archive of the image; unpack it like any layout archive.
            fd, archive = tempfile.mkstemp(prefix=".image-", suffix=".tar", dir=os.path.dirname(target))
            os.close(fd)
            try:
                ctr.export_image(reference, archive, platform=host_platform_string())
                unpack_image(archive, target, reference, option="image")
            finally:
                os.unlink(archive)

        return Source(
            identity={"type": "image", "digest": image["digest"]},
            origin=reference,
            root_path=ROOTFS_DIR,
            image_config=config,
            fill=fill,
            details={"digest": image["digest"], "config_digest": details.get("config_digest")},
        )

    # -- state=present

    def present(self, path: str) -> Dict[str, Any]:
        source = self.resolve_source(path)
        options = {key: self.params.get(key) for key in BUNDLE_SPEC_OPTIONS}
        options["rootfs_path"] = source.root_path
        spec = build_spec(options, source.image_config)
        digest = spec_digest(spec)

        current = self._read_current(path)
        if current["exists"] and current["record"] is None and current["config"] is None and os.listdir(path):
            raise OptionError(
                "path",
                f"{path} exists, is not empty and is not a bundle (no config.json); use a new or empty directory",
            )
        recorded_source = (current["record"] or {}).get("source")
        if source.fill is not None and not os.path.isdir(os.path.join(path, ROOTFS_DIR)):
            recorded_source = None  # the rootfs is gone: unpack it again
        difference = compare(
            {"config": spec, "source": source.identity},
            {"config": current["config"], "source": recorded_source} if current["exists"] else None,
        )
        rebuild_rootfs = "source" in difference.keys and source.fill is not None
        if difference.changed and not self.check_mode:
            if spec["process"].get("apparmorProfile") == DEFAULT_APPARMOR_PROFILE:
                # The runtime refuses a profile the kernel does not have: load the collection's own first.
                ensure_apparmor_profile(DEFAULT_APPARMOR_PROFILE)
            self._apply(path, source, spec, digest, current, rebuild=rebuild_rootfs)
        result: Dict[str, Any] = {
            "changed": difference.changed,
            "bundle": {
                "path": path,
                "config_digest": digest,
                "rootfs": os.path.join(path, source.root_path),
                "source": dict(source.identity, origin=source.origin, **source.details),
            },
            "config": spec,
        }
        if self.module._diff:
            result["diff"] = difference.diff()
        return result

    def _apply(
        self, path: str, source: Source, spec: Dict[str, Any], digest: str, current: Dict[str, Any], *, rebuild: bool
    ) -> None:
        created = not current["exists"]
        rootfs = os.path.join(path, ROOTFS_DIR)
        config_path = os.path.join(path, CONFIG_FILE)
        old_config = _read_bytes(config_path)
        new_rootfs: Optional[str] = None
        old_rootfs: Optional[str] = None
        swapped = config_written = False
        try:
            if created:
                os.makedirs(path, mode=0o755)
            if rebuild and source.fill is not None:
                _refuse_if_in_use(rootfs, "changing its rootfs")
                new_rootfs = tempfile.mkdtemp(prefix=".rootfs-new-", dir=path)
                os.chmod(new_rootfs, 0o755)
                source.fill(new_rootfs)
                if os.path.lexists(rootfs):
                    old_rootfs = _unused_name(path, ".rootfs-old-")
                    os.rename(rootfs, old_rootfs)
                os.rename(new_rootfs, rootfs)
                new_rootfs, swapped = None, True
            _write_atomic(config_path, dump_spec(spec))
            config_written = True
            record = {
                "managed_by": MANAGED_BY,
                "source": source.identity,
                "origin": source.origin,
                "config_digest": digest,
            }
            _write_atomic(os.path.join(path, STATE_FILE), json.dumps(record, sort_keys=True, indent=2) + "\n")
        except BaseException:
            # Put back what was there; the original error is what the user needs to see.
            with contextlib.suppress(OSError):
                if created:
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    self._roll_back(rootfs, new_rootfs, old_rootfs, swapped)
                    if config_written:
                        _restore_file(config_path, old_config)
            raise
        if old_rootfs is not None:
            shutil.rmtree(old_rootfs)
        previous = (current["record"] or {}).get("source") or {}
        unpacked_before = previous.get("type") in ("oci_layout", "image", "rootfs_tarball")
        if source.root_path != ROOTFS_DIR and unpacked_before and os.path.isdir(rootfs) and not _in_use(rootfs):
            # The bundle now points at an outside directory: drop the rootfs this module unpacked before.
            shutil.rmtree(rootfs)

    @staticmethod
    def _roll_back(rootfs: str, new_rootfs: Optional[str], old_rootfs: Optional[str], swapped: bool) -> None:
        if new_rootfs is not None:
            shutil.rmtree(new_rootfs, ignore_errors=True)
        if swapped:
            failed = _unused_name(os.path.dirname(rootfs), ".rootfs-failed-")
            os.rename(rootfs, failed)
            shutil.rmtree(failed, ignore_errors=True)
        if old_rootfs is not None and not os.path.lexists(rootfs):
            os.rename(old_rootfs, rootfs)

    # -- state=absent

    def remove(self, path: str) -> Dict[str, Any]:
        current = self._read_current(path)
        result: Dict[str, Any] = {"changed": False, "bundle": {"path": path}, "config": None}
        if not current["exists"]:
            if self.module._diff:
                result["diff"] = Difference().diff()
            return result
        if current["record"] is None and current["config"] is None:
            raise OptionError(
                "path", f"{path} is not a bundle (no config.json and not made by oci_bundle); refusing to remove it"
            )
        _refuse_if_in_use(os.path.join(path, ROOTFS_DIR), "removing the bundle")
        mounted = mounts_under(path)
        if mounted:
            raise OptionError("path", f"{', '.join(mounted[:3])} is mounted; unmount it before removing the bundle")
        difference = Difference()
        difference.add("state", "present", "absent")
        difference.add("config", current["config"], None)
        if current["record"] is not None:
            difference.add("source", current["record"].get("source"), None)
        if not self.check_mode:
            shutil.rmtree(path)
        result["changed"] = True
        if self.module._diff:
            result["diff"] = difference.diff()
        return result
