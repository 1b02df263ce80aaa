# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Drift report: one JSON document of what a --check --diff run would change, per host."""

from __future__ import annotations

DOCUMENTATION = r"""
name: drift_report
type: aggregate
short_description: Write what a C(--check --diff) run would change as one JSON document
version_added: 1.0.0
description:
  - Collects, for every host of the run, each task that reported a change (in check mode, each task
    that I(would) change) with its diff, and writes them with a summary to one JSON file when the
    run ends. A GitOps pipeline runs C(ansible-playbook --check --diff) with this callback enabled
    and posts or archives the file.
  - Hosts with no drift are listed too, with an empty list of changes, so that the report also says
    which hosts were checked.
  - Each changed loop item is a change of its own (with its C(item)); C(changed_tasks) counts a loop
    once, as the play recap's C(changed=) does.
  - Results of tasks with C(no_log) are reported without their diff or any other output (only the
    task's name and that it changed), so a secret never reaches the report.
  - The report is written when the run ends, also when a host failed or was unreachable (it is then
    counted in the summary); it replaces the previous report atomically.
  - Enable it with C(callbacks_enabled = ocistack.engine.drift_report) in C(ansible.cfg) or
    C(ANSIBLE_CALLBACKS_ENABLED=ocistack.engine.drift_report) in the environment; the normal output is unchanged.
options:
  path:
    description:
      - The file the report is written to. Its directory must exist.
    type: path
    default: drift-report.json
    env:
      - name: OCISTACK_DRIFT_REPORT
    ini:
      - section: callback_drift_report
        key: path
requirements:
  - Run the playbook with C(--check --diff) for a drift report; without C(--check) the report lists
    what the run changed.
"""

EXAMPLES = r"""
# ansible.cfg
#   [defaults]
#   callbacks_enabled = ocistack.engine.drift_report
#   [callback_drift_report]
#   path = reports/drift.json
#
# In a pipeline:
#   OCISTACK_DRIFT_REPORT=drift.json ANSIBLE_CALLBACKS_ENABLED=ocistack.engine.drift_report \
#     ansible-playbook -i inventory --check --diff ocistack.engine.site
#   jq '.summary' drift.json
#
# The document:
#   {
#     "check_mode": true,
#     "playbooks": ["site.yml"],
#     "hosts": {
#       "h1": {"changes": [], "changed_tasks": 0, "failed": 0, "unreachable": false},
#       "h2": {"changes": [{"task": "Write containerd's configuration", "role": "containerd",
#                           "action": "ocistack.engine.config_files", "diff": [{"before": "...", "after": "..."}]}],
#              "changed_tasks": 1, "failed": 0, "unreachable": false}
#     },
#     "summary": {"hosts": 2, "hosts_with_drift": 1, "changes": 1, "changed_tasks": 1, "failed": 0, "unreachable": 0}
#   }
"""

import json
import os
import tempfile
from typing import Any, Dict, List, Mapping

from ansible import context
from ansible.plugins.callback import CallbackBase

NO_LOG_MARK = "censored"


def _diffs(result: Mapping[str, Any]) -> List[Any]:
    diff = result.get("diff")
    if not diff:
        return []
    return list(diff) if isinstance(diff, list) else [diff]


def changes_of(result: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """What one task result changed: one entry for the task, or one per changed loop item.

    A result hidden by no_log (it carries only the censored mark) yields its entry with no diff
    and no item, whatever else it holds.
    """
    if not result.get("changed"):
        return []
    hidden = NO_LOG_MARK in result
    items = result.get("results")
    if isinstance(items, list) and items:
        entries = []
        for item in items:
            if not isinstance(item, Mapping) or not item.get("changed"):
                continue
            if hidden or NO_LOG_MARK in item:
                entries.append({"diff": [], "no_log": True})
            else:
                entries.append({"item": item.get("item"), "diff": _diffs(item)})
        if entries:
            return entries
    if hidden:
        return [{"diff": [], "no_log": True}]
    return [{"diff": _diffs(result)}]


def summarize(hosts: Mapping[str, Mapping[str, Any]]) -> Dict[str, int]:
    return {
        "hosts": len(hosts),
        "hosts_with_drift": sum(1 for host in hosts.values() if host["changes"]),
        "changes": sum(len(host["changes"]) for host in hosts.values()),
        "changed_tasks": sum(host["changed_tasks"] for host in hosts.values()),
        "failed": sum(host["failed"] for host in hosts.values()),
        "unreachable": sum(1 for host in hosts.values() if host["unreachable"]),
    }


def _parts(result: Any):
    """(host name, task, result dict) on ansible-core 2.19's public names or the older private ones."""
    host = getattr(result, "host", None) or result._host
    task = getattr(result, "task", None) or result._task
    data = result.result if hasattr(result, "result") else result._result
    return host.get_name(), task, data


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "ocistack.engine.drift_report"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._hosts: Dict[str, Dict[str, Any]] = {}
        self._playbooks: List[str] = []

    def _host(self, name: str) -> Dict[str, Any]:
        return self._hosts.setdefault(name, {"changes": [], "changed_tasks": 0, "failed": 0, "unreachable": False})

    def v2_playbook_on_start(self, playbook: Any) -> None:
        self._playbooks.append(os.path.basename(getattr(playbook, "_file_name", "") or ""))

    def _record(self, result: Any) -> None:
        name, task, data = _parts(result)
        host = self._host(name)
        role = getattr(task, "_role", None)
        changes = changes_of(data)
        # A loop counts once, as in the play recap's changed=, however many of its items changed.
        host["changed_tasks"] += 1 if changes else 0
        for change in changes:
            entry = {"task": task.get_name(), "role": role.get_name() if role else None, "action": task.action}
            entry.update(change)
            host["changes"].append(entry)

    def v2_runner_on_ok(self, result: Any) -> None:
        self._record(result)

    def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False) -> None:
        if not ignore_errors:
            name, _task, _data = _parts(result)
            self._host(name)["failed"] += 1

    def v2_runner_on_unreachable(self, result: Any) -> None:
        name, _task, _data = _parts(result)
        self._host(name)["unreachable"] = True

    def v2_playbook_on_stats(self, stats: Any) -> None:
        for name in stats.processed:
            self._host(name)
        hosts = {name: self._hosts[name] for name in sorted(self._hosts)}
        report = {
            "check_mode": bool(context.CLIARGS.get("check")),
            "playbooks": self._playbooks,
            "hosts": hosts,
            "summary": summarize(hosts),
        }
        self._write(self.get_option("path"), report)

    def _write(self, path: str, report: Mapping[str, Any]) -> None:
        directory = os.path.dirname(os.path.abspath(path))
        handle, temporary = tempfile.mkstemp(prefix=".drift-report-", dir=directory)
        try:
            with os.fdopen(handle, "w") as out:
                json.dump(report, out, indent=2, sort_keys=True, default=str)
                out.write("\n")
            os.chmod(temporary, 0o644)
            os.replace(temporary, path)
        except Exception:
            os.unlink(temporary)
            raise
        self._display.display(f"drift report: {path} ({report['summary']['changes']} changes)", screen_only=True)
