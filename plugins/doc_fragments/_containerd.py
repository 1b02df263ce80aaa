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
      - The containerd namespace the module works in (V(default) is what C(ctr) uses, V(moby) is dockerd's,
        V(k8s.io) the CRI's).
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
      - User name for the registry. Requires O(password).
      - The module asks the registry how it wants to be authenticated (C(GET /v2/)). Where it answers with a
        C(Bearer) challenge (Docker Hub, GHCR, Harbor, Quay, Distribution with C(auth) set to C(token)) the
        module fetches a token for the repository from the token server the challenge names, with O(username) and
        O(password) as basic auth, scoped to C(pull) (C(pull,push) for a push), and C(ctr) sends that token.
        Elsewhere the credentials go as HTTP basic auth.
    type: str
  password:
    description:
      - Password for O(username). It is never put on a command line or in logs; the token (or the basic-auth
        header) reaches C(ctr) through a private, temporary C(hosts.toml) (mode 0600) removed right after the
        call.
      - Mutually exclusive with O(identity_token).
    type: str
  identity_token:
    description:
      - An identity (refresh) token, as C(docker login) stores for registries that issue one (Azure Container
        Registry, Harbor's OIDC users), used instead of a password. The module exchanges it at the token server
        for an access token (an OAuth2 C(refresh_token) grant with client id C(ocistack.engine)).
      - O(username) is optional with it. It is kept as secret as O(password).
      - Mutually exclusive with O(password).
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
      - With credentials (O(username) or O(identity_token)), the registry's own sub-directory may hold
        certificates (C(*.crt)) but not a C(hosts.toml), because the module writes that file to carry them.
    type: path
notes:
  - A token lives as long as the token server says (minutes, usually); it is fetched afresh for every pull or
    push, so a long-running play never sends an expired one.
"""
