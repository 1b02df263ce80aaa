"""Pure logic of the workload options: port mappings, DNS and host files, the log driver, runtime names."""

from __future__ import annotations

import json
import os
import socket
import struct
import threading

import pytest

from ansible_collections.ocistack.engine.plugins.module_utils import _server
from ansible_collections.ocistack.engine.plugins.module_utils._cni import format_ports, parse_published_ports
from ansible_collections.ocistack.engine.plugins.module_utils._container_request import LABEL_RESTART_STATUS, status_of
from ansible_collections.ocistack.engine.plugins.module_utils._errors import OptionError
from ansible_collections.ocistack.engine.plugins.module_utils._etc_files import (
    container_hostname,
    render_hosts,
    render_resolv_conf,
    validate_dns,
)
from ansible_collections.ocistack.engine.plugins.module_utils._log_driver import (
    FileSink,
    JournalSink,
    journal_datagram,
    log_uri,
    read_file_logs,
    run_driver,
    validate_log_options,
)
from ansible_collections.ocistack.engine.plugins.module_utils._units import parse_bytes


def test_ports_parse_sort_and_show():
    ports = parse_published_ports(["127.0.0.1:53:5353/UDP", "8080:80", "[::1]:9000:9000"])
    assert format_ports(ports) == ["8080:80/tcp", "[::1]:9000:9000/tcp", "127.0.0.1:53:5353/udp"]
    assert ports[0] == {"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}


@pytest.mark.parametrize("value", ["80", "a:80", "70000:80", "80:0", "8080:80/sctp", "300.1.1.1:80:80"])
def test_bad_ports_name_the_option(value):
    with pytest.raises(OptionError, match="^published_ports: "):
        parse_published_ports([value])


def test_same_host_port_twice_is_refused_unless_protocol_or_address_differ():
    with pytest.raises(OptionError, match="again"):
        parse_published_ports(["8080:80", "8080:81"])
    with pytest.raises(OptionError, match="again"):
        parse_published_ports(["10.0.0.1:8080:80", "8080:81"])
    assert len(parse_published_ports(["8080:80", "8080:80/udp", "10.0.0.1:9090:80", "10.0.0.2:9090:80"])) == 4


def test_resolv_conf_drops_loopback_servers_and_falls_back():
    host = "nameserver 127.0.0.53\nsearch corp.test\noptions edns0 trust-ad\n"
    upstream = "nameserver 192.0.2.1\nnameserver 127.0.0.1\n"
    text = render_resolv_conf(validate_dns({}), host, upstream)
    assert "nameserver 192.0.2.1" in text and "127." not in text
    assert "search corp.test" in text and "options edns0 trust-ad" in text
    assert "nameserver 8.8.8.8" in render_resolv_conf(validate_dns({}), host, None)


def test_resolv_conf_overrides():
    dns = validate_dns({"dns_servers": ["192.0.2.53"], "dns_search_domains": [], "dns_options": ["ndots:2"]})
    text = render_resolv_conf(dns, "nameserver 192.0.2.1\nsearch corp.test\n")
    assert text.splitlines()[1:] == ["nameserver 192.0.2.53", "options ndots:2"]


@pytest.mark.parametrize(
    ("params", "option"),
    [
        ({"dns_servers": ["dns.example"]}, "dns_servers"),
        ({"dns_search_domains": ["bad domain"]}, "dns_search_domains"),
        ({"dns_options": ["a b"]}, "dns_options"),
        ({"etc_hosts": {"db": "10.0.0.300"}}, "etc_hosts"),
        ({"etc_hosts": {"bad_name!": "10.0.0.3"}}, "etc_hosts"),
    ],
)
def test_bad_dns_options(params, option):
    with pytest.raises(OptionError, match=f"^{option}: "):
        validate_dns(params)


def test_hosts_and_hostname():
    assert container_hostname("web_1.x", None) == "web-1-x"
    text = render_hosts("web", ["10.88.0.5/16"], {"db": "192.0.2.10"})
    assert "127.0.0.1\tlocalhost" in text and "10.88.0.5\tweb" in text and "192.0.2.10\tdb" in text
    assert "127.0.1.1\tweb" in render_hosts("web", [])


def test_log_options():
    assert validate_log_options("file", {"max_size": "1m", "max_files": 2}, parse_bytes) == {
        "max_size": 1048576,
        "max_files": 2,
    }
    assert validate_log_options("journald", None, parse_bytes) == {}
    for driver, options, option in [
        ("journald", {"max_size": "1m"}, "log_options"),
        ("none", {"max_files": 1}, "log_options"),
        ("file", {"max_files": 0}, "log_options"),
        ("file", {"rotate": 1}, "log_options"),
        ("syslog", None, "log_driver"),
    ]:
        with pytest.raises(OptionError, match=f"^{option}: "):
            validate_log_options(driver, options, parse_bytes)


def test_log_uri_is_what_the_shim_turns_into_arguments():
    uri = log_uri("/usr/local/lib/ocistack/bin/ocistack-log-driver", "file", {"max_size": 10, "max_files": 2}, "/l")
    assert (
        uri == "binary:///usr/local/lib/ocistack/bin/ocistack-log-driver?driver=file&dir=%2Fl&max_size=10&max_files=2"
    )


def test_journal_datagram_native_protocol():
    assert journal_datagram([("MESSAGE", b"hi\n"), ("PRIORITY", "6")]) == (
        b"MESSAGE\n" + struct.pack("<Q", 3) + b"hi\n\nPRIORITY=6\n"
    )


def test_file_sink_rotates_and_reads_back_oldest_first(tmp_path):
    path = tmp_path / "ns" / "web.log"
    sink = FileSink(str(path), max_size=20, max_files=3)
    for number in range(12):
        sink.write("stdout", f"line-{number:02d}\n".encode())
    assert sorted(os.listdir(path.parent)) == ["web.log", "web.log.1", "web.log.2"]
    assert all(os.path.getsize(path.parent / name) <= 20 for name in os.listdir(path.parent))
    assert read_file_logs(str(tmp_path), "ns", "web", 3) == ["line-09", "line-10", "line-11"]
    lines = read_file_logs(str(tmp_path), "ns", "web", 100)
    assert lines == sorted(lines) and lines[-1] == "line-11"


def test_driver_program_reads_fd_3_and_4_and_signals_ready_on_5(tmp_path):
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    ready_r, ready_w = os.pipe()
    saved = [os.dup(fd) for fd in (3, 4, 5)]
    try:
        for source, target in ((out_r, 3), (err_r, 4), (ready_w, 5)):
            os.dup2(source, target)
        for fd in (out_r, err_r, ready_w):
            os.close(fd)
        env = {"CONTAINER_ID": "web", "CONTAINER_NAMESPACE": "ns"}
        args = ["max_files", "2", "driver", "file", "dir", str(tmp_path), "max_size", "1000"]
        thread = threading.Thread(target=run_driver, args=(args, env))
        thread.start()
        assert os.read(ready_r, 1) == b""  # closed: ready
        os.write(out_w, b"hello\nworld")
        os.write(err_w, b"oops\n")
        os.close(out_w)
        os.close(err_w)
        thread.join(10)
    finally:
        for fd, target in zip(saved, (3, 4, 5)):
            os.dup2(fd, target)
            os.close(fd)
    assert sorted((tmp_path / "ns" / "web.log").read_text().splitlines()) == ["hello", "oops", "world"]


def test_runtime_names(tmp_path, monkeypatch):
    monkeypatch.setattr(_server, "available_runtimes", lambda: ["io.containerd.runc.v2"])
    record = tmp_path / "runtimes.json"
    record.write_text(
        json.dumps(
            {
                "crun": {"runtime_type": "io.containerd.runc.v2", "options": {"BinaryName": "/usr/bin/crun"}},
                "runsc": {"runtime_type": "io.containerd.runc.v2", "options": {"BinaryName": "/usr/local/sbin/w"}},
            }
        )
    )
    assert _server.resolve_runtime("runc", str(record)) == ("runc", "io.containerd.runc.v2", None)
    assert _server.resolve_runtime("crun", str(record)).binary == "/usr/bin/crun"
    assert _server.resolve_runtime("runsc", str(record)).binary == "/usr/local/sbin/w"
    assert _server.resolve_runtime("io.containerd.runc.v2", str(record)).binary is None
    with pytest.raises(OptionError, match=r"^runtime: .*runc, crun, runsc"):
        _server.resolve_runtime("kata", str(record))
    with pytest.raises(OptionError, match="^runtime: unknown runtime io.containerd.nope.v1"):
        _server.resolve_runtime("io.containerd.nope.v1", str(record))


def test_cgroup_driver_follows_containerds_config(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("[plugins.x.options]\n  SystemdCgroup = true\n")
    assert _server.cgroup_driver(str(config)) == "systemd"
    config.write_text("[plugins.x.options]\n  SystemdCgroup = false\n")
    assert _server.cgroup_driver(str(config)) == "cgroupfs"


def test_journal_entry_is_the_line_without_its_newline(tmp_path):
    path = str(tmp_path / "journal.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    JournalSink("ns", "plain", path).write("stdout", b"tick\n")
    datagram = server.recv(65536)
    assert b"MESSAGE=tick\n" in datagram and b"CONTAINERD_NAMESPACE=ns\n" in datagram


def test_a_stopped_container_whose_task_the_restart_monitor_deleted_is_stopped():
    assert status_of({"status": "running"}) == "running"
    assert status_of({"status": "stopped"}, {LABEL_RESTART_STATUS: "running"}) == "stopped"
    assert status_of(None, {LABEL_RESTART_STATUS: "stopped"}) == "stopped"
    assert status_of(None, {LABEL_RESTART_STATUS: "running"}) == "created"
    assert status_of(None) == "created"
