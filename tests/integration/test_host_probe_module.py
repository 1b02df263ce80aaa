# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""host_probe as Ansible runs it, against this machine's real binaries, /proc/sys and /sys/module."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from ansible_collections.ocistack.engine.plugins.filter.files_in_place import files_in_place


def _args(root: Path) -> dict:
    return {
        "commands": {
            "containerd": [shutil.which("containerd"), "--version"],
            "missing": [str(root / "no-such-tool"), "--version"],
            "failing": ["ls", str(root / "missing")],
        },
        "paths": [str(root / "conf.d"), str(root / "conf.d" / "gc.toml"), str(root / "absent")],
        "files": [str(root / "runtimes.json"), str(root / "absent.json")],
        "kernel_modules": sorted(os.listdir("/sys/module"))[:1] + ["ocistack_no_such_module"],
        "sysctls": ["kernel.ostype", "net.ocistack.no_such_setting"],
        "directories": [
            {"path": str(root / "conf.d"), "patterns": ["*.toml"], "contains": "^# Written by ocistack"},
            {"path": str(root / "absent")},
        ],
    }


def test_probe_answers_in_one_run_also_in_check_mode(module_runner, tmp_path: Path) -> None:
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "gc.toml").write_text("# Written by ocistack.engine.containerd drop-in gc\nversion = 2\n")
    (tmp_path / "conf.d" / "user.toml").write_text("version = 2\n")
    (tmp_path / "runtimes.json").write_text('{"crun": {}}\n')
    before = sorted(p.name for p in tmp_path.rglob("*"))

    for check_mode in (False, True):
        result = module_runner("host_probe", _args(tmp_path), check_mode=check_mode)
        assert result.rc == 0, result
        assert result["changed"] is False
        expected = subprocess.run([shutil.which("containerd"), "--version"], capture_output=True, text=True, check=True)
        assert result["commands"]["containerd"] == {"rc": 0, "stdout": expected.stdout.strip(), "stderr": ""}
        assert result["commands"]["missing"]["rc"] == 127
        assert result["commands"]["failing"]["rc"] == 2
        assert "No such file or directory" in result["commands"]["failing"]["stderr"]
        assert {path: (info["exists"], info["type"]) for path, info in result["paths"].items()} == {
            str(tmp_path / "conf.d"): (True, "directory"),
            str(tmp_path / "conf.d" / "gc.toml"): (True, "file"),
            str(tmp_path / "absent"): (False, None),
        }
        gc_toml = result["paths"][str(tmp_path / "conf.d" / "gc.toml")]
        assert (gc_toml["mode"], gc_toml["uid"]) == (
            f"{(tmp_path / 'conf.d' / 'gc.toml').stat().st_mode & 0o7777:04o}",
            os.getuid(),
        )
        assert "sha256" not in gc_toml
        assert result["files"] == {
            str(tmp_path / "runtimes.json"): '{"crun": {}}\n',
            str(tmp_path / "absent.json"): None,
        }
        assert list(result["kernel_modules"].values()) == [True, False]
        assert result["sysctls"] == {"kernel.ostype": "Linux", "net.ocistack.no_such_setting": None}
        assert result["directories"] == {str(tmp_path / "conf.d"): ["gc.toml"], str(tmp_path / "absent"): None}

    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_bad_option_fails_naming_it_before_any_command_runs(module_runner, tmp_path: Path) -> None:
    witness = tmp_path / "ran"
    result = module_runner(
        "host_probe", {"commands": {"touch": ["touch", str(witness)]}, "paths": ["relative/path"]}, check_mode=True
    )
    assert result.get("failed") is True
    assert result["msg"].startswith("paths: 'relative/path' is not an absolute path")
    assert not witness.exists()


def test_a_shell_line_is_refused(module_runner) -> None:
    result = module_runner("host_probe", {"commands": {"version": "containerd --version"}})
    assert result.get("failed") is True
    assert result["msg"].startswith("commands.version: must be a non-empty list")


def test_packages_set_the_package_facts_from_dpkg(module_runner) -> None:
    result = module_runner("host_probe", {"packages": True})
    assert result.rc == 0, result
    packages = result["ansible_facts"]["packages"]
    version = subprocess.run(
        ["dpkg-query", "--show", "--showformat", "${Version}", "containerd"], capture_output=True, text=True, check=True
    ).stdout
    assert [entry["version"] for entry in packages["containerd"]] == [version]
    assert packages["containerd"][0]["source"] == "apt"
    assert "ansible_facts" not in module_runner("host_probe", {})  # only when asked


def test_package_versions_from_dpkg_without_a_fact(module_runner) -> None:
    version = subprocess.run(
        ["dpkg-query", "--show", "--showformat", "${Version}", "containerd"], capture_output=True, text=True, check=True
    ).stdout
    major_minor = ".".join(version.split(".")[:2])
    result = module_runner("host_probe", {"package_versions": ["containerd", "ocistack-no-such-package"]})
    assert result.rc == 0, result
    assert result["package_versions"] == {"containerd": version, "ocistack-no-such-package": None}
    assert result["packages_current"] is False  # one of them is not installed
    assert "ansible_facts" not in result
    assert (
        module_runner("host_probe", {"package_versions": [f"containerd={major_minor}.*"]})["packages_current"] is True
    )
    assert module_runner("host_probe", {"package_versions": ["containerd=0.0.1-1"]})["packages_current"] is False
    refused = module_runner("host_probe", {"package_versions": ["Containerd"]})
    assert refused.rc != 0 and "package_versions: " in refused["msg"]


def test_checksums_tell_the_controller_what_config_files_would_do(module_runner, tmp_path: Path) -> None:
    """The skip a role makes on a converged host: host_probe's checksums through files_in_place agree with
    config_files' own run on the host, converged and after a drift."""
    declaration = {
        "directories": [{"path": str(tmp_path / "conf.d"), "mode": "0750"}],
        "files": [{"path": str(tmp_path / "conf.d" / "app.conf"), "content": "key = value\n", "mode": "0640"}],
        "absent": [str(tmp_path / "old.conf")],
    }
    paths = [str(tmp_path / "conf.d"), str(tmp_path / "conf.d" / "app.conf"), str(tmp_path / "old.conf")]

    def in_place() -> bool:
        probe = module_runner("host_probe", {"paths": paths, "checksum": True, "system": True}, check_mode=True)
        assert probe.rc == 0, probe
        assert probe["ansible_facts"]["architecture"] == os.uname().machine
        return files_in_place(declaration, probe["paths"])

    assert in_place() is False
    assert module_runner("config_files", declaration)["changed"] is True
    assert in_place() is True
    assert module_runner("config_files", declaration, check_mode=True)["changed"] is False
    (tmp_path / "conf.d" / "app.conf").write_text("key = edited by hand\n")
    assert in_place() is False
    assert module_runner("config_files", declaration, check_mode=True)["changed"] is True
