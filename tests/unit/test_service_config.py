# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""service_config: the restart decision, the health gate and the rollback, on real files.

systemd is a scripted stand-in here (this machine's PID 1 is not systemd); the molecule registry
scenario runs the module against real units (dockerd and the registry, rolled back for real)."""

from __future__ import annotations

import http.server
import os
import stat
import threading
from typing import List, Sequence, Tuple

import pytest

from ansible_collections.ocistack.engine.plugins.module_utils._errors import OptionError
from ansible_collections.ocistack.engine.plugins.module_utils._service_config import (
    ServiceFailure,
    parse_health,
    run,
)


class FakeHost:
    """systemctl/journalctl answers, and a health command that passes only on the file it is told."""

    def __init__(self, active: bool = True, enabled: bool = True, healthy_content: bytes = b"") -> None:
        self.active = active
        self.enabled = enabled
        self.healthy_content = healthy_content
        self.watched = ""
        self.calls: List[List[str]] = []

    def __call__(self, argv: Sequence[str], timeout: float) -> Tuple[int, str, str]:
        argv = list(argv)
        self.calls.append(argv)
        if argv[:2] == ["systemctl", "is-active"]:
            return (0 if self.active else 3), "", ""
        if argv[:2] == ["systemctl", "is-enabled"]:
            return (0 if self.enabled else 1), "", ""
        if argv[:2] in (["systemctl", "restart"], ["systemctl", "start"]):
            self.active = True
            return 0, "", ""
        if argv[:2] == ["systemctl", "enable"]:
            self.enabled = True
            return 0, "", ""
        if argv[0] == "systemctl":
            return 0, "", ""
        if argv[0] == "journalctl":
            return 0, 'started\nlevel=error msg="bad key"\nstopped\n', ""
        if argv[0] == "probe":
            with open(self.watched, "rb") as handle:
                return (0, "healthy\n", "") if handle.read() == self.healthy_content else (1, "", "refused")
        raise AssertionError(f"unexpected command {argv}")

    def ran(self, *prefix: str) -> int:
        return sum(1 for call in self.calls if call[: len(prefix)] == list(prefix))


def _params(path, content: str, **extra):
    params = {
        "service": "demo",
        "label": "demo",
        "directories": [],
        "files": [{"path": str(path), "content": content, "mode": "0640", "backup": True}],
        "permissions": [],
        "absent": [],
        "restart_on": None,
        "restart": False,
        "enabled": None,
        "health": [{"name": "demo answers", "argv": ["probe"], "expect": "healthy", "retries": 2, "delay": 0}],
        "journal_lines": 5,
        "journal_match": "error",
    }
    params.update(extra)
    return params


def _no_sleep(_seconds: float) -> None:
    pass


def test_a_changed_file_restarts_and_checks_health_and_a_rerun_does_nothing(tmp_path) -> None:
    conf = tmp_path / "demo.conf"
    conf.write_text("old\n")
    host = FakeHost(healthy_content=b"new\n")
    host.watched = str(conf)
    first = run(_params(conf, "new\n"), False, True, runner=host, sleep=_no_sleep)
    assert first["changed"] and first["restarted"] and first["restart_reasons"] == [str(conf)]
    assert first["health"] == [{"name": "demo answers", "passed": True, "attempts": 1, "output": "healthy"}]
    assert host.ran("systemctl", "restart") == 1 and host.ran("systemctl", "daemon-reload") == 1
    assert conf.read_text() == "new\n"
    with open(first["backups"][str(conf)]) as backup:
        assert backup.read() == "old\n"
    assert first["diff"][0]["before"] == "old\n" and first["diff"][0]["after"] == "new\n"

    second = run(_params(conf, "new\n"), False, True, runner=host, sleep=_no_sleep)
    assert not second["changed"] and not second["restarted"] and second["health"] == []
    assert host.ran("systemctl", "restart") == 1


def test_check_mode_reports_the_restart_and_touches_nothing(tmp_path) -> None:
    conf = tmp_path / "demo.conf"
    conf.write_text("old\n")
    host = FakeHost()
    result = run(_params(conf, "new\n"), True, True, runner=host, sleep=_no_sleep)
    assert result["changed"] and result["restarted"] and result["diff"][0]["after"] == "new\n"
    assert conf.read_text() == "old\n"
    assert [call[:2] for call in host.calls] == [["systemctl", "is-active"]]


def test_a_failed_health_check_restores_every_file_restarts_on_them_and_fails_with_the_journal(tmp_path) -> None:
    conf, extra = tmp_path / "demo.conf", tmp_path / "extra.conf"
    conf.write_text("old\n")
    os.chmod(conf, 0o600)
    host = FakeHost(healthy_content=b"old\n")
    host.watched = str(conf)
    params = _params(conf, "new\n")
    params["files"].append({"path": str(extra), "content": "made by this run\n", "mode": "0644"})
    with pytest.raises(ServiceFailure) as failure:
        run(params, False, False, runner=host, sleep=_no_sleep)
    message = str(failure.value)
    assert "demo failed after the change (health check 'demo answers' failed after 2 attempts" in message
    assert f"The previous files were restored ({conf}, {extra}) and demo runs on them again." in message
    assert 'demo\'s log (errors): level=error msg="bad key"' in message and "started" not in message
    assert conf.read_text() == "old\n" and stat.S_IMODE(os.stat(conf).st_mode) == 0o600
    assert not extra.exists()
    assert failure.value.result["rolled_back"] == [str(conf), str(extra)]
    assert host.ran("systemctl", "restart") == 2 and host.ran("systemctl", "reset-failed") == 2


def test_a_failure_with_nothing_changed_says_there_was_nothing_to_roll_back(tmp_path) -> None:
    conf = tmp_path / "demo.conf"
    conf.write_text("same\n")
    host = FakeHost(healthy_content=b"other\n")
    host.watched = str(conf)
    with pytest.raises(ServiceFailure, match="nothing to roll back"):
        run(_params(conf, "same\n", restart=True), False, False, runner=host, sleep=_no_sleep)
    assert host.ran("systemctl", "restart") == 1


def test_restart_on_limits_what_restarts_and_a_stopped_unit_is_started(tmp_path) -> None:
    conf, cert = tmp_path / "demo.conf", tmp_path / "certs.d" / "ca.crt"
    conf.write_text("same\n")
    cert.parent.mkdir()
    host = FakeHost(active=False, enabled=False, healthy_content=b"same\n")
    host.watched = str(conf)
    params = _params(conf, "same\n", restart_on=[str(conf)], enabled=True)
    params["files"].append({"path": str(cert), "content": "CA\n"})
    result = run(params, False, False, runner=host, sleep=_no_sleep)
    assert result["written"] == [str(cert)] and not result["restarted"] and result["started"]
    assert host.ran("systemctl", "start") == 1 and host.ran("systemctl", "restart") == 0
    assert host.ran("systemctl", "enable") == 1 and result["health"][0]["passed"]


def test_a_directory_in_restart_on_covers_its_files(tmp_path) -> None:
    (tmp_path / "d").mkdir()
    host = FakeHost(healthy_content=b"x\n")
    host.watched = str(tmp_path / "d" / "a.conf")
    result = run(_params(tmp_path / "d" / "a.conf", "x\n", restart_on=[f"{tmp_path}/d/"]), False, False, runner=host)
    assert result["restart_reasons"] == [f"{tmp_path}/d/a.conf"]


@pytest.mark.parametrize(
    ("entry", "option"),
    [
        ({"name": "both", "argv": ["true"], "url": "http://x/"}, "health[0]"),
        ({"name": "neither"}, "health[0]"),
        ({"url": "ftp://x/"}, "health[0].url"),
        ({"argv": ["true"], "expect": "("}, "health[0].expect"),
        ({"argv": ["true"], "retries": 0}, "health[0].retries"),
    ],
)
def test_bad_health_entries_are_refused_naming_the_option(entry, option) -> None:
    with pytest.raises(OptionError) as error:
        parse_health([entry])
    assert str(error.value).startswith(f"{option}:")


def test_bad_input_fails_before_any_file_changes(tmp_path) -> None:
    conf = tmp_path / "demo.conf"
    conf.write_text("old\n")
    host = FakeHost()
    with pytest.raises(OptionError):
        run(_params(conf, "new\n", health=[{"url": "nope"}]), False, False, runner=host)
    assert conf.read_text() == "old\n" and host.calls == []


def test_a_url_check_passes_on_the_status_asked_and_fails_on_another_or_no_answer() -> None:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            self.send_response(401 if self.path == "/v2/" else 404)
            self.end_headers()

        def log_message(self, *_args) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        (ok,) = parse_health([{"url": f"{base}/v2/", "status": [401], "retries": 1}])
        (other,) = parse_health([{"url": f"{base}/other", "status": [200, 401], "retries": 1}])
        assert ok.probe(FakeHost()) == (True, f"{base}/v2/ answered 401")
        assert other.probe(FakeHost()) == (False, f"{base}/other answered 404, not 200 or 401")
    finally:
        server.shutdown()
        server.server_close()
    (gone,) = parse_health([{"url": f"{base}/v2/", "retries": 1, "timeout": 2}])
    passed, seen = gone.probe(FakeHost())
    assert not passed and seen.startswith(f"{base}/v2/:")
