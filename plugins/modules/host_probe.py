#!/usr/bin/python
# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Answer a role's read-only questions about a host in one task."""

from __future__ import annotations

DOCUMENTATION = r"""
module: host_probe
short_description: Ask a host several read-only questions in one task
version_added: 1.0.0
description:
  - Runs read-only commands, looks at paths, reads small files, kernel settings and directory listings,
    and tells which kernel modules are loaded, all in one module run. A role asks everything it needs to
    know early, in one task, instead of one C(stat), C(slurp), C(find) or C(command) task per question.
  - Nothing on the host is changed and the task never reports a change; it runs in check mode too, so the
    answers are the same with C(--check).
  - Every option is checked before the first command runs; an error names the option.
options:
  commands:
    description:
      - Commands to run, by a name of your choice, each an argument list (no shell). The result has
        an RV(commands) entry of that name with its C(rc), C(stdout) and C(stderr).
      - Only read-only commands belong here (C(--version), C(cat), C(systemctl is-active), ...). They run in
        check mode too, so a command that changes something would change it during a C(--check) run.
      - A missing executable is not an error; the command's C(rc) is then V(127) and C(stderr) says so. An
        executable that cannot be run gives V(126).
    type: dict
    default: {}
  timeout:
    description: Seconds each command of O(commands) may run; a command that takes longer fails the task.
    type: int
    default: 60
  paths:
    description:
      - Absolute paths to look at (C(lstat), so a symbolic link is reported as a link), with whether each exists,
        its type, mode and owner.
    type: list
    elements: str
    default: []
  checksum:
    description:
      - Also return the sha256 of each regular file of O(paths). With it a role can tell, before it asks
        M(ocistack.engine.config_files) or M(ocistack.engine.service_config), whether its files are in place
        (the P(ocistack.engine.files_in_place#filter) filter).
    type: bool
    default: false
  system:
    description:
      - Set the facts the collection's roles read and those of setup's C(platform) subset, named as
        M(ansible.builtin.setup) names them, C(architecture), C(machine), C(system), C(kernel), C(kernel_version),
        C(nodename), C(hostname), C(fqdn), C(domain), C(distribution), C(distribution_version),
        C(distribution_major_version), C(distribution_release), C(os_family) and C(service_mgr).
      - Read from C(/etc/os-release), C(/etc/debian_version), C(uname) and C(/run/systemd/system), in this
        module run; a play that needs only these facts skips a fact-gathering task of its own.
    type: bool
    default: false
  files:
    description:
      - Absolute paths of small text files to read. The content is returned as it is, or null when the file
        does not exist. Do not list secrets; the content is in the task result.
    type: list
    elements: str
    default: []
  kernel_modules:
    description:
      - Kernel module names. A module is loaded (or built into the kernel) when C(/sys/module/<name>) exists;
        C(-) in a name is read as C(_), as the kernel spells it.
    type: list
    elements: str
    default: []
  sysctls:
    description:
      - Kernel settings by their dotted name (V(net.ipv4.ip_forward)), read from C(/proc/sys). The value has its
        surrounding white space removed; null when this kernel does not have the setting (a module not loaded,
        or a container that does not see it).
    type: list
    elements: str
    default: []
  packages:
    description:
      - Read the installed Debian packages from dpkg's database and set C(ansible_facts.packages), in the
        shape M(ansible.builtin.package_facts) gives it (each name maps to a list of C(name), C(version),
        C(arch), C(source)); as apt does, a package of a foreign architecture is named C(name:arch). Much
        cheaper than package_facts with the apt manager, which loads apt's whole cache.
    type: bool
    default: false
  package_versions:
    description:
      - Debian packages whose installed version to return in RV(package_versions), read from dpkg's database
        as O(packages) does, but returned as a small result instead of a fact of every package (a fact is
        copied into every later task's variables).
      - An entry is a name, or V(name=version) where the version may be a pattern (V(1.7.*)), as
        M(ocistack.engine.deb_package) takes them; RV(packages_current) says whether every entry is installed
        at a matching version, that is, whether deb_package would leave them alone.
    type: list
    elements: str
    default: []
  directories:
    description:
      - Directories to list. The result is the sorted names of the entries that match, or null when the
        directory does not exist.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path of the directory.
        type: str
        required: true
      patterns:
        description:
          - Shell-style patterns (V(*.toml)); an entry is listed when its name matches any of them.
          - All entries are listed when this is empty.
        type: list
        elements: str
        default: []
      contains:
        description:
          - A regular expression (Python syntax); only regular files with content that matches are listed. C(^) and
            C($) match at the start and end of every line. For example the marker line a role writes at the top of
            the files it owns.
        type: str
extends_documentation_fragment:
  - ocistack.engine._attributes.info_module
notes:
  - Module names, setting names and paths are answered in the order given, but the result is keyed by them, so
    list each one once.
seealso:
  - module: ansible.builtin.stat
  - module: ansible.builtin.command
author: ocistack.engine contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Ask the host what the role needs to know, in one task
  ocistack.engine.host_probe:
    commands:
      containerd_version: [/usr/bin/containerd, --version]
    paths:
      - /usr/local/bin/containerd
    files:
      - /etc/containerd/ocistack-runtimes.json
    kernel_modules: [overlay, br_netfilter]
    sysctls: [net.ipv4.ip_forward, net.bridge.bridge-nf-call-iptables]
    directories:
      - path: /etc/containerd/conf.d
        patterns: ["*.toml"]
        contains: "^# Written by ocistack.engine.containerd drop-in"
  register: probe

- name: Load overlay when it is missing
  ansible.builtin.command: modprobe overlay
  when: not probe.kernel_modules.overlay
  changed_when: true

- name: Show the installed containerd
  ansible.builtin.debug:
    msg: >-
      {{ probe.commands.containerd_version.stdout
         if probe.commands.containerd_version.rc == 0 else 'not installed' }}
"""

RETURN = r"""
commands:
  description: For each name of O(commands), what the command did. Empty when no command was asked.
  returned: always
  type: dict
  sample:
    containerd_version:
      rc: 0
      stdout: containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+b1
      stderr: ""
  contains:
    rc:
      description: Exit status; V(127) when the executable does not exist, V(126) when it cannot be run.
      type: int
    stdout:
      description: Standard output, trailing newlines removed.
      type: str
    stderr:
      description: Standard error, trailing newlines removed; why the command could not run, for V(126) and V(127).
      type: str
paths:
  description:
    - For each of O(paths), whether it exists, its type, mode and owner; only RV(paths.exists) and RV(paths.type)
      when it is missing.
  returned: always
  type: dict
  sample:
    /usr/local/bin/containerd:
      exists: false
      type: null
    /etc/containerd/config.toml:
      exists: true
      type: file
      mode: "0644"
      uid: 0
      gid: 0
      owner: root
      group: root
  contains:
    exists:
      description: Whether the path exists (a dangling symbolic link exists).
      type: bool
    type:
      description: V(file), V(directory), V(link), V(other) (devices, sockets, pipes), or null when missing.
      type: str
    mode:
      description: The permission bits, in octal (V(0644)).
      type: str
    uid:
      description: The owner's id.
      type: int
    gid:
      description: The group's id.
      type: int
    owner:
      description: The owner's name, null when the id has none on the host.
      type: str
    group:
      description: The group's name, null when the id has none on the host.
      type: str
    sha256:
      description: With O(checksum), the sha256 of a regular file's content.
      type: str
files:
  description: For each of O(files), its text, or null when it does not exist.
  returned: always
  type: dict
  sample:
    /etc/containerd/ocistack-runtimes.json: '{"crun": {"runtime_type": "io.containerd.runc.v2"}}'
kernel_modules:
  description: For each of O(kernel_modules), whether it is loaded.
  returned: always
  type: dict
  sample:
    overlay: true
    br_netfilter: false
sysctls:
  description: For each of O(sysctls), its value, or null when the setting does not exist on this host.
  returned: always
  type: dict
  sample:
    net.ipv4.ip_forward: "1"
    net.bridge.bridge-nf-call-iptables: null
directories:
  description: For each O(directories[].path), the sorted names that match, or null when the directory does not exist.
  returned: always
  type: dict
  sample:
    /etc/containerd/conf.d: [gc.toml]
package_versions:
  description: For each name of O(package_versions), its installed version, or null when it is not installed.
  returned: always
  type: dict
  sample:
    runc: 1.1.5+ds1-1+deb12u1
    containernetworking-plugins: null
packages_current:
  description: Whether every entry of O(package_versions) is installed at a version it matches (true for none).
  returned: always
  type: bool
  sample: true
ansible_facts:
  description: With O(packages), the installed packages; with O(system), the system facts O(system) lists.
  returned: when O(packages) or O(system) is true
  type: dict
  contains:
    architecture:
      description: With O(system), the machine's architecture as C(uname -m) gives it.
      type: str
      sample: x86_64
    os_family:
      description: With O(system), V(Debian) for Debian and its derivatives, else the distribution.
      type: str
      sample: Debian
    service_mgr:
      description: With O(system), V(systemd) when systemd runs the host, else the name of PID 1.
      type: str
      sample: systemd
    hostname:
      description: With O(system), the host's name without its domain.
      type: str
      sample: h1
    packages:
      description: Package name -> list of its installed versions (one per architecture).
      type: dict
      sample:
        containerd: [{name: containerd, version: 1.6.20~ds1-1+deb12u3, arch: amd64, source: apt}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ocistack.engine.plugins.module_utils._errors import OcistackError
from ansible_collections.ocistack.engine.plugins.module_utils._host_probe import DEFAULT_TIMEOUT, run


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "commands": {"type": "dict", "default": {}},
            "timeout": {"type": "int", "default": DEFAULT_TIMEOUT},
            "paths": {"type": "list", "elements": "str", "default": []},
            "checksum": {"type": "bool", "default": False},
            "system": {"type": "bool", "default": False},
            "files": {"type": "list", "elements": "str", "default": []},
            "kernel_modules": {"type": "list", "elements": "str", "default": []},
            "sysctls": {"type": "list", "elements": "str", "default": []},
            "packages": {"type": "bool", "default": False},
            "package_versions": {"type": "list", "elements": "str", "default": []},
            "directories": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "path": {"type": "str", "required": True},
                    "patterns": {"type": "list", "elements": "str", "default": []},
                    "contains": {"type": "str"},
                },
            },
        },
        supports_check_mode=True,
    )
    try:
        result = run(module.params)
    except OcistackError as error:
        module.fail_json(msg=str(error))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
