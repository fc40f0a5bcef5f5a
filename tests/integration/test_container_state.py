"""auraspeak.ops.container_state on the real engine: the stops, starts and signals the roles use
around a restore, a database rollback and a Prometheus reload.

Seen on the engine, not assumed: check mode changes nothing, a stop waits out
each container's grace and a second run changes nothing, a start brings back
exactly what was stopped, a signal reaches the process, a missing name fails
before anything changes, and not even -vvv shows a container's environment.
That the stops run side by side is test_engine_client's to show, on the client.
"""

from __future__ import annotations

import subprocess
import time
import uuid

import pytest
from playbook_runs import run_module

DEBIAN = 'auraspeak-offline/debian:bookworm'
SECRET = 'itest-state-secret-' + uuid.uuid4().hex
# Ignores SIGTERM (so a stop waits out its grace), notes every SIGHUP.
SCRIPT = 'trap "" TERM; trap "echo got-hup" HUP; while true; do sleep 0.2; done'


def _docker(*args):
    return subprocess.run(['docker', *args], capture_output=True, text=True, check=True, timeout=120).stdout.strip()


def _status(name):
    return _docker('inspect', '--format', '{{.State.Status}}', name)


@pytest.fixture(scope='module')
def group():
    """Two running containers with a label of their own and a 2 s grace, plus one stopped one."""
    label = 'io.auraspeak.test.container-state=' + uuid.uuid4().hex[:8]
    names = ['itest-state-%d-%s' % (i, label[-8:]) for i in range(3)]
    for name in names:
        _docker(
            'run',
            '-d',
            '--name',
            name,
            '--label',
            label,
            '--stop-timeout',
            '2',
            '--env',
            'APP_SECRET=' + SECRET,
            DEBIAN,
            'sh',
            '-c',
            SCRIPT,
        )
    _docker('stop', '--time', '0', names[2])
    yield label, names
    subprocess.run(['docker', 'rm', '-f', *names], capture_output=True, check=False)


def test_stop_by_label_in_check_mode_then_for_real_then_idempotent(group):
    label, names = group
    args = {'labels': [label], 'state': 'stopped'}

    planned = run_module('auraspeak.ops.container_state', args, check=True).result
    assert planned['changed'] is True
    assert sorted((c['name'], c['changed']) for c in planned['containers']) == [
        (names[0], True),
        (names[1], True),
        (names[2], False),
    ]
    assert [_status(n) for n in names] == ['running', 'running', 'exited']

    stopped = run_module('auraspeak.ops.container_state', args, verbosity=3)
    assert stopped.rc == 0 and stopped.result['changed'] is True, stopped.result
    assert [_status(n) for n in names] == ['exited', 'exited', 'exited']
    # Each ignored SIGTERM and was killed once its own grace had passed (exit 137).
    exits = _docker('inspect', '--format', '{{.State.ExitCode}}', names[0], names[1]).split()
    assert exits == ['137', '137']
    assert SECRET not in stopped.stdout + stopped.stderr

    again = run_module('auraspeak.ops.container_state', args).result
    assert again['changed'] is False


def test_start_brings_back_exactly_the_ones_named(group):
    _label, names = group
    _docker('stop', '--time', '0', *names)
    started = run_module('auraspeak.ops.container_state', {'containers': names[:2], 'state': 'started'}).result
    assert started['changed'] is True
    assert [_status(n) for n in names] == ['running', 'running', 'exited']
    again = run_module('auraspeak.ops.container_state', {'containers': names[:2], 'state': 'started'}).result
    assert again['changed'] is False


def test_a_signal_reaches_the_process_and_a_stopped_one_is_refused(group):
    _label, names = group
    _docker('start', names[0])
    signalled = run_module('auraspeak.ops.container_state', {'containers': [names[0]], 'state': 'signalled'}).result
    assert signalled['changed'] is True
    deadline = time.time() + 10
    while 'got-hup' not in _docker('logs', names[0]) and time.time() < deadline:
        time.sleep(0.2)
    assert 'got-hup' in _docker('logs', names[0])

    _docker('stop', '--time', '0', names[2])
    refused = run_module('auraspeak.ops.container_state', {'containers': [names[2]], 'state': 'signalled'})
    assert refused.rc != 0 and 'is not running, so no process receives the signal' in refused.result['msg']


def test_a_missing_container_fails_and_nothing_changes(group):
    _label, names = group
    _docker('start', names[0])
    missing = 'itest-state-missing-' + uuid.uuid4().hex[:6]
    failed = run_module('auraspeak.ops.container_state', {'containers': [names[0], missing], 'state': 'stopped'})
    assert failed.rc != 0 and 'no container %s on this engine' % missing in failed.result['msg']
    assert _status(names[0]) == 'running'
