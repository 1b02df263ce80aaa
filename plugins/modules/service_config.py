#!/usr/bin/python
# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A service's files, restart, health gate and rollback in one task."""

from __future__ import annotations

DOCUMENTATION = r"""
module: service_config
short_description: A service's files, its restart on a real change, its health gate and a rollback on failure
version_added: 1.0.0
description:
  - Converges the files a service reads (as M(ocistack.engine.config_files) does, with validated candidates and
    backups), then restarts the systemd unit only when a file listed in O(restart_on) was written or removed, or
    when O(restart) says a binary or package changed. A unit that is not running is started.
  - After a restart or a start, the O(health) checks run in order, each retried until it passes.
  - When the restart or a check fails, every file the task changed is put back as it was (content, mode and
    owner; files the task created are removed), the unit is restarted on them and checked again, and the task
    fails with the reason, what was restored, and the last lines of the unit's journal. Nothing the service ran
    on before is lost.
  - Check mode and diff come from the same plan as the real run. In check mode nothing is written and systemd
    is only asked whether the unit is active and enabled.
  - The roles containerd, docker and registry use it for their configuration and service.
extends_documentation_fragment:
  - ocistack.engine._config_files
  - ocistack.engine._attributes
options:
  service:
    description: The systemd unit, for example V(docker) or V(containerd).
    type: str
    required: true
  label:
    description: How the failure message names the service (V(dockerd)). The unit's name when not given.
    type: str
  restart_on:
    description:
      - The paths whose change (written or removed) restarts the service. A directory covers the files below it.
      - When not given, a change of any file of O(files) or O(absent) restarts it. Give V([]) for files the
        service reads anew by itself (registry certificates, for example).
    type: list
    elements: str
  restart:
    description:
      - Restart even when no file of O(restart_on) changed, because something else the service runs on
        changed (its package or binaries, for example). The reason is listed in RV(restart_reasons).
    type: bool
    default: false
  enabled:
    description: Whether the unit starts at boot. Left as it is when not given.
    type: bool
  health:
    description:
      - The checks that must pass after a restart or start, in order. Each is a command (O(health[].argv)) or an
        HTTP(S) address (O(health[].url)).
      - Not run in check mode, nor when the service neither restarted nor started.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: What the check is called in results and messages. The command or URL when not given.
        type: str
      argv:
        description:
          - A command, run without a shell. It passes when it exits 0 and its output matches O(health[].expect).
        type: list
        elements: str
      expect:
        description: A regular expression the command's standard output must contain (Python C(re.search), multiline).
        type: str
      url:
        description: An address that must answer with one of O(health[].status).
        type: str
      status:
        description: The HTTP status codes that pass.
        type: list
        elements: int
        default: [200]
      ca_path:
        description: A CA bundle on the host to verify an V(https://) address with.
        type: path
      validate_certs:
        description: Whether an V(https://) address's certificate is verified.
        type: bool
        default: true
      retries:
        description: How many attempts before the check fails.
        type: int
        default: 10
      delay:
        description: Seconds between attempts.
        type: float
        default: 2
      timeout:
        description: Seconds one attempt may take.
        type: float
        default: 30
      after_rollback:
        description:
          - Whether the check also runs on the restored files after a rollback. Turn it off for a check of
            something only the new files describe.
        type: bool
        default: true
  journal_lines:
    description: How many journal lines of the unit the failure message shows.
    type: int
    default: 15
  journal_match:
    description:
      - A regular expression that picks the journal lines shown (errors, for example). All lines when not given.
    type: str
attributes:
  check_mode:
    support: full
    details: Reports the files, the restart and the start that would happen; systemd is only queried.
  diff_mode:
    support: full
    details: One diff per changed path; secret files show their size, not their content.
  idempotent:
    support: full
seealso:
  - module: ocistack.engine.config_files
author: ocistack.engine contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: daemon.json and a drop-in for dockerd, restarted only when they change, rolled back if it does not come up
  ocistack.engine.service_config:
    service: docker
    label: dockerd
    files:
      - path: /etc/systemd/system/docker.service.d/ocistack.conf
        content: |
          [Service]
          ExecStart=
          ExecStart=/usr/sbin/dockerd -H fd:// --config-file /etc/docker/daemon.json
        backup: true
      - path: /etc/docker/daemon.json
        content: "{{ {'log-driver': 'journald'} | to_nice_json }}\n"
        validate: [dockerd, --validate, --config-file, "%s"]
        backup: true
    enabled: true
    health:
      - name: dockerd answers
        argv: [docker, info, --format, "{{ '{{' }}.ServerVersion{{ '}}' }}"]
        expect: '\S'
        retries: 15
    journal_lines: 40
    journal_match: (?i)error|fatal

- name: A registry's configuration; its certificates are read on each connection and need no restart
  ocistack.engine.service_config:
    service: docker-registry
    files:
      - path: /etc/docker/registry/config.yml
        content: "{{ registry_config | to_nice_yaml }}"
        backup: true
    restart_on: [/etc/docker/registry/config.yml]
    restart: "{{ registry_package is changed }}"
    health:
      - url: https://localhost:5000/v2/
        ca_path: /etc/docker/registry/tls/ca.crt
        status: [200, 401]
"""

RETURN = r"""
changed_paths:
  description: Every path created, rewritten, re-moded or removed (or that would be, in check mode), sorted.
  returned: always
  type: list
  elements: str
written:
  description: Files whose content was (or would be) written.
  returned: always
  type: list
  elements: str
removed:
  description: Paths removed (or that would be).
  returned: always
  type: list
  elements: str
backups:
  description: For each rewritten file with O(files[].backup), the copy of its previous content.
  returned: always
  type: dict
restarted:
  description: Whether the unit was (or would be) restarted.
  returned: always
  type: bool
restart_reasons:
  description: The changed paths of O(restart_on), and V(restart requested) for O(restart).
  returned: always
  type: list
  elements: str
  sample: ["/etc/docker/daemon.json"]
started:
  description: Whether the unit was not running and was (or would be) started.
  returned: always
  type: bool
health:
  description: One record per health check run after the restart or start.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "dockerd answers", "passed": true, "attempts": 2, "output": "20.10.24+dfsg1"}]
rolled_back:
  description: The files put back (or removed) after a failure; set on the failed result.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ocistack.engine.plugins.module_utils._config_files import FILE_OPTIONS
from ansible_collections.ocistack.engine.plugins.module_utils._errors import OcistackError
from ansible_collections.ocistack.engine.plugins.module_utils._service_config import ServiceFailure, run

HEALTH_OPTIONS = {
    "name": {"type": "str"},
    "argv": {"type": "list", "elements": "str"},
    "expect": {"type": "str"},
    "url": {"type": "str"},
    "status": {"type": "list", "elements": "int", "default": [200]},
    "ca_path": {"type": "path"},
    "validate_certs": {"type": "bool", "default": True},
    "retries": {"type": "int", "default": 10},
    "delay": {"type": "float", "default": 2},
    "timeout": {"type": "float", "default": 30},
    "after_rollback": {"type": "bool", "default": True},
}


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "service": {"type": "str", "required": True},
            "label": {"type": "str"},
            **FILE_OPTIONS,
            "restart_on": {"type": "list", "elements": "str"},
            "restart": {"type": "bool", "default": False},
            "enabled": {"type": "bool"},
            "health": {"type": "list", "elements": "dict", "default": [], "options": HEALTH_OPTIONS},
            "journal_lines": {"type": "int", "default": 15},
            "journal_match": {"type": "str"},
        },
        supports_check_mode=True,
    )
    try:
        result = run(module.params, module.check_mode, module._diff)
    except ServiceFailure as failure:
        module.fail_json(msg=str(failure), **failure.result)
    except OcistackError as error:
        module.fail_json(msg=str(error))
    except OSError as error:
        module.fail_json(msg=f"service_config: {error.strerror} on {error.filename}")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
