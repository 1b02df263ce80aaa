# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""release_source: the checks a binary or local install does before it touches a host, on the controller.

The runc, containerd and cni roles install a release file either downloaded (binary: the sha256 comes from
the release_checksum filter) or pushed from the controller (local: the file must exist there and match the
user's sha256 when one is given). One task per role, run on the controller, so the local file is read where
it is; the errors name the role's variables (the prefix the role passes).
"""

from __future__ import annotations

import hashlib
import os
from typing import Any, Dict, Mapping, Optional

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase

from ansible_collections.ocistack.engine.plugins.filter.release_checksum import release_checksum

__all__ = ["ActionModule", "ReleaseSourceError", "file_sha256", "release_source"]

_ARGS = {
    "prefix",
    "method",
    "version",
    "arch",
    "sha256",
    "checksums",
    "shipped",
    "url",
    "local_path",
    "artifact",
    "example_version",
}


class ReleaseSourceError(Exception):
    """A setting is missing or wrong; the message names the role's variable."""


def file_sha256(path: str) -> Optional[str]:
    """The sha256 of a file on the controller, or None when it does not exist (or is not a file)."""
    if not os.path.isfile(path):
        return None
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def release_source(args: Mapping[str, Any], sha256_of=file_sha256) -> Dict[str, Any]:
    """The checked settings -> {sha256, source}; a wrong setting raises ReleaseSourceError naming the variable."""
    unknown = sorted(set(args) - _ARGS)
    if unknown:
        raise ReleaseSourceError(f"release_source: unknown option(s) {', '.join(unknown)}")
    prefix = str(args.get("prefix") or "")
    if not prefix:
        raise ReleaseSourceError("release_source: prefix (the role's variable prefix) is required")
    method = str(args.get("method") or "")
    artifact = str(args.get("artifact") or "release file")
    version = "" if args.get("version") is None else str(args.get("version"))
    sha256 = "" if args.get("sha256") is None else str(args.get("sha256"))
    if method not in ("binary", "local"):
        raise ReleaseSourceError(f'{prefix}_install_method: "{method}" has no release to check (binary or local)')
    if not version:
        example = args.get("example_version")
        raise ReleaseSourceError(
            f"{prefix}_version: {prefix}_install_method={method} needs the upstream version to install"
            + (f' (for example "{example}")' if example else "")
            + "."
        )
    if method == "binary":
        try:
            checksum = release_checksum(
                version,
                str(args.get("arch") or ""),
                prefix,
                sha256=sha256,
                checksums=args.get("checksums") or {},
                shipped=args.get("shipped") or {},
                url=str(args.get("url") or ""),
            )
        except AnsibleError as error:
            raise ReleaseSourceError(str(error.message)) from None
        return {"sha256": checksum, "source": str(args.get("url") or "")}
    path = os.path.expanduser(str(args.get("local_path") or ""))
    if not path:
        raise ReleaseSourceError(
            f"{prefix}_local_path: {prefix}_install_method=local needs the controller path of the {artifact}."
        )
    actual = sha256_of(path)
    if actual is None:
        raise ReleaseSourceError(f"{prefix}_local_path: {path} does not exist on the controller (or is not a file).")
    if sha256 and actual != sha256.strip().lower():
        raise ReleaseSourceError(
            f"{prefix}_binary_sha256: {path} has sha256 {actual}, not {sha256}; nothing was installed."
        )
    return {"sha256": actual, "source": path}


class ActionModule(ActionBase):
    """Runs on the controller only: nothing is sent to the host."""

    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp: Any = None, task_vars: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        result = super().run(tmp, task_vars)
        try:
            result.update(release_source(self._task.args))
        except ReleaseSourceError as error:
            result.update(failed=True, msg=str(error))
            return result
        result["changed"] = False
        return result
