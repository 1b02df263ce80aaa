# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""normpath: the roles spell their paths as config_files reports them."""

from __future__ import annotations

import pytest

from ansible_collections.ocistack.engine.plugins.filter.normpath import normpath
from ansible_collections.ocistack.engine.plugins.module_utils._config_files import run


@pytest.mark.parametrize(
    ("given", "spelled"),
    [
        ("/etc/containerd/", "/etc/containerd"),
        ("/etc//docker/./registry/", "/etc/docker/registry"),
        ("/etc/docker/../containerd", "/etc/containerd"),
        ("/etc/containerd", "/etc/containerd"),
    ],
)
def test_spelling(given, spelled) -> None:
    assert normpath(given) == spelled


def test_a_role_finds_its_file_in_written_whatever_the_directory_spelling(tmp_path) -> None:
    config_dir = f"{tmp_path}//conf/./"
    config_path = f"{normpath(config_dir)}/config.toml"
    declaration = {
        "directories": [{"path": config_dir}],
        "files": [{"path": f"{config_dir}/config.toml", "content": "x\n"}],
    }
    result = run(declaration, False, False)
    assert config_path in result["written"]
    # The spelling the role had before the filter would have missed it.
    assert f"{config_dir}/config.toml" not in result["written"]
