# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest

from ansible_collections.ocistack.engine.plugins.module_utils._errors import OptionError
from ansible_collections.ocistack.engine.plugins.module_utils._units import (
    cpus_to_quota,
    format_bytes,
    parse_bytes,
    parse_cpus,
)

MIB = 1024 * 1024


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1048576, MIB),
        ("1048576", MIB),
        ("64m", 64 * MIB),
        ("64M", 64 * MIB),
        ("64MB", 64 * MIB),
        ("64MiB", 64 * MIB),
        ("64mib", 64 * MIB),
        ("1g", 1024 * MIB),
        ("2GiB", 2048 * MIB),
        ("512k", 512 * 1024),
        ("512kb", 512 * 1024),
        ("1t", 1024 * 1024 * MIB),
        ("100b", 100),
        ("100B", 100),
        (" 8 m ", 8 * MIB),
        ("1.5g", 1536 * MIB),
        ("0.5k", 512),
        (4096.0, 4096),
    ],
)
def test_parse_bytes_accepts_units(value, expected):
    assert parse_bytes(value, "memory") == expected


@pytest.mark.parametrize(
    "value", ["", "abc", "64x", "m64", "-1", "1.5.2m", "64 m b", "10ib", "1,5g", [], None, True, 1.5, "0.3b"]
)
def test_parse_bytes_rejects_garbage_naming_the_option(value):
    with pytest.raises(OptionError) as err:
        parse_bytes(value, "memory")
    assert err.value.option == "memory"
    assert str(err.value).startswith("memory: ")


def test_parse_bytes_negative_int():
    with pytest.raises(OptionError, match="negative"):
        parse_bytes(-5, "shm_size")


def test_parse_bytes_zero_only_when_allowed():
    with pytest.raises(OptionError, match="greater than zero"):
        parse_bytes("0", "memory")
    assert parse_bytes("0m", "memory", allow_zero=True) == 0
    assert parse_bytes(0, "memory", allow_zero=True) == 0


@pytest.mark.parametrize(("value", "text"), [(64 * MIB, "64m"), (1536 * MIB, "1536m"), (1000, "1000"), (2048, "2k")])
def test_format_bytes_round_trips(value, text):
    assert format_bytes(value) == text
    assert parse_bytes(text, "x") == value


@pytest.mark.parametrize(("value", "expected"), [(1, 1.0), ("0.5", 0.5), (1.5, 1.5), (" 2 ", 2.0), ("0.01", 0.01)])
def test_parse_cpus(value, expected):
    assert parse_cpus(value, "cpus") == expected


@pytest.mark.parametrize("value", [0, "0", -1, "0.001", "two", "nan", "inf", True, None, [1]])
def test_parse_cpus_rejects(value):
    with pytest.raises(OptionError) as err:
        parse_cpus(value, "cpus")
    assert err.value.option == "cpus"


@pytest.mark.parametrize(("cpus", "quota"), [(1.0, 100000), (0.5, 50000), (2.25, 225000), (0.01, 1000), (0.333, 33300)])
def test_cpus_to_quota(cpus, quota):
    assert cpus_to_quota(cpus) == (quota, 100000)
