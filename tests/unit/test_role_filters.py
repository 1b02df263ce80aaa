"""go_arch and unknown_role_variables: the logic the roles share, against the roles' real specs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.ocistack.engine.plugins.filter.go_arch import go_arch
from ansible_collections.ocistack.engine.plugins.filter.unknown_role_variables import (
    role_options,
    unknown_role_variables,
)

ROLES = Path(__file__).resolve().parents[2] / "roles"


@pytest.mark.parametrize(
    ("machine", "expected"),
    [("x86_64", "amd64"), ("aarch64", "arm64"), ("armv7l", "arm"), ("s390x", "s390x"), ("mips64", "mips64"), ("", "")],
)
def test_go_arch_maps_machine_names_and_passes_unknown_ones(machine, expected):
    assert go_arch(machine) == expected


def test_go_arch_is_what_the_shipped_checksum_tables_are_keyed_by():
    table = yaml.safe_load((ROLES / "runc" / "vars" / "checksums.yml").read_text())
    arches = {arch for sums in next(iter(table.values())).values() for arch in sums}
    assert {go_arch("x86_64"), go_arch("aarch64")} <= arches


@pytest.mark.parametrize("role", sorted(p.parent.parent.name for p in ROLES.glob("*/meta/argument_specs.yml")))
def test_every_documented_variable_of_every_role_is_known(role):
    options = role_options(str(ROLES / role))
    assert options, role
    assert unknown_role_variables(options, str(ROLES / role)) == []


def test_a_typo_is_named_with_the_closest_known_variable():
    names = ["runc_version", "runc_verison", "runc_installed_path", "runc_whatever_else"]
    assert unknown_role_variables(names, str(ROLES / "runc"), also=["runc_installed_path"]) == [
        "runc_verison (did you mean runc_version?)",
        "runc_whatever_else",
    ]


def test_facts_a_role_sets_are_unknown_unless_listed_in_also():
    assert unknown_role_variables(["runc_installed_path"], str(ROLES / "runc")) == ["runc_installed_path"]


def test_a_role_without_a_spec_is_an_error_naming_the_file(tmp_path):
    with pytest.raises(AnsibleFilterError, match="argument_specs.yml"):
        unknown_role_variables(["x_y"], str(tmp_path))
