"""Shared pytest plumbing: import the collection from this checkout and run modules for real."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
COLLECTIONS_DIR = REPO_ROOT / ".cache" / "collections"


def _link_collection() -> None:
    # Same layout scripts/setup.sh makes; repeated here so a bare `pytest` works too.
    link = COLLECTIONS_DIR / "ansible_collections" / "ocistack" / "engine"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(REPO_ROOT)
    if str(COLLECTIONS_DIR) not in sys.path:
        sys.path.insert(0, str(COLLECTIONS_DIR))


_link_collection()


class ModuleResult(dict):
    """A module's JSON result, with the exit code and stderr kept for assertions."""

    rc: int
    stderr: str


def run_module(name: str, args: dict, check_mode: bool = False, diff: bool = False, timeout: int = 300) -> ModuleResult:
    """Run plugins/modules/<name>.py the way Ansible would on the host, and return its result.

    The module reads its arguments from a file (as AnsiballZ hands them over), so
    secrets never reach argv. It runs as a separate process against the real tools.
    """
    module_args = dict(args)
    module_args["_ansible_check_mode"] = check_mode
    module_args["_ansible_diff"] = diff
    module_args.setdefault("_ansible_remote_tmp", tempfile.gettempdir())
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump({"ANSIBLE_MODULE_ARGS": module_args}, fh)
        args_path = fh.name
    env = dict(os.environ)
    env["PYTHONPATH"] = str(COLLECTIONS_DIR) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    try:
        proc = subprocess.run(
            [sys.executable, "-m", f"ansible_collections.ocistack.engine.plugins.modules.{name}", args_path],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    finally:
        os.unlink(args_path)
    try:
        result = ModuleResult(json.loads(proc.stdout))
    except json.JSONDecodeError:
        result = ModuleResult(failed=True, msg="module printed no JSON", stdout=proc.stdout)
    result.rc = proc.returncode
    result.stderr = proc.stderr
    return result


@pytest.fixture
def module_runner():
    return run_module
