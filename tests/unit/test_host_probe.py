# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""host_probe's logic against a temporary tree standing in for /sys/module and /proc/sys."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from ansible_collections.ocistack.engine.plugins.module_utils._deb_package import parse_requests
from ansible_collections.ocistack.engine.plugins.module_utils._errors import OptionError
from ansible_collections.ocistack.engine.plugins.module_utils._host_probe import (
    kernel_modules,
    list_directories,
    package_versions,
    probe_paths,
    read_files,
    read_sysctls,
    run,
    run_commands,
    sysctl_path,
)


def test_paths_report_type_without_following_links(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    (tmp_path / "dir").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "dir")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    os.mkfifo(tmp_path / "fifo")
    result = probe_paths([str(tmp_path / name) for name in ("file", "dir", "link", "dangling", "fifo", "missing")])
    assert [(value["exists"], value["type"]) for value in result.values()] == [
        (True, "file"),
        (True, "directory"),
        (True, "link"),
        (True, "link"),
        (True, "other"),
        (False, None),
    ]
    assert probe_paths([str(tmp_path / "file" / "below")])[str(tmp_path / "file" / "below")]["exists"] is False


def test_relative_path_names_the_option() -> None:
    with pytest.raises(OptionError, match=r"^paths: 'etc' is not an absolute path"):
        probe_paths(["etc"])
    with pytest.raises(OptionError, match=r"^files: "):
        read_files(["relative/file"])


def test_files_are_read_as_text_or_none(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text('{"crun": {}}\n')
    (tmp_path / "bad").write_bytes(b"\xff\xfeok")
    result = read_files([str(tmp_path / "a.json"), str(tmp_path / "missing"), str(tmp_path / "bad")])
    assert result[str(tmp_path / "a.json")] == '{"crun": {}}\n'
    assert result[str(tmp_path / "missing")] is None
    assert result[str(tmp_path / "bad")].endswith("ok")
    with pytest.raises(OptionError, match=r"^files: cannot read"):
        read_files([str(tmp_path)])


def test_kernel_modules_from_sys_module(tmp_path: Path) -> None:
    (tmp_path / "overlay").mkdir()
    (tmp_path / "br_netfilter").mkdir()
    assert kernel_modules(["overlay", "br-netfilter", "nf_nat"], str(tmp_path)) == {
        "overlay": True,
        "br-netfilter": True,
        "nf_nat": False,
    }
    for bad in ("../etc", "", "a/b", ".."):
        with pytest.raises(OptionError, match=r"^kernel_modules: "):
            kernel_modules([bad], str(tmp_path))


def test_sysctl_names_map_like_sysctl() -> None:
    assert sysctl_path("net.ipv4.ip_forward") == "/proc/sys/net/ipv4/ip_forward"
    assert sysctl_path("net.ipv4.conf.eth0/1.rp_filter", "/p") == "/p/net/ipv4/conf/eth0.1/rp_filter"
    for bad in ("", ".net", "net.", "net..ipv4", "/net", "net.../x", 3):
        with pytest.raises(OptionError, match=r"^sysctls: "):
            sysctl_path(bad)


def test_sysctls_read_and_missing(tmp_path: Path) -> None:
    (tmp_path / "net" / "ipv4").mkdir(parents=True)
    (tmp_path / "net" / "ipv4" / "ip_forward").write_text("1\n")
    (tmp_path / "net" / "ipv4" / "tcp_rmem").write_text("4096\t131072\t6291456\n")
    result = read_sysctls(
        ["net.ipv4.ip_forward", "net.ipv4.tcp_rmem", "net.bridge.bridge-nf-call-iptables"], str(tmp_path)
    )
    assert result == {
        "net.ipv4.ip_forward": "1",
        "net.ipv4.tcp_rmem": "4096\t131072\t6291456",
        "net.bridge.bridge-nf-call-iptables": None,
    }


def test_directories_patterns_and_marker(tmp_path: Path) -> None:
    conf = tmp_path / "conf.d"
    conf.mkdir()
    marker = "# Written by ocistack.engine.containerd drop-in"
    (conf / "ours.toml").write_text(f"{marker} ours; edit ...\nversion = 2\n")
    (conf / "second-line.toml").write_text(f"version = 2\n{marker} late\n")
    (conf / "theirs.toml").write_text("version = 2\n")
    (conf / "ours.toml.1234.bak").write_text(f"{marker} old\n")
    (conf / "dir.toml").mkdir()
    (conf / "link.toml").symlink_to(conf / "ours.toml")
    result = list_directories(
        [
            {"path": str(conf), "patterns": ["*.toml"], "contains": f"^{marker}"},
            {"path": str(tmp_path), "patterns": []},
            {"path": str(tmp_path / "missing"), "patterns": ["*"]},
        ]
    )
    assert result[str(conf)] == ["ours.toml", "second-line.toml"]
    assert result[str(tmp_path)] == ["conf.d"]
    assert result[str(tmp_path / "missing")] is None
    assert list_directories([str(conf)])[str(conf)] == sorted(os.listdir(conf))
    assert list_directories([{"path": str(conf), "patterns": ["*.bak", "dir*"]}])[str(conf)] == [
        "dir.toml",
        "ours.toml.1234.bak",
    ]


def test_directories_errors_name_the_option(tmp_path: Path) -> None:
    with pytest.raises(OptionError, match=r"^directories: .*listed twice"):
        list_directories([str(tmp_path), {"path": str(tmp_path)}])
    with pytest.raises(OptionError, match=r"^directories: .*not a regular expression"):
        list_directories([{"path": str(tmp_path), "contains": "("}])
    with pytest.raises(OptionError, match=r"^directories: "):
        list_directories([{"path": "rel"}])


def test_commands_run_without_shell(tmp_path: Path) -> None:
    not_a_program = tmp_path / "notes.txt"
    not_a_program.write_text("no interpreter line\n")
    not_a_program.chmod(0o755)
    result = run_commands(
        {
            "echo": [sys.executable, "-c", "import sys; print('a b'); print('err', file=sys.stderr); sys.exit(3)"],
            "glob": [sys.executable, "-c", "import sys; print(sys.argv[1])", "*"],
            "missing": ["/nonexistent/ocistack-no-such-tool", "--version"],
            "not_executable": [str(not_a_program)],
        }
    )
    assert result["echo"] == {"rc": 3, "stdout": "a b", "stderr": "err"}
    assert result["glob"]["stdout"] == "*"
    assert result["missing"]["rc"] == 127
    assert "command not found" in result["missing"]["stderr"]
    assert result["not_executable"]["rc"] == 126


def test_command_errors_name_the_option() -> None:
    with pytest.raises(OptionError, match=r"^commands\.v: must be a non-empty list"):
        run_commands({"v": "containerd --version"})
    with pytest.raises(OptionError, match=r"^commands\.v: "):
        run_commands({"v": []})
    with pytest.raises(OptionError, match=r"^commands: .*is not a name"):
        run_commands({"a b": ["true"]})
    with pytest.raises(OptionError, match=r"^timeout: "):
        run_commands({"v": ["true"]}, timeout=0)
    with pytest.raises(OptionError, match=r"^commands\.slow: .*did not finish within 1 seconds"):
        run_commands({"slow": [sys.executable, "-c", "import time; time.sleep(5)"]}, timeout=1)


def test_run_checks_everything_before_running_commands(tmp_path: Path) -> None:
    witness = tmp_path / "ran"
    args = {"commands": {"touch": [sys.executable, "-c", f"open({str(witness)!r}, 'w')"]}, "sysctls": ["bad..key"]}
    with pytest.raises(OptionError, match=r"^sysctls: "):
        run(args)
    assert not witness.exists()


def test_run_returns_every_key(tmp_path: Path) -> None:
    (tmp_path / "sys" / "overlay").mkdir(parents=True)
    result = run({"kernel_modules": ["overlay"], "paths": None}, sys_module=str(tmp_path / "sys"))
    assert result == {
        "changed": False,
        "paths": {},
        "files": {},
        "kernel_modules": {"overlay": True},
        "sysctls": {},
        "directories": {},
        "commands": {},
        "package_versions": {},
        "packages_current": True,
    }


def test_package_versions_pick_the_asked_names() -> None:
    installed = {
        "runc": [{"name": "runc", "version": "1.1.5+ds1-1+deb12u1", "arch": "amd64", "source": "apt"}],
        "libc6": [{"name": "libc6", "version": "2.36-9", "arch": "amd64", "source": "apt"}],
    }
    assert package_versions(installed, parse_requests(["runc", "containerd"], "present")) == {
        "package_versions": {"runc": "1.1.5+ds1-1+deb12u1", "containerd": None},
        "packages_current": False,
    }


@pytest.mark.parametrize(
    ("asked", "current"),
    [(["runc"], True), (["runc=1.1.*"], True), (["runc=1.1.5+ds1-1+deb12u1", "libc6"], True), (["runc=1.2.*"], False)],
)
def test_packages_current_matches_as_deb_package_does(asked, current) -> None:
    installed = {
        "runc": [{"name": "runc", "version": "1.1.5+ds1-1+deb12u1"}],
        "libc6": [{"name": "libc6", "version": "2.36-9"}],
    }
    assert package_versions(installed, parse_requests(asked, "present"))["packages_current"] is current


def test_package_versions_must_be_a_list() -> None:
    with pytest.raises(OptionError, match=r"^package_versions: "):
        run({"package_versions": "runc"})
    with pytest.raises(OptionError, match=r"^package_versions: .*Debian package name"):
        run({"package_versions": ["Runc"]})
