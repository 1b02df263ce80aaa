"""A misspelt role variable is refused by the role, naming it and the variable meant, before any change.

Ansible checks a role's arguments against meta/argument_specs.yml only for the names listed there, so
``runc_stat: absent`` would silently run with runc_state's default. Each role runs here, as a play
includes it, against this machine in check mode (so even a broken check cannot change the machine).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
COLLECTIONS_DIR = REPO_ROOT / ".cache" / "collections"
ROLES = ["runc", "containerd", "cni", "runtimes", "docker", "registry"]


def _run_role(role: str, extra_vars: dict, tmp_path: Path):
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        "- hosts: localhost\n"
        "  connection: local\n"
        "  gather_facts: false\n"
        "  tasks:\n"
        "    - ansible.builtin.include_role:\n"
        f"        name: ocistack.engine.{role}\n"
    )
    env = dict(os.environ)
    env["ANSIBLE_COLLECTIONS_PATH"] = os.pathsep.join(
        [str(COLLECTIONS_DIR)] + ([env["ANSIBLE_COLLECTIONS_PATH"]] if env.get("ANSIBLE_COLLECTIONS_PATH") else [])
    )
    env.setdefault("ANSIBLE_LOCAL_TEMP", str(tmp_path / "ansible-tmp"))
    env["ANSIBLE_NOCOLOR"] = "1"
    argv = [
        "ansible-playbook", "--check", "-i", "localhost,", "-e", f"ansible_python_interpreter={sys.executable}",
        "-e", json.dumps(extra_vars), str(playbook),
    ]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300, check=False)


@pytest.mark.parametrize("role", ROLES)
def test_a_misspelt_variable_is_refused_naming_the_one_meant(role, tmp_path):
    typo = f"{role}_stat"
    result = _run_role(role, {typo: "present"}, tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert f"Unknown {role} role variable(s): {typo} (did you mean {role}_state?)" in output, output[-3000:]
    assert f"ansible-doc -t role ocistack.engine.{role}" in output
    # The check is the role's first step: nothing ran before it that could report a change.
    assert "changed=0" in output, output[-3000:]
