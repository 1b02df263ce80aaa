#!/usr/bin/python
# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Install or remove Debian packages in one task, asking dpkg before apt."""

from __future__ import annotations

DOCUMENTATION = r"""
module: deb_package
short_description: Install or remove Debian packages, running apt only when something must change
version_added: 1.0.0
description:
  - Reads the asked packages' state from dpkg's database (C(dpkg-query), milliseconds) and does nothing when
    each is installed at the asked version, or at any version when none is asked. Only then does it run
    C(apt-get), refreshing apt's lists first when they are older than O(cache_valid_time) and O(update_cache)
    is set. M(ansible.builtin.apt) opens apt's whole cache (python3-apt) even for a no-op, about a second per host.
  - The options that M(ansible.builtin.apt) has too are named and behave as there.
  - Check mode never touches the host. A package apt knows is reported with the version C(apt-get --simulate)
    would install; a package apt cannot tell about (its lists are not refreshed in check mode, and a host that
    never ran C(apt-get update) knows no package) is reported as changed with the message C(... would be installed).
  - An error names the option it is about.
options:
  name:
    description:
      - The packages, each V(name) or V(name=version). The version is Debian's full version
        (V(1.6.20~ds1-1+deb12u1)) or an apt pattern (V(1.7.*)); an installed version that matches it is left alone.
      - The first package is the one RV(installed_version) and RV(previous_version) are about.
    type: list
    elements: str
    required: true
    aliases: [package, pkg]
  state:
    description:
      - V(present) installs what is missing or at another version; V(absent) removes what is installed.
    type: str
    choices: [present, absent]
    default: present
  update_cache:
    description:
      - Refresh apt's lists (C(apt-get update)) before an install, when they are older than O(cache_valid_time).
      - Unlike M(ansible.builtin.apt), nothing is refreshed when nothing needs installing.
    type: bool
    default: false
  cache_valid_time:
    description: Seconds apt's lists stay fresh enough for O(update_cache); V(0) refreshes them before every install.
    type: int
    default: 0
  allow_downgrade:
    description: Let apt install a version older than the installed one (C(--allow-downgrades)).
    type: bool
    default: false
  install_recommends:
    description:
      - V(true) installs the packages' recommended packages, V(false) does not; unset leaves it to apt's configuration.
    type: bool
  policy_rc_d:
    description:
      - While apt runs, C(/usr/sbin/policy-rc.d) exits with this code (V(101) - the packages' scripts start
        no service); an existing policy-rc.d is put back afterwards.
    type: int
  purge:
    description: With O(state=absent), remove the packages' configuration files too (C(apt-get purge)).
    type: bool
    default: false
  keep_needed:
    description:
      - With O(state=absent), leave a package installed when another installed package depends on it
        (apt would remove that one too), and say so in RV(kept) and RV(msg).
    type: bool
    default: false
  lock_timeout:
    description: Seconds apt waits for another apt or dpkg to release its lock.
    type: int
    default: 60
extends_documentation_fragment:
  - ocistack.engine._attributes
attributes:
  check_mode:
    support: full
    details:
      - Nothing is changed. A package apt cannot tell about is reported as to be installed.
  diff_mode:
    support: full
    details:
      - One line per installed package and version, before and after.
  idempotent:
    support: full
notes:
  - Debian and its derivatives only (C(dpkg), C(apt-get)).
  - C(apt-get) runs non-interactively and keeps changed configuration files (C(--force-confold)).
seealso:
  - module: ansible.builtin.apt
  - module: ocistack.engine.host_probe
author: ocistack.engine contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Install containerd at a given version (nothing runs but dpkg-query when it is installed)
  ocistack.engine.deb_package:
    name: containerd=1.6.20~ds1-1+deb12u1
    update_cache: true
    cache_valid_time: 3600
    allow_downgrade: true
  register: containerd_package
  notify: Restart containerd

- name: Install docker-registry without starting it
  ocistack.engine.deb_package:
    name: [docker-registry, apache2-utils]
    update_cache: true
    cache_valid_time: 3600
    policy_rc_d: 101

- name: Remove runc unless an installed package (Debian's containerd) needs it
  ocistack.engine.deb_package:
    name: runc
    state: absent
    keep_needed: true
"""

RETURN = r"""
installed_version:
  description:
    - The version of the first package of O(name) after the task (in check mode, the version it would have);
      null when it is not installed. V((any)) in check mode when apt cannot tell which version it would install.
  returned: always
  type: str
  sample: 1.6.20~ds1-1+deb12u1
previous_version:
  description: The version of the first package of O(name) before the task, or null when it was not installed.
  returned: always
  type: str
  sample: null
packages:
  description: For each package of O(name), its version before and after the task (null when not installed).
  returned: always
  type: dict
  sample:
    containerd: {before: null, after: 1.6.20~ds1-1+deb12u1}
kept:
  description: With O(keep_needed), the packages left installed, each with the installed packages that depend on it.
  returned: when O(state=absent)
  type: dict
  sample:
    runc: [containerd]
cache_updated:
  description: Whether apt's lists were refreshed.
  returned: always
  type: bool
msg:
  description: What was done, or would be done in check mode.
  returned: always
  type: str
  sample: containerd would be installed.
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ocistack.engine.plugins.module_utils._deb_package import APT_ENV, run
from ansible_collections.ocistack.engine.plugins.module_utils._errors import OcistackError


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "list", "elements": "str", "required": True, "aliases": ["package", "pkg"]},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "update_cache": {"type": "bool", "default": False},
            "cache_valid_time": {"type": "int", "default": 0},
            "allow_downgrade": {"type": "bool", "default": False},
            "install_recommends": {"type": "bool"},
            "policy_rc_d": {"type": "int"},
            "purge": {"type": "bool", "default": False},
            "keep_needed": {"type": "bool", "default": False},
            "lock_timeout": {"type": "int", "default": 60},
        },
        supports_check_mode=True,
    )

    def runner(argv: list[str]) -> tuple[int, str, str]:
        return module.run_command(argv, environ_update=APT_ENV)

    try:
        result = run(module.params, module.check_mode, runner)
    except OcistackError as error:
        module.fail_json(msg=str(error))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
