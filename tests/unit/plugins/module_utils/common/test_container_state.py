"""Which containers a stop, start or signal acts on, and what the module says about them."""

import pytest

from ansible_collections.auraspeak.ops.plugins.module_utils._common import container_state
from ansible_collections.auraspeak.ops.plugins.module_utils._common.engine import EngineError


def inspect(name, status, stop_timeout=None):
    config = {'Env': ['JWT_SECRET=never-shown']}
    if stop_timeout is not None:
        config['StopTimeout'] = stop_timeout
    return {'Id': name + '-id', 'Name': '/' + name, 'State': {'Status': status}, 'Config': config}


class Engine:
    """The calls container_state makes, answered from a table; records what it would change."""

    def __init__(self, *containers):
        self.by_key = {}
        for data in containers:
            self.by_key[data['Id']] = self.by_key[data['Name'].lstrip('/')] = data
        self.calls = []

    def container_ids(self, labels):
        self.calls.append(('ls', tuple(labels)))
        return [key for key in self.by_key if key.endswith('-id')]

    def inspect_container(self, name):
        return self.by_key.get(name)

    def inspect_containers(self, ids):
        return [self.by_key[i] for i in ids if i in self.by_key]

    def stop(self, graces):
        self.calls.append(('stop', graces))

    def start(self, ids):
        self.calls.append(('start', ids))

    def kill(self, container, signal):
        self.calls.append(('kill', container, signal))


def test_a_stop_acts_on_the_running_and_paused_each_with_its_grace():
    engine = Engine(inspect('a', 'running', 30), inspect('b', 'exited'), inspect('c', 'paused'))
    targets = container_state.find(engine, labels=['p=1'])
    changing = container_state.to_change(targets, 'stopped')
    container_state.apply(engine, changing, 'stopped', 'HUP')
    assert engine.calls[-1] == ('stop', {'a-id': 30, 'c-id': container_state.DEFAULT_GRACE})
    assert [t['changed'] for t in container_state.report(targets, changing)] == [True, False, True]


def test_a_start_acts_on_those_that_do_not_run_and_none_when_all_run():
    engine = Engine(inspect('a', 'running'), inspect('b', 'exited'), inspect('c', 'created'))
    targets = container_state.find(engine, containers=['a', 'b', 'c'])
    assert [t.name for t in container_state.to_change(targets, 'started')] == ['b', 'c']
    running = container_state.find(Engine(inspect('a', 'running')), containers=['a'])
    assert container_state.to_change(running, 'started') == []


def test_a_grace_of_zero_is_kept_not_replaced_by_the_default():
    targets = container_state.find(Engine(inspect('a', 'running', 0)), containers=['a'])
    assert targets[0].grace == 0


def test_a_container_named_twice_by_name_and_id_is_acted_on_once():
    engine = Engine(inspect('a', 'running'))
    assert [t.id for t in container_state.find(engine, containers=['a', 'a-id', 'a'])] == ['a-id']


def test_every_missing_container_is_named():
    engine = Engine(inspect('a', 'running'))
    with pytest.raises(EngineError, match='no container gone, lost on this engine'):
        container_state.find(engine, containers=['a', 'gone', 'lost'])


def test_a_signal_reaches_every_running_one_and_is_refused_when_one_does_not_run():
    engine = Engine(inspect('a', 'running'), inspect('b', 'running'))
    targets = container_state.find(engine, containers=['a', 'b'])
    container_state.apply(engine, container_state.to_change(targets, 'signalled'), 'signalled', 'HUP')
    assert engine.calls == [('kill', 'a-id', 'HUP'), ('kill', 'b-id', 'HUP')]
    stopped = container_state.find(Engine(inspect('a', 'running'), inspect('b', 'exited')), containers=['a', 'b'])
    with pytest.raises(EngineError, match='b is not running, so no process receives the signal'):
        container_state.to_change(stopped, 'signalled')


def test_the_report_shows_no_configuration():
    targets = container_state.find(Engine(inspect('a', 'running')), containers=['a'])
    report = container_state.report(targets, targets)
    assert report == [{'id': 'a-id', 'name': 'a', 'status': 'running', 'changed': True}]
    assert 'never-shown' not in repr(report)
