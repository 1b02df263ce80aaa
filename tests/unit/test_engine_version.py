# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""engine_version on recorded `--version` outputs (tests/unit/fixtures/versions/, tool version and date inside)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.ocistack.engine.plugins.filter.engine_version import FilterModule, engine_version

FIXTURES = Path(__file__).parent / "fixtures" / "versions"


def recorded(name: str) -> str:
    # First line of a fixture is the provenance comment.
    return (FIXTURES / name).read_text().split("\n", 1)[1]


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("containerd-bookworm.txt", "1.6.20"),
        ("ctr-bookworm.txt", "1.6.20"),
        ("runc-bookworm.txt", "1.1.5"),
        ("crun-bookworm.txt", "1.8.1"),
    ],
)
def test_recorded_outputs(fixture: str, expected: str) -> None:
    assert engine_version(recorded(fixture)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("containerd github.com/containerd/containerd/v2 v2.1.4 75cb2b7193e4e490e9fbdc236c0e811ccaba3376", "2.1.4"),
        ("1.7.24~ds1-6+b4", "1.7.24"),
        ("v1.3.6", "1.3.6"),
        ("", ""),
        ("command not found", ""),
    ],
)
def test_other_shapes(text: str, expected: str) -> None:
    assert engine_version(text) == expected


def test_registered_as_filter() -> None:
    assert FilterModule().filters()["engine_version"] is engine_version
