"""The drift report's reading of task results: what counts as a change, and what no_log hides."""

from __future__ import annotations

from ansible_collections.ocistack.engine.plugins.callback.drift_report import changes_of, summarize

DIFF = {"before": "a\n", "after": "b\n"}
CENSORED = "the output has been hidden due to the fact that 'no_log: true' was specified for this result"


def test_an_unchanged_result_is_no_change():
    assert changes_of({"changed": False, "diff": DIFF}) == []
    assert changes_of({}) == []


def test_a_changed_result_keeps_its_diffs_as_a_list():
    assert changes_of({"changed": True, "diff": DIFF}) == [{"diff": [DIFF]}]
    assert changes_of({"changed": True, "diff": [DIFF, DIFF]}) == [{"diff": [DIFF, DIFF]}]
    assert changes_of({"changed": True}) == [{"diff": []}]


def test_a_loop_gives_one_change_per_changed_item():
    result = {
        "changed": True,
        "results": [
            {"changed": True, "item": "one", "diff": DIFF},
            {"changed": False, "item": "two", "diff": DIFF},
            {"changed": True, "item": {"name": "three"}},
        ],
    }
    assert changes_of(result) == [{"item": "one", "diff": [DIFF]}, {"item": {"name": "three"}, "diff": []}]


def test_a_no_log_result_keeps_only_that_it_changed():
    assert changes_of({"changed": True, "censored": CENSORED}) == [{"diff": [], "no_log": True}]
    # Whatever else a censored result might carry, none of it is reported.
    assert changes_of({"changed": True, "censored": CENSORED, "diff": {"after": "secret"}}) == [
        {"diff": [], "no_log": True}
    ]


def test_no_log_loop_items_hide_their_item_and_diff():
    result = {
        "changed": True,
        "censored": CENSORED,
        "results": [{"changed": True, "censored": CENSORED}, {"changed": True, "item": "secret", "diff": DIFF}],
    }
    assert changes_of(result) == [{"diff": [], "no_log": True}, {"diff": [], "no_log": True}]
    one_hidden_item = {"changed": True, "results": [{"changed": True, "censored": CENSORED, "item": "x"}]}
    assert changes_of(one_hidden_item) == [{"diff": [], "no_log": True}]


def test_summary_counts_hosts_changes_and_failures():
    hosts = {
        "h1": {"changes": [], "changed_tasks": 0, "failed": 0, "unreachable": False},
        "h2": {"changes": [{}, {}, {}], "changed_tasks": 2, "failed": 1, "unreachable": False},
        "h3": {"changes": [], "changed_tasks": 0, "failed": 0, "unreachable": True},
    }
    assert summarize(hosts) == {
        "hosts": 3,
        "hosts_with_drift": 1,
        "changes": 3,
        "changed_tasks": 2,
        "failed": 1,
        "unreachable": 1,
    }
