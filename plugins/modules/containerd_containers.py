#!/usr/bin/python
# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Converge a list of containerd containers in one task."""

from __future__ import annotations

DOCUMENTATION = r"""
module: containerd_containers
short_description: Run many containerd containers declaratively, in one task
version_added: 1.0.0
description:
  - Converges a list of containers in one call. Each item is handled exactly as
    M(ocistack.engine.containerd_container) handles its options (same validation, same runtime spec, same
    identity labels, same comparison for changed, check mode and diff), so the two modules can take over each
    other's containers.
  - Use it instead of a loop over M(ocistack.engine.containerd_container) when there are more than a few
    containers; one task costs Ansible one module transfer and run instead of one per container, containers,
    tasks and images are listed once per call, and the containers are converged on O(parallel) threads.
  - Every item is validated before anything on the host changes; an invalid item fails the task and names it.
  - A failure while converging one container does not stop the others; the task then fails and reports every
    container's result.
options:
  containers:
    description:
      - The containers. Each item takes the options of M(ocistack.engine.containerd_container) except the
        connection (O(address), O(namespace)) and registry ones (O(username), O(password), O(plain_http),
        O(skip_verify), O(hosts_dir)), which this module takes once for all items.
      - That is V(name) (required, unique in the list), V(image), V(state), V(command), V(env), V(labels),
        V(mounts), V(user), V(working_dir), V(hostname), V(network), V(cni_network), V(cni_conf_dir),
        V(cni_bin_dirs), V(memory), V(cpus), V(pids_limit), V(restart_policy), V(runtime), V(pull),
        V(platform), V(recreate), V(stop_signal), V(stop_timeout), V(published_ports), V(log_driver),
        V(log_options), V(dns_servers), V(dns_search_domains), V(dns_options), V(etc_hosts), V(capabilities),
        V(cap_drop), V(privileged), V(devices), V(read_only), V(tmpfs), V(sysctls), V(ulimits),
        V(seccomp_profile), V(apparmor_profile), V(no_new_privileges), V(shm_size) and V(healthcheck), with the same
        types, choices and defaults. An unknown key fails the task before anything changes, naming the key.
      - Containers not in the list are left alone; remove one with V(state=absent).
    type: list
    elements: dict
    required: true
  defaults:
    description:
      - Options applied to every item that does not set them itself, for example a shared V(image),
        V(command) or V(stop_timeout). Same keys as an item, except V(name).
    type: dict
  parallel:
    description:
      - How many containers are converged at the same time.
    type: int
    default: 4
extends_documentation_fragment:
  - ocistack.engine._containerd
  - ocistack.engine._containerd.registry
  - ocistack.engine._attributes
attributes:
  check_mode:
    support: full
    details:
      - Never pulls, creates, starts or stops; with V(pull=always) it asks the registry for the current digest.
  diff_mode:
    support: full
    details:
      - One diff per changed container, headed by its name, as M(ocistack.engine.containerd_container) shows it.
  idempotent:
    support: full
notes:
  - Each image reference is pulled at most once per call, also when many items name it with V(pull=always).
seealso:
  - module: ocistack.engine.containerd_container
author: ocistack.engine contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Workers from one image, each with its own id
  ocistack.engine.containerd_containers:
    defaults:
      image: registry.example.com/team/worker:2.1
      command: [worker, --queue, jobs]
      memory: 64m
      restart_policy: always
      stop_timeout: 5
    containers:
      - {name: worker-1, env: {WORKER_ID: "1"}}
      - {name: worker-2, env: {WORKER_ID: "2"}}
      - {name: worker-3, env: {WORKER_ID: "3"}}

- name: A web server and its cache, different images
  ocistack.engine.containerd_containers:
    containers:
      - name: web
        image: registry.example.com/team/web:1.4
        env: {TZ: UTC}
      - name: cache
        image: registry.example.com/team/cache:7
        memory: 256m

- name: Retire the cache
  ocistack.engine.containerd_containers:
    containers:
      - name: cache
        state: absent
"""

RETURN = r"""
rolled_back:
  description: The containers whose update failed its health check and whose previous container was put back.
  returned: always
  type: list
  elements: str
health_checks:
  description: In check mode, the containers whose health check would run (they would be created or recreated).
  returned: in check mode
  type: list
  elements: str
containers:
  description: One entry per item, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Container ID.
      type: str
    changed:
      description: Whether this container changed (or would, in check mode).
      type: bool
    actions:
      description: What was done (or would be) to it, in order, e.g. V(pull ...), V(recreate), V(create), V(start).
      type: list
      elements: str
    container:
      description:
        - The container after the task, as RV(ocistack.engine.containerd_container#module:container) describes it;
          null when absent.
      type: dict
    diff:
      description: Its before and after, when run with C(--diff).
      type: dict
      returned: diff mode
    msg:
      description: Why converging this container failed.
      type: str
      returned: when it failed
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ocistack.engine.plugins.module_utils._container_batch import manage_containers
from ansible_collections.ocistack.engine.plugins.module_utils._ctr import CONNECTION_ARGUMENT_SPEC
from ansible_collections.ocistack.engine.plugins.module_utils._errors import OcistackError
from ansible_collections.ocistack.engine.plugins.module_utils._registry import REGISTRY_ARGUMENT_SPEC


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **CONNECTION_ARGUMENT_SPEC,
            **REGISTRY_ARGUMENT_SPEC,
            # Items are validated against containerd_container's spec in module_utils, item by item,
            # so that an error names the item.
            "containers": {"type": "list", "elements": "dict", "required": True},
            "defaults": {"type": "dict"},
            "parallel": {"type": "int", "default": 4},
        },
        supports_check_mode=True,
    )
    try:
        result = manage_containers(module)
    except OcistackError as error:
        module.fail_json(msg=str(error))
    if result.get("failed"):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
