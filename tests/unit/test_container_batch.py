# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""containerd_containers' pure parts: item validation against containerd_container's spec, parallel runs."""

from __future__ import annotations

import threading
import time

import pytest

from ansible_collections.ocistack.engine.plugins.module_utils._container_batch import (
    ITEM_OPTIONS,
    check_defaults,
    item_params,
)
from ansible_collections.ocistack.engine.plugins.module_utils._containerd_view import run_parallel
from ansible_collections.ocistack.engine.plugins.module_utils._errors import OptionError


def test_item_gets_defaults_then_the_single_modules_builtin_defaults():
    params = item_params(
        {"name": "web-1", "env": {"ID": "1"}},
        {"image": "ocistack.test/busybox:latest", "stop_timeout": "3", "env": {"ID": "shared"}},
        "containers[0]",
    )
    assert params["image"] == "ocistack.test/busybox:latest"
    assert params["env"] == {"ID": "1"}, "the item's own value wins over the default"
    assert params["stop_timeout"] == 3, "converted as containerd_container converts it"
    assert params["state"] == "started"
    assert params["runtime"] == "io.containerd.runc.v2"
    assert params["cni_bin_dirs"] == ["/opt/cni/bin", "/usr/lib/cni"]


def test_item_null_means_not_given():
    params = item_params({"name": "a", "image": None}, {"image": "ocistack.test/busybox:latest"}, "containers[0]")
    assert params["image"] == "ocistack.test/busybox:latest"


@pytest.mark.parametrize(
    ("item", "words"),
    [
        ({"name": "a", "image": "x.io/a:1", "state": "sideways"}, ["containers[2] (a)", "state", "sideways"]),
        ({"name": "a", "image": "x.io/a:1", "color": "red"}, ["containers[2] (a)", "color"]),
        ({"name": "a", "image": "x.io/a:1", "pids_limit": "many"}, ["containers[2] (a)", "pids_limit"]),
        ({"name": "a"}, ["containers[2] (a)", "image"]),
        ({"image": "x.io/a:1"}, ["containers[2]", "name"]),
        ({"name": "a", "image": "x.io/a:1", "mounts": [{"source": "/x"}]}, ["containers[2] (a)", "target"]),
    ],
)
def test_bad_item_names_itself_and_the_option(item, words):
    with pytest.raises(OptionError) as caught:
        item_params(item, {}, "containers[2]")
    for word in words:
        assert word in str(caught.value)


def test_item_that_is_not_a_dict():
    with pytest.raises(OptionError, match=r"^containers\[0\]: must be a dict"):
        item_params(["name", "a"], {}, "containers[0]")


def test_defaults_take_item_options_but_not_name():
    check_defaults({option: None for option in ITEM_OPTIONS if option != "name"})
    for bad in ({"name": "x"}, {"address": "/run/x.sock"}, {"colour": 1}):
        with pytest.raises(OptionError, match=r"^defaults: "):
            check_defaults(bad)


def test_item_options_are_the_single_modules_minus_connection_and_registry():
    assert "name" in ITEM_OPTIONS and "stop_timeout" in ITEM_OPTIONS
    assert not {"address", "namespace", "username", "password", "plain_http"} & set(ITEM_OPTIONS)


def test_run_parallel_keeps_order_and_overlaps():
    active, peak = [0], [0]
    lock = threading.Lock()

    def slow_square(value):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.05)
        with lock:
            active[0] -= 1
        return value * value

    assert run_parallel(slow_square, [3, 1, 2, 5], 4) == [9, 1, 4, 25]
    assert peak[0] > 1
    peak[0] = 0
    assert run_parallel(slow_square, [3, 1], 1) == [9, 1]
    assert peak[0] == 1


def test_run_parallel_finishes_every_item_before_raising():
    done = []

    def work(value):
        if value == 1:
            raise ValueError("one failed")
        time.sleep(0.05)
        done.append(value)
        return value

    with pytest.raises(ValueError, match="one failed"):
        run_parallel(work, [0, 1, 2, 3], 2)
    assert sorted(done) == [0, 2, 3]
