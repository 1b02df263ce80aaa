"""Bad input: a clear message naming the option, and nothing changed on the host."""

from __future__ import annotations

import pytest

MISSING_IMAGE = "registry.invalid/ocistack/absent:1"


def _host_state(containerd):
    return (
        containerd.ctr(["containers", "ls", "-q"]).stdout,
        containerd.ctr(["images", "ls", "-q"]).stdout,
        containerd.ctr(["snapshots", "ls"]).stdout,
        containerd.ctr(["namespaces", "ls", "-q"]).stdout,
    )


CASES = [
    ("containerd_image", {"name": "Not A Reference"}, "name:"),
    ("containerd_image", {"name": "busybox:latest"}, "name:"),
    ("containerd_image", {"name": "ocistack.test/busybox"}, "name:"),
    ("containerd_image", {"name": "ocistack.test/busybox:latest", "source": "import"}, "path:"),
    ("containerd_image", {"name": "ocistack.test/busybox:latest", "tags": ["UPPER/case:1"]}, "tags:"),
    ("containerd_image", {"name": "ocistack.test/busybox:latest", "platform": "amd64"}, "platform:"),
    ("containerd_image", {"name": "ocistack.test/busybox:latest", "username": "u"}, "password:"),
    ("containerd_container", {"name": "bad/name", "image": "{image}"}, "name:"),
    ("containerd_container", {"name": "c", "image": "{image}", "runtime": "io.containerd.nope.v9"}, "runtime:"),
    ("containerd_container", {"name": "c", "image": "{image}", "memory": "-64m"}, "memory:"),
    ("containerd_container", {"name": "c", "image": "{image}", "memory": "1k"}, "memory:"),
    ("containerd_container", {"name": "c", "image": "{image}", "cpus": 0}, "cpus:"),
    ("containerd_container", {"name": "c", "image": "{image}", "pids_limit": -1}, "pids_limit:"),
    ("containerd_container", {"name": "c", "image": "{image}", "user": "nobody"}, "user:"),
    ("containerd_container", {"name": "c", "image": "{image}", "stop_signal": "SIGNOPE"}, "stop_signal:"),
    ("containerd_container", {"name": "c", "image": "{image}", "stop_timeout": -1}, "stop_timeout:"),
    (
        "containerd_container",
        {"name": "c", "image": "{image}", "state": "present", "restart_policy": "always"},
        "restart_policy:",
    ),
    (
        "containerd_container",
        {"name": "c", "image": "{image}", "mounts": [{"source": "/nonexistent/ocistack", "target": "/x"}]},
        "mounts:",
    ),
    ("containerd_container", {"name": "c", "image": "{image}", "working_dir": "relative"}, "working_dir:"),
    ("containerd_container", {"name": "c", "image": "{image}", "command": []}, "command:"),
    ("containerd_container", {"name": "c", "image": MISSING_IMAGE, "pull": "never"}, "pull:"),
    ("containerd_container", {"name": "c", "image": "{image}", "labels": {"io.ocistack.engine.x": "1"}}, "labels:"),
    ("containerd_namespace", {"name": "bad namespace"}, "name:"),
    ("containerd_info", {"address": "/nonexistent/containerd.sock"}, "address:"),
    ("containerd_image_info", {"namespace": "bad ns!"}, "namespace:"),
    ("containerd_image_prune", {"keep": ["Not A Reference"]}, "keep:"),
]


@pytest.mark.parametrize(("module", "args", "option"), CASES, ids=[f"{m}-{o}" for m, _a, o in CASES])
def test_bad_input_fails_cleanly(module, args, option, containerd, imported_image, module_runner):  # noqa: PLR0917
    args = {key: (imported_image if value == "{image}" else value) for key, value in args.items()}
    args.setdefault("address", containerd.address)
    before = _host_state(containerd)
    result = module_runner(module, args)
    assert result.get("failed") is True, result
    assert option in result["msg"], result["msg"]
    assert "Traceback" not in result.stderr
    assert _host_state(containerd) == before
