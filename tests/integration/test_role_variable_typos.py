"""A misspelt role variable is refused by the role, naming it and the variable meant, before any change.

Ansible checks a role's arguments against meta/argument_specs.yml only for the names listed there, so
``runc_stat: absent`` would silently run with runc_state's default. Each role runs here, as a play
includes it, against this machine in check mode (so even a broken check cannot change the machine).
"""

from __future__ import annotations

import pytest

ROLES = ["runc", "containerd", "cni", "runtimes", "docker", "registry"]


@pytest.mark.parametrize("role", ROLES)
def test_a_misspelt_variable_is_refused_naming_the_one_meant(role, run_role):
    typo = f"{role}_stat"
    result = run_role(role, {typo: "present"}, check=True)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert f"Unknown {role} role variable(s): {typo} (did you mean {role}_state?)" in output, output[-3000:]
    assert f"ansible-doc -t role ocistack.engine.{role}" in output
    # The check is the role's first step: nothing ran before it that could report a change.
    assert "changed=0" in output, output[-3000:]
