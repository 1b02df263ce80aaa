"""Pure logic of the security options and the health gate."""

from __future__ import annotations

import pytest

from ansible_collections.ocistack.engine.plugins.module_utils._errors import OptionError
from ansible_collections.ocistack.engine.plugins.module_utils._health import (
    parse_duration,
    parse_healthcheck,
    wait_healthy,
)
from ansible_collections.ocistack.engine.plugins.module_utils._oci_security import (
    default_seccomp_profile,
    parse_tmpfs,
    parse_ulimits,
    validate_sysctls,
)
from ansible_collections.ocistack.engine.plugins.module_utils._oci_spec import build_spec


@pytest.mark.parametrize(
    ("value", "seconds"), [(30, 30.0), ("30", 30.0), ("30s", 30.0), ("1m30s", 90.0), ("500ms", 0.5)]
)
def test_durations(value, seconds):
    assert parse_duration(value, "healthcheck.interval") == seconds


@pytest.mark.parametrize("value", ["-1s", "-3", "soon", True])
def test_bad_durations(value):
    with pytest.raises(OptionError, match="^healthcheck.interval: "):
        parse_duration(value, "healthcheck.interval")


def test_healthcheck_forms():
    assert parse_healthcheck({"test": ["CMD", "curl", "-f", "x"]})["test"] == ["curl", "-f", "x"]
    assert parse_healthcheck({"test": ["CMD-SHELL", "curl -f x || exit 1"]})["test"] == [
        "/bin/sh",
        "-c",
        "curl -f x || exit 1",
    ]
    assert parse_healthcheck({"test": ["pg_isready"]})["test"] == ["pg_isready"]
    assert parse_healthcheck({"test": ["NONE"]}) is None
    check = parse_healthcheck({"test": "true"})
    assert (check["interval"], check["timeout"], check["start_period"], check["retries"]) == (30.0, 30.0, 0.0, 3)
    with pytest.raises(OptionError, match="^healthcheck.test: "):
        parse_healthcheck({"interval": "1s"})
    with pytest.raises(OptionError, match="^healthcheck.retries: "):
        parse_healthcheck({"test": "true", "retries": -1})


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_wait_healthy_passes_late_and_gives_up_after_the_budget():
    clock = Clock()
    answers = iter([1, 1, 0])
    check = parse_healthcheck({"test": "t", "interval": 1, "retries": 3})
    result = wait_healthy(check, lambda argv, timeout: (next(answers), "out"), lambda: True, clock, clock.sleep)
    assert (result.status, result.attempts) == ("healthy", 3)
    clock = Clock()
    result = wait_healthy(check, lambda argv, timeout: (1, "nope"), lambda: True, clock, clock.sleep)
    assert result.status == "unhealthy" and result.output == "nope" and clock.now <= 3
    result = wait_healthy(check, lambda argv, timeout: (1, ""), lambda: False, Clock(), lambda s: None)
    assert result.status == "unhealthy" and result.attempts == 1


def test_default_seccomp_gives_calls_back_with_their_capability():
    plain = default_seccomp_profile(["CAP_CHOWN"])
    refused = set(plain["syscalls"][0]["names"])
    assert {"mount", "ptrace", "reboot", "unshare", "kexec_load"} <= refused
    assert any(rule["names"] == ["clone3"] for rule in plain["syscalls"])
    admin = default_seccomp_profile(["CAP_SYS_ADMIN", "CAP_SYS_PTRACE"])
    assert not {"mount", "unshare", "ptrace"} & set(admin["syscalls"][0]["names"])
    assert not any(rule["names"] in (["clone"], ["clone3"]) for rule in admin["syscalls"])


def test_spec_defaults_and_privileged():
    spec = build_spec({"args": ["sh"]})
    assert len(spec["process"]["capabilities"]["effective"]) == 14 and "seccomp" in spec["linux"]
    spec = build_spec({"args": ["sh"], "privileged": True})
    assert "seccomp" not in spec["linux"] and spec["linux"]["maskedPaths"] == []
    assert spec["linux"]["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
    spec = build_spec({"args": ["sh"], "cap_add": ["NET_ADMIN"], "cap_drop": ["ALL"]})
    assert spec["process"]["capabilities"]["effective"] == ["CAP_NET_ADMIN"]


def test_sysctls_ulimits_tmpfs():
    assert validate_sysctls({"net.core.somaxconn": 1024, "kernel.shmmax": "1"}, True) == {
        "kernel.shmmax": "1",
        "net.core.somaxconn": "1024",
    }
    for sysctls, own in (
        ({"vm.swappiness": 1}, True),
        ({"net.core.somaxconn": 1}, False),
        ({"kernel.hostname": 1}, True),
    ):
        with pytest.raises(OptionError, match="^sysctls: "):
            validate_sysctls(sysctls, own)
    assert parse_ulimits(["nofile:10:20", "nproc:5"]) == [
        {"type": "RLIMIT_NOFILE", "soft": 10, "hard": 20},
        {"type": "RLIMIT_NPROC", "soft": 5, "hard": 5},
    ]
    for bad in ("nofile", "nofile:a", "bogus:1:1", "nofile:5:1"):
        with pytest.raises(OptionError, match="^ulimits: "):
            parse_ulimits([bad])
    assert parse_tmpfs(["/run:size=1m,exec"])[0]["options"] == ["nosuid", "nodev", "size=1m"]
