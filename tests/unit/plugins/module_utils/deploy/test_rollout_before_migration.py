from types import SimpleNamespace

import pytest

from ansible_collections.auraspeak.ops.plugins.module_utils._common.lock_heartbeat import LockLost
from ansible_collections.auraspeak.ops.plugins.module_utils._deploy.rollout import DeployFailed, Rollout

SNAPSHOT = ['/usr/local/bin/auraspeak-backup', '--config', '/etc/auraspeak/p/backup/backup.json', 'snapshot', '1.4.0']
MIGRATE = ['node', 'src/migrate.js', 'up']


class FakeProject:
    name = 'auraspeak'

    def __init__(self, calls, result=(0, 'migrated 0004\nmigrated 0005\n', '')):
        self.calls = calls
        self.result = result

    def run_once(self, service, command):
        self.calls.append(('run_once', service, list(command)))
        return self.result

    def up(self, names, wait_timeout=None, **kwargs):
        self.calls.append(('up', list(names), wait_timeout))


class FakeHost:
    def __init__(self, calls, result):
        self.calls = calls
        self.result = result

    def __call__(self, argv):
        self.calls.append(('host', list(argv)))
        return self.result


def rollout(
    calls, host_result=(0, '', ''), before=tuple(SNAPSHOT), project_result=(0, 'migrated 0004\nmigrated 0005\n', '')
):
    migrate = {'service': 'app', 'command': MIGRATE}
    if before is not None:
        migrate['before'] = list(before)
    settings = {
        'health_timeout': 30,
        'drain_timeout': 0,
        'migrate': migrate,
        'run_host_command': FakeHost(calls, host_result),
    }
    return Rollout(None, FakeProject(calls, project_result), None, settings, sleep=lambda _s: None)


def test_before_runs_first_and_its_output_is_kept():
    calls = []
    job = rollout(calls, host_result=(0, '{"id": "auraspeak-20261126T100000Z-pre-migration-1.4.0"}\n\n', 'noise'))
    job._migrate()
    assert calls == [('host', SNAPSHOT), ('run_once', 'app', MIGRATE)]
    assert job.actions == {
        'before_migration': '{"id": "auraspeak-20261126T100000Z-pre-migration-1.4.0"}',
        'migration': ['migrated 0004', 'migrated 0005'],
    }


def test_before_with_no_output():
    calls = []
    job = rollout(calls, host_result=(0, None, None))
    job._migrate()
    assert job.actions['before_migration'] == ''
    assert [c[0] for c in calls] == ['host', 'run_once']


@pytest.mark.parametrize('before', [None, [], ''])
def test_no_before_command(before):
    calls = []
    job = rollout(calls, before=before)
    job.settings['run_host_command'] = None  # would fail if called
    job._migrate()
    assert calls == [('run_once', 'app', MIGRATE)]
    assert 'before_migration' not in job.actions
    assert job.actions['migration'] == ['migrated 0004', 'migrated 0005']


def test_failed_before_stops_the_migration():
    calls = []
    out = ''.join('line %d\n' % n for n in range(50))
    job = rollout(calls, host_result=(3, out, 'ERROR: disk full\n'))
    with pytest.raises(DeployFailed) as info:
        job._migrate()
    assert calls == [('host', SNAPSHOT)]  # run_once was never called
    assert info.value.reason == (
        'the command before the migration (%s) failed with exit code 3; nothing was migrated or switched'
        % ' '.join(SNAPSHOT)
    )
    assert str(info.value) == info.value.reason
    output = info.value.details['before_migration_output']
    assert output == ['line %d' % n for n in range(11, 50)] + ['ERROR: disk full']
    assert list(info.value.details) == ['before_migration_output']
    assert job.actions == {}


def test_failed_before_with_no_output():
    calls = []
    job = rollout(calls, host_result=(1, None, None))
    with pytest.raises(DeployFailed) as info:
        job._migrate()
    assert info.value.details == {'before_migration_output': []}
    assert calls == [('host', SNAPSHOT)]


def test_failed_migration_after_before_keeps_the_before_output():
    calls = []
    job = rollout(calls, host_result=(0, 'snap-1\n', ''), project_result=(2, 'x\n', 'relation exists\n'))
    with pytest.raises(DeployFailed) as info:
        job._migrate()
    assert calls == [('host', SNAPSHOT), ('run_once', 'app', MIGRATE)]
    assert info.value.details == {'migration_output': ['x', 'relation exists']}
    assert job.actions == {'before_migration': 'snap-1'}


def plan(name, strategy, changes):
    return SimpleNamespace(spec=SimpleNamespace(name=name, strategy=strategy), changes=changes, keep=[], remove=[])


def test_run_calls_before_only_when_a_migration_runs():
    calls = []
    job = rollout(calls, host_result=(0, 'snap-1\n', ''))
    live = job.run({'app': plan('app', 'recreate', ['image'])})
    assert calls == [('up', ['app'], 30), ('host', SNAPSHOT), ('run_once', 'app', MIGRATE)]
    assert live == {}
    assert job.actions == {
        'app': 'recreated',
        'before_migration': 'snap-1',
        'migration': ['migrated 0004', 'migrated 0005'],
    }
    assert 'migrate' in job.durations

    calls.clear()
    job = rollout(calls)
    job.run({'app': plan('app', 'recreate', [])})
    assert calls == []


AFTER = ['/usr/local/bin/auraspeak-backup', 'snapshot-migrated', '1.4.0']


def test_after_runs_once_the_migration_succeeded():
    calls = []
    job = rollout(calls, host_result=(0, '{"writes": 42}\n', ''))
    job.settings['migrate']['after'] = AFTER
    job._migrate()
    assert calls == [('host', SNAPSHOT), ('run_once', 'app', MIGRATE), ('host', AFTER)]
    assert job.actions['after_migration'] == '{"writes": 42}'


def test_after_is_skipped_when_the_migration_fails():
    calls = []
    job = rollout(calls, project_result=(1, '', 'boom'))
    job.settings['migrate']['after'] = AFTER
    with pytest.raises(DeployFailed):
        job._migrate()
    assert ('host', AFTER) not in calls


def test_a_failing_after_command_is_a_warning():
    calls, warnings = [], []
    job = rollout(calls, host_result=(3, '', 'no snapshot of release 1.4.0\n'))
    job.settings['migrate'].pop('before')
    job.settings['migrate']['after'] = AFTER
    job.settings['warn'] = warnings.append
    job._migrate()
    assert job.actions['migration'] == ['migrated 0004', 'migrated 0005']
    assert 'after_migration' not in job.actions
    assert warnings == [
        'the command after the migration (%s) failed with exit code 3: no snapshot of release 1.4.0' % ' '.join(AFTER)
    ]


def test_a_lost_deploy_lock_stops_the_run_before_the_migration():
    calls = []
    job = rollout(calls)

    def lost():
        raise LockLost("the deploy lock /x/deploy.lock was taken over by 'bob' while this run ('alice') held it")

    job.settings['lock_check'] = lost
    with pytest.raises(DeployFailed) as info:
        job._migrate()
    assert calls == [('host', SNAPSHOT)]  # the snapshot ran, the migration did not
    assert info.value.reason.endswith(
        "taken over by 'bob' while this run ('alice') held it; this run stopped before the migration: "
        'nothing was migrated or switched'
    )
