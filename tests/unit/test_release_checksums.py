"""The shipped release checksums: the tables' shape, the lookup order, and the roles reading them."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.ocistack.engine.plugins.filter.release_checksum import release_checksum, version_ranges

REPO_ROOT = Path(__file__).resolve().parents[2]
ROLES = ("containerd", "runc", "cni")
ARCHES = {"amd64", "arm64"}
# The minor release lines issue 20 names; each must be listed from x.y.0 to its newest patch without a gap, but for
# the versions below (no sum from a second source was at hand when the table was written).
RELEASE_LINES = {
    "containerd": [(1, 7), (2, 0), (2, 1)],
    "runc": [(1, 1), (1, 2), (1, 3)],
    "cni": [(1, 4), (1, 5), (1, 6)],
}
KNOWN_GAPS = {"cni": {"1.6.1"}}
# The file each table's sums are of: the basename of the role's default <role>_binary_url.
RELEASE_FILES = {
    "containerd": "containerd-{{ containerd_version }}-linux-{{ __containerd_arch }}.tar.gz",
    "runc": "runc.{{ __runc_arch }}",
    "cni": "cni-plugins-linux-{{ __cni_arch }}-v{{ cni_version }}.tgz",
}
SHA_A = "a" * 64
SHA_B = "b" * 64
SHA_C = "c" * 64


def _semver(version: str) -> tuple[int, int, int]:
    match = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", version)
    assert match, f"{version!r} is not a MAJOR.MINOR.PATCH version"
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def _table(role: str) -> dict:
    path = REPO_ROOT / "roles" / role / "vars" / "checksums.yml"
    loaded = yaml.safe_load(path.read_text())
    assert list(loaded) == [f"__{role}_release_checksums"], f"{path} must define only __{role}_release_checksums"
    return loaded[f"__{role}_release_checksums"]


@pytest.mark.parametrize("role", ROLES)
def test_table_shape(role: str) -> None:
    table = _table(role)
    versions = list(table)
    for version in versions:
        assert isinstance(version, str), f"{role} {version!r}: quote the version, YAML makes 1.10 a number"
        _semver(version)
        assert set(table[version]) == ARCHES, f"{role} {version}: needs exactly {sorted(ARCHES)}"
        for arch, sha in table[version].items():
            assert isinstance(sha, str) and re.fullmatch(r"[0-9a-f]{64}", sha), f"{role} {version} {arch}: {sha!r}"
    assert versions == sorted(versions, key=_semver), f"{role}: keep the versions in version order"


def test_no_sum_appears_twice() -> None:
    seen: dict[str, str] = {}
    for role in ROLES:
        for version, arches in _table(role).items():
            for arch, sha in arches.items():
                where = f"{role} {version} {arch}"
                assert sha not in seen, f"{where} has the same sum as {seen.get(sha)}"
                seen[sha] = where


@pytest.mark.parametrize("role", ROLES)
def test_the_named_release_lines_are_complete(role: str) -> None:
    versions = set(_table(role))
    for major, minor in RELEASE_LINES[role]:
        patches = sorted(_semver(v)[2] for v in versions if _semver(v)[:2] == (major, minor))
        assert patches, f"{role} {major}.{minor}.x is missing"
        expected = {f"{major}.{minor}.{patch}" for patch in range(patches[-1] + 1)} - KNOWN_GAPS.get(role, set())
        missing = sorted(expected - versions, key=_semver)
        assert not missing, f"{role}: {missing} missing between {major}.{minor}.0 and {major}.{minor}.{patches[-1]}"


@pytest.mark.parametrize("role", ROLES)
def test_the_table_is_of_the_file_the_role_downloads(role: str) -> None:
    defaults = yaml.safe_load((REPO_ROOT / "roles" / role / "defaults" / "main.yml").read_text())
    assert defaults[f"{role}_binary_url"].strip().rsplit("/", 1)[1] == RELEASE_FILES[role]
    header = (REPO_ROOT / "roles" / role / "vars" / "checksums.yml").read_text().split("\n__", 1)[0]
    spelled = re.sub(
        r"\{\{ (__\w+_arch|\w+_version) \}\}",
        lambda m: "<arch>" if "arch" in m[1] else "<version>",
        RELEASE_FILES[role],
    )
    assert spelled in header, f"the header of {role}'s table must say its sums are of {spelled}"


SHIPPED = {"2.1.9": {"amd64": SHA_A, "arm64": SHA_B}, "2.1.8": {"amd64": SHA_C, "arm64": "d" * 64}}


def test_order_binary_sha256_then_user_then_shipped() -> None:
    user = {"2.1.9": {"amd64": SHA_C}}
    assert (
        release_checksum("2.1.9", "amd64", "containerd", sha256="E" * 64, checksums=user, shipped=SHIPPED) == "e" * 64
    )
    assert release_checksum("2.1.9", "amd64", "containerd", checksums=user, shipped=SHIPPED) == SHA_C
    # The user's dict knows the version for another architecture only: the shipped sum answers.
    assert release_checksum("2.1.9", "arm64", "containerd", checksums=user, shipped=SHIPPED) == SHA_B
    assert release_checksum("2.1.9", "amd64", "containerd", shipped=SHIPPED) == SHA_A


def test_a_version_key_yaml_made_a_number_is_refused() -> None:
    # `1.10:` unquoted is the float 1.1: refused, not silently missed.
    with pytest.raises(AnsibleFilterError, match=r"^runc_checksums: the version 1\.1 is a number, not a string"):
        release_checksum("1.10", "amd64", "runc", checksums={1.10: {"amd64": SHA_A}})


def test_unknown_version_names_the_variables() -> None:
    url = "https://github.com/containerd/containerd/releases/download/v2.1.99/containerd-2.1.99-linux-amd64.tar.gz"
    with pytest.raises(AnsibleFilterError) as caught:
        release_checksum(
            "2.1.99", "amd64", "containerd", checksums={"2.1.9": {"amd64": SHA_A}}, shipped=SHIPPED, url=url
        )
    message = str(caught.value)
    assert message.startswith("containerd_version: no sha256 is known for containerd 2.1.99 (amd64)")
    assert "containerd_binary_sha256" in message and "containerd_checksums" in message and url in message
    assert "2.1.8-2.1.9 (amd64, arm64)" in message


def test_unknown_architecture_is_refused() -> None:
    with pytest.raises(AnsibleFilterError, match=r"^cni_version: no sha256 is known for cni 2\.1\.9 \(riscv64\)"):
        release_checksum("2.1.9", "riscv64", "cni", shipped=SHIPPED)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sha256": "xyz"}, r'^runc_binary_sha256: "xyz" is not a sha256'),
        ({"sha256": "a" * 63}, r"^runc_binary_sha256: .* is not a sha256"),
        (
            {"checksums": {"2.1.9": {"amd64": "sha256:" + SHA_A}}},
            r'^runc_checksums\["2\.1\.9"\]\["amd64"\]: .* is not a sha256',
        ),
        ({"checksums": ["2.1.9"]}, r"^runc_checksums: must be a dict \{version: \{arch: sha256\}\}"),
        ({"checksums": {"2.1.9": SHA_A}}, r'^runc_checksums\["2\.1\.9"\]: must be a dict \{arch: sha256\}'),
    ],
)
def test_bad_values_are_refused_naming_the_variable(kwargs, message) -> None:
    with pytest.raises(AnsibleFilterError, match=message):
        release_checksum("2.1.9", "amd64", "runc", **{"shipped": SHIPPED, **kwargs})


def test_version_ranges() -> None:
    assert version_ranges({"1.6.2": {}, "1.4.0": {}, "1.6.0": {}, "1.5.1": {}}) == "1.4.0, 1.5.1, 1.6.0-1.6.2"
    assert version_ranges({}) == ""


def _ansible_playbook() -> str:
    found = Path(sys.executable).with_name("ansible-playbook")
    return str(found) if found.exists() else (shutil.which("ansible-playbook") or "ansible-playbook")


# What each role's validate.yml resolves (its release_source task), run for real by ansible-playbook on this
# machine (connection local, nothing changed: the file only reads). One ansible-playbook run serves every case.
ROLE_CASES = {
    "containerd": {
        "shipped": (
            {"containerd_version": "2.1.9", "containerd_arch": "arm64"},
            ("sha256", "containerd", "2.1.9", "arm64"),
        ),
        "user": (
            {
                "containerd_version": "2.1.9",
                "containerd_arch": "amd64",
                "containerd_checksums": {"2.1.9": {"amd64": SHA_C}},
            },
            ("sha256", SHA_C),
        ),
        "explicit": (
            {
                "containerd_version": "2.1.9",
                "containerd_arch": "amd64",
                "containerd_binary_sha256": SHA_A,
                "containerd_checksums": {"2.1.9": {"amd64": SHA_C}},
            },
            ("sha256", SHA_A),
        ),
        "unknown": (
            {"containerd_version": "2.1.99", "containerd_arch": "amd64"},
            ("error", "containerd_version: no sha256"),
        ),
    },
    "runc": {
        "shipped": ({"runc_version": "1.3.6", "runc_arch": "amd64"}, ("sha256", "runc", "1.3.6", "amd64")),
        "unknown": ({"runc_version": "1.0.0", "runc_arch": "amd64"}, ("error", "runc_version: no sha256")),
    },
    "cni": {
        "shipped": ({"cni_version": "1.6.2", "cni_arch": "arm64"}, ("sha256", "cni", "1.6.2", "arm64")),
        "unknown": ({"cni_version": "1.6.1", "cni_arch": "amd64"}, ("error", "cni_version: no sha256")),
        "bad": (
            {"cni_version": "1.6.2", "cni_arch": "amd64", "cni_binary_sha256": "xyz"},
            ("error", 'cni_binary_sha256: "xyz"'),
        ),
    },
}


@pytest.fixture(scope="module")
def role_outcomes(tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("release-checksums")
    hosts: dict[str, dict] = {}
    for role, cases in ROLE_CASES.items():
        for case, (variables, _expected) in cases.items():
            hosts[f"{role}-{case}"] = {f"{role}_install_method": "binary", **variables}
    inventory = {
        "all": {
            "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
            "children": {
                role: {"hosts": {h: v for h, v in hosts.items() if h.startswith(role + "-")}} for role in ROLES
            },
        }
    }
    plays = [
        {
            "name": f"validate of {role}",
            "hosts": role,
            "gather_facts": False,
            "tasks": [
                {
                    "block": [
                        {
                            "ansible.builtin.include_role": {
                                "name": f"ocistack.engine.{role}",
                                "tasks_from": "validate",
                            }
                        },
                        {"ansible.builtin.set_fact": {"outcome": {"sha256": f"{{{{ __{role}_release.sha256 }}}}"}}},
                    ],
                    "rescue": [{"ansible.builtin.set_fact": {"outcome": {"error": "{{ ansible_failed_result.msg }}"}}}],
                },
            ],
        }
        for role in ROLES
    ]
    (work / "inventory.json").write_text(json.dumps(inventory))
    (work / "playbook.yml").write_text(json.dumps(plays))
    env = {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": os.pathsep.join(
            [str(REPO_ROOT / ".cache" / "collections")] + [p for p in [os.environ.get("ANSIBLE_COLLECTIONS_PATH")] if p]
        ),
        "ANSIBLE_LOCAL_TEMP": str(work / "tmp"),
        "ANSIBLE_REMOTE_TEMP": str(work / "tmp"),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
    }
    done = subprocess.run(
        [_ansible_playbook(), "-i", str(work / "inventory.json"), str(work / "playbook.yml")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # The last outcome set_fact gave each host (the block's, or the rescue's).
    outcomes = {}
    for play in json.loads(done.stdout)["plays"]:
        for task in play["tasks"]:
            for host, result in task["hosts"].items():
                if "outcome" in result.get("ansible_facts", {}):
                    outcomes[host] = result["ansible_facts"]["outcome"]
    return outcomes


@pytest.mark.parametrize(("role", "case"), [(role, case) for role, cases in ROLE_CASES.items() for case in cases])
def test_the_role_resolves_as_documented(role_outcomes, role, case) -> None:
    expected = ROLE_CASES[role][case][1]
    outcome = role_outcomes[f"{role}-{case}"]
    if expected[0] == "sha256":
        want = _table(expected[1])[expected[2]][expected[3]] if len(expected) == 4 else expected[1]
        assert outcome == {"sha256": want}
    else:
        assert expected[1] in outcome.get("error", ""), outcome
