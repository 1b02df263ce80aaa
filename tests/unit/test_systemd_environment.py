"""systemd_environment: the drop-in text, and what it refuses."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.ocistack.engine.plugins.filter.systemd_environment import systemd_environment


def test_sorted_quoted_and_escaped():
    text = systemd_environment(
        {"NO_PROXY": "localhost,10.0.0.0/8", "HTTPS_PROXY": 'http://u:p%41@proxy:3128 "x" \\y', "DEBUG": True},
        "containerd_service_environment",
    )
    assert text.splitlines() == [
        "# Written by ocistack.engine from containerd_service_environment; edit that variable, not this file.",
        "[Service]",
        'Environment="DEBUG=true"',
        'Environment="HTTPS_PROXY=http://u:p%%41@proxy:3128 \\"x\\" \\\\y"',
        'Environment="NO_PROXY=localhost,10.0.0.0/8"',
    ]


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"HTTPS_PROXY": "http://a\nExecStartPre=/bin/evil"}, "line break"),
        ({"X": "a\rb"}, "line break"),
        ({"1BAD": "x"}, "not an environment variable name"),
        ({"BAD-NAME": "x"}, "not an environment variable name"),
        ({"LIST": ["a"]}, "must be a string"),
        ({"NONE": None}, "must be a string"),
    ],
)
def test_refused_naming_the_variable(environment, message):
    with pytest.raises(AnsibleFilterError, match=f"^docker_service_environment: .*{message}"):
        systemd_environment(environment, "docker_service_environment")


def test_not_a_dict_is_refused():
    with pytest.raises(AnsibleFilterError, match="^containerd_service_environment: must be a dict"):
        systemd_environment(["HTTPS_PROXY=x"], "containerd_service_environment")
