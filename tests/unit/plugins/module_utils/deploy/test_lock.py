import json
import os
import stat
import subprocess
import sys
import time

import pytest

from ansible_collections.auraspeak.ops.plugins.action.deploy_lock import dead_local_holder, process_is_gone
from ansible_collections.auraspeak.ops.plugins.module_utils._deploy import lock as dl

PATH = '/var/lib/auraspeak/auraspeak/deploy.lock'


def held(holder='bob@ctl:run-1', host='ctl', pid=4242, acquired_at='2026-11-26T06:00:00Z'):
    return {
        'holder': holder,
        'controller': {'host': host, 'pid': pid},
        'acquired_at': acquired_at,
        'host': 'web1',
        'pid': 99,
    }


def decide(lock, quiet=10, **options):
    arguments = dict(path=PATH, state='acquired', holder='alice@ctl:run-2', stale_after=1800)
    arguments.update(options)
    return dl.decide(lock, quiet, **arguments)


# -- decisions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    'lock, quiet, options, action, took_over',
    [
        # acquire
        (None, None, {}, 'create', False),
        (None, None, {'force': True}, 'create', False),
        (held('alice@ctl:run-2'), 10, {}, 'none', False),  # re-entrant
        (held('alice@ctl:run-2'), 99999, {}, 'none', False),  # our own lock never goes stale for us
        (held(), 10, {}, 'refuse', False),
        (held(), 1800, {}, 'refuse', False),  # stale only after stale_after without a heartbeat
        (held(), 1801, {}, 'replace', True),
        (held(), 10, {'age': 99999}, 'refuse', False),  # a long deploy that beats keeps its lock
        (held(), 10, {'stale_after': 5}, 'replace', True),
        (held(), 10, {'force': True}, 'replace', True),
        (held(), 10, {'takeover': 'bob@ctl:run-1'}, 'replace', True),
        (held(), 5, {'takeover': 'bob@ctl:run-1'}, 'refuse', False),  # a module of the dead run still beats
        (held(), 10, {'takeover': 'carol@ctl:run-3'}, 'refuse', False),
        (None, None, {'takeover': 'bob@ctl:run-1'}, 'create', False),
        ({'holder': None, 'unreadable': True}, 10, {}, 'refuse', False),
        ({'holder': None, 'unreadable': True}, 10, {'force': True}, 'replace', True),
        ({'holder': None, 'unreadable': True}, 4000, {}, 'replace', True),
        # release
        (None, None, {'state': 'released'}, 'none', False),
        (held('alice@ctl:run-2'), 10, {'state': 'released'}, 'remove', False),
        (held(), 10, {'state': 'released'}, 'refuse', False),
        (held(), 99999, {'state': 'released'}, 'refuse', False),  # stale or not, not ours to release
        (held(), 10, {'state': 'released', 'takeover': 'bob@ctl:run-1'}, 'refuse', False),
        (held(), 10, {'state': 'released', 'force': True}, 'remove', False),
    ],
)
def test_decisions(lock, quiet, options, action, took_over):
    decision = decide(lock, quiet, **options)
    assert decision['action'] == action
    assert decision['took_over'] is took_over
    assert (decision['msg'] is not None) == (action == 'refuse')


def test_refusal_names_holder_controller_since_age_and_fix():
    msg = decide(held(), 3, age=95)['msg']
    assert msg == (
        "the deploy lock /var/lib/auraspeak/auraspeak/deploy.lock is held by 'bob@ctl:run-1' (controller ctl, "
        'pid 4242; target host web1) since 2026-11-26T06:00:00Z (95 s ago; last heartbeat 3 s ago): wait for it '
        'to finish, or if that run died take over with force=true (the playbooks expose deploy_lock_force=true); '
        'it goes stale after 1800 s without a heartbeat'
    )


def test_a_dead_runs_module_that_still_beats_is_named():
    msg = decide(held(), 1, takeover='bob@ctl:run-1')['msg']
    assert 'the ansible process of that run is gone, but a module of it still beats' in msg and 'force=true' in msg


@pytest.mark.parametrize(
    'options, fragment',
    [
        ({'stale_after': 60}, 'took over the stale deploy lock %s' % PATH),
        ({'force': True}, 'force=true: took over the deploy lock %s' % PATH),
        ({'takeover': 'bob@ctl:run-1'}, 'takeover named that holder'),
    ],
)
def test_takeover_warns_naming_the_previous_holder(options, fragment):
    decision = decide(held(), 95, **options)
    assert decision['previous_holder'] == 'bob@ctl:run-1'
    assert fragment in decision['warning'] and "'bob@ctl:run-1'" in decision['warning']


def test_release_refusal_and_forced_release():
    refused = decide(held(), 95, state='released')
    assert "held by 'bob@ctl:run-1'" in refused['msg'] and "not by 'alice@ctl:run-2'" in refused['msg']
    assert 'force=true' in refused['msg']
    forced = decide(held(), 95, state='released', force=True)
    assert forced['previous_holder'] == 'bob@ctl:run-1' and 'released the deploy lock' in forced['warning']


def test_unreadable_lock_is_described():
    assert 'an unreadable lock file' in decide({'holder': None, 'unreadable': True}, 3)['msg']


# -- reading the file ---------------------------------------------------------------------


@pytest.mark.parametrize(
    'content, holder',
    [
        (json.dumps(held()), 'bob@ctl:run-1'),
        ('', None),
        ('{"holder": 5}', None),
        ('not json', None),
        ('\xff', None),
    ],
)
def test_read_lock(tmp_path, content, holder):
    path = tmp_path / 'deploy.lock'
    path.write_bytes(content.encode('latin-1'))
    observed = dl.read_lock(str(path))
    assert observed['lock'].get('holder') == holder
    assert observed['lock'].get('unreadable', False) is (holder is None)
    assert observed['raw'] == content.encode('latin-1')


def test_read_missing_lock(tmp_path):
    assert dl.read_lock(str(tmp_path / 'deploy.lock')) is None


@pytest.mark.parametrize(
    'acquired_at, mtime_offset, age',
    [
        ('2026-11-26T06:00:00Z', 0, 100),
        ('2026-11-26T06:02:00Z', 0, 0),  # clock skew: never negative
        ('garbage', -40, 40),  # falls back to the file's mtime
    ],
)
def test_lock_age(acquired_at, mtime_offset, age):
    now = dl.parse_time('2026-11-26T06:01:40Z')
    observed = {'lock': {'acquired_at': acquired_at}, 'mtime': now + mtime_offset}
    assert dl.lock_age(observed, now) == age


# -- file operations ---------------------------------------------------------------------------


def test_create_is_exclusive_and_private(tmp_path):
    path = str(tmp_path / 'deploy.lock')
    old_umask = os.umask(0)
    try:
        dl.create_lock(path, held())
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with open(path, encoding='utf-8') as handle:
        assert json.load(handle) == held()
    with pytest.raises(dl.LockError, match='appeared while this run held its guard'):
        dl.create_lock(path, held('x'))


def test_replace_and_remove_only_what_was_observed(tmp_path):
    path = str(tmp_path / 'deploy.lock')
    dl.create_lock(path, held())
    observed = dl.read_lock(path)['raw']
    with pytest.raises(dl.LockError, match='changed while this run held'):
        dl.replace_lock(path, b'something else', held('alice'))
    with pytest.raises(dl.LockError, match='changed while this run held'):
        dl.remove_lock(path, b'something else')
    assert dl.read_lock(path)['raw'] == observed
    assert os.listdir(str(tmp_path)) == ['deploy.lock']  # no temporary file left behind
    dl.replace_lock(path, observed, held('alice'))
    assert dl.read_lock(path)['lock']['holder'] == 'alice'
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    dl.remove_lock(path, dl.read_lock(path)['raw'])
    assert not os.path.exists(path)


def test_lock_problem_for_compose_deploy(tmp_path):
    path = str(tmp_path / 'deploy.lock')
    assert 'no deploy lock at' in dl.lock_problem(path, 'alice')
    dl.create_lock(path, held())
    assert "held by 'bob@ctl:run-1'" in dl.lock_problem(path, 'alice')
    assert dl.lock_problem(path, 'bob@ctl:run-1') is None


# -- the manager, with a stand-in for AnsibleModule -----------------------------------------------


class Module:
    def __init__(self, check_mode=False, diff=False, **params):
        self.params = dict(
            project=None,
            state_dir=None,
            path=None,
            state='acquired',
            holder='alice',
            stale_after=1800,
            force=False,
            takeover=None,
            lease=0,
            controller={'host': 'ctl', 'pid': 4242},
        )
        self.params.update(params)
        self.check_mode = check_mode
        self._diff = diff
        self.warnings = []

    def warn(self, message):
        self.warnings.append(message)


def test_manager_cycle(tmp_path):
    state_dir = tmp_path / 'state'
    path = state_dir / 'auraspeak' / 'deploy.lock'
    predicted = dl.run_deploy_lock(Module(check_mode=True, diff=True, project='auraspeak', state_dir=str(state_dir)))
    assert predicted[0] is False and predicted[1]['changed'] is True
    assert predicted[1]['diff']['before'] == {} and predicted[1]['diff']['after']['holder'] == 'alice'
    assert not state_dir.exists(), 'check mode writes nothing'

    failed, result = dl.run_deploy_lock(Module(project='auraspeak', state_dir=str(state_dir)))
    assert not failed and result['changed'] and result['path'] == str(path)
    content = json.loads(path.read_text())
    assert content['controller'] == {'host': 'ctl', 'pid': 4242} and content['pid'] == os.getpid()
    assert result['acquired_at'] == content['acquired_at']
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o755

    assert dl.run_deploy_lock(Module(path=str(path)))[1]['changed'] is False
    failed, refused = dl.run_deploy_lock(Module(path=str(path), holder='bob'))
    assert failed and refused['held_by'] == content and refused['age'] >= 0 and refused['silence'] >= 0

    failed, released = dl.run_deploy_lock(Module(path=str(path), state='released'))
    assert not failed and released['changed'] and released['acquired_at'] == content['acquired_at']
    assert not path.exists()
    assert dl.run_deploy_lock(Module(path=str(path), state='released'))[1]['changed'] is False


@pytest.mark.parametrize(
    'options, action',
    [
        ({}, 'refuse'),  # heartbeats or not: quiet is far above stale_after
        ({'takeover': 'bob@ctl:run-1'}, 'refuse'),  # its controller is gone, its work on another host may not be
        ({'force': True}, 'replace'),
        ({'state': 'released'}, 'refuse'),
        ({'state': 'released', 'force': True}, 'remove'),
    ],
)
def test_a_leased_lock_is_taken_only_by_force(options, action):
    decision = decide(held(), 99999, leased=600, **options)
    assert decision['action'] == action


def test_the_lease_refusal_says_why_there_is_no_heartbeat_and_for_how_long():
    msg = decide(held(), 4000, leased=600, stale_after=30)['msg']
    assert 'on a lease for 600 more s' in msg and 'last heartbeat 4000 s ago' in msg
    assert 'cannot beat for the lock' in msg and 'force=true' in msg


def test_lease_left(tmp_path):
    assert dl.lease_left({'holder': 'a'}, 1000.0) == 0
    assert dl.lease_left({'holder': 'a', 'lease_until': 'not a time'}, 1000.0) == 0
    until = dl.utc_time(2000)
    assert dl.lease_left({'holder': 'a', 'lease_until': until}, 1000.0) == 1000
    assert dl.lease_left({'holder': 'a', 'lease_until': until}, 3000.0) == 0


def test_a_lease_is_set_kept_from_takeover_and_ended_by_its_holder(tmp_path):
    path = tmp_path / 'deploy.lock'
    assert dl.run_deploy_lock(Module(path=str(path)))[1]['changed'] is True

    planned = dl.run_deploy_lock(Module(check_mode=True, path=str(path), lease=600))[1]
    assert planned['changed'] is True and 'lease_until' not in json.loads(path.read_text())

    failed, leased = dl.run_deploy_lock(Module(path=str(path), lease=600))
    content = json.loads(path.read_text())
    assert not failed and leased['changed'] and leased['lease_until'] == content['lease_until']
    assert 590 <= dl.lease_left(content, time.time()) <= 600
    assert content['acquired_at'] == json.loads(path.read_text())['acquired_at']

    # An hour without a heartbeat, and a rival that takes a lock silent for 30 s: refused while the lease runs.
    an_hour_ago = time.time() - 3600
    os.utime(path, (an_hour_ago, an_hour_ago))
    failed, refused = dl.run_deploy_lock(Module(path=str(path), holder='bob', stale_after=30))
    assert failed and 'on a lease for' in refused['msg'] and json.loads(path.read_text()) == content

    failed, ended = dl.run_deploy_lock(Module(path=str(path)))
    assert not failed and ended['changed'] and 'lease_until' not in json.loads(path.read_text())
    assert dl.run_deploy_lock(Module(path=str(path)))[1]['changed'] is False
    os.utime(path, (an_hour_ago, an_hour_ago))
    failed, taken = dl.run_deploy_lock(Module(path=str(path), holder='bob', stale_after=30))
    assert not failed and taken['took_over'] and taken['holder'] == 'bob'


@pytest.mark.parametrize(
    'params, message',
    [
        ({'holder': ' '}, 'holder is empty'),
        ({'lease': -1}, 'lease -1 is below 0: give the seconds'),
        ({'stale_after': -1}, 'stale_after -1 is below 30 s'),
        ({'stale_after': 29}, 'stale_after 29 is below 30 s: set it to the seconds without a heartbeat'),
        ({'path': None, 'project': '../etc', 'state_dir': '/tmp'}, "project '../etc' is not a valid project name"),
    ],
)
def test_manager_input_errors(tmp_path, params, message):
    params.setdefault('path', str(tmp_path / 'deploy.lock'))
    failed, result = dl.run_deploy_lock(Module(**params))
    assert failed and message in result['msg']


# -- the action plugin's takeover rule ------------------------------------------------------------


@pytest.fixture(scope='module')
def dead_pid():
    child = subprocess.run(
        [sys.executable, '-c', 'import os; print(os.getpid())'], capture_output=True, text=True, check=True
    )
    return int(child.stdout)


def test_process_is_gone(dead_pid):
    assert process_is_gone(dead_pid) is True
    assert process_is_gone(os.getpid()) is False
    assert process_is_gone(1) is False  # alive (and maybe someone else's)
    for pid in (None, 0, -1, True, '12'):
        assert process_is_gone(pid) is False


@pytest.mark.parametrize(
    'host, alive, state, failed, holder, takes_over',
    [
        ('ctl', False, 'acquired', True, 'bob', True),
        ('ctl', True, 'acquired', True, 'bob', False),  # its controller process still runs
        ('other', False, 'acquired', True, 'bob', False),  # another controller: only age or force
        ('ctl', False, 'released', True, 'bob', False),
        ('ctl', False, 'acquired', False, 'bob', False),  # the module did not refuse
        ('ctl', False, 'acquired', True, 'alice', False),  # our own lock
    ],
)
def test_dead_local_holder(dead_pid, host, alive, state, failed, holder, takes_over):
    lock = held(holder, host=host, pid=os.getpid() if alive else dead_pid)
    module_result = {'failed': failed, 'held_by': lock}
    args = {'holder': 'alice', 'state': state}
    expected = lock if takes_over else None
    assert dead_local_holder(args, module_result, {'host': 'ctl', 'pid': os.getppid()}) == expected
