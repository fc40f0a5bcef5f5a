"""The health gate's wait: the engine's verdict for containers with a health
check, the deploy's own HTTP probe for those without one."""

import pytest

from ansible_collections.auraspeak.ops.plugins.module_utils._common.engine import EngineError
from ansible_collections.auraspeak.ops.plugins.module_utils._deploy.containers import wait_until_healthy


def inspected(cid, status='running', health=None, healthcheck=True, exit_code=0):
    state = {'Status': status, 'ExitCode': exit_code}
    if health:
        state['Health'] = {'Status': health, 'Log': []}
    config = {'Labels': {}, 'Image': 'app:1'}
    if healthcheck:
        config['Healthcheck'] = {'Test': ['CMD', 'true']}
    return {'Id': cid, 'Name': '/' + cid, 'Config': config, 'State': state, 'NetworkSettings': {'Networks': {}}}


class Engine:
    """Answers the engine's container inspect with one scripted state per poll."""

    def __init__(self, *polls):
        self.polls = list(polls)

    def inspect_containers(self, ids):
        state = self.polls.pop(0) if len(self.polls) > 1 else self.polls[0]
        return [data for data in state if data['Id'] in ids]


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def wait(engine, probe=None, timeout=10):
    clock = Clock()
    return wait_until_healthy(engine, ['a'], timeout, probe=probe, clock=clock, sleep=clock.sleep)


def test_a_container_without_a_health_check_is_healthy_once_the_probe_answers_200():
    answers = iter([(None, 'connection refused'), (503, 'starting'), (200, 'ok')])
    calls = []

    def probe(container):
        calls.append(container.id)
        return next(answers)

    result = wait(Engine([inspected('a', healthcheck=False)]), probe)
    assert result.failed == [] and [c.id for c in result.healthy] == ['a']
    assert calls == ['a', 'a', 'a']  # probed until 200, then no more


def test_the_probe_never_answering_fails_the_gate_with_its_last_answer():
    result = wait(Engine([inspected('a', healthcheck=False)]), lambda c: (503, 'database down'))
    assert result.healthy == [] and [c.id for c in result.failed] == ['a']
    assert result.reason == 'not healthy within 10 s: a answered 503: database down'


def test_a_container_that_exits_fails_at_once_and_is_not_probed():
    calls = []
    engine = Engine([inspected('a', status='exited', healthcheck=False, exit_code=3)])
    result = wait(engine, lambda c: calls.append(c) or (200, 'ok'))
    assert result.reason == 'not healthy: a exited (exit code 3)' and calls == []


def test_a_container_with_its_own_health_check_is_judged_by_the_engine_not_the_probe():
    engine = Engine([inspected('a', health='starting')], [inspected('a', health='healthy')])
    calls = []
    result = wait(engine, lambda c: calls.append(c) or (200, 'ok'))
    assert [c.id for c in result.healthy] == ['a'] and calls == []


def test_without_a_probe_a_container_without_a_health_check_never_counts_as_healthy():
    result = wait(Engine([inspected('a', healthcheck=False)]), probe=None, timeout=2)
    assert result.healthy == [] and result.reason == 'not healthy within 2 s: a without health status'


def test_a_container_removed_while_waited_for_is_an_error_that_names_it():
    engine = Engine([inspected('a', health='starting')], [])
    with pytest.raises(EngineError, match='containers a were removed while the deploy waited'):
        wait(engine)
