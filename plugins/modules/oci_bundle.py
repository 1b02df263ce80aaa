#!/usr/bin/python
# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build an OCI runtime bundle (config.json + rootfs) from an image, an image layout or a rootfs."""

from __future__ import annotations

DOCUMENTATION = r"""
module: oci_bundle
short_description: Build an OCI runtime bundle (config.json and rootfs) for runc, crun or runsc
version_added: 1.0.0
description:
  - Makes a directory that an OCI runtime can run (C(runc run --bundle <path>)) holding C(config.json), the
    runtime spec built from the options, and the root file system.
  - The root file system comes from exactly one of O(image) (an image in containerd), O(oci_layout) (an
    OCI image layout on the host, or a tar archive of one) or O(rootfs) (a directory used in place, or a
    tarball unpacked into the bundle). Images also provide defaults for O(args), O(env), O(cwd) and O(user).
  - What the rootfs was made from is recorded in C(<path>/.ocistack-source.json) (the image's digest, the
    tarball's sha256 or the directory's path). The module reports a change only when C(config.json) or
    that source really changed; an unchanged image is not unpacked again.
  - Image layers are checked against their digests and unpacked with OCI whiteouts applied; members with
    absolute paths, C(..) or a path through a symlink that leads outside the rootfs are refused.
  - The new rootfs is unpacked next to the old one and swapped in, and C(config.json) is replaced
    atomically, so a failed run leaves the previous bundle intact.
  - While a container runs from the bundle (a process has the bundle's rootfs as its root), changing the
    rootfs source or removing the bundle is refused; stop the container first. Changing only C(config.json)
    is allowed and takes effect when the container is created again.
author: ocistack.engine contributors (!UNKNOWN)
extends_documentation_fragment:
  - ocistack.engine._attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff shows C(config.json) and the rootfs source before and after, as dicts.
  idempotent:
    support: full
options:
  path:
    description:
      - Absolute path of the bundle directory. Created when missing.
      - An existing directory that is not empty must already be a bundle (have a C(config.json)).
    type: path
    required: true
  state:
    description:
      - V(present) makes the bundle match the options.
      - V(absent) removes the bundle directory with everything in it. A directory that is not a bundle
        (no C(config.json) and not made by this module), one with mounts below it, or one a container
        runs from, is refused.
    type: str
    choices: [present, absent]
    default: present
  image:
    description:
      - An image in containerd (for example V(registry.example:5000/app:1.0)) whose layers become the rootfs.
        It must already be pulled or imported (M(ocistack.engine.containerd_image)).
      - Exactly one of O(image), O(oci_layout) and O(rootfs) is required with O(state=present).
    type: str
  address:
    description:
      - containerd's socket, used with O(image).
    type: str
    default: /run/containerd/containerd.sock
  namespace:
    description:
      - The containerd namespace that holds O(image).
    type: str
    default: default
  oci_layout:
    description:
      - An OCI image layout on the host as C(<dir>:<tag>), for example V(/srv/images/app:1.0). C(<dir>) may
        also be a tar archive of a layout (as made by C(ctr images export) or C(skopeo copy oci-archive:)).
      - The tag is looked up in the layout's C(index.json) (annotation C(org.opencontainers.image.ref.name));
        without C(:<tag>), V(latest) is used (or the only image of an untagged layout).
    type: str
  rootfs:
    description:
      - An absolute path, either a directory that is used as the rootfs in place (not copied; C(root.path) points
        at it), or a tarball (plain or gzip) that is unpacked into C(<path>/rootfs).
    type: path
  args:
    description:
      - The command and its arguments. Default the image's C(Entrypoint) followed by its C(Cmd).
    type: list
    elements: str
  env:
    description:
      - Environment variables, merged over the image's; these win. A null value removes an image variable.
      - C(PATH) defaults to the usual system path when neither the image nor this option sets it.
    type: dict
  cwd:
    description:
      - Absolute working directory of the process. Default the image's C(WorkingDir), else V(/).
    type: str
  user:
    description:
      - The process's numeric V(uid) or V(uid:gid) (gid defaults to 0). Default the image's C(User), else V(0:0).
      - Names are refused, since they cannot be resolved without reading the container's C(/etc/passwd).
    type: str
  hostname:
    description:
      - The container's host name. Needs a new C(uts) namespace (one of the defaults).
    type: str
  readonly_rootfs:
    description:
      - Mount the root file system read-only.
    type: bool
    default: false
  mounts:
    description:
      - Mounts added after the default ones (C(/proc), C(/dev), C(/dev/pts), C(/dev/shm), C(/dev/mqueue),
        C(/sys) and C(/sys/fs/cgroup), read-only). A mount on the target of a default replaces it.
    type: list
    elements: dict
    suboptions:
      type:
        description:
          - The file system type, V(bind) when not set.
        type: str
      source:
        description:
          - For a bind mount the absolute path on the host; for others the device or a label.
        type: str
      target:
        description:
          - Absolute path inside the container.
        type: str
        required: true
      options:
        description:
          - Mount options, for example V(ro) or V(size=64m).
          - Bind mounts get V(rbind) unless V(bind) or V(rbind) is given.
        type: list
        elements: str
  namespaces:
    description:
      - The Linux namespaces of the container. Default new C(pid), C(ipc), C(uts), C(mount) and C(network) namespaces.
      - An entry with O(namespaces[].path) joins that namespace instead of creating one, for example a named
        network namespace V(/var/run/netns/web).
    type: list
    elements: dict
    suboptions:
      type:
        description:
          - The namespace type. A new V(user) namespace needs ID mappings, which this module does not set,
            so V(user) requires O(namespaces[].path).
        type: str
        required: true
        choices: [pid, network, ipc, uts, mount, user, cgroup]
      path:
        description:
          - Absolute path of an existing namespace to join.
        type: str
  memory:
    description:
      - Memory limit, in bytes or with a unit (V(64m), V(1g), V(512MiB)). At least V(6m).
    type: str
  cpus:
    description:
      - CPU limit as a number of CPUs (V(0.5), V(2)), applied as a CFS quota over a 100 ms period.
    type: float
  cpu_shares:
    description:
      - Relative CPU weight (2 to 262144; the kernel's default is 1024).
    type: int
  pids_limit:
    description:
      - Maximum number of processes in the container.
    type: int
  capabilities:
    description:
      - The process's capabilities (bounding, effective and permitted sets), with or without the C(CAP_)
        prefix, instead of the default set, docker's 14 (V(CAP_AUDIT_WRITE), V(CAP_CHOWN), V(CAP_DAC_OVERRIDE),
        V(CAP_FOWNER), V(CAP_FSETID), V(CAP_KILL), V(CAP_MKNOD), V(CAP_NET_BIND_SERVICE), V(CAP_NET_RAW),
        V(CAP_SETFCAP), V(CAP_SETGID), V(CAP_SETPCAP), V(CAP_SETUID), V(CAP_SYS_CHROOT)).
    type: list
    elements: str
  cap_add:
    description:
      - Capabilities added to O(capabilities) (or the default set); V(ALL) adds every one.
      - M(ocistack.engine.containerd_container) calls this option C(capabilities), as docker does.
    type: list
    elements: str
  cap_drop:
    description:
      - Capabilities taken from the set (V(ALL) drops every one before O(cap_add) adds).
    type: list
    elements: str
  privileged:
    description:
      - Every capability the kernel has, no seccomp filter and no AppArmor profile, the host's devices, and a
        writable C(/sys) and C(/sys/fs/cgroup).
    type: bool
    default: false
  devices:
    description:
      - Host devices, as C(/dev/host[:/dev/container[:rwm]]); the host's device node must exist.
    type: list
    elements: str
  tmpfs:
    description:
      - tmpfs mounts, as C(/path[:options]); V(nosuid), V(nodev) and V(noexec) unless the options say otherwise.
    type: list
    elements: str
  sysctls:
    description:
      - Namespaced kernel settings (C(net.*) with a network namespace of its own, C(kernel.shm*),
        C(kernel.msg*), C(kernel.sem), C(fs.mqueue.*)); a host-wide one is refused.
    type: dict
  ulimits:
    description:
      - Resource limits, as C(name:soft[:hard]) (V(nofile:4096:8192)); C(nofile) is 1024 unless set.
    type: list
    elements: str
  seccomp_profile:
    description:
      - V(default) refuses what docker's default seccomp profile refuses (each call given back with the
        capability docker gives it back with), V(unconfined) runs without a filter, an absolute path is a JSON
        profile on the host.
    type: str
  apparmor_profile:
    description:
      - AppArmor profile of the process; C(ocistack-default) by default where the host has AppArmor (loaded by
        M(ocistack.engine.containerd_container); a bundle names it only), V(unconfined) for none.
    type: str
  shm_size:
    description:
      - Size of C(/dev/shm); 64 MiB by default.
    type: str
  no_new_privileges:
    description:
      - Keep the process from gaining privileges (setuid binaries, file capabilities).
    type: bool
    default: true
  masked_paths:
    description:
      - Paths made inaccessible in the container. Default the usual C(/proc) and C(/sys) entries
        (C(/proc/kcore), C(/proc/keys), C(/sys/firmware), ...). An empty list masks nothing.
    type: list
    elements: str
  readonly_paths:
    description:
      - Paths made read-only in the container. Default C(/proc/bus), C(/proc/fs), C(/proc/irq),
        C(/proc/sys) and C(/proc/sysrq-trigger).
    type: list
    elements: str
  annotations:
    description:
      - Annotations written into C(config.json).
    type: dict
notes:
  - Runs on the managed host with the Python standard library; O(image) also needs containerd's C(ctr).
  - The rootfs is owned as in the image, so unpacking an image generally needs root.
seealso:
  - module: ocistack.engine.runc_container
  - module: ocistack.engine.containerd_image
"""

EXAMPLES = r"""
- name: A bundle from an image containerd has
  ocistack.engine.oci_bundle:
    path: /var/lib/bundles/web
    image: registry.example:5000/web:1.4
    args: [httpd, -f, -p, "8080"]
    env:
      MODE: production
    memory: 64m
    cpus: 0.5
    pids_limit: 100
    namespaces:
      - type: pid
      - type: ipc
      - type: uts
      - type: mount
      - type: network
        path: /var/run/netns/web

- name: A bundle from an OCI image layout (or an archive of one)
  ocistack.engine.oci_bundle:
    path: /var/lib/bundles/tool
    oci_layout: /srv/images/tool.tar:2.0
    readonly_rootfs: true
    mounts:
      - source: /srv/data
        target: /data
        options: [ro]

- name: A bundle around an existing root file system directory
  ocistack.engine.oci_bundle:
    path: /var/lib/bundles/debug
    rootfs: /srv/rootfs/busybox
    args: [sh, -c, "echo hello"]
    user: "65534:65534"

- name: Remove a bundle
  ocistack.engine.oci_bundle:
    path: /var/lib/bundles/debug
    state: absent
"""

RETURN = r"""
bundle:
  description: The bundle.
  returned: always
  type: dict
  contains:
    path:
      description: The bundle directory.
      type: str
      sample: /var/lib/bundles/web
    config_digest:
      description: C(sha256:) digest of the canonical C(config.json) content.
      type: str
      returned: when O(state=present)
      sample: sha256:4f1c0a3e2b5d6c7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e
    rootfs:
      description: The root file system directory the bundle uses.
      type: str
      returned: when O(state=present)
      sample: /var/lib/bundles/web/rootfs
    source:
      description:
        - What the rootfs is made from. C(type) is V(image), V(oci_layout), V(rootfs_dir) or V(rootfs_tarball);
          C(origin) is the option's value; the digests identify the content.
      type: dict
      returned: when O(state=present)
      sample:
        type: oci_layout
        origin: /srv/images/tool.tar:2.0
        manifest_digest: sha256:c872335730bba08cc2c7e965c0e3e973ae19659bbb1b97f6490ae4637b5874e8
        config_digest: sha256:414bcb5fdc887bfdd3e82ab91e640b21866faa965301ac9e239fbd9b3c5691af
config:
  description: The OCI runtime spec written as C(config.json) (null with O(state=absent)).
  returned: always
  type: dict
  sample:
    ociVersion: 1.0.2
    process:
      args: [sh]
      cwd: /
    root:
      path: rootfs
      readonly: false
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ocistack.engine.plugins.module_utils._ctr import CONNECTION_ARGUMENT_SPEC
from ansible_collections.ocistack.engine.plugins.module_utils._errors import OcistackError
from ansible_collections.ocistack.engine.plugins.module_utils._oci_bundle import BundleManager
from ansible_collections.ocistack.engine.plugins.module_utils._oci_spec import NAMESPACE_TYPES


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "image": {"type": "str"},
            **CONNECTION_ARGUMENT_SPEC,
            "oci_layout": {"type": "str"},
            "rootfs": {"type": "path"},
            "args": {"type": "list", "elements": "str"},
            "env": {"type": "dict"},
            "cwd": {"type": "str"},
            "user": {"type": "str"},
            "hostname": {"type": "str"},
            "readonly_rootfs": {"type": "bool", "default": False},
            "mounts": {
                "type": "list",
                "elements": "dict",
                "options": {
                    "type": {"type": "str"},
                    "source": {"type": "str"},
                    "target": {"type": "str", "required": True},
                    "options": {"type": "list", "elements": "str"},
                },
            },
            "namespaces": {
                "type": "list",
                "elements": "dict",
                "options": {
                    "type": {"type": "str", "required": True, "choices": list(NAMESPACE_TYPES)},
                    "path": {"type": "str"},
                },
            },
            "memory": {"type": "str"},
            "cpus": {"type": "float"},
            "cpu_shares": {"type": "int"},
            "pids_limit": {"type": "int"},
            "capabilities": {"type": "list", "elements": "str"},
            "cap_add": {"type": "list", "elements": "str"},
            "cap_drop": {"type": "list", "elements": "str"},
            "privileged": {"type": "bool", "default": False},
            "devices": {"type": "list", "elements": "str"},
            "tmpfs": {"type": "list", "elements": "str"},
            "sysctls": {"type": "dict"},
            "ulimits": {"type": "list", "elements": "str"},
            "seccomp_profile": {"type": "str"},
            "apparmor_profile": {"type": "str"},
            "shm_size": {"type": "str"},
            "no_new_privileges": {"type": "bool", "default": True},
            "masked_paths": {"type": "list", "elements": "str"},
            "readonly_paths": {"type": "list", "elements": "str"},
            "annotations": {"type": "dict"},
        },
        mutually_exclusive=[("image", "oci_layout", "rootfs")],
        required_if=[("state", "present", ("image", "oci_layout", "rootfs"), True)],
        supports_check_mode=True,
    )
    try:
        result = BundleManager(module).run()
    except (OcistackError, OSError) as err:
        module.fail_json(msg=str(err))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
