# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The workload_batches filter: declared containers grouped into containerd_containers calls."""

from __future__ import annotations

DOCUMENTATION = r"""
name: workload_batches
author: ocistack.engine contributors
version_added: 1.0.0
short_description: Group declared containers into one M(ocistack.engine.containerd_containers) call each
description:
  - Groups the workloads role's container entries by containerd namespace and registry access (the options
    M(ocistack.engine.containerd_containers) takes once per call), so each group converges in one task.
  - Every other key of an entry is passed through as it is, so the module validates it and names an unknown
    key before anything changes. The role's label is added to each entry's C(labels).
positional: _input, namespace, label
options:
  _input:
    description: The container entries (dicts with C(name) and the options of M(ocistack.engine.containerd_container)).
    type: list
    elements: dict
    required: true
  namespace:
    description: The namespace of entries that name none.
    type: string
    required: true
  label:
    description: The label key set to C(true) on every entry.
    type: string
    required: true
"""

EXAMPLES = r"""
- name: One task per group
  ocistack.engine.containerd_containers:
    namespace: "{{ item.namespace }}"
    containers: "{{ item.containers }}"
  loop: "{{ workloads_containers | ocistack.engine.workload_batches('ocistack', 'ocistack.workloads/managed') }}"
"""

RETURN = r"""
_value:
  description: A list of dicts with C(namespace), C(containers) and the registry keys C(username), C(password),
    C(identity_token), C(plain_http) and C(skip_verify) (null where not set).
  type: list
  elements: dict
"""

from typing import Any, Dict, List, Mapping, Sequence, Tuple

__all__ = ["FilterModule", "workload_batches"]

# Taken once per containerd_containers call, not per item.
BATCH_KEYS = ("username", "password", "identity_token", "plain_http", "skip_verify")


def workload_batches(entries: Sequence[Mapping[str, Any]], namespace: str, label: str) -> List[Dict[str, Any]]:
    batches: Dict[Tuple[Any, ...], Dict[str, Any]] = {}
    for entry in entries:
        item = {key: value for key, value in entry.items() if key != "namespace" and key not in BATCH_KEYS}
        item["labels"] = {**(entry.get("labels") or {}), label: "true"}
        wanted = entry.get("namespace") or namespace
        key = (wanted, *(entry.get(name) for name in BATCH_KEYS))
        batch = batches.setdefault(
            key, {"namespace": wanted, "containers": [], **{name: entry.get(name) for name in BATCH_KEYS}}
        )
        batch["containers"].append(item)
    return list(batches.values())


class FilterModule:
    """Ansible filter plugin entry point."""

    def filters(self) -> dict:
        return {"workload_batches": workload_batches}
