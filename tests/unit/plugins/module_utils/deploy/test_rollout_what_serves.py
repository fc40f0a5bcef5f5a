from types import SimpleNamespace

import pytest

from ansible_collections.auraspeak.ops.plugins.module_utils._deploy.rollout import _what_serves

RUNNING, STOPPED = SimpleNamespace(running=True), SimpleNamespace(running=False)


@pytest.mark.parametrize(
    ('keep', 'remove', 'expected'),
    [
        ([], [RUNNING, RUNNING], 'the previous release keeps serving'),
        ([RUNNING], [], 'the previous release keeps serving'),
        ([], [STOPPED, RUNNING], 'the previous release keeps serving'),
        ([], [STOPPED, STOPPED], 'no app container ran before this run either: they were stopped'),
        ([], [], 'no app container ran before this run either'),
    ],
)
def test_a_failed_gate_says_what_serves(keep, remove, expected):
    plan = SimpleNamespace(keep=keep, remove=remove, spec=SimpleNamespace(name='app'))
    assert _what_serves(plan) == expected
