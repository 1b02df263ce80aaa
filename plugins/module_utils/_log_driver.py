# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Container logs: the log driver program containerd's shim runs, and reading the logs back.

containerd's runc shim supports ``binary://`` log URIs: for every task it starts the program
with the task's stdout on fd 3, stderr on fd 4 and a pipe on fd 5 that it reads until the
program closes it (ready), passing the URI's query as ``key value`` arguments and the
container in ``CONTAINER_ID`` / ``CONTAINER_NAMESPACE``. The restart monitor starts a task
again with the URI of the ``containerd.io/restart.loguri`` label, so logs go on across restarts.

``run_driver`` is that program (installed on the host by _host_tools with this very file):
- ``journald``: one journal entry per line through journald's native socket, with the fields
  ``CONTAINER_NAME``, ``CONTAINER_ID``, ``CONTAINERD_NAMESPACE`` and ``SYSLOG_IDENTIFIER``;
- ``file``: one file per container (``<log_dir>/<namespace>/<name>.log``), rotated at
  ``max_size`` keeping ``max_files`` files in all.
Standard library only: it runs on the host outside Ansible.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import subprocess
import threading
from typing import IO, Any, Dict, List, Mapping, Optional, Sequence
from urllib.parse import quote, urlencode

__all__ = [
    "DEFAULT_LOG_DIR",
    "JOURNAL_SOCKET",
    "LOG_DRIVERS",
    "FileSink",
    "journal_datagram",
    "log_identity",
    "log_uri",
    "uri_for_identity",
    "read_file_logs",
    "read_journal_logs",
    "run_driver",
    "validate_log_options",
]

LOG_DRIVERS = ("journald", "file", "none")
DEFAULT_LOG_DIR = "/var/log/ocistack/containers"
JOURNAL_SOCKET = "/run/systemd/journal/socket"
DEFAULT_MAX_SIZE = 10 * 1024 * 1024
DEFAULT_MAX_FILES = 3
# A line longer than this is cut into several entries (journald's own line limit is larger).
MAX_LINE = 16 * 1024
_PRIORITY = {"stdout": "6", "stderr": "3"}


def validate_log_options(driver: str, options: Optional[Mapping[str, Any]], parse_bytes: Any) -> Dict[str, int]:
    """``log_options`` checked for ``driver`` -> ``{"max_size": bytes, "max_files": n}`` ({} unless file)."""
    if driver not in LOG_DRIVERS:
        raise _option_error("log_driver", f"unknown log driver {driver!r}; choose one of {', '.join(LOG_DRIVERS)}")
    if driver != "file":
        if options:
            raise _option_error(
                "log_options", f"log driver {driver} takes no log_options (max_size and max_files are for file)"
            )
        return {}
    options = dict(options or {})
    unknown = sorted(set(options) - {"max_size", "max_files"})
    if unknown:
        raise _option_error("log_options", f"unknown keys {unknown}; the file driver takes max_size and max_files")
    max_size = parse_bytes(options.get("max_size", DEFAULT_MAX_SIZE), "log_options")
    try:
        max_files = int(options.get("max_files", DEFAULT_MAX_FILES))
    except (TypeError, ValueError):
        raise _option_error("log_options", f"max_files {options.get('max_files')!r} is not a number") from None
    if max_files < 1:
        raise _option_error("log_options", f"max_files {max_files} must be 1 or more")
    return {"max_size": max_size, "max_files": max_files}


def _option_error(option: str, message: str) -> Exception:
    # Imported late: the driver program itself runs without the collection's error types.
    from ansible_collections.ocistack.engine.plugins.module_utils._errors import OptionError  # noqa: PLC0415

    return OptionError(option, message)


def log_identity(driver: str, options: Mapping[str, int]) -> str:
    """What a container's log label records: ``journald``, ``none`` or ``file:max_size=..,max_files=..``."""
    if driver != "file":
        return driver
    return f"file:max_size={options['max_size']},max_files={options['max_files']}"


def log_uri(driver_path: str, driver: str, options: Mapping[str, int], log_dir: str = DEFAULT_LOG_DIR) -> str:
    """The ``binary://`` URI that makes the shim run ``driver_path`` for a task."""
    query: Dict[str, Any] = {"driver": driver}
    if driver == "file":
        query.update(dir=log_dir, max_size=options["max_size"], max_files=options["max_files"])
    return f"binary://{quote(driver_path)}?{urlencode(query)}"


def uri_for_identity(
    identity: str, driver_path: str = "/usr/local/lib/ocistack/bin/ocistack-log-driver"
) -> Optional[str]:
    """The log URI of a container from its log label (``log_identity``'s text); None for ``none``."""
    driver, _sep, rest = identity.partition(":")
    if driver in ("", "none"):
        return None
    options = {}
    for pair in rest.split(","):
        key, _eq, value = pair.partition("=")
        if key:
            options[key] = int(value)
    return log_uri(driver_path, driver, options)


def file_log_path(log_dir: str, namespace: str, name: str) -> str:
    return os.path.join(log_dir, namespace, f"{name}.log")


# --------------------------------------------------------------------------- the sinks


def journal_datagram(fields: Sequence[tuple]) -> bytes:
    """journald's native protocol: ``KEY=value\\n``, or ``KEY\\n<le64 length><value>\\n`` for values with newlines."""
    parts = []
    for key, value in fields:
        data = value if isinstance(value, bytes) else str(value).encode("utf-8", "replace")
        if b"\n" in data:
            parts.append(key.encode() + b"\n" + struct.pack("<Q", len(data)) + data + b"\n")
        else:
            parts.append(key.encode() + b"=" + data + b"\n")
    return b"".join(parts)


class JournalSink:
    def __init__(self, namespace: str, name: str, path: str = JOURNAL_SOCKET) -> None:
        self.path = path
        self.fields = [
            ("CONTAINER_NAME", name),
            ("CONTAINER_ID", name),
            ("CONTAINERD_NAMESPACE", namespace),
            ("SYSLOG_IDENTIFIER", name),
        ]
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)

    def write(self, stream: str, line: bytes) -> None:
        # One entry per line: the line's own newline is not part of the message.
        message = line[:-1] if line.endswith(b"\n") else line
        datagram = journal_datagram([("MESSAGE", message), ("PRIORITY", _PRIORITY[stream]), *self.fields])
        # journald restarting or gone: the line is lost, the container must not block on it.
        with contextlib.suppress(OSError):
            self.socket.sendto(datagram, self.path)


class FileSink:
    """Appends lines to ``path``; past ``max_size`` it rotates to ``path.1`` .. ``path.<max_files - 1>``."""

    def __init__(self, path: str, max_size: int, max_files: int) -> None:
        self.path = path
        self.max_size = max_size
        self.max_files = max_files
        os.makedirs(os.path.dirname(path), mode=0o750, exist_ok=True)
        self.handle = self._open()

    def _open(self) -> IO[bytes]:
        handle = open(self.path, "ab")  # noqa: SIM115 - kept open while the task runs
        self.size = handle.tell()
        return handle

    def write(self, _stream: str, line: bytes) -> None:
        if self.size and self.size + len(line) > self.max_size:
            self.rotate()
        self.handle.write(line)
        self.handle.flush()
        self.size += len(line)

    def rotate(self) -> None:
        self.handle.close()
        if self.max_files <= 1:
            open(self.path, "wb").close()
        else:
            for index in range(self.max_files - 1, 0, -1):
                source = self.path if index == 1 else f"{self.path}.{index - 1}"
                if os.path.exists(source):
                    os.replace(source, f"{self.path}.{index}")
        self.handle = self._open()


def _pump(stream: IO[bytes], name: str, sink: Any, lock: threading.Lock) -> None:
    pending = b""
    while True:
        chunk = stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536)
        if not chunk:
            break
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            with lock:
                for start in range(0, max(len(line), 1), MAX_LINE):
                    sink.write(name, line[start : start + MAX_LINE] + b"\n")
        while len(pending) > MAX_LINE:
            with lock:
                sink.write(name, pending[:MAX_LINE] + b"\n")
            pending = pending[MAX_LINE:]
    if pending:
        with lock:
            sink.write(name, pending + b"\n")


def run_driver(argv: Sequence[str], environ: Mapping[str, str]) -> int:
    """The log driver program: ``argv`` are the URI's query as ``key value`` pairs."""
    args = dict(zip(argv[0::2], argv[1::2]))
    namespace = environ.get("CONTAINER_NAMESPACE", "default")
    name = environ.get("CONTAINER_ID", "unknown")
    driver = args.get("driver", "journald")
    if driver == "file":
        sink: Any = FileSink(
            file_log_path(args.get("dir") or DEFAULT_LOG_DIR, namespace, name),
            int(args.get("max_size") or DEFAULT_MAX_SIZE),
            int(args.get("max_files") or DEFAULT_MAX_FILES),
        )
    else:
        sink = JournalSink(namespace, name)
    streams = [os.fdopen(3, "rb", buffering=0), os.fdopen(4, "rb", buffering=0)]
    # Ready: the shim waits for this pipe to close before it starts the task.
    os.close(5)
    lock = threading.Lock()
    threads = [
        threading.Thread(target=_pump, args=(stream, label, sink, lock), daemon=True)
        for stream, label in zip(streams, ("stdout", "stderr"))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return 0


# --------------------------------------------------------------------------- reading logs back


def read_file_logs(log_dir: str, namespace: str, name: str, lines: int) -> List[str]:
    """The last ``lines`` lines of a container's log files, oldest first."""
    base = file_log_path(log_dir, namespace, name)
    collected: List[str] = []
    index = 0
    while len(collected) < lines:
        path = base if index == 0 else f"{base}.{index}"
        try:
            with open(path, "rb") as handle:
                text = handle.read().decode("utf-8", "replace")
        except OSError:
            break
        collected = text.splitlines()[-(lines - len(collected)) :] + collected
        index += 1
    return collected[-lines:] if lines else []


def read_journal_logs(namespace: str, name: str, lines: int, journalctl: str = "journalctl") -> List[str]:
    """The last ``lines`` journal entries of a container, oldest first ([] without a journal)."""
    command = [
        journalctl,
        "--no-pager",
        "--output=cat",
        f"--lines={lines}",
        f"CONTAINER_NAME={name}",
        f"CONTAINERD_NAMESPACE={namespace}",
    ]
    try:
        result = subprocess.run(command, capture_output=True, check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return []
    if result.returncode != 0:
        return []
    return result.stdout.decode("utf-8", "replace").splitlines()[-lines:] if lines else []
