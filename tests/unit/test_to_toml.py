# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""to_toml: every rendering is parsed back with the standard library's TOML reader (tomllib)."""

from __future__ import annotations

import datetime

import pytest
import tomllib
from ansible.errors import AnsibleFilterError

from ansible_collections.ocistack.engine.plugins.filter.to_toml import FilterModule, to_toml


def roundtrip(data: dict) -> dict:
    return tomllib.loads(to_toml(data))


def test_containerd_v2_shape_roundtrips_with_quoted_plugin_keys() -> None:
    config = {
        "version": 2,
        "root": "/var/lib/containerd",
        "grpc": {"address": "/run/containerd/containerd.sock", "uid": 0},
        "plugins": {
            "io.containerd.grpc.v1.cri": {
                "sandbox_image": "registry.k8s.io/pause:3.8",
                "containerd": {
                    "default_runtime_name": "runc",
                    "runtimes": {
                        "runc": {
                            "runtime_type": "io.containerd.runc.v2",
                            "options": {"SystemdCgroup": True, "BinaryName": "/usr/sbin/runc"},
                        }
                    },
                },
                "registry": {"config_path": "/etc/containerd/certs.d"},
            }
        },
    }
    text = to_toml(config)
    assert tomllib.loads(text) == config
    assert '[plugins."io.containerd.grpc.v1.cri"]' in text
    assert '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]' in text
    # Scalars of the top table come before any section header.
    assert text.index("version = 2") < text.index("[grpc]")


def test_table_with_only_subtables_gets_no_header_of_its_own() -> None:
    text = to_toml({"plugins": {"a": {"x": 1}}})
    assert "[plugins]" not in text
    assert "[plugins.a]" in text


def test_empty_table_is_kept() -> None:
    assert roundtrip({"a": {"b": {}}}) == {"a": {"b": {}}}


def test_null_values_are_left_out() -> None:
    assert roundtrip({"a": 1, "b": None, "t": {"c": None, "d": "x"}}) == {"a": 1, "t": {"d": "x"}}


def test_scalar_types() -> None:
    data = {
        "s": 'quote " backslash \\ tab \t newline \n bell \x07 unicode é',
        "t": True,
        "f": False,
        "i": -42,
        "fl": 1.5,
        "big": 1e20,
        "arr": [1, 2, 3],
        "strs": ["pull", "resolve"],
        "nested": [[1, 2], ["a"]],
        "empty": [],
        "date": datetime.date(2026, 1, 2),
    }
    assert roundtrip(data) == data


def test_special_floats() -> None:
    parsed = roundtrip({"a": float("inf"), "b": float("-inf")})
    assert parsed == {"a": float("inf"), "b": float("-inf")}
    assert "nan" in to_toml({"n": float("nan")})


def test_array_of_tables() -> None:
    data = {"proxy_plugins": [{"name": "a", "opts": {"x": 1}}, {"name": "b"}]}
    text = to_toml(data)
    assert text.count("[[proxy_plugins]]") == 2
    assert tomllib.loads(text) == data


def test_inline_tables_inside_mixed_arrays() -> None:
    data = {"a": [[{"x": 1}], [{"y": "z"}]]}
    assert roundtrip(data) == data


def test_keys_needing_quotes() -> None:
    data = {"host": {"https://mirror.local:5000": {"capabilities": ["pull"], "header": {"X-Auth": ["a"]}}}}
    text = to_toml(data)
    assert '[host."https://mirror.local:5000"]' in text
    assert tomllib.loads(text) == data


def test_sort_keys() -> None:
    text = to_toml({"b": 1, "a": 2}, sort_keys=True)
    assert text == "a = 2\nb = 1\n"
    assert to_toml({"b": 1, "a": 2}) == "b = 1\na = 2\n"


def test_empty_document() -> None:
    assert to_toml({}) == ""


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"a": [{"x": 1}, 2]}, "a: a list must hold only tables"),
        ({"a": {1: "x"}}, "keys must be strings"),
        ({"a": {"b": object()}}, "a.b: TOML cannot hold"),
        ({"a": [1, None]}, r"a\[1\]: TOML arrays cannot hold null"),
    ],
)
def test_unrepresentable_values_name_the_key(data: dict, message: str) -> None:
    with pytest.raises(AnsibleFilterError, match=message):
        to_toml(data)


def test_non_dict_input_is_refused() -> None:
    with pytest.raises(AnsibleFilterError, match="expects a dictionary"):
        to_toml(["a"])  # type: ignore[arg-type]


def test_registered_as_filter() -> None:
    assert FilterModule().filters()["to_toml"] is to_toml
