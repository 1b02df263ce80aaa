"""The stack role's stop_tasks.yml (run by its reset) against a containerd on a non-default socket.

The tasks file is run by ansible-playbook, as the reset runs it, with containerd_address set the way an
inventory sets it. The containerd is one of this file's own: the tasks stop every task of the containerd
they are given, which would take the session containerd's from the other tests.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Iterator, List

import pytest

RESTART_LABEL = "containerd.io/restart.status"
IMAGE = "ocistack.test/busybox:latest"


@pytest.fixture(scope="module")
def own_containerd(containerd, session_dir: Path) -> Iterator:
    # The session fixture's class, started on a socket of its own under the session directory.
    daemon = type(containerd)(session_dir / "containerd-stop-tasks")
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.kill_all_tasks()
        daemon.stop()


def _tasks(daemon, namespace: str) -> List[str]:
    return daemon.ctr(["tasks", "ls", "-q"], namespace=namespace).stdout.split()


def _restart_status(daemon, namespace: str, container: str) -> str:
    info = daemon.ctr(["containers", "info", container], namespace=namespace).stdout
    return "stopped" if f'"{RESTART_LABEL}": "stopped"' in info else "running" if RESTART_LABEL in info else "none"


def test_stop_tasks_uses_containerd_address(own_containerd, test_images: Path, run_role):
    assert not own_containerd.address.startswith("/run/containerd/")
    namespaces = ["st-a-" + secrets.token_hex(3), "st-b-" + secrets.token_hex(3)]
    for namespace in namespaces:
        own_containerd.ctr(["images", "import", str(test_images / "busybox.tar")], namespace=namespace)
        own_containerd.ctr(
            ["run", "-d", "--label", f"{RESTART_LABEL}=running", IMAGE, "kept-up", "sleep", "600"],
            namespace=namespace,
        )
        own_containerd.ctr(["run", "-d", IMAGE, "plain", "sleep", "600"], namespace=namespace)
        assert sorted(_tasks(own_containerd, namespace)) == ["kept-up", "plain"]

    checked = run_role("stack", {"containerd_address": own_containerd.address}, tasks_from="stop_tasks", check=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    for namespace in namespaces:
        assert sorted(_tasks(own_containerd, namespace)) == ["kept-up", "plain"]
        assert _restart_status(own_containerd, namespace, "kept-up") == "running"

    done = run_role("stack", {"containerd_address": own_containerd.address}, tasks_from="stop_tasks", check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "changed=1" in done.stdout, done.stdout
    for namespace in namespaces:
        assert _tasks(own_containerd, namespace) == []
        # Marked stopped, so containerd's restart monitor does not start it again; the records stay.
        assert _restart_status(own_containerd, namespace, "kept-up") == "stopped"
        containers = own_containerd.ctr(["containers", "ls", "-q"], namespace=namespace).stdout.split()
        assert sorted(containers) == ["kept-up", "plain"]

    again = run_role("stack", {"containerd_address": own_containerd.address}, tasks_from="stop_tasks", check=False)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "changed=0" in again.stdout, again.stdout
