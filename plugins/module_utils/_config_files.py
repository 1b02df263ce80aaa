# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""config_files: converge a set of small files and directories in one call.

A role's registry directories, kernel snippets and the like cost one Ansible task each when written with
copy/file/find (a stat, a compare and a transfer per file). Here the whole set is planned from what is on
disk, then applied: nothing changes when the plan is empty, and a bad declaration fails before anything
is touched.
"""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
import shlex
import shutil
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence

from ansible_collections.ocistack.engine.plugins.module_utils._errors import OptionError

__all__ = ["FILE_OPTIONS", "Plan", "plan", "in_place", "apply", "run", "normal_path", "stage"]

PURGE_CHOICES = ("none", "all", "marked")
DEFAULT_MARKER = ".ocistack-managed"

# owner and group, alike for directories, files and permissions.
_OWNERSHIP = {"owner": {"type": "str"}, "group": {"type": "str"}}

# The argument spec of the file options, shared by config_files and service_config (documented once,
# in the _config_files doc fragment).
FILE_OPTIONS: Dict[str, Any] = {
    "directories": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": {
            "path": {"type": "str", "required": True},
            "mode": {"type": "raw", "default": "0755"},
            "purge": {"type": "str", "choices": list(PURGE_CHOICES), "default": "none"},
            "marker": {"type": "str", "default": DEFAULT_MARKER},
            **_OWNERSHIP,
        },
    },
    "files": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": {
            "path": {"type": "str", "required": True},
            "content": {"type": "str"},
            "secret_content": {"type": "str", "no_log": True},
            "mode": {"type": "raw", "default": "0644"},
            **_OWNERSHIP,
            "validate": {"type": "raw"},
            "backup": {"type": "bool", "default": False},
        },
        "mutually_exclusive": [["content", "secret_content"]],
        "required_one_of": [["content", "secret_content"]],
    },
    "permissions": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": {
            "path": {"type": "str", "required": True},
            "mode": {"type": "raw"},
            **_OWNERSHIP,
        },
    },
    "absent": {"type": "list", "elements": "str", "default": []},
}


def parse_mode(value: Any, option: str) -> int:
    """An octal mode given as a string ("0644") or an int already octal-parsed by YAML (0o644)."""
    if isinstance(value, int) and not isinstance(value, bool):
        mode = value
    elif isinstance(value, str) and value.strip():
        try:
            mode = int(value.strip(), 8)
        except ValueError:
            raise OptionError(option, f'{value!r} is not an octal mode; quote it, for example "0644"') from None
    else:
        raise OptionError(option, f'{value!r} is not an octal mode; quote it, for example "0644"')
    if not 0 <= mode <= 0o7777:
        raise OptionError(option, f"{value!r} is outside 0000-7777")
    return mode


def resolve_owner(value: Any, option: str, group: bool = False) -> int:
    """A user (or group) name or numeric id as an id; -1 when not given (leave it as it is)."""
    if value is None or value == "":
        return -1
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    try:
        return grp.getgrnam(text).gr_gid if group else pwd.getpwnam(text).pw_uid
    except KeyError:
        kind = "group" if group else "user"
        raise OptionError(
            option, f"there is no {kind} {text!r} on this host; create it first or give a numeric id"
        ) from None


def normal_path(value: str) -> str:
    """How every path is spelled in the result (the normpath filter gives roles the same spelling)."""
    return os.path.normpath(value)


def _clean_path(value: Any, option: str) -> str:
    if not isinstance(value, str) or not value.startswith("/"):
        raise OptionError(option, f"{value!r} must be an absolute path")
    path = normal_path(value)
    if path == "/":
        raise OptionError(option, "the root directory cannot be managed")
    return path


@dataclass
class Plan:
    """What differs between the declaration and the host, in the order it is applied."""

    make_dirs: List[tuple] = field(default_factory=list)  # (path, mode)
    chmod: List[tuple] = field(default_factory=list)  # (path, mode, old_mode)
    chown: List[tuple] = field(default_factory=list)  # (path, uid, gid, old_uid, old_gid); -1: leave
    write: List[tuple] = field(default_factory=list)  # (path, data, mode, secret, old_data or None)
    remove: List[str] = field(default_factory=list)
    # Ownership of new paths and of rewritten files: path -> (uid, gid), -1 where the declaration is silent.
    owners: Dict[str, tuple] = field(default_factory=dict)
    # Files whose candidate a command must accept before it replaces them: path -> (option, argv with "%s").
    validate: Dict[str, tuple] = field(default_factory=dict)
    backup: set = field(default_factory=set)  # files whose previous content is kept before a rewrite

    @property
    def changed_paths(self) -> List[str]:
        paths = {entry[0] for entry in self.make_dirs} | {entry[0] for entry in self.chmod}
        paths |= {entry[0] for entry in self.chown}
        paths |= {entry[0] for entry in self.write} | set(self.remove)
        return sorted(paths)

    @property
    def empty(self) -> bool:
        return not (self.make_dirs or self.chmod or self.chown or self.write or self.remove)


def _lstat(path: str) -> Optional[os.stat_result]:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def _read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def plan(
    directories: Sequence[Mapping[str, Any]] = (),
    files: Sequence[Mapping[str, Any]] = (),
    absent: Sequence[str] = (),
    check_mode: bool = False,
    permissions: Sequence[Mapping[str, Any]] = (),
) -> Plan:
    """Check the declaration, compare it with the host and return what must change (nothing is changed)."""
    result = Plan()
    declared: Dict[str, str] = {}  # path -> "directory" | "file"
    dirs = []
    for index, entry in enumerate(directories):
        where = f"directories[{index}]"
        path = _clean_path(entry.get("path"), f"{where}.path")
        purge = entry.get("purge") or "none"
        if purge not in PURGE_CHOICES:
            raise OptionError(f"{where}.purge", f"{purge!r} is not one of {', '.join(PURGE_CHOICES)}")
        marker = entry.get("marker") or DEFAULT_MARKER
        if "/" in marker:
            raise OptionError(f"{where}.marker", f"{marker!r} must be a file name, not a path")
        if path in declared:
            raise OptionError(f"{where}.path", f"{path} is declared twice")
        declared[path] = "directory"
        dirs.append((path, parse_mode(entry.get("mode", "0755"), f"{where}.mode"), purge, marker))
        result.owners[path] = _owner_of(entry, where)
    wanted_files = []
    for index, entry in enumerate(files):
        where = f"files[{index}]"
        path = _clean_path(entry.get("path"), f"{where}.path")
        content, secret_content = entry.get("content"), entry.get("secret_content")
        if (content is None) == (secret_content is None):
            raise OptionError(where, f"{path}: give exactly one of content and secret_content")
        if path in declared:
            raise OptionError(f"{where}.path", f"{path} is declared twice")
        declared[path] = "file"
        result.owners[path] = _owner_of(entry, where)
        command = entry.get("validate")
        if command:
            argv = shlex.split(command) if isinstance(command, str) else [str(arg) for arg in command]
            if "%s" not in argv:
                raise OptionError(f"{where}.validate", f"{command!r} must name the candidate file as a separate %s")
            result.validate[path] = (f"{where}.validate", argv)
        if entry.get("backup"):
            result.backup.add(path)
        data = (content if secret_content is None else secret_content).encode("utf-8")
        wanted_files.append(
            (path, data, parse_mode(entry.get("mode", "0644"), f"{where}.mode"), secret_content is not None)
        )
    existing = []
    kept = set()  # paths whose content is another tool's: never purged
    for index, entry in enumerate(permissions):
        where = f"permissions[{index}]"
        path = _clean_path(entry.get("path"), f"{where}.path")
        if path in declared or path in kept:
            raise OptionError(
                f"{where}.path", f"{path} is declared twice (directories, files or permissions); drop one"
            )
        mode = entry.get("mode")
        kept.add(path)
        existing.append(
            (path, None if mode in (None, "") else parse_mode(mode, f"{where}.mode"), _owner_of(entry, where))
        )
    gone = []
    for index, value in enumerate(absent):
        path = _clean_path(value, f"absent[{index}]")
        if _protects(path, declared, kept):
            raise OptionError(f"absent[{index}]", f"{path} is also declared (or holds a declared path); drop one")
        gone.append(path)

    # A declared directory gets its missing parents (0755), as `mkdir -p` would. A file's directory must
    # be declared or exist, except in check mode, where an earlier task of the run may only have
    # reported that it would make it.
    for path, kind in declared.items():
        parent = os.path.dirname(path)
        if declared.get(parent) == "file":
            raise OptionError("files", f"{parent} is declared as a file and as the directory of {path}")
        if kind == "file" and not check_mode and parent not in declared and not os.path.isdir(parent):
            raise OptionError("files", f"{parent} (the directory of {path}) does not exist; declare it in directories")

    parents = set()
    for path, _mode, _purge, _marker in dirs:
        parent = os.path.dirname(path)
        while parent not in declared and parent not in parents and _lstat(parent) is None:
            parents.add(parent)
            parent = os.path.dirname(parent)
        if parent not in declared and parent not in parents and not os.path.isdir(parent):
            raise OptionError("directories", f"{parent} (above {path}) exists and is not a directory")
    result.make_dirs.extend((parent, 0o755) for parent in sorted(parents))

    for path, mode, _purge, _marker in dirs:
        current = _lstat(path)
        if current is None:
            result.make_dirs.append((path, mode))
        elif not stat.S_ISDIR(current.st_mode):
            raise OptionError("directories", f"{path} exists and is not a directory; move it away first")
        else:
            _plan_attributes(result, path, current, mode, result.owners[path])
    for path, data, mode, secret in wanted_files:
        current = _lstat(path)
        if current is None:
            result.write.append((path, data, mode, secret, None))
        elif not stat.S_ISREG(current.st_mode):
            raise OptionError("files", f"{path} exists and is not a regular file; move it away first")
        else:
            old = _read(path)
            uid, gid = result.owners[path]
            if old != data:
                result.write.append((path, data, mode, secret, old))
                # The rewrite replaces the file: it keeps the old owner where the declaration names none.
                result.owners[path] = (
                    current.st_uid if uid == -1 else uid,
                    current.st_gid if gid == -1 else gid,
                )
            else:
                _plan_attributes(result, path, current, mode, (uid, gid))
    for path, mode, owner in existing:
        current = _lstat(path)
        if current is None:
            continue  # made later by the tool that writes it
        if stat.S_ISLNK(current.st_mode):
            raise OptionError("permissions", f"{path} is a symbolic link; give the path it points to")
        _plan_attributes(result, path, current, mode, owner)

    backed_up: Dict[str, List[str]] = {}  # directory -> names of its declared files that keep backups
    for path in result.backup:
        backed_up.setdefault(os.path.dirname(path), []).append(os.path.basename(path))
    removing = set()
    for path, _mode, purge, marker in dirs:
        if purge == "none" or not os.path.isdir(path):
            continue
        for name in sorted(os.listdir(path)):
            child = os.path.join(path, name)
            # Never purge what is declared, nor a directory a declared path lies in, nor the backups
            # this module keeps of a declared file.
            if _protects(child, declared, kept):
                continue
            if _is_backup_of(name, backed_up.get(path, ())):
                continue
            if purge == "marked" and not (
                os.path.isdir(child) and not os.path.islink(child) and os.path.isfile(os.path.join(child, marker))
            ):
                continue
            removing.add(child)
    for path in gone:
        if _lstat(path) is not None:
            removing.add(path)
    # A path inside one already being removed goes with it.
    result.remove = sorted(p for p in removing if not any(p.startswith(other + "/") for other in removing))
    return result


def in_place(
    directories: Sequence[Mapping[str, Any]] = (),
    files: Sequence[Mapping[str, Any]] = (),
    absent: Sequence[str] = (),
    permissions: Sequence[Mapping[str, Any]] = (),
    *,
    observed: Optional[Mapping[str, Mapping[str, Any]]] = None,
    listings: Optional[Mapping[str, Optional[Sequence[str]]]] = None,
) -> bool:
    """Whether plan() would find nothing to change, judged from what host_probe (with checksum) reported
    about the paths: ``observed`` maps a path to {exists, type, mode, uid, gid, owner, group, sha256}, and
    ``listings`` a directory to purge to the names in it (host_probe's directories, without patterns).

    It runs where the host is not (the files_in_place filter, on the controller), so it only says yes when
    the answer is certain: a declared path missing from ``observed``, a purged directory without a listing
    or with an entry that is not declared (even one a "marked" purge would keep), or anything plan() would
    refuse gives False, and the module then runs, compares on the host and names any error.
    """
    seen = observed or {}
    listed = listings or {}
    declared: List[str] = []
    purged: List[str] = []
    backed_up: Dict[str, List[str]] = {}

    def look(path: Any) -> Optional[Mapping[str, Any]]:
        if not isinstance(path, str) or not path.startswith("/"):
            return None
        # host_probe keys its answers by the path as given.
        return seen.get(path, seen.get(normal_path(path)))

    def owned(entry: Mapping[str, Any], info: Mapping[str, Any]) -> bool:
        for key, number, name in (("owner", "uid", "owner"), ("group", "gid", "group")):
            wanted = entry.get(key)
            if wanted is None or wanted == "":
                continue
            text = str(wanted).strip()
            if text != (str(info.get(number)) if text.isdigit() else info.get(name)):
                return False
        return True

    def mode_is(entry: Mapping[str, Any], info: Mapping[str, Any], default: Optional[str]) -> bool:
        wanted = entry.get("mode", default)
        if wanted in (None, "") and default is None:
            return True
        try:
            return int(str(info.get("mode")), 8) == parse_mode(wanted, "mode")
        except (OptionError, ValueError):
            return False

    try:
        for entry in directories:
            info = look(entry.get("path"))
            purge = entry.get("purge") or "none"
            if info is None or purge not in PURGE_CHOICES:
                return False
            if info.get("type") != "directory" or not mode_is(entry, info, "0755") or not owned(entry, info):
                return False
            declared.append(normal_path(entry["path"]))
            if purge != "none":
                purged.append(entry["path"])
        for entry in files:
            info = look(entry.get("path"))
            content, secret_content = entry.get("content"), entry.get("secret_content")
            if info is None or (content is None) == (secret_content is None) or info.get("type") != "file":
                return False
            data = (content if secret_content is None else secret_content).encode("utf-8")
            if info.get("sha256") != hashlib.sha256(data).hexdigest():
                return False
            if not mode_is(entry, info, "0644") or not owned(entry, info):
                return False
            path = normal_path(entry["path"])
            declared.append(path)
            if entry.get("backup"):
                backed_up.setdefault(os.path.dirname(path), []).append(os.path.basename(path))
        for entry in permissions:
            info = look(entry.get("path"))
            if info is None or info.get("type") == "link":
                return False
            declared.append(normal_path(entry["path"]))
            if info.get("exists") and not (mode_is(entry, info, None) and owned(entry, info)):
                return False
        for path in absent:
            info = look(path)
            if info is None or info.get("exists") or _protects(normal_path(path), declared):
                return False
        for directory in purged:
            names = listed.get(directory, listed.get(normal_path(directory)))
            if names is None:
                return False
            where = normal_path(directory)
            for name in names:
                if not (_protects(f"{where}/{name}", declared) or _is_backup_of(name, backed_up.get(where, ()))):
                    return False
    except (AttributeError, KeyError, TypeError):
        return False  # a malformed declaration: the module names the option
    return len(set(declared)) == len(declared)


def _protects(path: str, *groups: Any) -> bool:
    """Whether ``path`` is one of the given paths or a directory that holds one of them."""
    return any(path == other or other.startswith(path + "/") for group in groups for other in group)


def _owner_of(entry: Mapping[str, Any], where: str) -> tuple:
    return (
        resolve_owner(entry.get("owner"), f"{where}.owner"),
        resolve_owner(entry.get("group"), f"{where}.group", group=True),
    )


def _plan_attributes(result: Plan, path: str, current: os.stat_result, mode: Optional[int], owner: tuple) -> None:
    """The mode and ownership changes an existing path needs; None and -1 leave that attribute as it is."""
    if mode is not None and stat.S_IMODE(current.st_mode) != mode:
        result.chmod.append((path, mode, stat.S_IMODE(current.st_mode)))
    uid, gid = owner
    if uid not in (-1, current.st_uid) or gid not in (-1, current.st_gid):
        result.chown.append((path, uid, gid, current.st_uid, current.st_gid))


class ValidationError(OptionError):
    """A file's validate command rejected its new content; nothing was written."""


def stage(path: str, data: bytes, mode: int, owner: tuple) -> str:
    """The new content in a temporary file beside the target, ready to be renamed over it."""
    fd, tmp = tempfile.mkstemp(prefix=".ocistack-", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "wb") as handle:
            if owner != (-1, -1):
                os.fchown(handle.fileno(), *owner)
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


def _check_candidate(work: Plan, path: str, candidate: str) -> None:
    option, argv = work.validate[path]
    command = [candidate if arg == "%s" else arg for arg in argv]
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as error:
        raise ValidationError(option, f"cannot run {argv[0]!r} ({error.strerror}); nothing was written") from None
    if done.returncode != 0:
        output = (done.stderr or done.stdout).strip()
        raise ValidationError(
            option, f"the new {path} failed to validate (exit {done.returncode}): {output}; nothing was written"
        )


def _backup_name(path: str) -> str:
    # The process id keeps two rewrites within a second apart.
    return f"{path}.{os.getpid()}.{time.strftime('%Y-%m-%d@%H:%M:%S')}~"


def _is_backup_of(name: str, declared_names: Sequence[str]) -> bool:
    return name.endswith("~") and any(name.startswith(f"{declared}.") for declared in declared_names)


def _keep_backup(path: str, secret: bool) -> str:
    """Copy path to a new backup with its mode and times, never readable by others while it is written.

    A file that is (or becomes) secret may hold credentials in its old content too: its backup is
    kept for the owner only (at most 0600). Returns the backup's path."""
    current = os.stat(path)
    mode = stat.S_IMODE(current.st_mode) & (0o600 if secret else 0o7777)
    name = _backup_name(path)
    for attempt in range(1, 100):
        try:
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            break
        except FileExistsError:  # a rewrite within the same second of the same process
            name = f"{_backup_name(path)[:-1]}.{attempt}~"
    else:
        raise OSError(f"cannot find a free backup name for {path}")
    try:
        with os.fdopen(fd, "wb") as handle, open(path, "rb") as source:
            shutil.copyfileobj(source, handle)
            handle.flush()
            os.fsync(handle.fileno())
            os.fchmod(handle.fileno(), mode)
    except BaseException:
        os.unlink(name)
        raise
    os.utime(name, ns=(current.st_atime_ns, current.st_mtime_ns))
    return name


def apply(work: Plan) -> Dict[str, str]:
    """Carry out a plan: directories first (parents before children), then files, then removals.

    New file contents are staged beside their targets and validated before any existing path is touched
    (content, mode or owner), so a rejected candidate leaves every file as it was; only directories the
    plan makes may already exist then. Returns the backups made, by path.
    """
    backups: Dict[str, str] = {}
    for path, mode in sorted(work.make_dirs):
        os.mkdir(path, mode)
        owner = work.owners.get(path, (-1, -1))
        if owner != (-1, -1):
            os.chown(path, *owner)
        os.chmod(path, mode)  # mkdir's mode is filtered by the umask
    staged: Dict[str, str] = {}
    try:
        for path, data, mode, _secret, _old in work.write:
            staged[path] = stage(path, data, mode, work.owners.get(path, (-1, -1)))
            if path in work.validate:
                _check_candidate(work, path, staged[path])
        for path, _data, _mode, secret, old in work.write:
            if old is not None and path in work.backup:
                backups[path] = _keep_backup(path, secret)
            os.rename(staged[path], path)
            del staged[path]
    finally:
        for tmp in staged.values():
            os.unlink(tmp)
    for path, uid, gid, _old_uid, _old_gid in work.chown:
        os.chown(path, uid, gid)
    for path, mode, _old in work.chmod:
        os.chmod(path, mode)
    for path in work.remove:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    return backups


def _text(data: Optional[bytes], secret: bool) -> str:
    if data is None:
        return ""
    if secret:
        return f"(secret content, {len(data)} bytes)\n"
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return f"(binary content, {len(data)} bytes)\n"


def _ids(uid: int, gid: int) -> str:
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    try:
        group = grp.getgrgid(gid).gr_name
    except KeyError:
        group = str(gid)
    return f"{user}:{group}"


def diff(work: Plan) -> List[Dict[str, str]]:
    """One diff per changed path, as Ansible's callbacks print a list of diffs."""

    def entry(path: str, before: str, after: str) -> Dict[str, str]:
        return {"before_header": path, "after_header": path, "before": before, "after": after}

    out = [entry(path, "", f"(directory, mode {mode:04o})\n") for path, mode in work.make_dirs]
    out += [entry(path, f"mode {old:04o}\n", f"mode {mode:04o}\n") for path, mode, old in work.chmod]
    out += [
        entry(
            path,
            f"owner {_ids(old_uid, old_gid)}\n",
            f"owner {_ids(old_uid if uid == -1 else uid, old_gid if gid == -1 else gid)}\n",
        )
        for path, uid, gid, old_uid, old_gid in work.chown
    ]
    out += [entry(path, _text(old, secret), _text(data, secret)) for path, data, _mode, secret, old in work.write]
    out += [entry(path, f"{path}\n", "") for path in work.remove]
    return out


def run(params: Mapping[str, Any], check_mode: bool, want_diff: bool) -> Dict[str, Any]:
    """The module's result for its parameters."""
    work = plan(
        params.get("directories") or (),
        params.get("files") or (),
        params.get("absent") or (),
        check_mode,
        params.get("permissions") or (),
    )
    backups = apply(work) if not check_mode and not work.empty else {}
    result: Dict[str, Any] = {
        "changed": not work.empty,
        "changed_paths": work.changed_paths,
        "created": sorted([entry[0] for entry in work.make_dirs] + [w[0] for w in work.write if w[4] is None]),
        "updated": sorted(
            {entry[0] for entry in work.chmod}
            | {entry[0] for entry in work.chown}
            | {w[0] for w in work.write if w[4] is not None}
        ),
        "removed": list(work.remove),
        # Files whose content is (or would be) written, created or replaced: what a service reads anew.
        "written": sorted(w[0] for w in work.write),
        "backups": backups,
    }
    if want_diff:
        result["diff"] = diff(work)
    return result
