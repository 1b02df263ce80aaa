# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import json

from ansible_collections.ocistack.engine.plugins.module_utils._compare import (
    Difference,
    compare,
    env_to_dict,
    env_to_list,
    normalize,
    sort_by,
)


def test_normalize_sorts_dict_keys_recursively_and_keeps_list_order():
    value = {"b": 1, "a": {"z": [3, 1, {"y": 1, "x": 2}], "c": (1, 2)}}
    result = normalize(value)
    assert list(result) == ["a", "b"]
    assert list(result["a"]) == ["c", "z"]
    assert result["a"]["z"][:2] == [3, 1]
    assert list(result["a"]["z"][2]) == ["x", "y"]
    assert result["a"]["c"] == [1, 2]
    # the input is not modified
    assert list(value) == ["b", "a"]


def test_sort_by_makes_mount_order_irrelevant():
    first = [{"target": "/b", "source": "/x"}, {"target": "/a", "source": "/y"}]
    second = [{"source": "/y", "target": "/a"}, {"target": "/b", "source": "/x"}]
    assert sort_by(first, "target") == sort_by(second, "target")
    assert [m["target"] for m in sort_by(first, "target")] == ["/a", "/b"]
    assert sort_by(None, "target") is None


def test_env_forms():
    assert env_to_dict(["A=1", "B=x=y", "C"]) == {"A": "1", "B": "x=y", "C": ""}
    assert env_to_dict({"A": 1, "B": None}) == {"A": "1", "B": ""}
    assert env_to_dict(None) is None
    assert env_to_list({"B": "2", "A": "1"}) == ["A=1", "B=2"]
    assert env_to_dict(env_to_list({"Z": "1", "A": "x=y"})) == {"Z": "1", "A": "x=y"}


def test_difference_collects_before_and_after():
    difference = Difference()
    assert not difference.changed
    assert not difference
    assert difference.diff() == {"before": {}, "after": {}}
    difference.add("memory", 1, 2)
    difference.add("env", {"A": "1"}, {"A": "2"})
    assert difference.changed
    assert difference.keys == ["memory", "env"]
    assert difference.diff() == {"before": {"memory": 1, "env": {"A": "1"}}, "after": {"memory": 2, "env": {"A": "2"}}}
    assert "memory" in repr(difference)


def test_compare_equal_after_normalisation():
    desired = {"labels": {"b": "2", "a": "1"}, "args": ["sh", "-c"]}
    actual = {"args": ["sh", "-c"], "labels": {"a": "1", "b": "2"}, "extra": "ignored"}
    assert not compare(desired, actual).changed


def test_compare_reports_only_differing_keys():
    desired = {"memory": 64, "args": ["sh"], "hostname": None}
    actual = {"memory": 32, "args": ["sh"], "hostname": "old"}
    difference = compare(desired, actual)
    assert difference.keys == ["memory"]
    assert difference.diff() == {"before": {"memory": 32}, "after": {"memory": 64}}


def test_compare_list_order_matters_unless_sorted_by_caller():
    assert compare({"args": ["a", "b"]}, {"args": ["b", "a"]}).changed
    desired = {"mounts": sort_by([{"target": "/a"}, {"target": "/b"}], "target")}
    actual = {"mounts": sort_by([{"target": "/b"}, {"target": "/a"}], "target")}
    assert not compare(desired, actual).changed


def test_compare_none_handling():
    # ignore_none: a desired None is "not managed"
    assert not compare({"hostname": None}, {"hostname": "x"}).changed
    difference = compare({"hostname": None}, {"hostname": "x"}, ignore_none=False)
    assert difference.diff() == {"before": {"hostname": "x"}, "after": {"hostname": None}}
    # a key missing from actual compares as None
    assert compare({"hostname": "x"}, {}).diff() == {"before": {"hostname": None}, "after": {"hostname": "x"}}


def test_compare_absent_object_differs_everywhere():
    difference = compare({"a": 1, "b": {"y": 1, "x": 2}, "c": None}, None)
    assert difference.keys == ["a", "b"]
    assert difference.diff()["before"] == {"a": None, "b": None}
    # the diff is normalised, so it serialises the same whatever the input order
    assert json.dumps(difference.diff()["after"]["b"]) == '{"x": 2, "y": 1}'
