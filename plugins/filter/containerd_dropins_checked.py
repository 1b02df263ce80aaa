# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The containerd_dropins_checked filter: drop-ins containerd 1.x would let wipe the main config's tables."""

from __future__ import annotations

DOCUMENTATION = r"""
name: containerd_dropins_checked
author: ocistack.engine contributors
version_added: 1.0.0
short_description: Refuse containerd drop-ins that containerd 1.x would let wipe tables of the main config
description:
  - >-
    containerd 1.x (config schema 2) does not merge an imported file into the main one key by key; a plugin
    table in the import replaces the whole table of the main file (containerd issue 5837). A drop-in that sets
    C(plugins."io.containerd.grpc.v1.cri") would drop the sandbox image, the runtimes, C(SystemdCgroup), the CNI
    directories and the registry path the containerd role renders there.
  - On schema 2 this filter fails, naming O(variable) and the drop-in, when a drop-in sets a plugin table that
    the main configuration O(main) sets too. On schema 3 (containerd 2.x merges imports key by key) every
    plugin table is allowed.
  - It also fails for a drop-in that is not a dict, whose C(plugins) is not a dict, or that sets C(version)
    (the role writes the installed version's schema).
  - Returns the drop-ins unchanged.
positional: _input, main, schema, variable
options:
  _input:
    description: "The drop-ins, C({name: dict})."
    type: dict
    required: true
  main:
    description: The main configuration the role renders (its C(plugins) keys are the owned tables).
    type: dict
    required: true
  schema:
    description: The configuration schema version, 2 (containerd 1.x) or 3 (2.x).
    type: int
    required: true
  variable:
    description: The name of the role variable the drop-ins came from, for the error message.
    type: string
    default: containerd_config_dropins
"""

EXAMPLES = r"""
- name: Refuse a drop-in on a table the role owns (containerd 1.x)
  ansible.builtin.assert:
    that: (containerd_config_dropins | ocistack.engine.containerd_dropins_checked(main_config, 2)) is mapping
"""

RETURN = r"""
_value:
  description: The drop-ins, unchanged.
  type: dict
"""

from typing import Any, List, Mapping

from ansible.errors import AnsibleFilterError

__all__ = ["FilterModule", "containerd_dropins_checked"]


def _owned_plugins(main: Mapping[str, Any]) -> List[str]:
    plugins = main.get("plugins") if isinstance(main, Mapping) else None
    if not isinstance(plugins, Mapping):
        return []
    # A null value removes a default table (containerd_config_overrides): the main file then does not set it.
    return sorted(str(name) for name, table in plugins.items() if table is not None)


def containerd_dropins_checked(
    dropins: Mapping[str, Any], main: Mapping[str, Any], schema: Any, variable: str = "containerd_config_dropins"
) -> Mapping[str, Any]:
    if not isinstance(dropins, Mapping):
        raise AnsibleFilterError(f"{variable}: must be a dict of drop-in names to dicts, got {type(dropins).__name__}")
    owned = set(_owned_plugins(main))
    problems = []
    for name in sorted(dropins, key=str):
        content = dropins[name]
        if not isinstance(content, Mapping):
            raise AnsibleFilterError(f"{variable}.{name}: must be a dict in containerd's config schema")
        if "version" in content:
            raise AnsibleFilterError(
                f"{variable}.{name}: must not set version; the role writes the schema of the installed containerd"
            )
        plugins = content.get("plugins", {})
        if not isinstance(plugins, Mapping):
            raise AnsibleFilterError(f"{variable}.{name}: plugins must be a dict of plugin ids to tables")
        if int(schema) >= 3:
            continue
        clashes = sorted(str(plugin) for plugin in plugins if str(plugin) in owned)
        if clashes:
            tables = ", ".join(f'plugins."{plugin}"' for plugin in clashes)
            problems.append(f"{variable}.{name} sets {tables}")
    if problems:
        raise AnsibleFilterError(
            "; ".join(problems) + ": a table the role writes in config.toml. containerd 1.x (config schema 2) "
            "replaces a whole plugin table with the one of an imported file (containerd issue 5837), so this "
            "drop-in would wipe the role's settings there (for CRI: the sandbox image, the runtimes and "
            "SystemdCgroup, the CNI directories, the registry path). Put these keys in containerd_config_overrides "
            "(runtime handlers in containerd_runtime_handlers) instead; drop-ins may set other plugin tables. "
            "containerd 2.x merges drop-ins key by key and allows them."
        )
    return dropins


class FilterModule:
    """Ansible filter plugin entry point."""

    def filters(self) -> dict:
        return {"containerd_dropins_checked": containerd_dropins_checked}
