#!/usr/bin/python
# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Manage a containerd container and its task."""

from __future__ import annotations

DOCUMENTATION = r"""
module: containerd_container
short_description: Run a container in containerd, declaratively
version_added: 1.0.0
description:
  - Creates, starts, stops, recreates or removes a containerd container.
  - The runtime spec comes from the collection's one OCI spec builder (the one M(ocistack.engine.oci_bundle) uses),
    and the image's snapshot is the container's root filesystem.
  - Drift is decided by identity. The digest of the desired spec, the image digest and the other options are
    stored as container labels; when any differs, or with O(recreate), the container is stopped, removed and
    created again. Otherwise nothing changes, also across containerd restarts and when O(env), O(labels) or
    O(mounts) are given in another order.
options:
  name:
    description:
      - Container ID in the namespace (letters, digits, C(.), C(_), C(-)).
    type: str
    required: true
  image:
    description:
      - Fully qualified image reference to run. Required unless O(state=absent).
    type: str
  state:
    description:
      - V(started) creates the container if needed and makes sure its task runs.
      - V(present) creates it but does not start or stop it.
      - V(stopped) makes sure its task is not running. With only O(name) it stops what is there and compares
        nothing else; with O(image) it also creates a missing container (stopped) and recreates a drifted one.
      - V(absent) stops and removes it (and its root filesystem snapshot, its C(/etc) files and its log file).
      - V(stopped) and V(absent) need only O(name).
    type: str
    choices: [started, present, stopped, absent]
    default: started
  command:
    description:
      - The process to run (argv list); the image's entrypoint and command by default.
    type: list
    elements: str
  env:
    description:
      - Environment variables, over the image's. A null value removes a variable the image sets.
    type: dict
  labels:
    description:
      - containerd labels of the container. Keys under C(io.ocistack.engine.) and C(containerd.io/restart.)
        are reserved.
    type: dict
  mounts:
    description:
      - Extra mounts.
    type: list
    elements: dict
    suboptions:
      type:
        description: Filesystem type (V(bind), V(tmpfs), ...).
        type: str
        default: bind
      source:
        description: Host path for bind mounts (it must exist), otherwise the filesystem source.
        type: str
      target:
        description: Absolute path inside the container.
        type: str
        required: true
      options:
        description: Mount options such as V(ro) or V(rbind).
        type: list
        elements: str
  user:
    description:
      - Numeric C(uid) or C(uid:gid) to run as; the image's user by default.
    type: str
  working_dir:
    description:
      - Working directory of the process (absolute); the image's by default.
    type: str
  hostname:
    description:
      - Host name inside the container; its O(name) by default (made a valid host name). Ignored with
        O(network=host), where the container sees the host's.
    type: str
  network:
    description:
      - V(none) gives the container its own network namespace with only loopback.
      - V(host) shares the host's network namespace.
      - V(cni) gives it a named network namespace (C(/run/netns/ocistack-<namespace>-<name>)) set up by the CNI
        network O(cni_network) (C(ADD) on create, C(DEL) on removal). The namespace outlives the task, so the
        restart monitor restarts the task in the same network; after a reboot empties C(/run/netns) the next
        run of the module recreates the container.
      - Every container with a network of its own (V(none), V(cni)) gets its own C(/etc/resolv.conf) (the host's
        name servers, search domains and options, loopback servers left out as docker does, see O(dns_servers)),
        C(/etc/hosts) (localhost and its host name on its address, plus O(etc_hosts)) and C(/etc/hostname),
        kept in C(/var/lib/ocistack/containers/<namespace>/<name>/) and bind-mounted.
      - A V(host) container gets the host's C(/etc/resolv.conf) and C(/etc/hosts), mounted read-only.
      - After a reboot a V(cni) container's network namespace is set up again before containerd starts, by the
        boot unit C(ocistack-cni-restore.service) that the module installs on systemd hosts, so the restart
        monitor starts its task again with no Ansible run (published ports included).
    type: str
    choices: [none, host, cni]
    default: none
  published_ports:
    description:
      - Ports of the host forwarded to the container, as C([ip:]hostPort:containerPort[/tcp|udp]) (V(tcp) by
        default), for example V(8080:80) or V(127.0.0.1:5353:53/udp). They answer on the host's addresses
        (from other machines too), through the CNI network's C(portmap) plugin, so they need O(network=cni) and a
        network with a plugin that has the C(portMappings) capability (the cni role's default network has one).
      - A change recreates the container; the old ports stop answering.
    type: list
    elements: str
  log_driver:
    description:
      - Where the container's standard output and error go.
      - V(journald), the default where journald runs, sends one journal entry per line with the fields
        C(CONTAINER_NAME), C(CONTAINER_ID) (both the container's name) and C(CONTAINERD_NAMESPACE), so
        C(journalctl CONTAINER_NAME=web) shows them.
      - V(file), the default elsewhere, writes C(/var/log/ocistack/containers/<namespace>/<name>.log), rotated as
        O(log_options) says.
      - V(none) sends them to C(/dev/null).
      - Lines go through the small log driver program the module installs at
        C(/usr/local/lib/ocistack/bin/ocistack-log-driver) (containerd's C(binary://) log URI); the restart
        monitor starts the task again with the same driver, so logs go on across restarts.
      - A change recreates the container.
    type: str
    choices: [journald, file, none]
  log_options:
    description:
      - With O(log_driver=file) only. C(max_size) (bytes or V(10m) style, default V(10m)) and C(max_files)
        (how many files in all, the current one included, default V(3)).
    type: dict
  dns_servers:
    description:
      - Name servers (IP addresses) for the container's C(/etc/resolv.conf), instead of the host's.
    type: list
    elements: str
  dns_search_domains:
    description:
      - Search domains of the container's C(/etc/resolv.conf), instead of the host's.
    type: list
    elements: str
  dns_options:
    description:
      - Resolver options (V(ndots:2), V(edns0), ...) of the container's C(/etc/resolv.conf), instead of the host's.
    type: list
    elements: str
  etc_hosts:
    description:
      - More lines of the container's C(/etc/hosts), as a dict of host name to IP address.
    type: dict
  capabilities:
    description:
      - Capabilities added to the default set, docker's 14 (C(CAP_AUDIT_WRITE), C(CAP_CHOWN), C(CAP_DAC_OVERRIDE),
        C(CAP_FOWNER), C(CAP_FSETID), C(CAP_KILL), C(CAP_MKNOD), C(CAP_NET_BIND_SERVICE), C(CAP_NET_RAW),
        C(CAP_SETFCAP), C(CAP_SETGID), C(CAP_SETPCAP), C(CAP_SETUID), C(CAP_SYS_CHROOT)), with or without the
        C(CAP_) prefix, or V(ALL). An unknown name is refused.
    type: list
    elements: str
  cap_drop:
    description:
      - Capabilities taken from the default set (V(ALL) drops every one before O(capabilities) adds).
    type: list
    elements: str
  privileged:
    description:
      - Every capability the kernel has, no seccomp filter and no AppArmor profile, the host's devices, and a
        writable C(/sys) and C(/sys/fs/cgroup). Cannot be combined with a O(seccomp_profile) other than
        V(unconfined).
    type: bool
    default: false
  devices:
    description:
      - Host devices the container may use, as C(/dev/host[:/dev/container[:rwm]]) (access V(rwm) by default).
        The host's device node must exist.
    type: list
    elements: str
  read_only:
    description:
      - Mount the container's root filesystem read-only (use O(tmpfs) or O(mounts) for what it must write).
    type: bool
    default: false
  tmpfs:
    description:
      - tmpfs mounts, as C(/path[:options]) (for example V(/run:size=16m,mode=755)); V(nosuid), V(nodev) and
        V(noexec) unless the options say V(suid), V(dev) or V(exec).
    type: list
    elements: str
  sysctls:
    description:
      - Namespaced kernel settings of the container (C(net.*) with a network of its own, C(kernel.shm*),
        C(kernel.msg*), C(kernel.sem), C(fs.mqueue.*)). A host-wide one is refused.
    type: dict
  ulimits:
    description:
      - Resource limits of the process, as C(name:soft[:hard]) (for example V(nofile:4096:8192), V(nproc:512));
        C(nofile) is 1024 unless set.
    type: list
    elements: str
  seccomp_profile:
    description:
      - V(default), the default, refuses the system calls that docker's default profile refuses (kernel modules,
        mounts, namespaces, setting the clock, reboot, C(ptrace) and the like).
      - As in docker's profile, a capability the container has allows the system calls that go with it again,
        C(CAP_SYS_ADMIN) mounts and namespaces, C(CAP_SYS_PTRACE) C(ptrace), and so on.
      - V(unconfined) runs without a filter.
      - An absolute path names a JSON seccomp profile on the host.
    type: str
  apparmor_profile:
    description:
      - AppArmor profile of the process.
      - By default, where the host's kernel has AppArmor, C(ocistack-default), which denies mounts and writes to
        C(/proc/sys) and C(/sys). The module writes it to C(/etc/apparmor.d/ocistack-default) and loads it when
        the kernel does not have it yet.
      - V(unconfined) runs without one.
    type: str
  no_new_privileges:
    description:
      - Keep the process from gaining privileges through setuid binaries or file capabilities (the spec's
        C(noNewPrivileges)); on by default.
    type: bool
  shm_size:
    description:
      - Size of C(/dev/shm) (V(64m) style or bytes); 64 MiB by default.
    type: str
  healthcheck:
    description:
      - A health gate, with docker's keys. After a create or recreate the module runs O(healthcheck.test) inside
        the task every O(healthcheck.interval) until it exits 0 or O(healthcheck.start_period) +
        O(healthcheck.retries) x O(healthcheck.interval) is spent, and returns RV(container.health).
      - If the new container of a recreate does not become healthy, the previous one is put back (its spec,
        name, labels, root filesystem and network, published ports answering again) and the task fails with the
        check's last output. A new container that is not healthy is left as it is and the task fails.
      - Check mode runs no check; RV(actions) says V(health check) where one would run.
      - A change of it recreates the container.
    type: dict
    suboptions:
      test:
        description:
          - An argv list, docker's V([CMD, arg, ...]) or V([CMD-SHELL, "command"]), or a shell command string.
            V([NONE]) turns the gate off.
        type: raw
        required: true
      interval:
        description: Between attempts, as docker writes durations (V(30s), V(1m30s), V(500ms)) or seconds.
        type: raw
        default: 30s
      timeout:
        description: How long one attempt may take, in the forms of O(healthcheck.interval).
        type: raw
        default: 30s
      start_period:
        description: Time the process gets to start before failures count, in the forms of O(healthcheck.interval).
        type: raw
        default: 0s
      retries:
        description: Failed attempts after O(healthcheck.start_period) that make it unhealthy.
        type: int
        default: 3
  cni_network:
    description:
      - Name of the CNI network (the C(name) of a conflist in O(cni_conf_dir)) for O(network=cni); the first
        config file in O(cni_conf_dir) by default, as the CRI picks it.
    type: str
  cni_conf_dir:
    description:
      - Directory of CNI network configs (C(*.conflist), C(*.conf)).
    type: path
    default: /etc/cni/net.d
  cni_bin_dirs:
    description:
      - Directories searched for CNI plugin binaries (Debian's package installs to C(/usr/lib/cni)).
    type: list
    elements: path
    default: [/opt/cni/bin, /usr/lib/cni]
  memory:
    description:
      - Memory limit, in bytes or with a unit (V(64m), V(1g)); at least 6 MiB.
    type: str
  cpus:
    description:
      - CPU limit as a number of CPUs (CFS quota), for example V(0.5).
    type: float
  pids_limit:
    description:
      - Maximum number of processes in the container.
    type: int
  restart_policy:
    description:
      - V(no) leaves a stopped task stopped.
      - V(always) and V(unless-stopped) let containerd's restart monitor start the task again when it exits,
        when containerd restarts and after a reboot (label C(containerd.io/restart.status=running)).
        Stopping the container with O(state=stopped) holds it down in both cases.
      - containerd 1.6 knows no policy label, so V(always) and V(unless-stopped) behave alike there; 1.7 and later
        also receive C(containerd.io/restart.policy).
      - Cannot be combined with O(state=present).
    type: str
    choices: ['no', always, unless-stopped]
    default: 'no'
  runtime:
    description:
      - The OCI runtime. V(runc), V(crun), V(runsc) or any other handler that the P(ocistack.engine.runtimes#role) role
        registered (C(/etc/containerd/ocistack-runtimes.json)) run through containerd's runc v2 shim with that
        runtime's binary; V(crun) is also found on the PATH without the role.
      - Or a containerd runtime (shim) name such as V(io.containerd.runc.v2); its shim binary
        (C(containerd-shim-<name>-<version>)) must be installed.
      - An unknown name fails with the list of what the host has. A change recreates the container.
      - The task runs in the systemd scope C(ocistack-<namespace>-<name>.scope) under C(system.slice) where
        containerd's runc runtime uses the systemd cgroup driver, that is with C(SystemdCgroup = true) in its config
        (the P(ocistack.engine.containerd#role) role sets it on systemd hosts) or not set at all on a systemd
        host. Elsewhere it runs in the cgroup C(/<namespace>/<name>).
      - A container created with O(state=present) or O(state=stopped) is created again when it is first started, as
        C(ctr) hands the runtime binary and the systemd cgroup driver to the shim only when it starts the task too.
    type: str
    default: io.containerd.runc.v2
  pull:
    description:
      - V(missing) pulls the image when it is not there, V(always) pulls it every time (a new digest
        recreates the container), V(never) fails when it is missing.
    type: str
    choices: [missing, always, never]
    default: missing
  platform:
    description:
      - Image platform to run (C(os/arch[/variant])); the host's by default.
    type: str
  recreate:
    description:
      - Recreate the container even when nothing changed.
    type: bool
    default: false
  stop_signal:
    description:
      - Signal that asks the process to stop (V(SIGTERM), V(TERM), V(15), ...).
    type: str
    default: SIGTERM
  stop_timeout:
    description:
      - Seconds to wait after O(stop_signal) before killing the container.
    type: int
    default: 10
extends_documentation_fragment:
  - ocistack.engine._containerd
  - ocistack.engine._containerd.registry
  - ocistack.engine._attributes
attributes:
  check_mode:
    support: full
    details:
      - Never pulls, creates, starts or stops; with O(pull=always) it asks the registry for the current digest.
  diff_mode:
    support: full
    details:
      - Shows the identity (image, digests, runtime, labels, restart policy, stop settings, status) and, when the
        spec changes, the stored and the desired runtime spec.
  idempotent:
    support: full
notes:
  - The container's process gets docker's default capabilities, seccomp filter and (with AppArmor) an AppArmor
    profile from the collection's spec builder (the one M(ocistack.engine.oci_bundle) uses), and namespaces of
    its own (pid, ipc, uts, mount, cgroup and, unless O(network=host), network).
  - The task's standard output and error go to the O(log_driver).
author: ocistack.engine contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Run a web server that survives crashes, containerd restarts and reboots
  ocistack.engine.containerd_container:
    name: web
    image: registry.example.com/team/web:1.4
    command: [httpd, -f, -p, "8080"]
    env:
      TZ: UTC
    labels:
      team: web
    mounts:
      - {type: bind, source: /srv/web, target: /www, options: [ro]}
    network: cni
    cni_network: ocistack
    published_ports: ["8080:8080"]
    dns_search_domains: [example.com]
    etc_hosts:
      db.internal: 192.0.2.10
    memory: 128m
    cpus: 0.5
    pids_limit: 64
    restart_policy: always

- name: Stop it (the restart monitor keeps it down)
  ocistack.engine.containerd_container:
    name: web
    state: stopped

- name: A worker under crun, its logs in a rotated file
  ocistack.engine.containerd_container:
    name: worker
    image: registry.example.com/team/worker:2.0
    runtime: crun
    log_driver: file
    log_options: {max_size: 20m, max_files: 5}

- name: Remove it
  ocistack.engine.containerd_container:
    name: web
    state: absent
"""

RETURN = r"""
container:
  description: The container after the task (null when absent). In check mode, what it would be.
  returned: always
  type: dict
  contains:
    name:
      description: Container ID.
      type: str
    image:
      description: Image reference the container was created from.
      type: str
    image_digest:
      description: Digest of that image at creation.
      type: str
    status:
      description: V(running), V(stopped) (the task exited) or V(created) (no task).
      type: str
    pid:
      description: Host PID of the task's init process when running, else null.
      type: int
    runtime:
      description: The containerd runtime.
      type: str
    labels:
      description: The user's labels (without the collection's and containerd's own).
      type: dict
    restart_policy:
      description: The restart policy.
      type: str
    spec_digest:
      description: Digest of the runtime spec the container was created with.
      type: str
    network:
      description: V(none), V(host) or V(cni:<network name>).
      type: str
    published_ports:
      description: The published ports, as C(hostPort:containerPort/protocol) (with C(ip:) first when given).
      type: list
      elements: str
    log_driver:
      description: V(journald), V(file) or V(none).
      type: str
    health:
      description: V(healthy) or V(unhealthy), after a health gate ran in this task.
      type: str
      returned: when O(healthcheck) is set and the task created or recreated the container
    addresses:
      description: Global addresses (C(ip/prefix)) in the container's network namespace for O(network=cni).
      type: list
      elements: str
health:
  description: V(healthy) or V(unhealthy) after a health gate ran (also on the failed result).
  returned: when O(healthcheck) is set and the task created or recreated the container
  type: str
rolled_back:
  description: Whether the previous container was put back after the new one failed its health check.
  returned: when a health gate failed
  type: bool
actions:
  description: What the task did (or would do), in order, e.g. V(pull ...), V(recreate), V(create), V(start),
    V(health check), V(roll back).
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ocistack.engine.plugins.module_utils._container_request import (
    CONTAINER_ARGUMENT_SPEC,
    CONTAINER_REQUIRED_IF,
)
from ansible_collections.ocistack.engine.plugins.module_utils._containers import manage_container
from ansible_collections.ocistack.engine.plugins.module_utils._ctr import CONNECTION_ARGUMENT_SPEC
from ansible_collections.ocistack.engine.plugins.module_utils._errors import OcistackError
from ansible_collections.ocistack.engine.plugins.module_utils._registry import REGISTRY_ARGUMENT_SPEC


def main() -> None:
    # The container options are declared once in _ctr: containerd_containers validates each item against them.
    module = AnsibleModule(
        argument_spec={**CONNECTION_ARGUMENT_SPEC, **CONTAINER_ARGUMENT_SPEC, **REGISTRY_ARGUMENT_SPEC},
        required_if=CONTAINER_REQUIRED_IF,
        supports_check_mode=True,
    )
    try:
        result = manage_container(module)
    except OcistackError as error:
        module.fail_json(msg=str(error))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
