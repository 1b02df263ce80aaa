# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""deb_package's decisions over recorded dpkg-query and apt-get output (Debian 12, dpkg 1.21, apt 2.6, 2026-12-04).

The runner is a fake that answers each command with the recorded text and records what ran, so the tests
show which commands a converged host, an install, a check-mode run and a removal cost.
"""

from __future__ import annotations

from typing import Dict, List, Tuple

import pytest

from ansible_collections.ocistack.engine.plugins.module_utils import _deb_package as deb
from ansible_collections.ocistack.engine.plugins.module_utils._errors import OptionError

# dpkg-query --show --showformat '${Package}\t${Version}\t${Architecture}\t${db:Status-Abbrev}\n' runc containerd crun
SHOW = "containerd\t1.6.20~ds1-1+deb12u3\tamd64\tii \nrunc\t1.1.5+ds1-1+deb12u1\tamd64\tii \n"
# apt-get install --simulate -y -q hello (not installed, apt knows it)
SIM_HELLO = (
    "Reading package lists...\nBuilding dependency tree...\nReading state information...\n"
    "The following NEW packages will be installed:\n  hello\n"
    "0 upgraded, 1 newly installed, 0 to remove and 142 not upgraded.\n"
    "Inst hello (2.10-3 Debian:12.15/oldstable [amd64])\nConf hello (2.10-3 Debian:12.15/oldstable [amd64])\n"
)
# apt-get install --simulate: an upgrade shows the installed version in brackets.
SIM_UPGRADE = "Inst runc [1.1.5+ds1-1+deb12u1] (1.1.12-1 Debian:12.15/oldstable [amd64])\n"
# apt-get remove --simulate runc: Debian's containerd depends on runc and goes with it.
SIM_REMOVE = "Remv containerd [1.6.20~ds1-1+deb12u3]\nRemv runc [1.1.5+ds1-1+deb12u1]\n"
# dpkg-query --show --showformat '${Package}\t${Architecture}\t${db:Status-Abbrev}\t${Pre-Depends}, ${Depends}\n'
DEPENDS = (
    "containerd\tamd64\tii \t, runc (>= 0.1.0~), libc6 (>= 2.34)\n"
    "runc\tamd64\tii \t, libc6 (>= 2.34), libseccomp2 (>= 2.5.0)\n"
    "crun\tamd64\tii \t, libc6 (>= 2.34)\n"
    "either\tamd64\tii \t, runc | crun\n"
    "gone\tamd64\trc \t, runc\n"
    "libc6\tamd64\tii \tlibgcc-s1, \n"
)


class FakeHost:
    """Answers dpkg and apt commands from recorded output; apt-get install/remove change what dpkg reports."""

    def __init__(
        self, installed: Dict[str, str], simulate: Tuple[int, str, str] = (0, "", ""), install_rc: int = 0
    ) -> None:
        self.installed = dict(installed)
        self.simulate = simulate
        self.install_rc = install_rc
        self.ran: List[List[str]] = []

    def __call__(self, argv: List[str]) -> Tuple[int, str, str]:
        self.ran.append(list(argv))
        if argv[:2] == ["dpkg", "--print-architecture"]:
            return 0, "amd64\n", ""
        if argv == deb.DEPENDS_QUERY_ARGV:
            return 0, DEPENDS, ""
        if argv[0] == "dpkg-query":
            names = argv[4:]
            out = "".join(f"{n}\t{self.installed[n]}\tamd64\tii \n" for n in names if n in self.installed)
            missing = [n for n in names if n not in self.installed]
            return (1 if missing else 0), out, "".join(f"dpkg-query: no packages found matching {n}\n" for n in missing)
        if argv[:2] == ["apt-get", "update"]:
            return 0, "", ""
        if argv[:2] == ["apt-get", "install"]:
            if "--simulate" in argv:
                return self.simulate
            if self.install_rc:
                return self.install_rc, "", "E: Unable to locate package nosuch"
            options = argv[2:]
            specs = [arg for i, arg in enumerate(options) if not arg.startswith("-") and options[i - 1] != "-o"]
            for spec in specs:
                name, _equals, version = spec.partition("=")
                self.installed[name] = version or "9.9-1"
            return 0, "", ""
        if argv[:2] in (["apt-get", "remove"], ["apt-get", "purge"]):
            for name in argv[2:]:
                self.installed.pop(name, None)
            return 0, "", ""
        raise AssertionError(f"unexpected command {argv}")

    def commands(self) -> List[str]:
        return [" ".join(argv[:2]) for argv in self.ran]


def _params(**kwargs):
    return {
        "state": "present",
        "update_cache": False,
        "cache_valid_time": 0,
        "allow_downgrade": False,
        "install_recommends": None,
        "policy_rc_d": None,
        "purge": False,
        "keep_needed": False,
        "lock_timeout": 60,
        **kwargs,
    }


def test_parse_requests() -> None:
    assert deb.parse_requests(["runc", "containerd=1.7.*"], "present") == [
        deb.Request("runc"),
        deb.Request("containerd", "1.7.*"),
    ]
    assert deb.Request("containerd", "1.7.*").spec == "containerd=1.7.*"


@pytest.mark.parametrize(
    ("names", "state", "message"),
    [
        ([], "present", "name: give at least one package"),
        (["Runc"], "present", 'name: "Runc" is not a Debian package name'),
        (["runc; rm -rf /"], "present", "is not a Debian package name"),
        (["runc="], "present", 'give a version after "="'),
        (["runc=1.0 x"], "present", "is not a Debian version"),
        (["runc=1.0"], "absent", "state=absent removes any installed version"),
        (["runc", "runc=1.0"], "present", '"runc" is listed twice'),
    ],
)
def test_bad_names_are_refused_naming_the_option(names, state, message) -> None:
    with pytest.raises(OptionError, match=message):
        deb.parse_requests(names, state)


@pytest.mark.parametrize(
    ("installed", "asked", "matches"),
    [
        ("1.1.5+ds1-1+deb12u1", "", True),
        ("1.1.5+ds1-1+deb12u1", "1.1.5+ds1-1+deb12u1", True),
        ("1.1.5+ds1-1+deb12u1", "1.1.5", False),
        ("1.7.24~ds1-6+b4", "1.7.*", True),
        ("1.6.20~ds1-1+deb12u3", "1.7.*", False),
        (None, "", False),
    ],
)
def test_version_matches(installed, asked, matches) -> None:
    assert deb.version_matches(installed, asked) is matches


def test_installed_versions_from_recorded_dpkg_output() -> None:
    assert deb.installed_versions(SHOW, "amd64") == {
        "containerd": "1.6.20~ds1-1+deb12u3",
        "runc": "1.1.5+ds1-1+deb12u1",
    }


def test_plan_install_keeps_what_is_in_place() -> None:
    installed = {"runc": "1.1.5+ds1-1+deb12u1", "containerd": "1.6.20~ds1-1+deb12u3"}
    requests = deb.parse_requests(["runc", "containerd=1.7.*", "crun"], "present")
    assert deb.plan_install(requests, installed) == [deb.Request("containerd", "1.7.*"), deb.Request("crun")]


def test_parse_simulation() -> None:
    assert deb.parse_simulation(SIM_HELLO) == {"hello": {"action": "install", "before": None, "after": "2.10-3"}}
    assert deb.parse_simulation(SIM_UPGRADE)["runc"] == {
        "action": "install",
        "before": "1.1.5+ds1-1+deb12u1",
        "after": "1.1.12-1",
    }
    assert set(deb.parse_simulation(SIM_REMOVE)) == {"containerd", "runc"}


def test_needed_by_from_recorded_depends() -> None:
    depends = deb.parse_depends(DEPENDS, "amd64")
    assert "gone" not in depends  # only configuration files left: depends on nothing any more
    assert depends["containerd"] == [["runc"], ["libc6"]]
    assert depends["either"] == [["runc", "crun"]]
    # containerd needs runc; "either" is content with crun.
    assert deb.needed_by("runc", depends, ["runc"]) == ["containerd"]
    # Removed together, containerd needs nothing: runc can go.
    assert deb.needed_by("runc", depends, ["runc", "containerd"]) == []
    # Without crun, "either" needs runc too.
    assert deb.needed_by("runc", depends, ["runc", "crun"]) == ["containerd", "either"]


def test_converged_host_costs_two_dpkg_calls_and_changes_nothing() -> None:
    host = FakeHost({"runc": "1.1.5+ds1-1+deb12u1"})
    result = deb.run(_params(name=["runc=1.1.5+ds1-1+deb12u1"], update_cache=True, cache_valid_time=3600), False, host)
    assert result["changed"] is False
    assert result["installed_version"] == result["previous_version"] == "1.1.5+ds1-1+deb12u1"
    assert host.commands() == ["dpkg --print-architecture", "dpkg-query --show"]
    assert result["diff"]["before"] == result["diff"]["after"] == "runc 1.1.5+ds1-1+deb12u1\n"


def test_install_refreshes_stale_lists_and_reports_versions(monkeypatch) -> None:
    monkeypatch.setattr(deb, "lists_age", lambda now: 7200.0)
    monkeypatch.setattr(deb.os, "utime", lambda path: None)
    host = FakeHost({})
    result = deb.run(
        _params(
            name=["containerd=1.6.20~ds1-1+deb12u3"], update_cache=True, cache_valid_time=3600, allow_downgrade=True
        ),
        False,
        host,
    )
    assert result["changed"] is True and result["cache_updated"] is True
    assert result["previous_version"] is None
    assert result["installed_version"] == "1.6.20~ds1-1+deb12u3"
    install = [argv for argv in host.ran if argv[:2] == ["apt-get", "install"]][0]
    assert "--allow-downgrades" in install and install[-1] == "containerd=1.6.20~ds1-1+deb12u3"
    assert result["diff"] == {"before": "", "after": "containerd 1.6.20~ds1-1+deb12u3\n"}


def test_fresh_lists_are_not_refreshed(monkeypatch) -> None:
    monkeypatch.setattr(deb, "lists_age", lambda now: 60.0)
    host = FakeHost({})
    result = deb.run(_params(name=["crun"], update_cache=True, cache_valid_time=3600), False, host)
    assert result["cache_updated"] is False
    assert "apt-get update" not in host.commands()


def test_failed_install_names_the_option() -> None:
    host = FakeHost({}, install_rc=100)
    with pytest.raises(OptionError, match="^name: apt-get could not install nosuch"):
        deb.run(_params(name=["nosuch"]), False, host)


@pytest.mark.parametrize(
    ("simulate", "after", "why"),
    [
        ((0, SIM_HELLO, ""), "2.10-3", ""),
        ((100, "", "E: Unable to locate package hello"), "(any)", "apt cannot tell before its lists are refreshed"),
    ],
)
def test_check_mode_reports_without_touching(simulate, after, why) -> None:
    host = FakeHost({}, simulate=simulate)
    result = deb.run(_params(name=["hello"], update_cache=True), True, host)
    assert result["changed"] is True
    assert result["msg"].startswith("hello would be installed") and why in result["msg"]
    assert result["installed_version"] == after
    assert result["diff"]["after"] == f"hello {after} (would be installed)\n"
    # Only reads and apt's simulation ran.
    assert [argv for argv in host.ran if argv[0] == "apt-get" and "--simulate" not in argv] == []


def test_removal_keeps_a_needed_package_and_says_why() -> None:
    host = FakeHost({"runc": "1.1.5+ds1-1+deb12u1", "containerd": "1.6.20~ds1-1+deb12u3"})
    result = deb.run(_params(name=["runc"], state="absent", keep_needed=True), False, host)
    assert result["changed"] is False
    assert result["kept"] == {"runc": ["containerd"]}
    assert "runc stays: containerd depends on it" in result["msg"]
    assert not [argv for argv in host.ran if argv[:2] == ["apt-get", "remove"]]


def test_removal_in_check_mode_and_for_real() -> None:
    host = FakeHost({"crun": "1.8.1-1+deb12u1"})
    checked = deb.run(_params(name=["crun", "runsc"], state="absent"), True, host)
    assert checked["changed"] is True and checked["packages"]["crun"] == {"before": "1.8.1-1+deb12u1", "after": None}
    assert "crun" in host.installed
    done = deb.run(_params(name=["crun", "runsc"], state="absent", purge=True), False, host)
    assert done["changed"] is True and "crun" not in host.installed
    assert [argv[:2] for argv in host.ran if argv[0] == "apt-get"] == [["apt-get", "purge"]]
    again = deb.run(_params(name=["crun", "runsc"], state="absent"), False, host)
    assert again["changed"] is False and again["msg"] == "Nothing to remove."


def test_a_negative_cache_valid_time_is_refused() -> None:
    with pytest.raises(OptionError, match="^cache_valid_time:"):
        deb.run(_params(name=["runc"], cache_valid_time=-1), False, FakeHost({}))
