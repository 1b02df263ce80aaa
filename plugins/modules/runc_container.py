#!/usr/bin/python
# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run an OCI bundle as a container with runc, crun, runsc or another OCI runtime."""

from __future__ import annotations

DOCUMENTATION = r"""
module: runc_container
short_description: Run an OCI bundle as a container with runc, crun or runsc
version_added: 1.0.0
description:
  - Creates, starts, pauses, stops and deletes a container from an OCI bundle (a directory with
    C(config.json) and a root file system, e.g. made by M(ocistack.engine.oci_bundle)) by calling an
    OCI runtime's command line (C(runc), C(crun), C(runsc) or any binary with the same CLI).
  - The container runs detached. Its standard output and error go to the O(output) file and its
    standard input is C(/dev/null), so the module never waits on the container's stdio.
    The bundle's C(process.terminal) must be C(false).
  - When the bundle's C(config.json) changed since the container was created (its digest is kept in
    C(<root>/.ocistack-<name>.json)), or the container was created from another bundle or with another
    O(output) file, the container is stopped, deleted and created again. A container found without
    that record (created outside this module) is recreated too, since nothing proves it matches the bundle.
  - The bundle directory is never removed by this module.
author: ocistack.engine contributors (!UNKNOWN)
extends_documentation_fragment:
  - ocistack.engine._attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff shows the container's state, bundle and config digest before and after.
  idempotent:
    support: full
options:
  name:
    description:
      - The container id. Letters, digits and C(_ + - .) only.
    type: str
    required: true
  bundle:
    description:
      - Absolute path of the OCI bundle directory. Required unless O(state=absent).
    type: path
  state:
    description:
      - V(running) creates the container if needed and starts it (resuming it when paused).
      - V(created) creates the container without starting its process.
      - V(paused) runs the container and freezes it (cgroup freezer).
      - V(stopped) sends O(stop_signal), waits up to O(stop_timeout) seconds, then sends SIGKILL; the
        container stays known to the runtime with status C(stopped).
      - V(absent) stops the container if needed and deletes it from the runtime.
      - A stopped container asked to run again is recreated, as OCI runtimes cannot restart one.
    type: str
    choices: [running, created, paused, stopped, absent]
    default: running
  runtime:
    description:
      - The OCI runtime binary, by name on E(PATH) (V(runc), V(crun), V(runsc)) or by absolute path.
    type: str
    default: runc
  root:
    description:
      - The runtime's state directory (its C(--root)).
      - Defaults to the runtime's own default (C(/run/runc), C(/run/crun), C(/var/run/runsc));
        required for other runtimes.
    type: path
  runtime_flags:
    description:
      - Extra global flags put before the runtime's subcommand, for example V(--network=none) for
        runsc when the bundle has no network namespace path of its own. Use O(root) rather than C(--root).
    type: list
    elements: str
    default: []
  output:
    description:
      - Absolute path of the file that receives the container's standard output and error (appended).
        Its directory must exist. The runtime's own error message on a failed create is read back from it.
      - When not set, the container's output is discarded (C(/dev/null)).
    type: path
  stop_signal:
    description:
      - The signal that asks the container's process to stop, by name (V(SIGTERM), V(TERM)) or number.
    type: str
    default: SIGTERM
  stop_timeout:
    description:
      - Seconds to wait after O(stop_signal) before SIGKILL.
    type: int
    default: 10
notes:
  - Needs root (or the runtime's rootless set-up) on the managed host.
seealso:
  - module: ocistack.engine.runc_container_info
  - module: ocistack.engine.oci_bundle
"""

EXAMPLES = r"""
- name: Run a bundle with runc, its output in a log file
  ocistack.engine.runc_container:
    name: web
    bundle: /var/lib/bundles/web
    output: /var/log/web.log

- name: The same bundle under gVisor, without networking
  ocistack.engine.runc_container:
    name: web-sandboxed
    bundle: /var/lib/bundles/web
    runtime: runsc
    runtime_flags: [--network=none]

- name: Freeze it
  ocistack.engine.runc_container:
    name: web
    bundle: /var/lib/bundles/web
    state: paused

- name: Stop it (SIGINT, then SIGKILL after 5 s)
  ocistack.engine.runc_container:
    name: web
    bundle: /var/lib/bundles/web
    state: stopped
    stop_signal: SIGINT
    stop_timeout: 5

- name: Remove it (the bundle stays)
  ocistack.engine.runc_container:
    name: web
    state: absent
"""

RETURN = r"""
container:
  description:
    - The runtime's state of the container after the run (before it, in check mode); empty when absent.
  returned: always
  type: dict
  contains:
    id:
      description: The container id.
      type: str
      sample: web
    pid:
      description: The container's init process id on the host (0 when stopped).
      type: int
      sample: 4242
    status:
      description: The runtime's status.
      type: str
      sample: running
    bundle:
      description: The bundle directory the container was created from.
      type: str
      sample: /var/lib/bundles/web
    created:
      description: When the container was created (not reported by every runtime).
      type: str
      returned: when the runtime reports it
      sample: "2026-11-23T14:17:12.653716588Z"
    annotations:
      description: The bundle's annotations as the runtime reports them.
      type: dict
      returned: when the runtime reports them
  sample:
    id: web
    pid: 4242
    status: running
    bundle: /var/lib/bundles/web
actions:
  description: The runtime calls made (or, in check mode, that would be made), in order.
  returned: always
  type: list
  elements: str
  sample: [stop, delete, create, start]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ocistack.engine.plugins.module_utils._errors import OcistackError, ToolError
from ansible_collections.ocistack.engine.plugins.module_utils._runc import CONTAINER_STATES, ensure_container


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "bundle": {"type": "path"},
            "state": {"type": "str", "choices": list(CONTAINER_STATES), "default": "running"},
            "runtime": {"type": "str", "default": "runc"},
            "root": {"type": "path"},
            "runtime_flags": {"type": "list", "elements": "str", "default": []},
            "output": {"type": "path"},
            "stop_signal": {"type": "str", "default": "SIGTERM"},
            "stop_timeout": {"type": "int", "default": 10},
        },
        required_if=[
            ("state", "running", ("bundle",)),
            ("state", "created", ("bundle",)),
            ("state", "paused", ("bundle",)),
            ("state", "stopped", ("bundle",)),
        ],
        supports_check_mode=True,
    )
    try:
        result = ensure_container(module, module.params)
    except ToolError as exc:
        module.fail_json(msg=str(exc), cmd=exc.cmd, rc=exc.rc, stderr=exc.stderr)
    except OcistackError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
