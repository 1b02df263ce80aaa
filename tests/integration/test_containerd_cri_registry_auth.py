"""Host-side registry credentials for real: CRI pulls from a token registry with what config.toml holds.

The containerd role writes the credentials of a ``containerd_registries`` entry into config.toml, as
the CRI plugin's ``registry.configs."<host>".auth`` (schema 2 on containerd 1.x, schema 3 on 2.x).
Here the configuration is rendered with the role's filters (containerd_registry_files for certs.d and
the credentials, containerd_cri_registry_auth for the table, to_toml) and written with the code of
its config_files task, then a containerd of the test's own runs on it with CRI enabled: the machine's
1.6 and Debian forky's 2.1 (tests/testbed/images.sh forky-binaries). A small CRI client (grpcio,
cri_client/image_service.proto compiled here) calls ImageService.PullImage with no credentials in
the request, as kubelet does for a pod without imagePullSecrets: the login must come from the host's
configuration. The registry is Distribution with ``auth: token`` and the tests' own token server
(conftest), which records each token request and whether the credentials were right.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from ansible.plugins.filter.core import combine

from ansible_collections.ocistack.engine.plugins.filter.containerd_cri_registry_auth import containerd_cri_registry_auth
from ansible_collections.ocistack.engine.plugins.filter.containerd_registry_files import containerd_registry_files
from ansible_collections.ocistack.engine.plugins.filter.to_toml import to_toml
from ansible_collections.ocistack.engine.plugins.module_utils._config_files import run as run_config_files

grpc = pytest.importorskip("grpc")
pytest.importorskip("grpc_tools")

from cri_client import compile_image_service  # noqa: E402 - after the skips

REPO_ROOT = Path(__file__).resolve().parents[2]
FORKY_BIN = REPO_ROOT / ".cache" / "testbed" / "forky" / "root" / "usr" / "bin"
HEADER = "# Written by ocistack.engine.containerd from data; edit the role's variables, not this file."


def _binaries(schema: int):
    """(containerd, ctr) of the version that reads this schema, or a skip."""
    if schema == 2:
        containerd, ctr = shutil.which("containerd"), shutil.which("ctr")
        if containerd is None:
            pytest.skip("no containerd on this machine")
        version = subprocess.run([containerd, "--version"], capture_output=True, text=True, check=True).stdout
        if " 1." not in version:
            pytest.skip("this machine's containerd is not 1.x")
        return containerd, ctr
    if not (FORKY_BIN / "containerd").exists():
        pytest.skip("no containerd 2.x (tests/testbed/images.sh forky-binaries)")
    return str(FORKY_BIN / "containerd"), str(FORKY_BIN / "ctr")


@pytest.fixture(scope="module")
def cri_api(tmp_path_factory):
    return compile_image_service(tmp_path_factory.mktemp("cri-api"))


@pytest.fixture
def workdir():
    # Short: unix socket paths are limited to 108 bytes.
    path = Path(tempfile.mkdtemp(prefix="ocs-cri-", dir="/tmp"))
    yield path
    subprocess.run(["umount", "-R", str(path)], capture_output=True, check=False)
    if not os.environ.get("OCS_KEEP"):
        shutil.rmtree(path, ignore_errors=True)


def _main_config(schema: int, workdir: Path, certs_dir: str) -> dict:
    """The part of the role's config.toml defaults a pull needs, on the test's own paths."""
    base = {
        "version": schema,
        "root": str(workdir / "root"),
        "state": str(workdir / "state"),
        "grpc": {"address": str(workdir / "c.sock")},
        "ttrpc": {"address": str(workdir / "c.sock.ttrpc")},
    }
    opt = {"io.containerd.internal.v1.opt": {"path": str(workdir / "opt")}}
    if schema == 2:
        return {**base, "plugins": {"io.containerd.grpc.v1.cri": {"registry": {"config_path": certs_dir}}, **opt}}
    return {
        **base,
        # NRI would listen on the machine's /var/run/nri/nri.sock.
        "disabled_plugins": ["io.containerd.nri.v1.nri"],
        "plugins": {"io.containerd.cri.v1.images": {"registry": {"config_path": certs_dir}}, **opt},
    }


def _declaration(schema: int, workdir: Path, registries: dict) -> dict:
    """config_files' parameters as the containerd role's config task builds them."""
    config_dir = workdir / "etc"
    certs_dir = f"{config_dir}/certs.d"
    tree = containerd_registry_files(registries, certs_dir)
    auth = containerd_cri_registry_auth(tree["cri_configs"], schema)
    text = HEADER + "\n" + to_toml(combine(_main_config(schema, workdir, certs_dir), auth, recursive=True))
    config = {"path": f"{config_dir}/config.toml", "mode": "0600" if auth else "0644", "backup": True}
    config["secret_content" if auth else "content"] = text
    return {"directories": [{"path": str(config_dir)}, *tree["directories"]], "files": [config, *tree["files"]]}


class CriContainerd:
    def __init__(self, binary: str, ctr: str, workdir: Path) -> None:
        self.binary, self.ctr_binary, self.workdir = binary, ctr, workdir
        self.config = workdir / "etc" / "config.toml"
        self.address = str(workdir / "c.sock")
        self.log = workdir / "containerd.log"
        self.proc = None

    def start(self) -> None:
        log = open(self.log, "ab")  # noqa: SIM115 - kept open for the daemon's lifetime
        self.proc = subprocess.Popen(
            [self.binary, "--config", str(self.config)], stdout=log, stderr=log, start_new_session=True
        )
        deadline = time.monotonic() + 30
        while self.ctr(["version"], check=False).returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"containerd did not come up: {self.log.read_text()[-3000:]}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None

    def ctr(self, args, check=True):
        return subprocess.run(
            [self.ctr_binary, "--address", self.address, "--namespace", "k8s.io", *args],
            capture_output=True, text=True, check=check, timeout=60,
        )  # fmt: skip

    def images(self) -> list:
        return self.ctr(["images", "ls", "-q"]).stdout.split()


@pytest.fixture
def daemon_factory(workdir):
    started = []

    def make(schema: int) -> CriContainerd:
        daemon = CriContainerd(*_binaries(schema), workdir)
        started.append(daemon)
        return daemon

    yield make
    for daemon in started:
        daemon.stop()


def _pull(cri_api, address: str, image: str):
    """PullImage with no AuthConfig in the request, then ImageStatus: (image_ref, status image) or the RpcError."""
    messages, stubs = cri_api
    with grpc.insecure_channel(f"unix://{address}") as channel:
        service = stubs.ImageServiceStub(channel)
        try:
            ref = service.PullImage(messages.PullImageRequest(image=messages.ImageSpec(image=image)), timeout=90)
        except grpc.RpcError as error:
            return error
        status = service.ImageStatus(messages.ImageStatusRequest(image=messages.ImageSpec(image=image)), timeout=30)
        return ref.image_ref, status.image


def _sample_argv(stop: threading.Event, seen: list) -> None:
    while not stop.is_set():
        seen.append(subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=False).stdout)
        time.sleep(0.05)


def _registry(token_registry, **credentials) -> dict:
    return {token_registry.host: {"ca": Path(token_registry.ca_file).read_text(), **credentials}}


def _auth_failure(result) -> str:
    assert isinstance(result, grpc.RpcError), f"the pull succeeded without the right credentials: {result}"
    details = result.details() or ""
    assert "401" in details or "unauthorized" in details.lower(), details
    return details


@pytest.mark.parametrize("schema", [2, 3], ids=["containerd-1.x-schema-2", "containerd-2.x-schema-3"])
def test_cri_pulls_from_a_token_registry_with_the_hosts_credentials(  # noqa: PLR0915 - one daemon, one story
    schema, cri_api, daemon_factory, workdir, token_registry
):
    daemon = daemon_factory(schema)
    image = f"{token_registry.host}/test/busybox:1"
    tokens = token_registry.tokens
    password = token_registry.password

    # No credentials on the host: the registry's challenge cannot be answered.
    plain = run_config_files(_declaration(schema, workdir, _registry(token_registry)), False, False)
    assert plain["changed"] is True
    assert daemon.config.stat().st_mode & 0o777 == 0o644
    daemon.start()
    asked = len(tokens.requests)
    _auth_failure(_pull(cri_api, daemon.address, image))
    assert all(entry["granted"] == "False" for entry in tokens.requests[asked:]), tokens.requests[asked:]
    assert image not in daemon.images()
    daemon.stop()

    # A wrong password: the token server refuses it, and so the pull fails.
    wrong = _declaration(schema, workdir, _registry(token_registry, username=token_registry.username, password="nope"))
    run_config_files(wrong, False, False)
    daemon.start()
    asked = len(tokens.requests)
    _auth_failure(_pull(cri_api, daemon.address, image))
    assert {"method": "GET", "scope": "repository:test/busybox:pull", "granted": "False"} in tokens.requests[asked:]
    daemon.stop()

    # The right credentials: config.toml turns 0600, its diff and check-mode twin never show the secret.
    right = _declaration(
        schema, workdir, _registry(token_registry, username=token_registry.username, password=password)
    )
    twin = run_config_files(right, True, True)
    assert twin["changed"] is True and str(daemon.config) in twin["written"]
    assert "nope" in daemon.config.read_text()  # the check-mode twin wrote nothing
    shown = repr(twin["diff"])
    assert password not in shown and "nope" not in shown and "(secret content" in shown, shown
    written = run_config_files(right, False, True)
    assert written["changed"] is True and password not in repr(written)
    assert daemon.config.stat().st_mode & 0o777 == 0o600
    backup = Path(written["backups"][str(daemon.config)])
    assert backup.stat().st_mode & 0o777 == 0o600 and "nope" in backup.read_text()
    assert run_config_files(right, False, True)["changed"] is False  # rerun: unchanged
    assert run_config_files(right, True, True)["changed"] is False  # and its check-mode twin
    assert password in daemon.config.read_text()

    stop, seen = threading.Event(), []
    sampler = threading.Thread(target=_sample_argv, args=(stop, seen))
    sampler.start()
    try:
        daemon.start()
        asked = len(tokens.requests)
        pulled = _pull(cri_api, daemon.address, image)
    finally:
        stop.set()
        sampler.join()
    assert not isinstance(pulled, grpc.RpcError), pulled.details()
    image_ref, status = pulled
    assert image_ref.startswith("sha256:") and status.id == image_ref
    assert image in status.repo_tags, status
    assert image in daemon.images()
    logins = tokens.requests[asked:]
    assert {"method": "GET", "scope": "repository:test/busybox:pull", "granted": "True"} in logins, logins
    assert seen and not any(password in sample for sample in seen)
    assert password not in daemon.log.read_text()
    daemon.ctr(["images", "rm", "--sync", image])
    daemon.stop()

    # An identity token instead (an OAuth2 refresh token at the realm).
    token_only = _declaration(schema, workdir, _registry(token_registry, identity_token=token_registry.identity_token))
    run_config_files(token_only, False, False)
    assert daemon.config.stat().st_mode & 0o777 == 0o600
    daemon.start()
    asked = len(tokens.requests)
    pulled = _pull(cri_api, daemon.address, image)
    assert not isinstance(pulled, grpc.RpcError), pulled.details()
    assert image in daemon.images()
    logins = tokens.requests[asked:]
    assert {"method": "POST", "scope": "repository:test/busybox:pull", "granted": "True"} in logins, logins
    assert token_registry.identity_token not in daemon.log.read_text()


@pytest.mark.parametrize("schema", [2, 3], ids=["containerd-1.x-schema-2", "containerd-2.x-schema-3"])
def test_containerd_reads_the_credentials_where_the_role_puts_them(schema, workdir, token_registry):
    """`containerd config dump` (what the role's validate step runs) accepts the file and finds the auth table."""
    tomllib = pytest.importorskip("tomllib")
    binary, _ctr = _binaries(schema)
    registries = {
        **_registry(token_registry, username="u", password="p w\"'\\x"),
        "docker.io": {"mirrors": [{"url": "https://mirror.example:5000", "identity_token": "tok"}]},
    }
    run_config_files(_declaration(schema, workdir, registries), False, False)
    config = workdir / "etc" / "config.toml"
    out = subprocess.run(
        [binary, "--config", str(config), "config", "dump"], capture_output=True, text=True, check=True
    )
    plugin = "io.containerd.grpc.v1.cri" if schema == 2 else "io.containerd.cri.v1.images"
    configs = tomllib.loads(out.stdout)["plugins"][plugin]["registry"]["configs"]
    assert configs[token_registry.host]["auth"]["username"] == "u"
    assert configs[token_registry.host]["auth"]["password"] == "p w\"'\\x"
    assert configs["mirror.example:5000"]["auth"]["identitytoken"] == "tok"
    # Rendering again gives the same bytes: a rerun of the role leaves config.toml alone.
    assert run_config_files(_declaration(schema, workdir, registries), False, False)["changed"] is False


# The role itself, on this machine, against a config directory of the test's own: its validate, probe and
# config tasks and the files it declares (__containerd_files); the version is given as version.yml would
# record it for the binary under test. Nothing outside the temporary directory is written: no kernel
# module list, no service environment.
PLAYBOOK = """
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - ansible.builtin.include_role: {name: ocistack.engine.containerd, tasks_from: validate}
    - ansible.builtin.include_role: {name: ocistack.engine.containerd, tasks_from: probe}
    - ansible.builtin.set_fact:
        __containerd_bin: "{{ test_bin }}"
        __containerd_schema: "{{ test_schema }}"
        __containerd_known_version: "{{ test_version }}"
    # config composes; service.yml's service_config task writes __containerd_files and restarts (no systemd
    # here), so the files are written as that task would, by config_files.
    - ansible.builtin.include_role: {name: ocistack.engine.containerd, tasks_from: config, public: true}
    - ocistack.engine.config_files: &write
        directories: "{{ __containerd_files.directories }}"
        files: "{{ __containerd_files.files }}"
        absent: "{{ __containerd_files.absent }}"
      register: __containerd_config_files
    - ansible.builtin.debug:
        msg: >-
          RESULT changed={{ __containerd_config_files.changed }}
          written={{ __containerd_config_files.written | join(',') }}
    # As the runtimes role calls it (reconfigure.yml), without the play's containerd_registries.
    - ansible.builtin.include_role: {name: ocistack.engine.containerd, tasks_from: config, public: true}
      vars: &reconfigure
        __containerd_with_registries: false
        containerd_registries: {}
    - ocistack.engine.config_files: *write
      vars: *reconfigure
      register: __containerd_config_files
    - ansible.builtin.debug:
        msg: "RECONFIGURED changed={{ __containerd_config_files.changed }}"
"""


def _role_vars(workdir: Path, schema: int, registries: dict) -> dict:
    binary, _ctr = _binaries(schema)
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout
    version = next(word for word in out.split()[2:] if word[:1].isdigit() or word[:2] == "v2").lstrip("v")
    return {
        "ansible_python_interpreter": sys.executable,
        "test_bin": str(Path(binary).parent),
        "test_schema": schema,
        "test_version": version.split("~")[0].split("+")[0],
        "containerd_config_dir": str(workdir / "etc"),
        "containerd_root": str(workdir / "root"),
        "containerd_state_dir": str(workdir / "state"),
        "containerd_address": str(workdir / "c.sock"),
        "containerd_cni_conf_dir": str(workdir / "cni"),
        "containerd_kernel_modules": [],
        "containerd_config_overrides": {
            "plugins": {"io.containerd.internal.v1.opt": {"path": str(workdir / "opt")}},
            **({"disabled_plugins": ["io.containerd.nri.v1.nri"]} if schema == 3 else {}),
        },
        "containerd_registries": registries,
    }


def _run_role(workdir: Path, role_vars: dict, *options: str):
    """ansible-playbook with the variables in a private file (never argv): (rc, output, RESULT line)."""
    (workdir / "play.yml").write_text(PLAYBOOK)
    extra = workdir / "vars.json"
    extra.write_text(json.dumps(role_vars))
    os.chmod(extra, 0o600)
    done = subprocess.run(
        ["ansible-playbook", "-i", "localhost,", "-e", f"@{extra}", *options, str(workdir / "play.yml")],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    output = done.stdout + done.stderr
    result = " ".join(line for line in output.splitlines() if "RESULT changed=" in line or "RECONFIGURED" in line)
    return done.returncode, output, result


@pytest.mark.parametrize("schema", [2, 3], ids=["containerd-1.x-schema-2", "containerd-2.x-schema-3"])
def test_the_role_writes_the_credentials_cri_logs_in_with(  # noqa: PLR0917
    schema, cri_api, daemon_factory, workdir, token_registry
):
    password = token_registry.password
    registries = _registry(token_registry, username=token_registry.username, password=password)
    role_vars = _role_vars(workdir, schema, registries)

    twin_rc, twin_out, twin = _run_role(workdir, role_vars, "--check", "--diff", "-v")
    assert twin_rc == 0, twin_out[-4000:]
    assert "RESULT changed=True" in twin, twin_out[-4000:]
    assert not (workdir / "etc").exists()  # the check-mode twin wrote nothing
    assert password not in twin_out

    rc, out, first = _run_role(workdir, role_vars, "--diff", "-v")
    assert rc == 0, out[-4000:]
    config = workdir / "etc" / "config.toml"
    assert "RESULT changed=True" in first and str(config) in first, first
    # The credentials are kept when the runtimes role renders config.toml again.
    assert "RECONFIGURED changed=False" in first, first
    assert password not in out
    assert config.stat().st_mode & 0o777 == 0o600
    lines = config.read_text().splitlines()
    assert lines[0].startswith("# Written by") and lines[1] == f"version = {schema}", lines[:2]

    rc, out, again = _run_role(workdir, role_vars, "--diff", "-vvv")
    assert rc == 0 and "RESULT changed=False" in again, out[-4000:]
    assert password not in out
    rc, out, again_twin = _run_role(workdir, role_vars, "--check", "--diff")
    assert rc == 0 and "RESULT changed=False" in again_twin, out[-4000:]

    daemon = daemon_factory(schema)
    daemon.start()
    asked = len(token_registry.tokens.requests)
    image = f"{token_registry.host}/test/busybox:1"
    pulled = _pull(cri_api, daemon.address, image)
    assert not isinstance(pulled, grpc.RpcError), pulled.details()
    assert image in daemon.images()
    logins = token_registry.tokens.requests[asked:]
    assert {"method": "GET", "scope": "repository:test/busybox:pull", "granted": "True"} in logins, logins


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"password": "{secret}"}, '"].password: needs username'),
        ({"username": "u", "password": "{secret}", "identity_token": "{secret}"}, '"]: password and identity_token'),
        ({"username": "u", "password": "{secret}\nmore"}, '"].password: must be one line'),
    ],
    ids=["password-without-username", "password-and-identity-token", "line-break"],
)
def test_the_role_refuses_bad_credentials_before_anything_changes(settings, named, workdir, token_registry):
    secret = "sec-" + secrets.token_hex(8)
    settings = {key: value.replace("{secret}", secret) for key, value in settings.items()}
    role_vars = _role_vars(workdir, 2 if shutil.which("containerd") else 3, {token_registry.host: settings})
    rc, out, result = _run_role(workdir, role_vars, "--diff", "-v")
    assert rc != 0 and result == "", out[-4000:]
    assert f'containerd_registries["{token_registry.host}{named}' in out, out[-4000:]
    assert secret not in out
    assert not (workdir / "etc").exists()
