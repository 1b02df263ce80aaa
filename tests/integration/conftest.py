"""Session fixtures for the module integration tests: a private containerd, two registries, the test image.

Everything runs on this machine as plain processes under one temporary directory:
containerd with its own root/state/socket (CRI off, restart monitor every second), a plain
HTTP registry and a TLS registry with htpasswd auth (the `docker-registry` binary, Docker
Distribution 2.8) on random loopback ports. Teardown stops them and removes the directory.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
IMAGES_DIR = REPO_ROOT / ".cache" / "testbed" / "images"
REQUIRED_BINARIES = ("containerd", "ctr", "runc", "docker-registry", "skopeo", "htpasswd", "openssl")


def _missing_binaries() -> List[str]:
    return [name for name in REQUIRED_BINARIES if shutil.which(name) is None]


def pytest_collection_modifyitems(config, items):
    reason = None
    if os.geteuid() != 0:
        reason = "integration tests need root (containerd, runc)"
    elif _missing_binaries():
        reason = f"missing binaries: {', '.join(_missing_binaries())}"
    for item in items:
        # Only this helper's files: other integration tests bring their own requirements.
        if Path(str(item.fspath)).name.startswith("test_containerd_"):
            item.add_marker(pytest.mark.integration)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {what}")


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


class Containerd:
    """A containerd of the test session; `restart()` stops and starts the daemon (tasks survive)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.address = str(workdir / "containerd.sock")
        self.config = workdir / "config.toml"
        self.log = workdir / "containerd.log"
        self.config.write_text(
            "version = 2\n"
            f'root = "{workdir}/root"\n'
            f'state = "{workdir}/state"\n'
            # The CRI plugin is not needed here and wants CNI config; leave it out.
            'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
            "[grpc]\n"
            f'  address = "{self.address}"\n'
            "[ttrpc]\n"
            f'  address = "{self.address}.ttrpc"\n'
            '[plugins."io.containerd.internal.v1.restart"]\n'
            '  interval = "1s"\n'
        )
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.log, "ab")  # noqa: SIM115 - kept open for the daemon's lifetime
        self.proc = subprocess.Popen(
            ["containerd", "--config", str(self.config)], stdout=log, stderr=log, start_new_session=True
        )
        _wait_for(lambda: self.ctr(["version"], check=False).returncode == 0, 30, "containerd to answer")

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def kill_all_tasks(self) -> None:
        """Kill and delete every task of every namespace (tasks outlive containerd, so teardown does this first)."""
        for namespace in self.ctr(["namespaces", "ls", "-q"], check=False).stdout.split():
            for task in self.ctr(["tasks", "ls", "-q"], namespace=namespace, check=False).stdout.split():
                self.ctr(["tasks", "kill", "-a", "-s", "SIGKILL", task], namespace=namespace, check=False)
                time.sleep(0.2)
                self.ctr(["tasks", "delete", "-f", task], namespace=namespace, check=False)

    def ctr(self, args: List[str], namespace: str = "default", check: bool = True, **kwargs):
        return subprocess.run(
            ["ctr", "--address", self.address, "--namespace", namespace, *args],
            capture_output=True,
            text=True,
            check=check,
            timeout=120,
            **kwargs,
        )


@pytest.fixture(scope="session")
def session_dir() -> Iterator[Path]:
    # Short path: unix socket paths are limited to 108 bytes.
    path = Path(tempfile.mkdtemp(prefix="ocs-it-", dir="/tmp"))
    yield path
    subprocess.run(["umount", "-R", str(path)], capture_output=True, check=False)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def test_images() -> Path:
    subprocess.run(["bash", str(REPO_ROOT / "tests" / "testbed" / "test-image.sh")], check=True, capture_output=True)
    return IMAGES_DIR


@pytest.fixture(scope="session")
def containerd(session_dir: Path) -> Iterator[Containerd]:
    daemon = Containerd(session_dir / "containerd")
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.kill_all_tasks()
        daemon.stop()


@pytest.fixture(scope="session")
def imported_image(containerd: Containerd, test_images: Path) -> str:
    """The test image imported into the default namespace under its archive name."""
    containerd.ctr(["images", "import", str(test_images / "busybox.tar")])
    return "ocistack.test/busybox:latest"


class Registries:
    def __init__(self) -> None:
        self.plain_port = 0
        self.tls_port = 0
        self.username = "ocistack"
        self.password = ""
        self.ca_file = ""
        self.procs: List[subprocess.Popen] = []

    @property
    def plain(self) -> str:
        return f"127.0.0.1:{self.plain_port}"

    @property
    def tls(self) -> str:
        return f"127.0.0.1:{self.tls_port}"


def _make_tls(directory: Path) -> Dict[str, str]:
    """A throw-away CA and a server certificate for 127.0.0.1 signed by it."""
    ca_key, ca_crt = directory / "ca.key", directory / "ca.crt"
    key, csr, crt = directory / "registry.key", directory / "registry.csr", directory / "registry.crt"
    ext = directory / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=ocistack test CA",
            "-keyout", str(ca_key), "-out", str(ca_crt))  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(csr))
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca_crt), "-CAkey", str(ca_key), "-CAcreateserial",
            "-days", "2", "-extfile", str(ext), "-out", str(crt))  # fmt: skip
    return {"ca": str(ca_crt), "cert": str(crt), "key": str(key)}


def _start_registry(directory: Path, port: int, extra: str) -> subprocess.Popen:
    config = directory / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log: {level: error}\n"
        f"storage: {{filesystem: {{rootdirectory: {directory}/data}}, delete: {{enabled: true}}}}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n{extra}"
    )
    log = open(directory / "registry.log", "ab")  # noqa: SIM115 - kept open for the registry's lifetime
    proc = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=log, stderr=log, start_new_session=True)
    _wait_for(lambda: _port_open(port), 20, f"registry on port {port}")
    return proc


@pytest.fixture(scope="session")
def registries(session_dir: Path, test_images: Path) -> Iterator[Registries]:
    """A plain HTTP registry and a TLS + htpasswd one, both holding the test image as test/busybox:1."""
    result = Registries()
    result.password = "pw-" + secrets.token_hex(12)
    plain_dir, tls_dir = session_dir / "registry-plain", session_dir / "registry-tls"
    plain_dir.mkdir()
    tls_dir.mkdir()
    tls = _make_tls(tls_dir)
    result.ca_file = tls["ca"]
    htpasswd = subprocess.run(
        ["htpasswd", "-Bbn", result.username, result.password], check=True, capture_output=True, text=True
    ).stdout
    (tls_dir / "htpasswd").write_text(htpasswd)
    try:
        result.plain_port = _free_port()
        result.procs.append(_start_registry(plain_dir, result.plain_port, ""))
        result.tls_port = _free_port()
        result.procs.append(
            _start_registry(
                tls_dir,
                result.tls_port,
                f"  tls: {{certificate: {tls['cert']}, key: {tls['key']}}}\n"
                f"auth: {{htpasswd: {{realm: ocistack-test, path: {tls_dir}/htpasswd}}}}\n",
            )
        )
        # skopeo reads the credentials from an auth file, not argv.
        authfile = session_dir / "skopeo-auth.json"
        token = base64.b64encode(f"{result.username}:{result.password}".encode()).decode()
        authfile.write_text(json.dumps({"auths": {result.tls: {"auth": token}}}))
        os.chmod(authfile, 0o600)
        archive = f"docker-archive:{test_images / 'busybox.tar'}"
        for target in (f"{result.plain}/test/busybox:1", f"{result.tls}/test/busybox:1"):
            subprocess.run(
                ["skopeo", "copy", "-q", "--dest-tls-verify=false", "--authfile", str(authfile), archive,
                 f"docker://{target}"],
                check=True, capture_output=True,
            )  # fmt: skip
        yield result
    finally:
        for proc in result.procs:
            _stop(proc)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    """A registry token server as Docker Hub, GHCR or Harbor run one, small enough to read.

    ``GET /token?service=..&scope=repository:<name>:<actions>`` with basic auth, or ``POST`` an
    OAuth2 refresh-token grant with the identity token, answers an RS256 JWT whose ``x5c``
    header carries the signing certificate: Distribution (``auth: token``) trusts it because
    the same certificate is its ``rootcertbundle``. Wrong credentials get 401. Every request
    it answered is kept in ``requests`` (what was asked, never the secret).
    """

    issuer = "ocistack-test-issuer"
    service = "ocistack-test-registry"

    def __init__(self, directory: Path, username: str, password: str, identity_token: str) -> None:
        self.key, self.cert = directory / "signer.key", directory / "signer.crt"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=ocistack test token signer", "-keyout", str(self.key), "-out", str(self.cert)],
            check=True, capture_output=True,
        )  # fmt: skip
        der = subprocess.run(
            ["openssl", "x509", "-in", str(self.cert), "-outform", "DER"], check=True, capture_output=True
        ).stdout
        self.x5c = base64.b64encode(der).decode()
        self.basic = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        self.username, self.identity_token = username, identity_token
        self.requests: List[Dict[str, str]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.realm = f"http://127.0.0.1:{self.server.server_port}/token"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()

    def token(self, scope: str) -> str:
        now = int(time.time())
        access = []
        if scope.startswith("repository:"):
            _kind, name, actions = scope.split(":", 2)
            access.append({"type": "repository", "name": name, "actions": actions.split(",")})
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        claims = {"iss": self.issuer, "sub": self.username, "aud": self.service, "exp": now + 300,
                  "nbf": now - 30, "iat": now, "jti": secrets.token_hex(8), "access": access}  # fmt: skip
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", str(self.key)],
            input=signing_input.encode(), check=True, capture_output=True,
        ).stdout  # fmt: skip
        return f"{signing_input}.{_b64url(signature)}"

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args):
                pass

            def _answer(self, code: int, body: Dict[str, str]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # noqa: N802 - http.server's name
                query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
                granted = self.headers.get("Authorization") == server.basic
                server.requests.append({"method": "GET", "scope": query.get("scope", ""), "granted": str(granted)})
                if not granted:
                    return self._answer(401, {"details": "wrong username or password"})
                return self._answer(200, {"token": server.token(query.get("scope", ""))})

            def do_POST(self):  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length", "0"))
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                granted = form.get("grant_type") == "refresh_token" and form.get("refresh_token") == (
                    server.identity_token
                )
                server.requests.append({"method": "POST", "scope": form.get("scope", ""), "granted": str(granted)})
                if not granted:
                    return self._answer(401, {"details": "unknown refresh token"})
                return self._answer(200, {"access_token": server.token(form.get("scope", ""))})

        return Handler

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class TokenRegistry:
    """Distribution with ``auth: token`` over TLS (the session's test CA), holding test/busybox:1."""

    def __init__(self) -> None:
        self.port = 0
        self.username = "ocistack-token"
        self.password = ""
        self.identity_token = ""
        self.ca_file = ""
        self.tokens: TokenServer | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"


@pytest.fixture(scope="session")
def token_registry(session_dir: Path, test_images: Path) -> Iterator[TokenRegistry]:
    result = TokenRegistry()
    result.password = "tpw-" + secrets.token_hex(12)
    result.identity_token = "idt-" + secrets.token_hex(12)
    directory = session_dir / "registry-token"
    directory.mkdir()
    tls = _make_tls(directory)
    result.ca_file = tls["ca"]
    result.tokens = TokenServer(directory, result.username, result.password, result.identity_token)
    proc = None
    try:
        result.port = _free_port()
        proc = _start_registry(
            directory,
            result.port,
            f"  tls: {{certificate: {tls['cert']}, key: {tls['key']}}}\n"
            f"auth: {{token: {{realm: '{result.tokens.realm}', service: {TokenServer.service}, "
            f"issuer: {TokenServer.issuer}, rootcertbundle: {result.tokens.cert}}}}}\n",
        )
        # skopeo does the token flow itself; it reads the credentials from an auth file, not argv.
        authfile = directory / "skopeo-auth.json"
        auth = base64.b64encode(f"{result.username}:{result.password}".encode()).decode()
        authfile.write_text(json.dumps({"auths": {result.host: {"auth": auth}}}))
        os.chmod(authfile, 0o600)
        subprocess.run(
            ["skopeo", "copy", "-q", "--dest-tls-verify=false", "--authfile", str(authfile),
             f"docker-archive:{test_images / 'busybox.tar'}", f"docker://{result.host}/test/busybox:1"],
            check=True, capture_output=True,
        )  # fmt: skip
        yield result
    finally:
        if proc is not None:
            _stop(proc)
        result.tokens.close()


@pytest.fixture(scope="session")
def cni_network(session_dir: Path) -> Iterator[Dict[str, str]]:
    """A CNI conflist of our own: a private bridge (no gateway, no masquerade) with host-local IPAM.

    Only a bridge device and veth ends of our own appear on the machine; IPAM state stays in the
    session dir. Teardown deletes the bridge.
    """
    suffix = secrets.token_hex(3)
    bridge = f"ocsit{suffix}"
    subnet = f"10.254.{secrets.randbelow(200) + 20}.0/24"
    conf_dir = session_dir / "cni-conf"
    conf_dir.mkdir()
    name = f"ocsit-{suffix}"
    conflist = {
        "cniVersion": "0.4.0",
        "name": name,
        "plugins": [
            {
                "type": "bridge",
                "bridge": bridge,
                "isGateway": False,
                "ipMasq": False,
                "ipam": {"type": "host-local", "ranges": [[{"subnet": subnet}]], "dataDir": str(session_dir / "ipam")},
            }
        ],
    }
    (conf_dir / f"10-{name}.conflist").write_text(json.dumps(conflist))
    try:
        yield {"name": name, "conf_dir": str(conf_dir), "subnet": subnet, "bridge": bridge,
               "ipam_dir": str(session_dir / "ipam" / name)}  # fmt: skip
    finally:
        subprocess.run(["ip", "link", "delete", bridge], capture_output=True, check=False)


@pytest.fixture(scope="session")
def host_address() -> str:
    """This machine's first global IPv4 address: a published port must answer there, not only on a bridge."""
    out = subprocess.run(
        ["ip", "-4", "-j", "addr", "show", "scope", "global"], capture_output=True, text=True, check=False
    ).stdout
    for link in json.loads(out or "[]"):
        if link.get("ifname", "").startswith(("cni", "ocs", "veth", "podman")):
            continue
        for info in link.get("addr_info") or []:
            return info["local"]
    pytest.skip("no global IPv4 address on this machine")


@pytest.fixture(scope="session")
def port_network(session_dir: Path) -> Iterator[Dict[str, str]]:
    """A CNI network with a gateway, masquerade and portmap, like the cni role's default one."""
    if not os.path.exists("/usr/lib/cni/portmap") and not os.path.exists("/opt/cni/bin/portmap"):
        pytest.skip("no CNI portmap plugin")
    suffix = secrets.token_hex(3)
    bridge = f"ocspm{suffix}"
    subnet = f"10.253.{secrets.randbelow(200) + 20}.0/24"
    conf_dir = session_dir / f"cni-ports-{suffix}"
    conf_dir.mkdir()
    name = f"ocspm-{suffix}"
    conflist = {
        "cniVersion": "0.4.0",
        "name": name,
        "plugins": [
            {
                "type": "bridge",
                "bridge": bridge,
                "isGateway": True,
                "ipMasq": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": subnet}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": str(session_dir / "ipam-ports"),
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }
    (conf_dir / f"10-{name}.conflist").write_text(json.dumps(conflist))
    try:
        yield {"name": name, "conf_dir": str(conf_dir)}
    finally:
        subprocess.run(["ip", "link", "delete", bridge], capture_output=True, check=False)


@pytest.fixture
def namespace(containerd: Containerd) -> Iterator[str]:
    """A containerd namespace of the test's own; its containers, images and the namespace go afterwards."""
    name = "it-" + secrets.token_hex(4)
    yield name
    for container in containerd.ctr(["containers", "ls", "-q"], namespace=name, check=False).stdout.split():
        containerd.ctr(["containers", "rm", container], namespace=name, check=False)
    for image in containerd.ctr(["images", "ls", "-q"], namespace=name, check=False).stdout.split():
        containerd.ctr(["images", "rm", "--sync", image], namespace=name, check=False)
    containerd.ctr(["namespaces", "rm", name], check=False)


def _sample_process_args(stop: threading.Event, seen: List[str]) -> None:
    while not stop.is_set():
        seen.append(subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=False).stdout)
        time.sleep(0.02)


@pytest.fixture
def run_watching_argv(module_runner):
    """Run a module while sampling every process's argv: returns (result, samples), to show a secret never is on one."""

    def run(module: str, args: dict, **kwargs):
        stop, seen = threading.Event(), []
        sampler = threading.Thread(target=_sample_process_args, args=(stop, seen))
        sampler.start()
        try:
            return module_runner(module, args, **kwargs), seen
        finally:
            stop.set()
            sampler.join()

    return run


@pytest.fixture
def run_role(tmp_path: Path):
    """Run one of the collection's roles on this machine as a play includes it: returns the CompletedProcess.

    run(role, extra_vars, tasks_from=None, check=False); the collection comes from .cache/collections.
    """

    def run(role: str, extra_vars: dict, tasks_from: str | None = None, check: bool = False):
        playbook = tmp_path / "play.yml"
        playbook.write_text(
            "- hosts: localhost\n"
            "  connection: local\n"
            "  gather_facts: false\n"
            "  tasks:\n"
            "    - ansible.builtin.include_role:\n"
            f"        name: ocistack.engine.{role}\n" + (f"        tasks_from: {tasks_from}\n" if tasks_from else "")
        )
        env = dict(os.environ)
        env["ANSIBLE_COLLECTIONS_PATH"] = os.pathsep.join(
            [str(REPO_ROOT / ".cache" / "collections")]
            + ([env["ANSIBLE_COLLECTIONS_PATH"]] if env.get("ANSIBLE_COLLECTIONS_PATH") else [])
        )
        env.setdefault("ANSIBLE_LOCAL_TEMP", str(tmp_path / "ansible-tmp"))
        env["ANSIBLE_NOCOLOR"] = "1"
        argv = [
            "ansible-playbook", "-i", "localhost,", "-e", f"ansible_python_interpreter={sys.executable}",
            "-e", json.dumps(extra_vars), str(playbook),
        ]  # fmt: skip
        if check:
            argv.append("--check")
        return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300, check=False)

    return run
