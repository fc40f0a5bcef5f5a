"""auraspeak.ops.release_info and auraspeak.ops.deploy_lock, run through ansible on localhost.

Every ledger and lock lives under tmp_path (options path or state_dir), never under
/var/lib/auraspeak. Locks of "other runs" are written by hand, with the PID of a
process that has exited when the test needs a dead controller.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest
from playbook_runs import ENV, LOCALHOST, ROOT, Run, _bin, run_module

INFO = 'auraspeak.ops.release_info'
LOCK = 'auraspeak.ops.deploy_lock'


def assert_no_traceback(run):
    # ansible-core 2.19 adds exception='(traceback unavailable)' to every failure.
    assert 'Traceback' not in run.stdout
    assert run.result.get('exception', '(traceback unavailable)') == '(traceback unavailable)'


def entry(release_id, version, status, image_id, previous=None, reason=None):
    return {
        'id': release_id,
        'version': version,
        'kind': 'deploy',
        'status': status,
        'images': {'app': {'ref': 'auraspeak/server:%s' % version, 'id': image_id}},
        'config_hash': 'sha256:cfg%d' % release_id,
        'started_at': '2026-11-26T06:0%d:00Z' % release_id,
        'finished_at': '2026-11-26T06:0%d:30Z' % release_id,
        'deployed_by': 'alice@ctl',
        'previous': previous,
        'reason': reason,
    }


@pytest.fixture
def dead_pid():
    child = subprocess.run(
        [sys.executable, '-c', 'import os; print(os.getpid())'], capture_output=True, text=True, check=True
    )
    return int(child.stdout)


def write_lock(path, holder, host, pid, acquired_at='2099-01-01T00:00:00Z'):
    """A lock as another run would have left it (acquired_at in the future: never stale)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    content = {
        'holder': holder,
        'controller': {'host': host, 'pid': pid},
        'acquired_at': acquired_at,
        'host': socket.gethostname(),
        'pid': pid,
    }
    with open(path, 'w', encoding='utf-8') as handle:
        json.dump(content, handle)
    with open(path, 'rb') as handle:
        return handle.read()


def read_bytes(path):
    with open(path, 'rb') as handle:
        return handle.read()


# -- release_info ---------------------------------------------------------------------


def test_release_info_without_a_ledger(tmp_path):
    run = run_module(INFO, {'project': 'auraspeak', 'state_dir': str(tmp_path)})
    result = run.result
    assert result.get('failed') is not True, result.get('msg')
    assert result['exists'] is False and result['changed'] is False
    assert result['current'] is None and result['previous'] is None and result['history'] == []
    assert result['path'] == str(tmp_path / 'auraspeak' / 'releases.json')
    assert os.listdir(str(tmp_path)) == [], 'release_info creates nothing'


def test_release_info_reads_a_ledger(tmp_path):
    path = tmp_path / 'auraspeak' / 'releases.json'
    path.parent.mkdir()
    releases = [
        entry(1, '1.0.0', 'superseded', 'sha256:a'),
        entry(2, '1.1.0', 'superseded', 'sha256:b', previous='1.0.0'),
        entry(3, '1.1.0', 'active', 'sha256:b', previous='1.1.0'),
        entry(4, '1.2.0', 'failed', 'sha256:c', previous='1.1.0', reason='health gate failed'),
    ]
    path.write_text(json.dumps({'project': 'auraspeak', 'releases': releases}))
    before = read_bytes(path)
    for check in (False, True):
        result = run_module(INFO, {'path': str(path), 'limit': 3}, check=check).result
        assert result['changed'] is False and result['exists'] is True
        assert result['project'] == 'auraspeak'
        assert result['current'] == releases[2]
        assert result['previous'] == releases[0]  # the newest superseded of another version
        assert [e['id'] for e in result['history']] == [4, 3, 2]
        assert result['history'][0]['reason'] == 'health gate failed'
    assert read_bytes(path) == before
    assert sorted(os.listdir(str(path.parent))) == ['releases.json'], 'no lock file, no temp file'


def test_release_info_fails_on_a_corrupt_ledger_naming_it(tmp_path):
    path = tmp_path / 'releases.json'
    path.write_text('{"project": "auraspeak", "releases": [{"id": 1,')
    run = run_module(INFO, {'path': str(path)})
    result = run.result
    assert result['failed'] is True and result['changed'] is False
    assert str(path) in result['msg'] and 'not valid JSON' in result['msg'] and 'move it aside' in result['msg']
    assert_no_traceback(run)
    assert path.read_text() == '{"project": "auraspeak", "releases": [{"id": 1,'


@pytest.mark.parametrize(
    'args, message',
    [
        ({'project': 'a', 'path': '/tmp/x.json'}, 'mutually exclusive'),
        ({'limit': 3}, 'one of the following is required: project, path'),
        ({'project': '../etc'}, "project '../etc' is not a valid project name"),
        ({'project': 'a', 'limit': -1}, 'limit -1 is negative'),
    ],
)
def test_release_info_bad_options(tmp_path, args, message):
    if 'path' not in args:
        args['state_dir'] = str(tmp_path)
    run = run_module(INFO, args)
    assert run.result['failed'] is True
    assert message in run.result['msg']
    assert_no_traceback(run)


# -- deploy_lock --------------------------------------------------------------------------


PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: alice takes the lock
      auraspeak.ops.deploy_lock: {path: %(path)s, holder: alice}
    - name: bob is refused while alice's run goes on
      auraspeak.ops.deploy_lock: {path: %(path)s, holder: bob}
      ignore_errors: true
    - name: alice again - re-entrant
      auraspeak.ops.deploy_lock: {path: %(path)s, holder: alice}
    - name: bob cannot release alice's lock
      auraspeak.ops.deploy_lock: {path: %(path)s, holder: bob, state: released}
      ignore_errors: true
    - name: alice releases, in check mode
      auraspeak.ops.deploy_lock: {path: %(path)s, holder: alice, state: released}
      check_mode: true
    - name: alice releases
      auraspeak.ops.deploy_lock: {path: %(path)s, holder: alice, state: released}
    - name: alice releases again
      auraspeak.ops.deploy_lock: {path: %(path)s, holder: alice, state: released}
    - name: carol takes the lock and her run ends without releasing it
      auraspeak.ops.deploy_lock: {path: %(path)s, holder: carol}
"""


def run_playbook_with_pid(playbook):
    """ansible-playbook with -vvv; returns (Run, PID of the ansible-playbook process)."""
    cmd = [_bin('ansible-playbook'), str(playbook), *LOCALHOST, '-vvv']
    process = subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = process.communicate(timeout=600)
    return Run(subprocess.CompletedProcess(cmd, process.returncode, stdout, stderr)), process.pid


def test_lock_cycle_in_one_playbook_run(tmp_path):
    path = tmp_path / 'auraspeak' / 'deploy.lock'
    playbook = tmp_path / 'lock.yml'
    playbook.write_text(PLAYBOOK % {'path': path})
    run, playbook_pid = run_playbook_with_pid(playbook)
    acquired, refused, again, release_refused, predicted, released, released_again, carol = run.task_results()

    assert acquired['changed'] is True and acquired['took_over'] is False, acquired.get('msg')
    assert refused['failed'] is True
    msg = refused['msg']
    assert "held by 'alice'" in msg and 'force=true' in msg and 'deploy_lock_force=true' in msg
    assert 'controller %s, pid %d' % (socket.gethostname(), playbook_pid) in msg
    assert 'it goes stale after 300 s without a heartbeat' in msg
    assert refused['held_by']['holder'] == 'alice' and refused['age'] >= 0
    assert again['changed'] is False and again['acquired_at'] == acquired['acquired_at']
    assert release_refused['failed'] is True and "not by 'bob'" in release_refused['msg']
    assert predicted['changed'] is True
    assert released['changed'] is True and released['acquired_at'] == acquired['acquired_at']
    assert released_again['changed'] is False
    assert carol['changed'] is True

    # The action plugin stores the PID of the ansible-playbook process: the worker's parent.
    content = json.loads(path.read_text())
    assert content['holder'] == 'carol'
    assert content['controller'] == {'host': socket.gethostname(), 'pid': playbook_pid}
    assert content['host'] == socket.gethostname()
    assert (
        'deploy_lock: controller %s, main process pid %d (parent of worker pid'
        % (
            socket.gethostname(),
            playbook_pid,
        )
        in run.stdout
    )

    # That run has ended: the next run on this controller takes its lock over.
    result = run_module(LOCK, {'path': str(path), 'holder': 'dave'}).result
    assert result['changed'] is True and result['took_over'] is True and result['previous_holder'] == 'carol'


def test_check_mode_writes_nothing(tmp_path, dead_pid):
    state_dir = tmp_path / 'state'
    predicted = run_module(LOCK, {'project': 'auraspeak', 'state_dir': str(state_dir), 'holder': 'alice'}, check=True)
    assert predicted.result['changed'] is True, predicted.result.get('msg')
    assert not state_dir.exists()

    path = str(tmp_path / 'deploy.lock')
    before = write_lock(path, 'ghost', socket.gethostname(), dead_pid)
    for args in ({'holder': 'alice'}, {'holder': 'alice', 'force': True}, {'holder': 'ghost', 'state': 'released'}):
        result = run_module(LOCK, dict(args, path=path), check=True, diff=True).result
        assert result['changed'] is True, result.get('msg')
        assert result['diff']['before']['holder'] == 'ghost'
        assert read_bytes(path) == before
    assert os.listdir(str(tmp_path)) == ['deploy.lock'], 'no guard file, no temporary file'


def test_dead_controller_process_on_this_host_is_taken_over(tmp_path, dead_pid):
    path = str(tmp_path / 'deploy.lock')
    write_lock(path, 'ghost@vm:run-1', socket.gethostname(), dead_pid)
    result = run_module(LOCK, {'path': path, 'holder': 'alice'}).result
    assert result.get('failed') is not True, result.get('msg')
    assert result['changed'] is True and result['took_over'] is True
    assert result['previous_holder'] == 'ghost@vm:run-1'
    warnings = '\n'.join(str(w) for w in result['warnings'])
    assert 'ansible process %d on this controller' % dead_pid in warnings and 'no longer runs' in warnings
    content = json.loads(read_bytes(path))
    assert content['holder'] == 'alice' and content['controller']['host'] == socket.gethostname()


def test_dead_controller_process_on_another_host_is_refused(tmp_path, dead_pid):
    path = str(tmp_path / 'deploy.lock')
    before = write_lock(path, 'ghost@elsewhere:run-1', 'elsewhere', dead_pid)
    run = run_module(LOCK, {'path': path, 'holder': 'alice'})
    result = run.result
    assert result['failed'] is True and result['changed'] is False
    assert "held by 'ghost@elsewhere:run-1' (controller elsewhere, pid %d" % dead_pid in result['msg']
    assert 'force=true' in result['msg']
    assert_no_traceback(run)
    assert read_bytes(path) == before


def test_stale_lock_is_taken_over_with_a_warning(tmp_path):
    path = str(tmp_path / 'deploy.lock')
    write_lock(path, 'slow@elsewhere:run-1', 'elsewhere', 1, acquired_at='2020-01-01T00:00:00Z')
    silent_since = time.time() - 601
    os.utime(path, (silent_since, silent_since))  # its last heartbeat: the file's modification time
    result = run_module(LOCK, {'path': path, 'holder': 'alice', 'stale_after': 600}).result
    assert result['changed'] is True and result['took_over'] is True
    assert result['previous_holder'] == 'slow@elsewhere:run-1'
    warnings = '\n'.join(str(w) for w in result['warnings'])
    assert "took over the stale deploy lock %s from 'slow@elsewhere:run-1'" % path in warnings
    assert 'no heartbeat for more than stale_after=600 s' in warnings
    assert json.loads(read_bytes(path))['holder'] == 'alice'


def test_force_takes_over_and_releases_a_live_lock(tmp_path):
    path = str(tmp_path / 'deploy.lock')
    write_lock(path, 'bob', socket.gethostname(), os.getpid())  # this test's process: alive
    assert run_module(LOCK, {'path': path, 'holder': 'alice'}).result['failed'] is True
    forced = run_module(LOCK, {'path': path, 'holder': 'alice', 'force': True}).result
    assert forced['took_over'] is True and forced['previous_holder'] == 'bob'
    assert any('force=true: took over' in str(w) for w in forced['warnings'])

    write_lock(path, 'bob', socket.gethostname(), os.getpid())
    refused = run_module(LOCK, {'path': path, 'holder': 'alice', 'state': 'released'}).result
    assert refused['failed'] is True and os.path.exists(path)
    released = run_module(LOCK, {'path': path, 'holder': 'alice', 'state': 'released', 'force': True}).result
    assert released['changed'] is True and released['previous_holder'] == 'bob'
    assert not os.path.exists(path)
