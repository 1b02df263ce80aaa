# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""host_probe's logic against a temporary tree standing in for /sys/module and /proc/sys."""

from __future__ import annotations

import hashlib
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
    system_facts,
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


def test_paths_report_mode_owner_and_with_checksum_the_content_digest(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("key = value\n")
    (tmp_path / "file").chmod(0o640)
    (tmp_path / "dir").mkdir(mode=0o750)
    (tmp_path / "dir").chmod(0o750)
    plain = probe_paths([str(tmp_path / "file"), str(tmp_path / "dir")])
    assert "sha256" not in plain[str(tmp_path / "file")]
    result = probe_paths([str(tmp_path / "file"), str(tmp_path / "dir"), str(tmp_path / "missing")], checksum=True)
    file, directory = result[str(tmp_path / "file")], result[str(tmp_path / "dir")]
    assert file["sha256"] == hashlib.sha256(b"key = value\n").hexdigest()
    assert (file["mode"], directory["mode"]) == ("0640", "0750")
    assert (file["uid"], file["gid"]) == (os.getuid(), os.getgid())
    assert file["owner"] is not None and "sha256" not in directory
    assert result[str(tmp_path / "missing")] == {"exists": False, "type": None}


def test_system_facts_read_os_release(tmp_path: Path) -> None:
    (tmp_path / "os-release").write_text(
        'PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nNAME="Debian GNU/Linux"\nVERSION_ID="13"\n'
        "VERSION_CODENAME=trixie\nID=debian\n"
    )
    (tmp_path / "debian_version").write_text("13.1\n")
    facts = system_facts(str(tmp_path / "os-release"), str(tmp_path / "debian_version"))
    assert facts["distribution"] == "Debian"
    assert facts["os_family"] == "Debian"
    assert (facts["distribution_version"], facts["distribution_major_version"]) == ("13.1", "13")
    assert facts["distribution_release"] == "trixie"
    assert facts["architecture"] == facts["machine"] == os.uname().machine
    assert facts["hostname"] == os.uname().nodename.split(".")[0]
    assert (facts["kernel"], facts["nodename"]) == (os.uname().release, os.uname().nodename)
    assert facts["service_mgr"] == ("systemd" if os.path.isdir("/run/systemd/system") else facts["service_mgr"])
    # A testing release has no number in debian_version; an Ubuntu is of the Debian family.
    (tmp_path / "debian_version").write_text("forky/sid\n")
    assert system_facts(str(tmp_path / "os-release"), str(tmp_path / "debian_version"))["distribution_version"] == "13"
    (tmp_path / "os-release").write_text('NAME="Ubuntu"\nVERSION_ID="24.04"\nID=ubuntu\nID_LIKE=debian\n')
    ubuntu = system_facts(str(tmp_path / "os-release"), str(tmp_path / "missing"))
    assert [ubuntu[key] for key in ("distribution", "os_family", "distribution_version")] == [
        "Ubuntu",
        "Debian",
        "24.04",
    ]
    (tmp_path / "os-release").write_text('NAME="Fedora Linux"\nVERSION_ID=41\nID=fedora\n')
    assert system_facts(str(tmp_path / "os-release"), str(tmp_path / "missing"))["os_family"] == "Fedora"


def test_run_sets_system_facts_only_when_asked() -> None:
    assert "ansible_facts" not in run({})
    assert run({"system": True})["ansible_facts"]["architecture"] == os.uname().machine
