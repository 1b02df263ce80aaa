# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""containerd_image, containerd_image_info and containerd_image_prune: the images of a namespace."""

from __future__ import annotations

import json
import os
import tarfile
import tempfile
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

from ansible_collections.ocistack.engine.plugins.module_utils._compare import compare
from ansible_collections.ocistack.engine.plugins.module_utils._container_request import LABEL_IMAGE, LABEL_IMAGE_DIGEST
from ansible_collections.ocistack.engine.plugins.module_utils._containerd_view import run_parallel
from ansible_collections.ocistack.engine.plugins.module_utils._ctr import (
    Ctr,
    client_from_params,
    validate_platform,
    validate_reference,
)
from ansible_collections.ocistack.engine.plugins.module_utils._errors import OptionError, ToolError
from ansible_collections.ocistack.engine.plugins.module_utils._registry import access_from_params

__all__ = [
    "image_info",
    "manage_image",
    "plan_prune",
    "prune_images",
    "public_image",
]


def public_image(details: Optional[Mapping[str, Any]]) -> Optional[Dict[str, Any]]:
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
        result["image"] = public_image(client.image_details(current, platform)) if current else None
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
    return {"changed": False, "images": [public_image(client.image_details(image)) for image in images]}


# --------------------------------------------------------------------------- containerd_image_prune


def plan_prune(
    images: List[Mapping[str, Any]], used: Iterable[Tuple[str, str]], keep: List[str]
) -> Dict[str, List[str]]:
    """Which image names go: not kept, not used by a container, and not sharing a digest with one that is.

    ``used`` holds each container's (image reference, image digest); either may be empty. A name with
    the digest a container runs stays too: removing it frees nothing, and a container recreated from
    that name should not need a pull.
    """
    used = list(used)
    used_names = {reference for reference, _digest in used if reference}
    used_digests = {digest for _reference, digest in used if digest}
    used_digests |= {image["digest"] for image in images if image["name"] in used_names}
    remove, in_use = [], []
    for image in images:
        name = image["name"]
        if name in used_names or image["digest"] in used_digests:
            in_use.append(name)
        elif name not in keep:
            remove.append(name)
    return {"remove": sorted(remove), "in_use": sorted(in_use)}


# ctr calls are process spawns, mostly waiting: a few at once read many containers faster.
INFO_WORKERS = 4


def _images_in_use(client: Ctr) -> List[Tuple[str, str]]:
    """(reference, digest) of every container of the namespace, ours (labels) or another client's (its Image)."""
    used = []
    for info in run_parallel(client.container, client.container_ids(), INFO_WORKERS):
        if info is None:  # removed since the listing
            continue
        labels = info["labels"]
        used.append((labels.get(LABEL_IMAGE) or info["image"], labels.get(LABEL_IMAGE_DIGEST) or ""))
    return used


def prune_images(module: Any) -> Dict[str, Any]:
    """containerd_image_prune: remove the namespace's images that no container uses and ``keep`` does not list."""
    params = module.params
    keep = [validate_reference(reference, "keep") for reference in params.get("keep") or []]
    client = client_from_params(module)
    images = client.images()
    plan = plan_prune(images, _images_in_use(client), keep)
    if not module.check_mode:
        for name in plan["remove"]:
            client.remove_image(name)
    result: Dict[str, Any] = {"changed": bool(plan["remove"]), "removed": plan["remove"], "in_use": plan["in_use"]}
    if module._diff:
        before = sorted(image["name"] for image in images)
        result["diff"] = {
            "before": {"images": before},
            "after": {"images": [name for name in before if name not in plan["remove"]]},
        }
    return result
