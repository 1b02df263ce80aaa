# The test bed's connection: containers.podman.podman with pipelining.
#
# A managed host in production is reached over ssh with pipelining on, so each
# task costs one round trip. The podman connection copies every module into the
# host and runs four `podman exec`s per task, because `podman exec` passes no
# stdin unless asked. This subclass asks (`--interactive` whenever Ansible feeds
# a module on stdin), which lets Ansible pipeline, so tests and benchmarks see
# the per-task cost users see. It also leaves the container unmounted: podman's
# connection runs `podman mount` for every task so that file copies can go through
# the mount, but with pipelining few tasks copy a file, and those go through
# `podman cp` (the parent's fallback); one podman client less per task.
from __future__ import annotations

DOCUMENTATION = """
name: testbed_podman
short_description: containers.podman.podman with pipelining (test bed only)
description:
  - Runs tasks in a podman container like C(containers.podman.podman), and feeds
    modules through C(podman exec --interactive) so that pipelining works.
options:
  pipelining:
    description:
      - Feed modules on stdin instead of copying them into the host first.
      - On by default here, unlike the other connections, because the test bed
        should cost what ssh with pipelining costs.
    type: boolean
    default: true
    ini:
      - section: connection
        key: pipelining
    env:
      - name: ANSIBLE_PIPELINING
    vars:
      - name: ansible_pipelining
  podman_executable:
    description: Executable for podman commands.
    default: podman
    vars:
      - name: ansible_podman_executable
    env:
      - name: ANSIBLE_PODMAN_EXECUTABLE
  podman_extra_args:
    description: Extra arguments for every podman command.
    default: ''
    vars:
      - name: ansible_podman_extra_args
    env:
      - name: ANSIBLE_PODMAN_EXTRA_ARGS
  remote_addr:
    description: The container to run in.
    default: inventory_hostname
    vars:
      - name: ansible_host
  remote_user:
    description: The user in the container.
    vars:
      - name: ansible_user
"""

import shlex

from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.connection import ensure_connect
from ansible_collections.containers.podman.plugins.connection.podman import Connection as PodmanConnection


class Connection(PodmanConnection):
    transport = "testbed_podman"
    has_pipelining = True

    def _connect(self):
        # No `podman mount` (see the top): put_file and fetch_file use `podman cp`.
        super(PodmanConnection, self)._connect()
        self._mount_point = None
        self._connected = True
        return self

    @ensure_connect
    def exec_command(self, cmd, in_data=None, sudoable=False):
        # The grandparent keeps the bookkeeping; podman's own exec_command would
        # drop in_data on the floor, so the command is built here.
        super(PodmanConnection, self).exec_command(cmd, in_data=in_data, sudoable=sudoable)
        exec_args = ["exec"]
        if in_data is not None:
            exec_args.append("--interactive")
        if self.user:
            exec_args.extend(("--user", self.user))
        return self._podman(exec_args, shlex.split(to_native(cmd, errors="surrogate_or_strict")), in_data)
