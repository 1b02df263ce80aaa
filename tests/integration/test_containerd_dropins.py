"""Why the containerd role refuses some drop-ins on 1.x: what a real containerd makes of an import.

`containerd --config <main> config dump` prints the configuration containerd would run on, the main
file with its imports applied; no daemon is started. The main file and the drop-ins are rendered the
way the role renders them (to_toml), and the filter the role's validation calls is asked about the
same drop-ins: it must refuse exactly those whose table containerd 1.x replaces.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ansible_collections.ocistack.engine.plugins.filter.containerd_dropins_checked import containerd_dropins_checked
from ansible_collections.ocistack.engine.plugins.filter.to_toml import to_toml

try:
    import tomllib
except ImportError:  # Python < 3.11
    tomllib = None

REPO_ROOT = Path(__file__).resolve().parents[2]
# containerd 2.1 from Debian forky, unpacked by tests/testbed/images.sh forky-binaries (when it ran).
CONTAINERD_2 = REPO_ROOT / ".cache" / "testbed" / "forky" / "root" / "usr" / "bin" / "containerd"


def _version(binary: str) -> str:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout
    return next(word for word in out.split()[2:] if word[:1].isdigit() or word[:2] == "v2").lstrip("v")


def _dump(binary: str, directory: Path, main: dict, dropins: dict) -> dict:
    conf_d = directory / "conf.d"
    conf_d.mkdir()
    schema = main["version"]
    for name, content in dropins.items():
        (conf_d / f"{name}.toml").write_text(to_toml({"version": schema, **content}))
    config = {**main, "imports": [f"{conf_d}/*.toml"], "root": str(directory / "r"), "state": str(directory / "s")}
    (directory / "config.toml").write_text(to_toml(config))
    command = [binary, "--config", str(directory / "config.toml"), "config", "dump"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return tomllib.loads(out)


RUNC = {"runc": {"runtime_type": "io.containerd.runc.v2", "options": {"SystemdCgroup": True}}}
MAIN_V2 = {
    "version": 2,
    "plugins": {
        "io.containerd.grpc.v1.cri": {
            "sandbox_image": "example.test/pause:ocistack",
            "containerd": {"runtimes": RUNC},
        }
    },
}
MAIN_V3 = {
    "version": 3,
    "plugins": {
        "io.containerd.cri.v1.images": {"pinned_images": {"sandbox": "example.test/pause:ocistack"}},
        "io.containerd.cri.v1.runtime": {
            "containerd": {"runtimes": RUNC},
        },
    },
}


@pytest.mark.skipif(tomllib is None, reason="needs tomllib (Python 3.11+)")
@pytest.mark.skipif(shutil.which("containerd") is None, reason="no containerd on this machine")
def test_containerd_1x_replaces_a_plugin_table_and_the_filter_refuses_exactly_that(tmp_path):
    binary = shutil.which("containerd")
    if not _version(binary).startswith("1."):
        pytest.skip("this machine's containerd is not 1.x")
    owned = {"cri-extra": {"plugins": {"io.containerd.grpc.v1.cri": {"enable_unprivileged_ports": True}}}}
    other = {"gc": {"plugins": {"io.containerd.gc.v1.scheduler": {"pause_threshold": 0.05}}}}

    (tmp_path / "owned").mkdir()
    cri = _dump(binary, tmp_path / "owned", MAIN_V2, owned)["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["enable_unprivileged_ports"] is True
    # The main file's CRI settings are gone: containerd's defaults stand in their place.
    assert cri["sandbox_image"] != "example.test/pause:ocistack"
    assert cri["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"] is False
    refused = r'containerd_config_dropins\.cri-extra sets plugins\."io\.containerd\.grpc\.v1\.cri"'
    with pytest.raises(Exception, match=refused):
        containerd_dropins_checked(owned, MAIN_V2, 2)

    (tmp_path / "other").mkdir()
    plugins = _dump(binary, tmp_path / "other", MAIN_V2, other)["plugins"]
    assert plugins["io.containerd.gc.v1.scheduler"]["pause_threshold"] == 0.05
    assert plugins["io.containerd.grpc.v1.cri"]["sandbox_image"] == "example.test/pause:ocistack"
    assert containerd_dropins_checked(other, MAIN_V2, 2) is other


@pytest.mark.skipif(tomllib is None, reason="needs tomllib (Python 3.11+)")
@pytest.mark.skipif(not CONTAINERD_2.exists(), reason="no containerd 2.x (images.sh forky-binaries)")
def test_containerd_2x_merges_a_plugin_table_and_the_filter_allows_it(tmp_path):
    dropin = {"cri-ports": {"plugins": {"io.containerd.cri.v1.runtime": {"enable_unprivileged_ports": False}}}}
    plugins = _dump(str(CONTAINERD_2), tmp_path, MAIN_V3, dropin)["plugins"]
    runtime = plugins["io.containerd.cri.v1.runtime"]
    assert runtime["enable_unprivileged_ports"] is False
    assert runtime["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"] is True
    assert plugins["io.containerd.cri.v1.images"]["pinned_images"]["sandbox"] == "example.test/pause:ocistack"
    assert containerd_dropins_checked(dropin, MAIN_V3, 3) is dropin
