# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import json
from pathlib import Path

import pytest

from ansible_collections.ocistack.engine.plugins.module_utils._errors import OptionError
from ansible_collections.ocistack.engine.plugins.module_utils._oci_spec import (
    DEFAULT_CAPABILITIES,
    DEFAULT_PATH,
    MIN_MEMORY,
    SPEC_OPTION_KEYS,
    build_spec,
    dump_spec,
    normalize_capability,
    parse_user,
    spec_digest,
)

FIXTURES = Path(__file__).parent / "fixtures" / "oci"
IMAGE = {"Entrypoint": ["/bin/entry"], "Cmd": ["serve", "--port", "80"], "Env": ["PATH=/bin", "A=image"], "User": ""}


def _option_error(options, image=None) -> OptionError:
    with pytest.raises(OptionError) as err:
        build_spec(options, image)
    return err.value


def test_minimal_spec_is_complete():
    spec = build_spec({"args": ["sh"]})
    assert spec["ociVersion"] == "1.0.2"
    process = spec["process"]
    assert process["terminal"] is False
    assert process["args"] == ["sh"]
    assert process["user"] == {"uid": 0, "gid": 0}
    assert process["cwd"] == "/"
    assert process["env"] == [f"PATH={DEFAULT_PATH}"]
    assert process["noNewPrivileges"] is True
    assert process["rlimits"] == [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}]
    caps = process["capabilities"]
    assert caps["bounding"] == caps["effective"] == caps["permitted"] == sorted(DEFAULT_CAPABILITIES)
    assert caps["ambient"] == []
    assert spec["root"] == {"path": "rootfs", "readonly": False}
    assert "hostname" not in spec
    assert "annotations" not in spec
    assert spec["linux"]["resources"] == {"devices": [{"allow": False, "access": "rwm"}]}
    assert "cgroupsPath" not in spec["linux"]


def test_defaults_match_what_runc_itself_generates():
    # tests/unit/fixtures/oci/runc-spec.json is `runc spec` output (see its .source sidecar)
    runc = json.loads((FIXTURES / "runc-spec.json").read_text())
    spec = build_spec({"args": ["sh"]})
    assert spec["mounts"] == runc["mounts"]
    assert sorted(spec["linux"]["maskedPaths"]) == sorted(runc["linux"]["maskedPaths"])
    assert spec["linux"]["readonlyPaths"] == runc["linux"]["readonlyPaths"]
    assert sorted(ns["type"] for ns in spec["linux"]["namespaces"]) == sorted(
        ns["type"] for ns in runc["linux"]["namespaces"]
    )
    # The capabilities are docker's default 14 (issue 17), a superset of what runc spec starts from.
    assert set(runc["process"]["capabilities"]["bounding"]) < set(spec["process"]["capabilities"]["bounding"])
    assert len(spec["process"]["capabilities"]["bounding"]) == 14
    assert spec["process"]["rlimits"] == runc["process"]["rlimits"]
    assert spec["linux"]["resources"]["devices"] == runc["linux"]["resources"]["devices"]


def test_image_config_provides_defaults():
    image = dict(IMAGE, WorkingDir="/srv", User="1000:1001")
    process = build_spec({}, image)["process"]
    assert process["args"] == ["/bin/entry", "serve", "--port", "80"]
    assert process["env"] == ["A=image", "PATH=/bin"]
    assert process["cwd"] == "/srv"
    assert process["user"] == {"uid": 1000, "gid": 1001}


def test_options_override_image_config():
    image = dict(IMAGE, WorkingDir="/srv", User="1000")
    options = {"args": ["sh", "-c", "true"], "env": {"A": "option", "B": 2, "PATH": None}, "cwd": "/tmp", "user": 7}
    process = build_spec(options, image)["process"]
    assert process["args"] == ["sh", "-c", "true"]
    # option wins, null removes the image's PATH (then the default PATH applies)
    assert process["env"] == ["A=option", "B=2", f"PATH={DEFAULT_PATH}"]
    assert process["cwd"] == "/tmp"
    assert process["user"] == {"uid": 7, "gid": 0}


def test_image_cmd_only_and_no_command_at_all():
    assert build_spec({}, {"Cmd": ["/bin/sh"]})["process"]["args"] == ["/bin/sh"]
    assert _option_error({}, {"Env": []}).option == "args"
    assert _option_error({}).option == "args"
    assert _option_error({"args": []}).option == "args"


@pytest.mark.parametrize(("user", "expected"), [("0", (0, 0)), ("1000:1000", (1000, 1000)), (65534, (65534, 0))])
def test_parse_user(user, expected):
    assert parse_user(user) == expected


@pytest.mark.parametrize("user", ["nobody", "nobody:nogroup", "1000:users", "-1", -1, True, ""])
def test_non_numeric_user_is_refused(user):
    err = _option_error({"args": ["sh"], "user": user})
    assert err.option == "user"
    assert "uid" in str(err)


def test_non_numeric_image_user_is_refused_with_advice():
    err = _option_error({}, dict(IMAGE, User="www-data"))
    assert err.option == "user"
    assert "www-data" in str(err) and "numeric uid:gid" in str(err)
    # the user option overrides the image's name
    assert build_spec({"user": "33:33"}, dict(IMAGE, User="www-data"))["process"]["user"] == {"uid": 33, "gid": 33}


def test_resources():
    spec = build_spec({"args": ["sh"], "memory": "64m", "cpus": "1.5", "cpu_shares": 512, "pids_limit": 100})
    resources = spec["linux"]["resources"]
    assert resources["memory"] == {"limit": 64 * 1024 * 1024}
    assert resources["cpu"] == {"quota": 150000, "period": 100000, "shares": 512}
    assert resources["pids"] == {"limit": 100}


def test_memory_minimum():
    assert build_spec({"args": ["sh"], "memory": MIN_MEMORY})["linux"]["resources"]["memory"]["limit"] == MIN_MEMORY
    err = _option_error({"args": ["sh"], "memory": "5m"})
    assert err.option == "memory"
    assert "6m" in str(err)
    assert _option_error({"args": ["sh"], "memory": "lots"}).option == "memory"


@pytest.mark.parametrize(
    ("options", "option"),
    [
        ({"cpus": 0}, "cpus"),
        ({"cpu_shares": 1}, "cpu_shares"),
        ({"cpu_shares": "many"}, "cpu_shares"),
        ({"pids_limit": 0}, "pids_limit"),
        ({"cwd": "relative"}, "cwd"),
        ({"hostname": "bad_name"}, "hostname"),
        ({"hostname": "x" * 65}, "hostname"),
        ({"hostname": "box", "namespaces": [{"type": "pid"}, {"type": "mount"}]}, "hostname"),
        ({"capabilities": ["CAP_FLY"]}, "capabilities"),
        ({"masked_paths": ["proc/kcore"]}, "masked_paths"),
        ({"readonly_paths": "/proc/sys"}, "readonly_paths"),
        ({"annotations": {"a": ["list"]}}, "annotations"),
        ({"annotations": ["a"]}, "annotations"),
        ({"env": {"A=B": "x"}}, "env"),
        ({"env": {"FLAG": True}}, "env"),
        ({"env": ["A=1"]}, "env"),
        ({"no_new_privileges": "yes"}, "no_new_privileges"),
        ({"readonly_rootfs": 1}, "readonly_rootfs"),
        ({"args": "sh -c true"}, "args"),
    ],
)
def test_bad_values_name_their_option(options, option):
    err = _option_error(dict({"args": ["sh"]}, **options))
    assert err.option == option
    assert str(err).startswith(f"{option}: ")


def test_namespaces():
    spec = build_spec(
        {
            "args": ["sh"],
            "namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "network", "path": "/var/run/netns/x"}, "ipc"],
        }
    )
    assert spec["linux"]["namespaces"] == [
        {"type": "pid"},
        {"type": "mount"},
        {"type": "network", "path": "/var/run/netns/x"},
        {"type": "ipc"},
    ]
    assert build_spec({"args": ["sh"], "namespaces": []})["linux"]["namespaces"] == []
    joined_user = build_spec({"args": ["sh"], "namespaces": [{"type": "user", "path": "/proc/1/ns/user"}]})
    assert joined_user["linux"]["namespaces"] == [{"type": "user", "path": "/proc/1/ns/user"}]


@pytest.mark.parametrize(
    ("namespaces", "text"),
    [
        ([{"type": "time"}], "unknown namespace type 'time'"),
        ([{"type": "pid"}, {"type": "pid"}], "twice"),
        ([{"type": "network", "path": "netns/x"}], "absolute"),
        ([{"type": "user"}], "user namespace"),
        ([{"type": "pid", "name": "x"}], "unknown keys"),
        ([42], "must be a dict"),
        ("pid", "expected a list"),
    ],
)
def test_bad_namespaces(namespaces, text):
    err = _option_error({"args": ["sh"], "namespaces": namespaces})
    assert err.option == "namespaces"
    assert text in str(err)


def test_mounts_are_added_after_defaults_and_replace_same_target():
    mounts = [
        {"source": "/srv/data", "target": "/data", "options": ["ro"]},
        {"type": "tmpfs", "target": "/dev/shm", "options": ["size=128m"]},
        {"type": "bind", "source": "/etc/hosts", "target": "/etc/hosts", "options": ["bind", "ro"]},
    ]
    spec = build_spec({"args": ["sh"], "mounts": mounts})
    destinations = [m["destination"] for m in spec["mounts"]]
    assert destinations == ["/proc", "/dev", "/dev/pts", "/dev/mqueue", "/sys", "/sys/fs/cgroup"] + [
        "/data",
        "/dev/shm",
        "/etc/hosts",
    ]
    data, shm = spec["mounts"][-3], spec["mounts"][-2]
    assert data == {"destination": "/data", "type": "bind", "source": "/srv/data", "options": ["rbind", "ro"]}
    assert shm == {"destination": "/dev/shm", "type": "tmpfs", "source": "tmpfs", "options": ["size=128m"]}
    assert spec["mounts"][-1]["options"] == ["bind", "ro"]


@pytest.mark.parametrize(
    ("mount", "text"),
    [
        ({"source": "/a"}, "needs a target"),
        ({"source": "/a", "target": "data"}, "absolute"),
        ({"target": "/data"}, "needs a source"),
        ({"source": "rel", "target": "/data"}, "absolute"),
        ({"source": "/a", "target": "/b", "readonly": True}, "unknown keys"),
        ("/a:/b", "must be a dict"),
    ],
)
def test_bad_mounts(mount, text):
    err = _option_error({"args": ["sh"], "mounts": [mount]})
    assert err.option == "mounts"
    assert text in str(err)


def test_capabilities_normalised_sorted_deduplicated():
    spec = build_spec({"args": ["sh"], "capabilities": ["net_admin", "CAP_KILL", "KILL", "chown"]})
    assert spec["process"]["capabilities"]["bounding"] == ["CAP_CHOWN", "CAP_KILL", "CAP_NET_ADMIN"]
    assert build_spec({"args": ["sh"], "capabilities": []})["process"]["capabilities"]["effective"] == []
    assert normalize_capability(" sys_admin ") == "CAP_SYS_ADMIN"


def test_other_options_land_where_runc_reads_them():
    spec = build_spec(
        {
            "args": ["sh"],
            "hostname": "web-1.example",
            "readonly_rootfs": True,
            "no_new_privileges": False,
            "masked_paths": [],
            "readonly_paths": ["/proc/sys"],
            "annotations": {"org.example/owner": "ops", "n": 1},
            "rootfs_path": "/var/lib/b/rootfs",
            "cgroups_path": "/ocistack/test",
        }
    )
    assert spec["hostname"] == "web-1.example"
    assert spec["root"] == {"path": "/var/lib/b/rootfs", "readonly": True}
    assert spec["process"]["noNewPrivileges"] is False
    assert spec["linux"]["maskedPaths"] == []
    assert spec["linux"]["readonlyPaths"] == ["/proc/sys"]
    assert spec["annotations"] == {"org.example/owner": "ops", "n": "1"}
    assert spec["linux"]["cgroupsPath"] == "/ocistack/test"


def test_none_means_not_set_for_every_key():
    assert build_spec(dict.fromkeys(SPEC_OPTION_KEYS), {"Cmd": ["sh"]}) == build_spec({}, {"Cmd": ["sh"]})


def test_unknown_option_key_is_a_caller_bug():
    with pytest.raises(ValueError, match="unknown option keys"):
        build_spec({"args": ["sh"], "image": "busybox"})


def test_deterministic_output_and_digest():
    options = {"args": ["sh"], "env": {"B": "2", "A": "1"}, "annotations": {"y": "1", "x": "2"}, "memory": "64m"}
    reordered = {"memory": 64 * 1024 * 1024, "annotations": {"x": "2", "y": "1"}, "env": {"A": "1", "B": "2"}}
    reordered["args"] = ["sh"]
    first, second = build_spec(options), build_spec(reordered)
    assert dump_spec(first) == dump_spec(second)
    assert spec_digest(first) == spec_digest(second)
    assert spec_digest(first).startswith("sha256:") and len(spec_digest(first)) == 71
    assert spec_digest(build_spec(dict(options, memory="65m"))) != spec_digest(first)
    # the result is a fresh object each time: callers may mutate it
    first["process"]["args"].append("x")
    assert build_spec(options)["process"]["args"] == ["sh"]


def test_dump_spec_is_json_with_newline():
    text = dump_spec(build_spec({"args": ["sh"]}))
    assert text.endswith("}\n")
    assert json.loads(text)["process"]["args"] == ["sh"]
