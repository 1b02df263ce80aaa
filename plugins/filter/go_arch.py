# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The go_arch filter: a machine name as release files spell it."""

from __future__ import annotations

DOCUMENTATION = r"""
name: go_arch
author: ocistack.engine contributors
version_added: 1.0.0
short_description: Spell a machine architecture the way Go, and so release file names, do
description:
  - containerd, runc and the CNI plugins name their release files after Go's architecture names
    (C(amd64), C(arm64)), while Ansible's C(ansible_facts.architecture) reports the kernel's machine
    name (C(x86_64), C(aarch64)). This filter maps one to the other; a name it does not know is
    returned as it is.
  - The runc, containerd and cni roles use it for C(runc_arch), C(containerd_arch) and C(cni_arch)
    when those are empty.
positional: _input
options:
  _input:
    description: The machine name, as C(uname -m) or C(ansible_facts.architecture) gives it.
    type: string
    required: true
"""

EXAMPLES = r"""
- name: Name the runc release binary for this host
  ansible.builtin.debug:
    msg: "runc.{{ ansible_facts.architecture | ocistack.engine.go_arch }}"  # runc.amd64 on x86_64
"""

RETURN = r"""
_value:
  description: The Go architecture name, or the input when it has no other spelling.
  type: string
"""

__all__ = ["GO_ARCH", "FilterModule", "go_arch"]

GO_ARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "arm",
    "armhf": "arm",
    "i386": "386",
    "i686": "386",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}


def go_arch(machine: str) -> str:
    """Go's name for a machine architecture (unknown names pass through)."""
    name = str(machine or "").strip()
    return GO_ARCH.get(name, name)


class FilterModule:
    """Ansible filter plugin entry point."""

    def filters(self) -> dict:
        return {"go_arch": go_arch}
