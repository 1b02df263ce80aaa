"""The workload_batches filter: entries grouped per namespace and registry access, passed through."""

from __future__ import annotations

from ansible_collections.ocistack.engine.plugins.filter.workload_batches import workload_batches


def test_groups_by_namespace_and_credentials_and_passes_keys_through():
    entries = [
        {"name": "a", "image": "r.test/a:1", "published_ports": ["8080:80"], "labels": {"team": "x"}},
        {"name": "b", "image": "r.test/b:1", "namespace": "other", "unknown_key": 1},
        {"name": "c", "image": "r.test/c:1", "username": "u", "password": "p"},
        {"name": "d", "state": "absent"},
    ]
    batches = workload_batches(entries, "ocistack", "ocistack.workloads/managed")
    by_key = {(b["namespace"], b["username"]): b for b in batches}
    assert set(by_key) == {("ocistack", None), ("other", None), ("ocistack", "u")}
    plain = by_key[("ocistack", None)]["containers"]
    assert [item["name"] for item in plain] == ["a", "d"]
    assert plain[0]["published_ports"] == ["8080:80"]
    assert plain[0]["labels"] == {"team": "x", "ocistack.workloads/managed": "true"}
    # Unknown keys reach the module, which names them; namespace and credentials do not.
    other = by_key[("other", None)]["containers"][0]
    assert other["unknown_key"] == 1 and "namespace" not in other
    private = by_key[("ocistack", "u")]
    assert private["password"] == "p" and "password" not in private["containers"][0]


def test_an_identity_token_is_a_batch_key_not_an_item_key():
    entries = [
        {"name": "a", "image": "r.test/a:1", "identity_token": "t1"},
        {"name": "b", "image": "r.test/b:1", "identity_token": "t1"},
        {"name": "c", "image": "r.test/c:1", "identity_token": "t2"},
    ]
    batches = workload_batches(entries, "ocistack", "ocistack.workloads/managed")
    assert [(b["identity_token"], [i["name"] for i in b["containers"]]) for b in batches] == [
        ("t1", ["a", "b"]),
        ("t2", ["c"]),
    ]
    assert all("identity_token" not in item for b in batches for item in b["containers"])
