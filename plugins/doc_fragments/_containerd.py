# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options shared by the containerd modules: where containerd listens, which namespace, registry access."""

from __future__ import annotations

__all__ = ["ModuleDocFragment"]


class ModuleDocFragment:
    # address/namespace: every containerd module (action group ocistack.engine.containerd).
    DOCUMENTATION = r"""
options:
  address:
    description:
      - Path of containerd's gRPC unix socket.
      - Set it once for all containerd modules with C(module_defaults) and C(group/ocistack.engine.containerd).
    type: str
    default: /run/containerd/containerd.sock
  namespace:
    description:
      - The containerd namespace the module works in (C(default) is what C(ctr) uses, C(moby) is dockerd's,
        C(k8s.io) the CRI's).
    type: str
    default: default
requirements:
  - containerd and its C(ctr) client on the managed host (containerd 1.6 or newer).
notes:
  - The module talks to containerd through C(ctr) on the managed host; it needs root.
"""

    # Registry access: modules that pull or push.
    REGISTRY = r"""
options:
  username:
    description:
      - User name for the registry (HTTP basic auth). Requires O(password).
    type: str
  password:
    description:
      - Password for O(username). It is never put on a command line or in logs; it reaches C(ctr) through a
        private, temporary C(hosts.toml) (mode 0600) removed right after the call.
    type: str
  plain_http:
    description:
      - Talk plain HTTP to the registry instead of HTTPS.
    type: bool
    default: false
  skip_verify:
    description:
      - Do not verify the registry's TLS certificate.
    type: bool
    default: false
  hosts_dir:
    description:
      - A containerd hosts directory (C(<host[:port]>/hosts.toml) or C(<host[:port]>/*.crt)) for mirrors and
        registry certificates, as in containerd's C(config_path).
      - With O(username), the registry's own sub-directory may hold certificates (C(*.crt)) but not a
        C(hosts.toml), because the module writes that file to carry the credentials.
    type: path
notes:
  - Credentials are sent as HTTP basic auth on every request; registries that only accept bearer tokens
    issued by a separate auth server (such as Docker Hub for private repositories) need a hosts.toml of yours.
"""
