# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read OCI image layouts (a directory, or a tar archive of one) and unpack them into a rootfs.

Pure standard library, so it runs on any managed host. Every blob is checked against its
digest before it is used, layers are also checked against the config's diff_ids, and the
unpacker refuses member paths that are absolute, contain ``..`` or would be written
through a symlink that leads outside the rootfs. OCI whiteouts (``.wh.<name>`` and the
opaque ``.wh..wh..opq``) are applied layer by layer.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import platform as host_platform
import re
import shutil
import stat
import tarfile
import zlib
from dataclasses import dataclass, field
from typing import IO, Any, Dict, List, Mapping, Optional, Set, Tuple

from ansible_collections.ocistack.engine.plugins.module_utils._errors import OptionError

__all__ = [
    "ImageInfo",
    "LayoutReader",
    "host_platform_string",
    "select_manifest",
    "parse_layout_ref",
    "read_image",
    "unpack_image",
    "unpack_tarball",
]

REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"
CONTAINERD_NAME_ANNOTATION = "io.containerd.image.name"
INDEX_MEDIA_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
MANIFEST_MEDIA_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
DEFAULT_TAG = "latest"
# Manifests, indexes and configs are small; refuse to load anything bigger into memory.
MAX_JSON_BLOB = 8 * 1024 * 1024
# Symlinks followed while resolving one path, as the kernel's MAXSYMLINKS.
MAX_SYMLINK_HOPS = 40
_CHUNK = 1024 * 1024
_DIGEST_RE = re.compile(r"^(sha256|sha384|sha512):([a-f0-9]{64,128})$")
_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_WHITEOUT_PREFIX = ".wh."
_OPAQUE_WHITEOUT = ".wh..wh..opq"
_ARCH_ALIASES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "armv6l": "arm", "i686": "386", "i386": "386"}


@dataclass
class ImageInfo:
    """What a layout says about one image."""

    manifest_digest: str
    config_digest: str
    config: Dict[str, Any]  # the image config's "config" object: Entrypoint, Cmd, Env, WorkingDir, User
    image_config: Dict[str, Any]  # the whole image config document
    layers: List[Dict[str, Any]] = field(default_factory=list)  # layer descriptors, bottom first
    tag: Optional[str] = None


def parse_layout_ref(value: str, option: str = "oci_layout") -> Tuple[str, Optional[str]]:
    """``"/srv/oci:v1"`` -> ``("/srv/oci", "v1")``; ``"/srv/oci"`` -> ``("/srv/oci", None)``.

    Only a suffix that is a valid tag (no ``/``) is split off, so paths may contain colons.
    """
    text = str(value or "").strip()
    if not text:
        raise OptionError(option, "give an image layout as <dir>:<tag> (or an archive of one)")
    path, sep, tag = text.rpartition(":")
    if sep and path and _TAG_RE.match(tag):
        return path, tag
    if sep and not tag:
        raise OptionError(option, f"{text!r} ends with ':' but names no tag; use <dir>:<tag> or just <dir>")
    return text, None


def host_platform_string() -> str:
    """This machine as an OCI platform: ``linux/amd64``, ``linux/arm64``, ..."""
    machine = host_platform.machine().lower()
    return f"linux/{_ARCH_ALIASES.get(machine, machine)}"


def _split_digest(digest: Any, option: str) -> Tuple[str, str]:
    match = _DIGEST_RE.match(str(digest))
    if not match:
        raise OptionError(option, f"the layout refers to a blob with a malformed digest {digest!r}")
    return match.group(1), match.group(2)


class LayoutReader:
    """Files of an OCI image layout, from a directory or from a (possibly gzipped) tar archive of one."""

    def __init__(self, path: str, option: str = "oci_layout") -> None:
        self.path = path
        self.option = option
        self._tar: Optional[tarfile.TarFile] = None
        self._members: Dict[str, tarfile.TarInfo] = {}
        if os.path.isdir(path):
            return
        if not os.path.isfile(path):
            raise OptionError(option, f"{path} does not exist; give an OCI image layout directory or an archive of one")
        try:
            self._tar = tarfile.open(path, "r:*")  # noqa: SIM115 - kept open until close()
            for member in self._tar.getmembers():
                self._members[_clean_archive_name(member.name)] = member
        except (tarfile.TarError, OSError, EOFError) as err:
            raise OptionError(option, f"{path} is neither a directory nor a readable tar archive ({err})") from None

    def __enter__(self) -> LayoutReader:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def close(self) -> None:
        if self._tar is not None:
            self._tar.close()
            self._tar = None

    def open(self, name: str) -> IO[bytes]:
        """A file of the layout by its relative name (``index.json``, ``blobs/sha256/<hex>``)."""
        if self._tar is None:
            full = os.path.join(self.path, name)
            if os.path.islink(full) or not os.path.isfile(full):
                raise OptionError(self.option, f"{self.path} has no file {name}: not a complete OCI image layout")
            return open(full, "rb")  # noqa: SIM115 - the caller closes it
        member = self._members.get(name)
        if member is None or not member.isfile():
            raise OptionError(self.option, f"{self.path} has no file {name}: not a complete OCI image layout")
        handle = self._tar.extractfile(member)
        if handle is None:
            raise OptionError(self.option, f"cannot read {name} from {self.path}")
        return handle  # type: ignore[return-value]

    def blob_name(self, digest: str) -> str:
        algorithm, hexdigest = _split_digest(digest, self.option)
        return f"blobs/{algorithm}/{hexdigest}"

    def read_json(self, name: str) -> Any:
        with self.open(name) as handle:
            data = handle.read(MAX_JSON_BLOB + 1)
        if len(data) > MAX_JSON_BLOB:
            raise OptionError(self.option, f"{name} in {self.path} is too large for image metadata")
        return _parse_json(data, name, self.option)

    def read_json_blob(self, descriptor: Dict[str, Any]) -> Any:
        """Read a small JSON blob and check it against the descriptor's digest and size."""
        digest = descriptor.get("digest")
        name = self.blob_name(digest)
        with self.open(name) as handle:
            data = handle.read(MAX_JSON_BLOB + 1)
        if len(data) > MAX_JSON_BLOB:
            raise OptionError(self.option, f"blob {digest} is too large for image metadata")
        algorithm, expected = _split_digest(digest, self.option)
        if hashlib.new(algorithm, data).hexdigest() != expected:
            raise OptionError(self.option, f"blob {digest} does not match its digest: the layout is corrupt")
        if "size" in descriptor and descriptor["size"] != len(data):
            raise OptionError(
                self.option, f"blob {digest} is {len(data)} bytes, the descriptor says {descriptor['size']}"
            )
        return _parse_json(data, name, self.option)

    def verify_blob(self, descriptor: Dict[str, Any]) -> None:
        """Stream a (large) blob through its hash and compare digest and size."""
        digest = descriptor.get("digest")
        algorithm, expected = _split_digest(digest, self.option)
        hasher = hashlib.new(algorithm)
        size = 0
        with self.open(self.blob_name(digest)) as handle:
            for chunk in iter(lambda: handle.read(_CHUNK), b""):
                hasher.update(chunk)
                size += len(chunk)
        if hasher.hexdigest() != expected:
            raise OptionError(self.option, f"blob {digest} does not match its digest: the layout is corrupt")
        if "size" in descriptor and descriptor["size"] != size:
            raise OptionError(self.option, f"blob {digest} is {size} bytes, the descriptor says {descriptor['size']}")


def _clean_archive_name(name: str) -> str:
    parts = [part for part in name.split("/") if part not in ("", ".")]
    return "/".join(parts)


def _parse_json(data: bytes, name: str, option: str) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise OptionError(option, f"{name} is not valid JSON ({err})") from None


def _platform_of(descriptor: Dict[str, Any]) -> Optional[str]:
    plat = descriptor.get("platform")
    if not isinstance(plat, dict):
        return None
    text = f"{plat.get('os', '')}/{plat.get('architecture', '')}"
    return f"{text}/{plat['variant']}" if plat.get("variant") else text


def _platform_matches(descriptor: Dict[str, Any], wanted: str) -> bool:
    have = _platform_of(descriptor)
    if have is None:
        return False
    # "linux/arm64" matches "linux/arm64/v8": a missing variant means "any"
    wanted_parts, have_parts = wanted.split("/"), have.split("/")
    return have_parts[:2] == wanted_parts[:2] and (len(wanted_parts) < 3 or have_parts[2:3] in ([], wanted_parts[2:3]))


def select_manifest(document: Mapping[str, Any], platform: str) -> Optional[Dict[str, Any]]:
    """From an index/manifest list, the descriptor matching ``platform`` (``os/arch[/variant]``), or None."""
    for descriptor in document.get("manifests") or []:
        if isinstance(descriptor, dict) and _platform_matches(descriptor, platform):
            return dict(descriptor)
    return None


def _pick_platform(candidates: List[Dict[str, Any]], wanted: str, option: str, where: str) -> Dict[str, Any]:
    if len(candidates) == 1 and _platform_of(candidates[0]) is None:
        return candidates[0]
    for descriptor in candidates:
        if _platform_matches(descriptor, wanted):
            return descriptor
    available = sorted({_platform_of(d) or "unknown" for d in candidates})
    raise OptionError(option, f"{where} has no image for platform {wanted}; it has {', '.join(available)}")


def _is_index(descriptor: Dict[str, Any], document: Optional[Dict[str, Any]] = None) -> bool:
    media_type = descriptor.get("mediaType") or (document or {}).get("mediaType")
    if media_type in INDEX_MEDIA_TYPES:
        return True
    return document is not None and "manifests" in document and "layers" not in document


def _select_manifest(
    reader: LayoutReader, tag: Optional[str], platform: Optional[str]
) -> Tuple[Dict[str, Any], Dict[str, Any], Optional[str]]:
    option = reader.option
    wanted_platform = platform or host_platform_string()
    index = reader.read_json("index.json")
    manifests = index.get("manifests") if isinstance(index, dict) else None
    if not isinstance(manifests, list) or not manifests:
        raise OptionError(option, f"{reader.path}: index.json lists no manifests")
    wanted_tag = tag or DEFAULT_TAG

    def tagged(descriptor: Dict[str, Any]) -> bool:
        annotations = descriptor.get("annotations") or {}
        return wanted_tag in (annotations.get(REF_NAME_ANNOTATION), annotations.get(CONTAINERD_NAME_ANNOTATION))

    matches = [d for d in manifests if isinstance(d, dict) and tagged(d)]
    matched_tag: Optional[str] = wanted_tag
    if not matches and tag is None and len(manifests) == 1:
        # an untagged single-image layout: no tag asked for, so take the one there is
        matches, matched_tag = manifests, None
    if not matches:
        tags = sorted({(d.get("annotations") or {}).get(REF_NAME_ANNOTATION) or "(untagged)" for d in manifests})
        raise OptionError(option, f"{reader.path} has no image tagged {wanted_tag!r}; tags there: {', '.join(tags)}")
    descriptor = _pick_platform(matches, wanted_platform, option, f"{reader.path}:{wanted_tag}")

    # Walk nested indexes (multi-platform images) down to one manifest.
    for _depth in range(4):
        document = reader.read_json_blob(descriptor)
        if not isinstance(document, dict):
            raise OptionError(option, f"blob {descriptor.get('digest')} is not a JSON object")
        if not _is_index(descriptor, document):
            if "layers" not in document or "config" not in document:
                raise OptionError(option, f"blob {descriptor.get('digest')} is not an image manifest")
            return descriptor, document, matched_tag
        children = [d for d in document.get("manifests") or [] if isinstance(d, dict)]
        if not children:
            raise OptionError(option, f"image index {descriptor.get('digest')} lists no manifests")
        descriptor = _pick_platform(children, wanted_platform, option, f"{reader.path}:{wanted_tag}")
    raise OptionError(option, f"{reader.path}: image indexes nested too deep")


def _read(reader: LayoutReader, tag: Optional[str], platform: Optional[str]) -> ImageInfo:
    descriptor, manifest, matched_tag = _select_manifest(reader, tag, platform)
    config_descriptor = manifest.get("config") or {}
    image_config = reader.read_json_blob(config_descriptor)
    if not isinstance(image_config, dict):
        raise OptionError(reader.option, f"image config {config_descriptor.get('digest')} is not a JSON object")
    layers = [layer for layer in manifest.get("layers") or [] if isinstance(layer, dict)]
    return ImageInfo(
        manifest_digest=str(descriptor["digest"]),
        config_digest=str(config_descriptor["digest"]),
        config=dict(image_config.get("config") or {}),
        image_config=image_config,
        layers=layers,
        tag=matched_tag,
    )


def read_image(
    path: str, tag: Optional[str] = None, platform: Optional[str] = None, option: str = "oci_layout"
) -> ImageInfo:
    """Resolve ``path`` (layout dir or archive) + ``tag`` (default ``latest``) to its manifest and config.

    Verifies the digests of every JSON blob on the way; does not read layers.
    """
    with LayoutReader(path, option) as reader:
        return _read(reader, tag, platform)


def unpack_image(
    path: str, rootfs: str, tag: Optional[str] = None, platform: Optional[str] = None, option: str = "oci_layout"
) -> ImageInfo:
    """Unpack the image's layers, bottom first, into the directory ``rootfs`` (created if missing).

    Unpack into a fresh directory: on error it holds a partial tree the caller should remove.
    """
    with LayoutReader(path, option) as reader:
        info = _read(reader, tag, platform)
        diff_ids = (info.image_config.get("rootfs") or {}).get("diff_ids") or []
        if diff_ids and len(diff_ids) != len(info.layers):
            raise OptionError(option, "the image config lists a different number of layers than its manifest")
        os.makedirs(rootfs, mode=0o755, exist_ok=True)
        for number, layer in enumerate(info.layers):
            reader.verify_blob(layer)
            with reader.open(reader.blob_name(layer["digest"])) as raw:
                diff_id = diff_ids[number] if diff_ids else None
                _apply_layer_stream(raw, rootfs, option, f"layer {number + 1} ({layer['digest']})", diff_id)
    return info


def unpack_tarball(path: str, rootfs: str, option: str = "rootfs") -> None:
    """Unpack a rootfs tarball (plain or gzip) with the same path-safety rules as image layers."""
    if not os.path.isfile(path):
        raise OptionError(option, f"{path} does not exist or is not a file")
    os.makedirs(rootfs, mode=0o755, exist_ok=True)
    with open(path, "rb") as raw:
        _apply_layer_stream(raw, rootfs, option, path, None)


class _HashingReader:
    """A read-only stream that hashes what passes through (the uncompressed layer -> diff_id)."""

    def __init__(self, stream: Any, algorithm: str) -> None:
        self._stream = stream
        self.hasher = hashlib.new(algorithm)

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self.hasher.update(data)
        return data

    def drain(self) -> None:
        for chunk in iter(lambda: self.read(_CHUNK), b""):
            del chunk


def _apply_layer_stream(raw: IO[bytes], rootfs: str, option: str, what: str, diff_id: Optional[str]) -> None:
    magic = raw.read(4)
    raw.seek(0)
    if magic.startswith(_ZSTD_MAGIC):
        raise OptionError(option, f"{what} is zstd-compressed, which is not supported; use gzip or plain layers")
    stream: Any = gzip.GzipFile(fileobj=raw, mode="rb") if magic.startswith(_GZIP_MAGIC) else raw
    algorithm = _split_digest(diff_id, option)[0] if diff_id else "sha256"
    hashing = _HashingReader(stream, algorithm)
    try:
        with tarfile.open(fileobj=hashing, mode="r|") as tar:  # type: ignore[call-overload]
            _Unpacker(rootfs, option, what).apply(tar)
        hashing.drain()
    except (tarfile.TarError, EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise OptionError(option, f"{what} is not a readable tar stream ({err})") from None
    if diff_id and f"{algorithm}:{hashing.hasher.hexdigest()}" != diff_id:
        raise OptionError(option, f"{what} does not match its diff_id {diff_id}: the image is corrupt")


class _Unpacker:
    """Applies one layer's tar stream to a rootfs: whiteouts, safe paths, owners, modes, times."""

    def __init__(self, rootfs: str, option: str, what: str) -> None:
        self.root = os.path.abspath(rootfs)
        self.option = option
        self.what = what
        self.created: Set[str] = set()  # paths this layer wrote: an opaque whiteout keeps them
        self.directories: List[Tuple[str, tarfile.TarInfo]] = []  # attributes set once the layer is done
        self.can_chown = hasattr(os, "geteuid") and os.geteuid() == 0

    def refuse(self, name: str, why: str) -> OptionError:
        return OptionError(self.option, f"{self.what}: refusing member {name!r}: {why}")

    def relative(self, name: str) -> List[str]:
        if name.startswith("/"):
            raise self.refuse(name, "absolute path")
        parts = [part for part in name.split("/") if part not in ("", ".")]
        if ".." in parts:
            raise self.refuse(name, "'..' in the path escapes the rootfs")
        return parts

    def resolve_dir(self, parts: List[str], name: str, create: bool) -> Optional[str]:
        """Host path of the directory ``parts`` inside the rootfs, following symlinks as the container would.

        Absolute link targets start again at the rootfs; a target that climbs above it is refused.
        Missing directories are created (``create``) or end the walk with ``None``.
        """
        current: List[str] = []
        pending = list(parts)
        hops = 0
        while pending:
            part = pending.pop(0)
            if part in ("", "."):
                continue
            if part == "..":
                if not current:
                    raise self.refuse(name, "a symlink on its path leads outside the rootfs")
                current.pop()
                continue
            candidate = os.path.join(self.root, *current, part)
            try:
                info = os.lstat(candidate)
            except FileNotFoundError:
                if not create:
                    return None
                os.mkdir(candidate, 0o755)
                current.append(part)
                continue
            if stat.S_ISLNK(info.st_mode):
                hops += 1
                if hops > MAX_SYMLINK_HOPS:
                    raise self.refuse(name, "too many levels of symlinks on its path")
                target = os.readlink(candidate)
                if target.startswith("/"):
                    current = []
                pending = target.split("/") + pending
                continue
            if not stat.S_ISDIR(info.st_mode):
                raise self.refuse(name, f"/{'/'.join([*current, part])} is not a directory")
            current.append(part)
        return os.path.join(self.root, *current)

    def ensure_dir(self, parts: List[str], name: str) -> str:
        """Like resolve_dir, creating what is missing: always a directory inside the rootfs."""
        resolved = self.resolve_dir(parts, name, create=True)
        if resolved is None:
            raise self.refuse(name, "its directory could not be created")
        return resolved

    def apply(self, tar: tarfile.TarFile) -> None:
        for member in tar:
            self.apply_member(tar, member)
        # Deepest first, so setting a parent's mtime is not undone by its children.
        for path, member in sorted(self.directories, key=lambda item: item[0].count("/"), reverse=True):
            self.set_attributes(path, member)

    def apply_member(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        parts = self.relative(member.name)
        if not parts:
            if member.isdir():
                self.directories.append((self.root, member))
            return
        *parent_parts, base = parts
        relative = "/".join(parts)
        if base == _OPAQUE_WHITEOUT:
            parent = self.ensure_dir(parent_parts, member.name)
            prefix = "/".join(parent_parts)
            for child in os.listdir(parent):
                if f"{prefix}/{child}".lstrip("/") not in self.created:
                    _remove(os.path.join(parent, child))
            return
        if base.startswith(_WHITEOUT_PREFIX):
            parent = self.resolve_dir(parent_parts, member.name, create=False)
            hidden = base[len(_WHITEOUT_PREFIX) :]
            if parent is not None and hidden not in ("", ".", ".."):
                _remove(os.path.join(parent, hidden))
            return
        path = os.path.join(self.ensure_dir(parent_parts, member.name), base)
        try:
            existing = os.lstat(path)
        except FileNotFoundError:
            existing = None
        if existing is not None and not (member.isdir() and stat.S_ISDIR(existing.st_mode)):
            _remove(path)
        self.created.add(relative)

        if member.isdir():
            if existing is None or not stat.S_ISDIR(existing.st_mode):
                os.mkdir(path, 0o755)
            self.directories.append((path, member))
            return
        if member.isreg():
            source = tar.extractfile(member)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(descriptor, "wb") as target:
                if source is not None:
                    shutil.copyfileobj(source, target, _CHUNK)
        elif member.issym():
            os.symlink(member.linkname, path)
        elif member.islnk():
            link_parts = self.relative(member.linkname)
            if not link_parts:
                raise self.refuse(member.name, "hard link to the rootfs itself")
            link_parent = self.resolve_dir(link_parts[:-1], member.name, create=False)
            link_source = os.path.join(link_parent, link_parts[-1]) if link_parent else None
            if link_source is None or not os.path.lexists(link_source):
                raise self.refuse(member.name, f"hard link to {member.linkname!r}, which does not exist")
            if os.path.isdir(link_source) and not os.path.islink(link_source):
                raise self.refuse(member.name, "hard link to a directory")
            os.link(link_source, path, follow_symlinks=False)
            return  # a hard link shares its target's attributes
        elif member.ischr() or member.isblk():
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            try:
                os.mknod(path, kind | (member.mode & 0o7777), os.makedev(member.devmajor, member.devminor))
            except PermissionError:
                return  # device nodes need CAP_MKNOD; runtimes create /dev themselves anyway
        elif member.isfifo():
            os.mkfifo(path, member.mode & 0o7777)
        else:
            return  # other tar types carry nothing for a rootfs
        self.set_attributes(path, member)

    def set_attributes(self, path: str, member: tarfile.TarInfo) -> None:
        is_link = member.issym()
        if self.can_chown:
            # chown before chmod: chown clears setuid/setgid bits
            os.lchown(path, member.uid, member.gid)
        if not is_link:
            os.chmod(path, member.mode & 0o7777)
        for key, value in (member.pax_headers or {}).items():
            if key.startswith("SCHILY.xattr."):
                # e.g. security.* without privilege, or a filesystem without xattrs
                with contextlib.suppress(OSError):
                    os.setxattr(
                        path,
                        key[len("SCHILY.xattr.") :],
                        value.encode("utf-8", "surrogateescape"),
                        follow_symlinks=False,
                    )
        os.utime(path, (member.mtime, member.mtime), follow_symlinks=False)


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)
