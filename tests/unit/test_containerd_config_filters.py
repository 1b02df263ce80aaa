"""containerd_dropins_checked and containerd_runc_handlers: what the containerd role's config is made of."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.ocistack.engine.plugins.filter.containerd_dropins_checked import containerd_dropins_checked
from ansible_collections.ocistack.engine.plugins.filter.containerd_runc_handlers import containerd_runc_handlers

# The shape of the role's schema-2 main file (vars/main.yml) with an override of the opt plugin.
MAIN_V2 = {
    "version": 2,
    "plugins": {
        "io.containerd.grpc.v1.cri": {"sandbox_image": "registry.k8s.io/pause:3.10"},
        "io.containerd.internal.v1.opt": {"path": "/opt/containerd"},
        "io.containerd.snapshotter.v1.zfs": None,  # removed by an override: not in config.toml
    },
}
CRI_DROPIN = {"plugins": {"io.containerd.grpc.v1.cri": {"enable_unprivileged_ports": True}}}
GC_DROPIN = {"plugins": {"io.containerd.gc.v1.scheduler": {"pause_threshold": 0.05}}}


def test_schema_2_allows_tables_the_main_file_does_not_set():
    dropins = {"gc": GC_DROPIN, "zfs": {"plugins": {"io.containerd.snapshotter.v1.zfs": {"root_path": "/z"}}}}
    assert containerd_dropins_checked(dropins, MAIN_V2, 2) is dropins


def test_schema_2_refuses_an_owned_table_naming_the_variable_the_dropin_and_the_table():
    with pytest.raises(AnsibleFilterError) as caught:
        containerd_dropins_checked({"gc": GC_DROPIN, "cri-extra": CRI_DROPIN}, MAIN_V2, 2)
    message = str(caught.value)
    assert message.startswith('containerd_config_dropins.cri-extra sets plugins."io.containerd.grpc.v1.cri"')
    assert "containerd issue 5837" in message
    assert "containerd_config_overrides" in message
    assert "containerd_config_dropins.gc" not in message


def test_schema_2_lists_every_clash_of_every_dropin():
    dropins = {
        "b": {"plugins": {"io.containerd.internal.v1.opt": {"path": "/x"}, "io.containerd.grpc.v1.cri": {}}},
        "a": CRI_DROPIN,
    }
    with pytest.raises(AnsibleFilterError) as caught:
        containerd_dropins_checked(dropins, MAIN_V2, "2")
    assert str(caught.value).startswith(
        'containerd_config_dropins.a sets plugins."io.containerd.grpc.v1.cri"; '
        'containerd_config_dropins.b sets plugins."io.containerd.grpc.v1.cri", plugins."io.containerd.internal.v1.opt":'
    )


def test_schema_3_merges_so_owned_tables_are_allowed():
    main_v3 = {"version": 3, "plugins": {"io.containerd.cri.v1.runtime": {"containerd": {}}}}
    dropins = {"cri": {"plugins": {"io.containerd.cri.v1.runtime": {"enable_unprivileged_ports": False}}}}
    assert containerd_dropins_checked(dropins, main_v3, 3) is dropins


def test_top_level_keys_are_not_plugin_tables():
    dropins = {"grpc": {"grpc": {"max_recv_message_size": 1024}, "debug": {"level": "debug"}}}
    assert containerd_dropins_checked(dropins, MAIN_V2, 2) is dropins


@pytest.mark.parametrize(
    ("dropins", "message"),
    [
        ({"x": "text"}, r"^my_dropins\.x: must be a dict"),
        ({"x": {"version": 2}}, r"^my_dropins\.x: must not set version"),
        ({"x": {"plugins": ["io.containerd.grpc.v1.cri"]}}, r"^my_dropins\.x: plugins must be a dict"),
        (["x"], r"^my_dropins: must be a dict"),
    ],
)
def test_malformed_dropins_refused_on_every_schema(dropins, message):
    for schema in (2, 3):
        with pytest.raises(AnsibleFilterError, match=message):
            containerd_dropins_checked(dropins, MAIN_V2, schema, "my_dropins")


def test_runc_shim_handlers_follow_the_cgroup_driver_unless_they_set_it():
    handlers = {
        "crun": {"runtime_type": "io.containerd.runc.v2", "options": {"BinaryName": "/usr/bin/crun"}},
        "runsc": {"runtime_type": "io.containerd.runc.v2", "options": {"BinaryName": "/w", "SystemdCgroup": False}},
        "bare": {"runtime_type": "io.containerd.runc.v2"},
        "kata": {"runtime_type": "io.containerd.kata.v2", "options": {"ConfigPath": "/k.toml"}},
    }
    result = containerd_runc_handlers(handlers, True)
    assert result == {
        "crun": {
            "runtime_type": "io.containerd.runc.v2",
            "options": {"SystemdCgroup": True, "BinaryName": "/usr/bin/crun"},
        },
        "runsc": {"runtime_type": "io.containerd.runc.v2", "options": {"SystemdCgroup": False, "BinaryName": "/w"}},
        "bare": {"runtime_type": "io.containerd.runc.v2", "options": {"SystemdCgroup": True}},
        "kata": {"runtime_type": "io.containerd.kata.v2", "options": {"ConfigPath": "/k.toml"}},
    }
    assert "SystemdCgroup" not in handlers["crun"]["options"]  # the input is left alone
    assert containerd_runc_handlers(handlers, "False")["crun"]["options"]["SystemdCgroup"] is False
    assert containerd_runc_handlers({}, True) == {}
