"""The shell steps of a restore with a WAL stream, run with sh on temporary directories."""

from __future__ import annotations

import subprocess

from ansible_collections.auraspeak.ops.plugins.module_utils._backup import wal_stream

SEGMENT = '000000010000000000000003'
OLDER = '000000010000000000000002'


def sh(script):
    return subprocess.run(['sh', '-c', script], capture_output=True, text=True, check=True).stdout.strip()


def stream_dir(tmp_path):
    stream = tmp_path / 'stream'
    (stream / 'before-restore-20261201T000000Z').mkdir(parents=True)
    (stream / OLDER).write_bytes(b'complete')
    (stream / (SEGMENT + '.partial')).write_bytes(b'partial')
    (stream / '00000002.history').write_text('1\t0/3000000\tno recovery target specified\n')
    (stream / 'README').write_text('not WAL')
    return stream


def test_the_copy_puts_every_segment_into_pg_wal_with_the_partial_one_under_its_own_name(tmp_path):
    stream = stream_dir(tmp_path)
    pg_wal = tmp_path / 'pgdata' / 'pg_wal'
    pg_wal.mkdir(parents=True)
    copied = sh(wal_stream._COPY % {'mount': stream, 'segments': wal_stream._SEGMENTS, 'pgdata': tmp_path / 'pgdata'})
    assert copied == '2'
    assert sorted(p.name for p in pg_wal.iterdir()) == [OLDER, SEGMENT]
    assert (pg_wal / SEGMENT).read_bytes() == b'partial'


def test_the_copy_of_an_empty_stream_copies_nothing(tmp_path):
    (tmp_path / 'stream').mkdir()
    (tmp_path / 'pgdata' / 'pg_wal').mkdir(parents=True)
    script = wal_stream._COPY % {
        'mount': tmp_path / 'stream',
        'segments': wal_stream._SEGMENTS,
        'pgdata': tmp_path / 'pgdata',
    }
    assert sh(script) == '0'


def test_setting_aside_moves_the_wal_files_and_nothing_else(tmp_path):
    stream = stream_dir(tmp_path)
    kept = 'before-restore-20261205T120000Z'
    moved = sh(wal_stream._SET_ASIDE % {'mount': stream, 'segments': wal_stream._SEGMENTS, 'kept': kept})
    assert moved == '3'
    assert sorted(p.name for p in stream.iterdir()) == ['README', 'before-restore-20261201T000000Z', kept]
    expected = sorted(['00000002.history', OLDER, SEGMENT + '.partial'])
    assert sorted(p.name for p in (stream / kept).iterdir()) == expected


def test_setting_aside_an_empty_stream_makes_no_directory(tmp_path):
    (tmp_path / 'stream').mkdir()
    script = wal_stream._SET_ASIDE % {'mount': tmp_path / 'stream', 'segments': wal_stream._SEGMENTS, 'kept': 'k'}
    assert sh(script) == '0'
    assert list((tmp_path / 'stream').iterdir()) == []
