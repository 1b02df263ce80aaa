"""The release is consistent: galaxy.yml's version, changelogs/changelog.yaml, CHANGELOG.rst and every version_added.

galaxy.yml names either the latest release of changelogs/changelog.yaml or, while the next one is being made, a
later version not released yet. Every version_added names a released version or galaxy.yml's version, never one
after it. The tarball's contents are checked by scripts/test.sh (build and release stages).
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from packaging.version import Version

REPO_ROOT = Path(__file__).resolve().parents[2]
# Plugin types whose every plugin must say when it came.
DOCUMENTED_TYPES = ("modules", "filter", "callback")


def _galaxy_version() -> Version:
    return Version(yaml.safe_load((REPO_ROOT / "galaxy.yml").read_text())["version"])


def _released() -> list[Version]:
    changelog = yaml.safe_load((REPO_ROOT / "changelogs" / "changelog.yaml").read_text())
    return sorted(Version(v) for v in changelog.get("releases") or {})


def _antsibull_changelog() -> str:
    found = shutil.which("antsibull-changelog") or str(Path(sys.executable).parent / "antsibull-changelog")
    assert os.access(found, os.X_OK), "antsibull-changelog is not installed (requirements/test.txt, scripts/setup.sh)"
    return found


def _version_added(node: object, where: str) -> list[tuple[str, str]]:
    """Every version_added under a doc tree (options, suboptions, entry points), with where it is."""
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "version_added":
                found.append((where, str(value)))
            else:
                found.extend(_version_added(value, f"{where}.{key}"))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found.extend(_version_added(value, f"{where}[{i}]"))
    return found


def _doc_strings(path: Path) -> dict[str, str]:
    """The DOCUMENTATION string of a plugin, or every upper-case string of a doc fragment's class."""
    tree = ast.parse(path.read_text())
    if path.parent.name == "doc_fragments":
        stmts = [(f"{c.name}.", s) for c in tree.body if isinstance(c, ast.ClassDef) for s in c.body]
    else:
        stmts = [("", s) for s in tree.body]
    found = {}
    for prefix, stmt in stmts:
        if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str):
            for target in stmt.targets:
                if isinstance(target, ast.Name) and (target.id.isupper() if prefix else target.id == "DOCUMENTATION"):
                    found[prefix + target.id] = stmt.value.value
    return found


def _plugin_docs() -> dict[str, dict]:
    """DOCUMENTATION of every plugin and doc fragment, read from the source without importing it."""
    docs: dict[str, dict] = {}
    for path in sorted((REPO_ROOT / "plugins").glob("*/*.py")):
        if path.parent.name == "module_utils" or path.name == "__init__.py":
            continue
        for name, text in _doc_strings(path).items():
            key = str(path.relative_to(REPO_ROOT)) + ("" if name == "DOCUMENTATION" else f":{name}")
            docs[key] = yaml.safe_load(text)
    return docs


def _role_specs() -> dict[str, dict]:
    return {
        str(path.relative_to(REPO_ROOT)): yaml.safe_load(path.read_text())["argument_specs"]
        for path in sorted((REPO_ROOT / "roles").glob("*/meta/argument_specs.yml"))
    }


def _all_version_added() -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for where, doc in {**_plugin_docs(), **_role_specs()}.items():
        found.extend(_version_added(doc, where))
    return found


def test_galaxy_version_is_the_latest_release_or_the_next() -> None:
    released = _released()
    assert released, "changelogs/changelog.yaml has no release (antsibull-changelog release --version X.Y.Z)"
    galaxy = _galaxy_version()
    assert galaxy >= released[-1], f"galaxy.yml says {galaxy}, older than the latest release {released[-1]}"


def test_every_plugin_and_role_entry_point_says_when_it_came() -> None:
    docs = _plugin_docs()
    plugins = [p for p in docs if Path(p).parent.name in DOCUMENTED_TYPES]
    assert len(plugins) >= len(list((REPO_ROOT / "plugins" / "modules").glob("*.py"))), "plugins not found"
    missing = [p for p in plugins if not (docs[p] or {}).get("version_added")]
    for path, spec in _role_specs().items():
        missing += [f"{path}:{entry}" for entry, doc in spec.items() if not doc.get("version_added")]
    assert not missing, f"no version_added: {missing}"


def _misdated(found: list[tuple[str, str]]) -> list[tuple[str, str]]:
    galaxy = _galaxy_version()
    known = set(_released()) | {galaxy}
    return [(where, v) for where, v in found if Version(v) > galaxy or Version(v) not in known]


def test_version_added_is_released_or_the_coming_version() -> None:
    found = _all_version_added()
    assert len(found) > 20, "version_added not found in plugins and roles"
    wrong = _misdated(found)
    assert not wrong, f"version_added neither a release in changelogs/changelog.yaml nor galaxy.yml's version: {wrong}"


def test_every_released_plugin_and_role_is_in_its_release() -> None:
    # A plugin merged with version_added X.Y.Z after X.Y.Z was cut would be missing from that release's
    # changelog ("New Modules", "New Plugins", "New Roles"): cut it again from the fragments.
    releases = yaml.safe_load((REPO_ROOT / "changelogs" / "changelog.yaml").read_text())["releases"]
    docs = _plugin_docs()
    expected: list[tuple[str, str, str]] = []
    for path, doc in docs.items():
        plugin_dir = Path(path).parent.name
        if plugin_dir in DOCUMENTED_TYPES and ":" not in path:
            kind = "module" if plugin_dir == "modules" else plugin_dir
            expected.append((kind, Path(path).stem, str(doc["version_added"])))
    for path, spec in _role_specs().items():
        expected.append(("role", Path(path).parts[1], str(spec["main"]["version_added"])))
    missing = []
    for kind, name, version in expected:
        release = releases.get(version)
        if release is None:
            continue  # not released yet: galaxy.yml's coming version
        if kind == "module":
            listed = release.get("modules") or []
        elif kind == "role":
            listed = (release.get("objects") or {}).get("role") or []
        else:
            listed = (release.get("plugins") or {}).get(kind) or []
        if name not in {entry["name"] for entry in listed}:
            missing.append(f"{kind} {name} ({version})")
    assert not missing, f"released but not in changelogs/changelog.yaml: {missing}"


def test_antsibull_changelog_lint_is_clean() -> None:
    tool = _antsibull_changelog()
    for argv in ([tool, "lint"], [tool, "lint-changelog-yaml", "changelogs/changelog.yaml"]):
        run = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
        assert run.returncode == 0 and not run.stdout.strip(), f"{argv[1:]}: {run.stdout}{run.stderr}"


def test_changelog_rst_is_generated_from_changelog_yaml(tmp_path: Path) -> None:
    out = tmp_path / "CHANGELOG.rst"
    run = subprocess.run(
        [_antsibull_changelog(), "generate", "--output", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert out.read_text() == (REPO_ROOT / "CHANGELOG.rst").read_text(), (
        "CHANGELOG.rst differs from changelogs/changelog.yaml: run antsibull-changelog generate"
    )


@pytest.mark.parametrize("version", ["0.1.0", "9.9.9"])
def test_a_wrong_version_added_is_caught(version: str) -> None:
    # An older version never released (the 0.x of before 1.0.0) and a future one are both refused;
    # galaxy.yml's own version is not.
    assert _misdated([("plugins/modules/x.py", version)]) == [("plugins/modules/x.py", version)]
    assert _misdated([("plugins/modules/x.py", str(_galaxy_version()))]) == []
