"""The backup role's systemd units, checked by systemd's own parser, and the command they run.

This machine has no systemd running, so the timers cannot be started here;
systemd-analyze verify still parses every unit the role writes (the command it
runs must exist), and systemd-analyze calendar computes when each timer fires.
The command the units run talks to the engine backup_docker_host names.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from playbook_runs import run_playbook

SCHEDULES = {
    'full': ('0 3 * * 0', 'Sun'),
    'diff': ('0 3 * * 1-6', None),
    'dump': ('30 2 * * *', None),
}


# An engine address where none listens: the command's docker calls must go there, and fail naming it.
NO_ENGINE = 'unix:///tmp/itest-units-no-engine.sock'


@pytest.fixture(scope='module')
def units(tmp_path_factory):
    root = tmp_path_factory.mktemp('units')
    extra = {
        'backup_project': 'itest-units',
        'backup_config_dir': str(root / 'etc'),
        'backup_state_dir': str(root / 'state'),
        'backup_lib_dir': str(root / 'lib'),
        'backup_bin_dir': str(root / 'bin'),
        'backup_systemd_dir': str(root / 'systemd'),
        'backup_log_file': str(root / 'backup.log'),
        'backup_pgbackrest_cipher_pass': 'itest-units-passphrase-0123456789',
        'backup_restic_password': 'itest-units-restic-password-0123',
        'backup_restic_volumes': ['itest-units-files'],
        'backup_docker_host': NO_ENGINE,
    }
    os.makedirs(extra['backup_systemd_dir'])
    run = run_playbook('tests/integration/playbooks/backup_units.yml', extra, inventory='inventories/local/hosts.yml')
    assert run.rc == 0, run.failures('localhost') or run.stderr[-2000:]
    return root / 'systemd'


def test_a_service_and_a_timer_for_every_job(units):
    names = sorted(os.listdir(units))
    jobs = ['diff', 'dump', 'full', 'verify-dump', 'verify-pgbackrest', 'verify-restic', 'volumes']
    assert names == sorted(
        'auraspeak-backup-itest-units-%s.%s' % (job, kind) for job in jobs for kind in ('service', 'timer')
    )


def test_systemd_accepts_every_unit(units):
    paths = [str(units / name) for name in sorted(os.listdir(units))]
    completed = subprocess.run(['systemd-analyze', 'verify', *paths], capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert 'Failed' not in completed.stderr, completed.stderr


@pytest.mark.parametrize('job', sorted(SCHEDULES))
def test_each_timer_fires_when_its_cron_schedule_says(units, job):
    text = (units / ('auraspeak-backup-itest-units-%s.timer' % job)).read_text()
    expression = next(line.split('=', 1)[1] for line in text.splitlines() if line.startswith('OnCalendar='))
    completed = subprocess.run(
        ['systemd-analyze', 'calendar', '--iterations=7', expression], capture_output=True, text=True, check=True
    )
    elapses = [
        line.split(':', 1)[1].split()
        for line in completed.stdout.splitlines()
        if 'Next elapse' in line or 'Iter.' in line
    ]
    minute, hour, _day, _month, _weekday = SCHEDULES[job][0].split()
    days = [fields[0] for fields in elapses]
    assert all(fields[2] == '%02d:%02d:00' % (int(hour), int(minute)) for fields in elapses), completed.stdout
    if job == 'full':
        assert set(days) == {'Sun'}
    elif job == 'diff':
        assert 'Sun' not in days and len(set(days)) == 6
    else:
        assert len(set(days)) == 7


def test_the_command_talks_to_the_engine_backup_docker_host_names(units):
    root = units.parent
    env = {k: v for k, v in os.environ.items() if k != 'DOCKER_HOST'}
    completed = subprocess.run(
        [str(root / 'bin' / 'auraspeak-backup'), '--config', str(root / 'etc' / 'backup.json'), 'list'],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert NO_ENGINE in json.loads(completed.stdout)['msg']
