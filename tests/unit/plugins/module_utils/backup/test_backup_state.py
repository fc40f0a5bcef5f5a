import fcntl
import json
import os
import stat
import threading

import pytest

from ansible_collections.auraspeak.ops.plugins.module_utils._backup import state as backup_state
from ansible_collections.auraspeak.ops.plugins.module_utils._backup.state import (
    BackupState,
    JobLockTimeout,
    job_lock,
    render_metrics,
)


@pytest.fixture
def state(tmp_path):
    return BackupState(str(tmp_path / 'state'), 'auraspeak')


def saved(state):
    with open(state.path) as handle:
        return json.load(handle)


def metrics(state):
    with open(os.path.join(state.metrics_dir, 'auraspeak_backup.prom')) as handle:
        return handle.read()


def series(text):
    """{(metric, backup): value} of a textfile, without its comments."""
    result = {}
    for line in text.splitlines():
        if line.startswith('#'):
            continue
        name, value = line.split(' ')
        metric, labels = name.split('{')
        assert labels.startswith('project="auraspeak",backup="') and labels.endswith('"}'), line
        result[(metric[len('auraspeak_backup_') :], labels[len('project="auraspeak",backup="') : -2])] = value
    return result


# -- BackupState ---------------------------------------------------------------------


def test_load_without_a_file(state):
    assert state.load() == {'jobs': {}, 'verified': {}}
    assert not os.path.exists(state.path)


def test_record_success(state):
    outcome = state.record('full', True, 100.0, 160.25, size=4096, backup_id='F1')
    expected = {
        'started': 100.0,
        'last_attempt': 160.25,
        'duration': 60.25,
        'status': 'success',
        'result': 'success',
        'error': None,
        'last_success': 160.25,
        'size': 4096,
        'id': 'F1',
    }
    assert outcome == expected
    assert saved(state) == {'jobs': {'full': expected}, 'verified': {}}


def test_record_failure_keeps_the_last_success(state):
    state.record('full', True, 100.0, 160.0, size=4096, backup_id='F1')
    outcome = state.record('full', False, 200.0, 201.5, error='pgBackRest failed')
    assert outcome == {
        'started': 200.0,
        'last_attempt': 201.5,
        'duration': 1.5,
        'status': 'failed',
        'result': 'failed',
        'error': 'pgBackRest failed',
        'last_success': 160.0,
        'size': 4096,
        'id': 'F1',
    }
    assert saved(state)['jobs']['full'] == outcome


def test_record_success_after_failure_clears_the_error(state):
    state.record('dump', False, 1.0, 2.0, error='boom')
    outcome = state.record('dump', True, 3.0, 5.0, size=10, backup_id='d2')
    assert (outcome['status'], outcome['error'], outcome['id'], outcome['last_success']) == ('success', None, 'd2', 5.0)


def test_jobs_are_kept_apart(state):
    state.record('full', True, 1.0, 2.0, size=1, backup_id='F1')
    state.record('dump', False, 3.0, 4.0, error='x')
    jobs = saved(state)['jobs']
    assert sorted(jobs) == ['dump', 'full']
    assert jobs['full']['status'] == 'success'
    assert jobs['dump']['status'] == 'failed'
    assert 'last_success' not in jobs['dump']


def test_start_marks_running_and_keeps_the_last_outcome(state):
    state.record('full', True, 100.0, 160.0, size=4096, backup_id='F1')
    state.start('full', 300.0)
    assert saved(state)['jobs']['full'] == {
        'started': 300.0,
        'last_attempt': 160.0,
        'duration': 60.0,
        'status': 'running',
        'result': 'success',
        'error': None,
        'last_success': 160.0,
        'size': 4096,
        'id': 'F1',
        'pid': os.getpid(),
    }


def test_record_after_start_drops_the_pid(state):
    state.start('full', 300.0)
    outcome = state.record('full', True, 300.0, 310.0, size=1, backup_id='F2')
    assert 'pid' not in outcome
    assert saved(state)['jobs']['full'] == outcome


def test_reconcile_fails_runs_that_never_ended(state):
    state.record('dump', True, 1.0, 2.0, size=1, backup_id='d1')
    state.start('full', 100.0)
    state.start('diff', 150.0)
    stale = state.reconcile(400.5)
    assert sorted(stale) == ['diff', 'full']
    jobs = saved(state)['jobs']
    assert jobs['full'] == {
        'status': 'failed',
        'result': 'failed',
        'started': 100.0,
        'pid': os.getpid(),
        'last_attempt': 400.5,
        'duration': 300.5,
        'error': 'the run (pid %d) ended without recording an outcome: it was killed or crashed' % os.getpid(),
    }
    assert jobs['diff']['duration'] == 250.5
    assert jobs['dump']['status'] == 'success'
    assert state.reconcile(500.0) == []


def test_reconcile_without_stale_runs_writes_nothing(state):
    assert state.reconcile(1.0) == []
    assert not os.path.exists(state.state_dir)
    state.record('full', True, 1.0, 2.0)
    before = os.stat(state.path).st_mtime_ns
    os.utime(state.path, ns=(1, 1))
    assert state.reconcile(3.0) == []
    assert os.stat(state.path).st_mtime_ns == 1 != before


def test_mark_verified(state):
    assert state.verified('dump') is None
    state.mark_verified('dump', 'auraspeak-20261126T100000Z')
    state.mark_verified('pgbackrest', 'F1')
    state.mark_verified('pgbackrest', 'F2')
    assert state.verified('dump') == 'auraspeak-20261126T100000Z'
    assert state.verified('pgbackrest') == 'F2'
    assert saved(state)['verified'] == {'dump': 'auraspeak-20261126T100000Z', 'pgbackrest': 'F2'}


def test_record_deployed(state, monkeypatch):
    monkeypatch.setattr(backup_state, 'now', lambda: 1795687200.125)
    assert state.deployed('snap-1') is None
    state.record_deployed('snap-1', 42)
    state.record_deployed('snap-2', 0)
    assert state.deployed('snap-1') == {'writes_after_deploy': 42, 'at': 1795687200.125}
    assert state.deployed('snap-2') == {'writes_after_deploy': 0, 'at': 1795687200.125}
    assert state.deployed('snap-3') is None
    assert saved(state)['jobs'] == {}


def test_the_first_deployed_count_of_a_snapshot_stays(state):
    # A re-run of the release reuses its snapshot: writes since the first go-live still count.
    assert state.record_deployed('snap-1', 42) == 42
    assert state.record_deployed('snap-1', 99) == 42
    assert state.deployed('snap-1')['writes_after_deploy'] == 42


def test_verified_and_snapshots_survive_records(state):
    state.mark_verified('dump', 'd1')
    state.record_deployed('snap-1', 5)
    state.record('dump', True, 1.0, 2.0, size=1, backup_id='d2')
    state.start('full', 3.0)
    state.reconcile(4.0)
    assert state.verified('dump') == 'd1'
    assert state.deployed('snap-1')['writes_after_deploy'] == 5


def test_files_and_modes(state):
    state.record('full', True, 1.0, 2.0, size=1, backup_id='F1')
    assert stat.S_IMODE(os.stat(state.path).st_mode) == 0o644
    prom = os.path.join(state.metrics_dir, 'auraspeak_backup.prom')
    assert stat.S_IMODE(os.stat(prom).st_mode) == 0o644
    assert state.metrics_dir == os.path.join(state.state_dir, 'metrics')
    assert sorted(os.listdir(state.state_dir)) == ['backup-state.json', 'metrics']
    assert os.listdir(state.metrics_dir) == ['auraspeak_backup.prom']
    assert metrics(state) == render_metrics('auraspeak', saved(state)['jobs'])


def test_metrics_dir_of_its_own(tmp_path):
    state = BackupState(str(tmp_path / 's'), 'auraspeak', str(tmp_path / 'textfile'))
    state.record('full', True, 1.0, 2.0)
    assert os.listdir(tmp_path / 'textfile') == ['auraspeak_backup.prom']
    assert not os.path.exists(tmp_path / 's' / 'metrics')


# -- render_metrics -----------------------------------------------------------------

JOBS = {
    'full': {
        'started': 100.0,
        'last_attempt': 160.5,
        'duration': 60.5,
        'status': 'success',
        'result': 'success',
        'error': None,
        'last_success': 160.5,
        'size': 1024,
        'id': 'F1',
    },
    'dump': {
        'started': 200,
        'last_attempt': 230,
        'duration': 30,
        'status': 'failed',
        'result': 'failed',
        'error': 'boom',
        'last_success': 150,
        'size': 2048,
        'id': 'd1',
    },
    # started and never finished: only the running gauge
    'diff': {'status': 'running', 'started': 300.0, 'pid': 42},
    # running again after a failure: the failure's status stays
    'incr': {
        'started': 400.0,
        'last_attempt': 390.0,
        'duration': 5.0,
        'status': 'running',
        'result': 'failed',
        'error': 'x',
        'pid': 7,
    },
}

EXPECTED = """\
# HELP auraspeak_backup_last_success_timestamp_seconds Unix time the last successful run finished.
# TYPE auraspeak_backup_last_success_timestamp_seconds gauge
auraspeak_backup_last_success_timestamp_seconds{project="auraspeak",backup="dump"} 150
auraspeak_backup_last_success_timestamp_seconds{project="auraspeak",backup="full"} 160.5
# HELP auraspeak_backup_last_attempt_timestamp_seconds Unix time the last run finished, whatever its outcome.
# TYPE auraspeak_backup_last_attempt_timestamp_seconds gauge
auraspeak_backup_last_attempt_timestamp_seconds{project="auraspeak",backup="dump"} 230
auraspeak_backup_last_attempt_timestamp_seconds{project="auraspeak",backup="full"} 160.5
auraspeak_backup_last_attempt_timestamp_seconds{project="auraspeak",backup="incr"} 390.0
# HELP auraspeak_backup_last_status 1 when the last run succeeded, 0 when it failed.
# TYPE auraspeak_backup_last_status gauge
auraspeak_backup_last_status{project="auraspeak",backup="dump"} 0
auraspeak_backup_last_status{project="auraspeak",backup="full"} 1
auraspeak_backup_last_status{project="auraspeak",backup="incr"} 0
# HELP auraspeak_backup_last_duration_seconds How long the last run took.
# TYPE auraspeak_backup_last_duration_seconds gauge
auraspeak_backup_last_duration_seconds{project="auraspeak",backup="dump"} 30
auraspeak_backup_last_duration_seconds{project="auraspeak",backup="full"} 60.5
auraspeak_backup_last_duration_seconds{project="auraspeak",backup="incr"} 5.0
# HELP auraspeak_backup_last_size_bytes Size of what the last successful run stored.
# TYPE auraspeak_backup_last_size_bytes gauge
auraspeak_backup_last_size_bytes{project="auraspeak",backup="dump"} 2048
auraspeak_backup_last_size_bytes{project="auraspeak",backup="full"} 1024
# HELP auraspeak_backup_running 1 while a run is under way.
# TYPE auraspeak_backup_running gauge
auraspeak_backup_running{project="auraspeak",backup="diff"} 1
auraspeak_backup_running{project="auraspeak",backup="dump"} 0
auraspeak_backup_running{project="auraspeak",backup="full"} 0
auraspeak_backup_running{project="auraspeak",backup="incr"} 1
"""


def test_render_metrics_exact_text():
    assert render_metrics('auraspeak', JOBS) == EXPECTED


def test_render_metrics_help_and_type_once_per_metric():
    lines = render_metrics('auraspeak', JOBS).splitlines()
    helps = [line.split()[2] for line in lines if line.startswith('# HELP ')]
    types = [line.split()[2] for line in lines if line.startswith('# TYPE ')]
    assert helps == types
    assert len(set(helps)) == len(helps) == 6
    for name in helps:
        # comments come right before the samples of their metric, all of them together
        index = next(i for i, line in enumerate(lines) if line.startswith('# HELP %s ' % name))
        assert lines[index + 1] == '# TYPE %s gauge' % name
        samples = [i for i, line in enumerate(lines) if line.startswith(name + '{')]
        assert samples and samples == list(range(index + 2, index + 2 + len(samples)))


def test_render_metrics_without_jobs():
    assert render_metrics('auraspeak', {}) == ''


def test_render_metrics_does_not_change_the_jobs():
    jobs = json.loads(json.dumps(JOBS))
    render_metrics('auraspeak', jobs)
    assert jobs == JOBS


def test_render_metrics_project_label():
    text = render_metrics('shop', {'full': JOBS['full']})
    assert 'auraspeak_backup_running{project="shop",backup="full"} 0\n' in text


def test_metrics_through_a_job_lifecycle(state):
    state.start('full', 100.0)
    # never finished: no series but the running gauge
    assert series(metrics(state)) == {('running', 'full'): '1'}
    state.record('full', True, 100.0, 160.0, size=4096, backup_id='F1')
    assert series(metrics(state)) == {
        ('last_success_timestamp_seconds', 'full'): '160.0',
        ('last_attempt_timestamp_seconds', 'full'): '160.0',
        ('last_status', 'full'): '1',
        ('last_duration_seconds', 'full'): '60.0',
        ('last_size_bytes', 'full'): '4096',
        ('running', 'full'): '0',
    }
    state.start('full', 200.0)
    assert series(metrics(state))[('last_status', 'full')] == '1'
    assert series(metrics(state))[('running', 'full')] == '1'
    state.record('full', False, 200.0, 210.0, error='pgBackRest failed')
    after_failure = series(metrics(state))
    assert after_failure == {
        ('last_success_timestamp_seconds', 'full'): '160.0',
        ('last_attempt_timestamp_seconds', 'full'): '210.0',
        ('last_status', 'full'): '0',
        ('last_duration_seconds', 'full'): '10.0',
        ('last_size_bytes', 'full'): '4096',
        ('running', 'full'): '0',
    }
    # a run under way keeps the failed status of the run before it
    state.start('full', 300.0)
    during = series(metrics(state))
    assert during[('last_status', 'full')] == '0'
    assert during[('running', 'full')] == '1'
    assert during[('last_attempt_timestamp_seconds', 'full')] == '210.0'


def test_metrics_after_reconcile(state):
    state.start('dump', 100.0)
    state.reconcile(130.0)
    assert series(metrics(state)) == {
        ('last_attempt_timestamp_seconds', 'dump'): '130.0',
        ('last_status', 'dump'): '0',
        ('last_duration_seconds', 'dump'): '30.0',
        ('running', 'dump'): '0',
    }


def test_first_run_failed_has_no_success_series(state):
    state.record('volumes', False, 1.0, 3.0, error='restic failed')
    values = series(metrics(state))
    assert values[('last_status', 'volumes')] == '0'
    assert ('last_success_timestamp_seconds', 'volumes') not in values
    assert ('last_size_bytes', 'volumes') not in values


@pytest.mark.parametrize('error', [None, ''])
def test_failure_without_message_is_status_zero(state, error):
    state.record('full', False, 1.0, 2.0, error=error)
    assert saved(state)['jobs']['full']['status'] == 'failed'
    assert series(metrics(state))[('last_status', 'full')] == '0'


# -- job_lock -----------------------------------------------------------------------


def hold(state_dir):
    """Take the lock the way another process would: its own open file description."""
    os.makedirs(state_dir, exist_ok=True)
    handle = open(os.path.join(state_dir, 'backup.lock'), 'a')  # noqa: SIM115
    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return handle


def is_free(state_dir):
    with open(os.path.join(state_dir, 'backup.lock'), 'a') as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(handle, fcntl.LOCK_UN)
        return True


def test_job_lock_held(tmp_path):
    state_dir = str(tmp_path / 'new' / 'state')
    with job_lock(state_dir, wait=False) as held:
        assert held is True
        assert os.path.exists(os.path.join(state_dir, 'backup.lock'))
        assert not is_free(state_dir)
    assert is_free(state_dir)


def test_job_lock_busy_without_waiting(tmp_path):
    state_dir = str(tmp_path)
    other = hold(state_dir)
    try:
        ran = []
        with job_lock(state_dir, wait=False) as held:
            ran.append(held)
        assert ran == [False]
        assert not is_free(state_dir)  # the holder still has it
    finally:
        other.close()
    assert is_free(state_dir)
    with job_lock(state_dir, wait=False) as held:
        assert held is True


def test_job_lock_nested_is_busy(tmp_path):
    with job_lock(str(tmp_path)) as outer, job_lock(str(tmp_path), wait=False) as inner:
        assert (outer, inner) == (True, False)


def test_job_lock_released_on_error(tmp_path):
    with pytest.raises(RuntimeError), job_lock(str(tmp_path), wait=False):
        raise RuntimeError('job failed')
    assert is_free(str(tmp_path))


def test_job_lock_waits_its_turn(tmp_path):
    state_dir = str(tmp_path)
    other = hold(state_dir)
    entered = threading.Event()
    results = []

    def job():
        with job_lock(state_dir) as held:
            results.append(held)
            entered.set()

    thread = threading.Thread(target=job, daemon=True)
    try:
        thread.start()
        assert not entered.wait(0.3)
    finally:
        other.close()
    assert entered.wait(10)
    thread.join(10)
    assert results == [True]


def test_job_lock_wait_ends_with_a_timeout(tmp_path):
    state_dir = str(tmp_path)
    other = hold(state_dir)
    slept = []
    try:
        with pytest.raises(JobLockTimeout) as info, job_lock(state_dir, timeout=0, sleep=slept.append):
            pytest.fail('the body ran without the lock')
    finally:
        other.close()
    assert info.value.args == (os.path.join(state_dir, 'backup.lock'), 0)
    assert is_free(state_dir)


def test_running_jobs_are_named(tmp_path):
    state = BackupState(str(tmp_path), 'p')
    state.start('full', 100.0)
    assert state.running() == ['full (pid %d, started 100.0)' % os.getpid()]
