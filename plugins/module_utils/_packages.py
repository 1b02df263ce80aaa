# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The installed Debian packages, read with dpkg-query.

ansible.builtin.package_facts (apt) opens apt's whole cache through python3-apt, which costs about a
second per host on every run; dpkg's own database answers the same question in a few milliseconds.
The result has the shape package_facts gives, so roles read it the same way.
"""

from __future__ import annotations

from typing import Dict, List

__all__ = ["DPKG_ARCH_ARGV", "DPKG_QUERY_ARGV", "parse_dpkg_query"]

DPKG_ARCH_ARGV = ["dpkg", "--print-architecture"]

DPKG_QUERY_ARGV = [
    "dpkg-query",
    "--show",
    "--showformat",
    "${Package}\\t${Version}\\t${Architecture}\\t${db:Status-Abbrev}\\n",
]

# dpkg's current state (the second letter of db:Status-Abbrev): "n" not installed and "c" only its
# configuration files left; every other state has a version unpacked on the host, as apt counts it.
_NOT_INSTALLED = ("n", "c")


def parse_dpkg_query(text: str, native_arch: str = "") -> Dict[str, List[Dict[str, str]]]:
    """``dpkg-query --show`` output in DPKG_QUERY_ARGV's format -> {name: [{name, version, arch, source}]}.

    As apt names them, a package of a foreign architecture is keyed "name:arch" ("libc6:i386"), so that
    "containerd" in the result means the host's own architecture (or "all"). Without ``native_arch``
    every architecture is keyed by the plain name.
    """
    packages: Dict[str, List[Dict[str, str]]] = {}
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) != 4 or not fields[0]:
            continue
        name, version, arch, status = fields
        if len(status) < 2 or status[1] in _NOT_INSTALLED:
            continue
        key = f"{name}:{arch}" if native_arch and arch not in (native_arch, "all") else name
        packages.setdefault(key, []).append({"name": name, "version": version, "arch": arch, "source": "apt"})
    return packages
