import os
import tarfile

import pytest

from ansible_collections.auraspeak.ops.plugins.module_utils._backup import swarm_raft
from ansible_collections.auraspeak.ops.plugins.module_utils._backup.swarm_raft import RaftBackupError, back_up

DAY = 86400
NOW = 1_796_000_000  # 2026-11-30T00:53:20Z


def manager_state(root):
    """A manager's Swarm directory as the engine lays it out (contents made up)."""
    files = {
        'state.json': '[]',
        'docker-state.json': '{}',
        'certificates/swarm-node.key': 'key',
        'certificates/swarm-node.crt': 'crt',
        'certificates/swarm-root-ca.crt': 'ca',
        'raft/wal-v3-encrypted/0000000000000000-0000000000000000.wal': 'wal' * 1000,
        'raft/snap-v3-encrypted/0000000000000002-0000000000000010.snap': 'snap',
        'worker/tasks.db': 'tasks',
    }
    for relative, content in files.items():
        path = os.path.join(root, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w', encoding='utf-8') as handle:
            handle.write(content)
    return str(root)


def names_in(archive):
    with tarfile.open(archive) as handle:
        return sorted(member.name for member in handle.getmembers())


def test_an_archive_holds_the_managers_state_but_the_task_cache_and_is_private(tmp_path):
    swarm = manager_state(tmp_path / 'swarm')
    result = back_up(swarm, str(tmp_path / 'backups'), 'manager1', keep=3, now=NOW)
    assert result['archive'] == str(tmp_path / 'backups' / 'swarm-raft-manager1-20261130T005320Z.tar.gz')
    assert (result['files'], result['attempts'], result['verified'], result['removed']) == (7, 1, True, [])
    assert 'swarm/raft/wal-v3-encrypted/0000000000000000-0000000000000000.wal' in names_in(result['archive'])
    assert not [name for name in names_in(result['archive']) if name.startswith('swarm/worker')]
    assert os.stat(result['archive']).st_mode & 0o777 == 0o600
    assert os.stat(tmp_path / 'backups').st_mode & 0o777 == 0o700
    assert os.listdir(tmp_path / 'backups') == [os.path.basename(result['archive'])]


def test_only_this_nodes_archives_beyond_keep_go_and_only_after_the_new_one_verified(tmp_path):
    swarm = manager_state(tmp_path / 'swarm')
    dest = str(tmp_path / 'backups')
    made = [back_up(swarm, dest, 'manager1', keep=2, now=NOW + day * DAY)['archive'] for day in range(3)]
    other = back_up(swarm, dest, 'manager2', keep=2, now=NOW)['archive']
    assert sorted(os.listdir(dest)) == sorted(os.path.basename(path) for path in made[1:] + [other])

    # A run whose copy does not verify removes nothing, and leaves no archive of its own.
    def broken(path):
        raise RaftBackupError('the archive %s does not read back' % path)

    original = swarm_raft.verify
    swarm_raft.verify = broken
    try:
        with pytest.raises(RaftBackupError, match='does not read back'):
            back_up(swarm, dest, 'manager1', keep=2, now=NOW + 9 * DAY)
    finally:
        swarm_raft.verify = original
    assert sorted(os.listdir(dest)) == sorted(os.path.basename(path) for path in made[1:] + [other])


def test_check_mode_names_the_archive_and_what_would_go_and_writes_nothing(tmp_path):
    swarm = manager_state(tmp_path / 'swarm')
    dest = str(tmp_path / 'backups')
    first = back_up(swarm, dest, 'manager1', keep=1, now=NOW)['archive']
    planned = back_up(swarm, dest, 'manager1', keep=1, now=NOW + DAY, check_mode=True)
    assert planned['removed'] == [os.path.basename(first)] and 'bytes' not in planned
    assert os.listdir(dest) == [os.path.basename(first)]


def test_a_copy_during_which_the_state_changed_is_dropped_and_taken_again(tmp_path, monkeypatch):
    swarm = manager_state(tmp_path / 'swarm')
    wal = os.path.join(swarm, 'raft/wal-v3-encrypted/0000000000000000-0000000000000000.wal')
    copies = []
    real_fingerprint = swarm_raft.fingerprint

    def fingerprint_while_writing(directory):
        # The engine appends to its log while the first copy is read: the fingerprint after it differs.
        copies.append(directory)
        if len(copies) == 3:
            with open(wal, 'a', encoding='utf-8') as handle:
                handle.write('appended')
        return real_fingerprint(directory)

    monkeypatch.setattr(swarm_raft, 'fingerprint', fingerprint_while_writing)
    result = back_up(swarm, str(tmp_path / 'backups'), 'manager1', keep=2, now=NOW, pause=0)
    assert result['attempts'] == 2
    with tarfile.open(result['archive']) as archive:
        member = archive.extractfile('swarm/raft/wal-v3-encrypted/0000000000000000-0000000000000000.wal')
        assert member.read().endswith(b'appended')
    assert os.listdir(tmp_path / 'backups') == [os.path.basename(result['archive'])]


def test_a_state_that_never_stays_still_fails_and_keeps_the_older_archives(tmp_path, monkeypatch):
    swarm = manager_state(tmp_path / 'swarm')
    dest = str(tmp_path / 'backups')
    older = back_up(swarm, dest, 'manager1', keep=1, now=NOW)['archive']
    calls = iter(range(1000))
    real_fingerprint = swarm_raft.fingerprint
    # Each look at the files finds state.json rewritten.
    monkeypatch.setattr(swarm_raft, 'fingerprint', lambda d: {**real_fingerprint(d), 'state.json': (next(calls), 0, 0)})
    with pytest.raises(RaftBackupError, match='changed during each of 3 copies; no archive was written'):
        back_up(swarm, dest, 'manager1', keep=1, attempts=3, now=NOW + DAY, pause=0)
    assert os.listdir(dest) == [os.path.basename(older)]


@pytest.mark.parametrize(
    ('remove', 'lacks'),
    [('certificates/swarm-root-ca.crt', 'certificates/swarm-root-ca.crt'), ('raft', 'the Raft log')],
)
def test_a_directory_without_a_managers_state_is_refused_before_anything_is_written(tmp_path, remove, lacks):
    swarm = manager_state(tmp_path / 'swarm')
    path = os.path.join(swarm, remove)
    if os.path.isdir(path):
        for directory, _dirs, files in os.walk(path):
            for name in files:
                os.unlink(os.path.join(directory, name))
    else:
        os.unlink(path)
    with pytest.raises(RaftBackupError, match="not a manager's Swarm state, it lacks .*%s" % lacks):
        back_up(swarm, str(tmp_path / 'backups'), 'manager1', keep=1, now=NOW)
    assert not os.path.exists(tmp_path / 'backups')


def test_an_engine_never_in_a_cluster_is_named(tmp_path):
    with pytest.raises(RaftBackupError, match='never been in a Swarm cluster'):
        back_up(str(tmp_path / 'swarm'), str(tmp_path / 'backups'), 'manager1', keep=1)
