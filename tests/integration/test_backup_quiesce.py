"""Volumes whose writers are paused while restic reads them (backup_restic_quiesce_volumes), on the real
engine with the offline restic image: the copy is of one instant, the writers run again afterwards on
every way out, a read past the limit keeps no snapshot, and a backup killed with SIGKILL while they are
paused leaves them paused no longer than the limit.

The writer stands in for Grafana's SQLite (which cannot run here): a shell loop that writes the same
counter to the end of two files, one after the other, as fast as it can. Read as of one instant, the
second file ends with the first's number or one less; read while the loop runs, they are far apart.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
import uuid

import pytest

from ansible_collections.auraspeak.ops.plugins.module_utils._backup import restic
from ansible_collections.auraspeak.ops.plugins.module_utils._backup.config import Config
from ansible_collections.auraspeak.ops.plugins.module_utils._backup.docker import BackupError

RESTIC_IMAGE = 'auraspeak-offline/restic:0.14'
DEBIAN_IMAGE = 'auraspeak-offline/debian:bookworm'
COUNTER = 'i=0; while :; do i=$((i+1)); echo $i >> /data/a; echo $i >> /data/b; done'
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Where this process found the collection, for the backup run in a process of its own.
COLLECTIONS = restic.__file__.split(os.sep + 'ansible_collections' + os.sep, maxsplit=1)[0]


def docker(*args, check=True):
    return subprocess.run(['docker', *args], capture_output=True, text=True, timeout=300, check=check).stdout.strip()


def paused(container):
    return docker('inspect', '--format', '{{.State.Paused}}', container) == 'true'


@pytest.fixture
def volume():
    name = 'itest-quiesce-%s' % uuid.uuid4().hex[:8]
    docker('volume', 'create', name)
    yield name
    docker('rm', '--force', *docker('ps', '-aq', '--filter', 'volume=' + name).split(), check=False)
    docker('volume', 'rm', '--force', name, check=False)


@pytest.fixture
def writer(volume):
    name = volume + '-writer'
    docker(
        'run',
        '--detach',
        '--name',
        name,
        '--network',
        'none',
        '-v',
        volume + ':/data',
        DEBIAN_IMAGE,
        'sh',
        '-c',
        COUNTER,
    )
    yield name
    docker('rm', '--force', name, check=False)


def config(tmp_path, volume, limit=60):
    password = tmp_path / 'restic-password'
    password.write_text('itest-quiesce-restic-password-0123\n', encoding='utf-8')
    repository = tmp_path / 'repository'
    repository.mkdir(exist_ok=True)
    data = {
        'project': volume,
        'state_dir': str(tmp_path / 'state'),
        'postgres': {'service': 'postgres'},
        'restic': {
            'enabled': True,
            'image': RESTIC_IMAGE,
            'repository': '',
            'repo_path': str(repository),
            'password_file': str(password),
            'volumes': [volume],
            'keep': {'daily': 7, 'weekly': 4, 'monthly': 6},
            'quiesce': [volume],
            'quiesce_limit': limit,
        },
    }
    cfg = Config(data)
    restic.init(cfg)
    return cfg


def counters(cfg, snapshot_id, volume):
    path = restic.volume_path(volume)
    return [int(restic.restic(cfg, ['dump', snapshot_id, '%s/%s' % (path, name)])[1].split()[-1]) for name in 'ab']


def counter_now(writer):
    return int(docker('exec', writer, 'tail', '-n', '1', '/data/a'))


@contextlib.contextmanager
def paused_samples(container):
    """Whether a container is paused, sampled every 20 ms while the block runs."""
    seen, stop = [], threading.Event()

    def sample():
        while not stop.is_set():
            seen.append(paused(container))
            time.sleep(0.02)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join()


def test_the_writers_are_paused_for_the_read_and_the_copy_is_of_one_instant(tmp_path, volume, writer):
    cfg = config(tmp_path, volume)
    time.sleep(1)  # the counter is well under way
    with paused_samples(writer) as seen:
        (snapshot_id,), _added = restic.backup_volumes(cfg)
    assert True in seen, 'the writer was never paused while restic read its volume'
    assert not paused(writer), 'the writer is still paused after the backup'
    first, second = counters(cfg, snapshot_id, volume)
    assert first > 1000 and first - second in (0, 1), (first, second)
    # And it runs again: the counter goes on.
    assert counter_now(writer) > first


def test_a_volume_not_listed_is_read_while_its_writers_run(tmp_path, volume, writer):
    cfg = config(tmp_path, volume)
    cfg.restic['quiesce'] = []
    time.sleep(1)
    with paused_samples(writer) as seen:
        restic.backup_volumes(cfg)
    assert len(seen) >= 3 and True not in seen  # sampled during the read, never paused


def fill(volume):
    """400 MB of random data: restic needs longer than a 2 s limit to read it."""
    dd = ['dd', 'if=/dev/urandom', 'of=/data/big', 'bs=1M', 'count=400', 'status=none']
    docker('run', '--rm', '--network', 'none', '-v', volume + ':/data', DEBIAN_IMAGE, *dd)


def test_a_read_past_the_limit_keeps_no_snapshot_and_the_writers_run_again(tmp_path, volume, writer):
    fill(volume)
    cfg = config(tmp_path, volume, limit=2)
    with pytest.raises(BackupError, match='within backup_restic_quiesce_limit'):
        restic.backup_volumes(cfg)
    assert not paused(writer)
    # restic was stopped before the writer ran again (the engine may still be removing its container).
    assert docker('ps', '--quiet', '--filter', 'status=running', '--filter', 'name=^%s-restic-' % volume) == ''
    assert restic.snapshots(cfg, volume) == []


def test_with_no_writer_running_nothing_is_paused_and_no_limit_applies(tmp_path, volume):
    fill(volume)
    cfg = config(tmp_path, volume, limit=2)
    (snapshot_id,), _added = restic.backup_volumes(cfg)
    assert [snap['short_id'] for snap in restic.snapshots(cfg, volume)] == [snapshot_id]


def test_a_backup_killed_while_the_writers_are_paused_leaves_them_paused_no_longer_than_the_limit(
    tmp_path, volume, writer
):
    cfg = config(tmp_path, volume, limit=4)
    script = (
        'import json, sys\n'
        'from ansible_collections.auraspeak.ops.plugins.module_utils._backup import restic\n'
        'from ansible_collections.auraspeak.ops.plugins.module_utils._backup.config import Config\n'
        'restic.backup_volumes(Config(json.loads(sys.argv[1])))\n'
    )
    backup = subprocess.Popen(  # pylint: disable=consider-using-with  # killed below
        [sys.executable, '-c', script, json.dumps(cfg.data)], env=dict(os.environ, PYTHONPATH=COLLECTIONS), cwd=ROOT
    )
    deadline = time.monotonic() + 60
    while not paused(writer):
        assert backup.poll() is None and time.monotonic() < deadline, 'the backup never paused the writer'
        time.sleep(0.02)
    backup.kill()
    backup.wait()
    killed_at = time.monotonic()
    assert paused(writer), 'the writer ran again although the backup was killed: the test did not kill it mid-pause'
    while paused(writer):
        assert time.monotonic() - killed_at < 4 + 10, 'the writer is still paused well past the 4 s limit'
        time.sleep(0.1)
    # A snapshot restic finished before the limit was read while the writer was paused: of one instant.
    for snapshot in restic.snapshots(cfg, volume):
        first, second = counters(cfg, snapshot['id'], volume)
        assert first - second in (0, 1), (first, second)
