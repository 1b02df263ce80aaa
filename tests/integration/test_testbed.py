"""The test bed cleans up after itself, even after a run killed halfway."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
FLEET = "smoke"
PREFIX = f"ocistack-{FLEET}-"


def _podman_names(*args: str) -> list[str]:
    out = subprocess.run(["podman", *args], capture_output=True, text=True, check=True).stdout
    return [name for name in out.split() if name.startswith(PREFIX) or name == f"ocistack-{FLEET}"]


def leftovers() -> dict[str, list[str]]:
    return {
        "containers": _podman_names("ps", "-a", "--format", "{{.Names}}"),
        "volumes": _podman_names("volume", "ls", "--format", "{{.Name}}"),
        "networks": _podman_names("network", "ls", "--format", "{{.Name}}"),
    }


@pytest.fixture
def molecule_env() -> dict[str, str]:
    if subprocess.run(["podman", "--version"], capture_output=True, check=False).returncode != 0:
        pytest.fail("podman is missing: run `make setup`")
    subprocess.run(["bash", "tests/testbed/images.sh", "bookworm", "trixie"], cwd=REPO_ROOT, check=True)
    subprocess.run(["bash", "tests/testbed/test-image.sh"], cwd=REPO_ROOT, check=True, capture_output=True)
    return dict(os.environ)


def test_killed_converge_leaves_nothing_after_the_next_runs_cleanup(molecule_env, tmp_path: Path) -> None:
    log = tmp_path / "converge.log"
    with log.open("w") as out:
        run = subprocess.Popen(
            ["molecule", "converge", "-s", FLEET],
            cwd=REPO_ROOT,
            env=molecule_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 300
        while "[smoke > converge]" not in log.read_text() and run.poll() is None:
            assert time.monotonic() < deadline, "molecule never reached converge:\n" + log.read_text()[-3000:]
            time.sleep(0.5)
        assert run.poll() is None, "molecule ended before it could be killed:\n" + log.read_text()[-3000:]
        # What a user's Ctrl-C or a CI timeout does: the whole process group dies mid-converge.
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
        assert leftovers()["containers"], "the killed run should have left its hosts behind"
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    # Every scenario's test sequence starts with destroy: that is the next run's cleanup.
    subprocess.run(
        ["molecule", "destroy", "-s", FLEET], cwd=REPO_ROOT, env=molecule_env, check=True, capture_output=True
    )
    assert leftovers() == {"containers": [], "volumes": [], "networks": []}
