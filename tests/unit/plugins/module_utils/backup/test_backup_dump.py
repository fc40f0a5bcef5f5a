import hashlib
import os
from types import SimpleNamespace

import pytest

from ansible_collections.auraspeak.ops.plugins.module_utils._backup import dump
from ansible_collections.auraspeak.ops.plugins.module_utils._backup.docker import BackupError
from ansible_collections.auraspeak.ops.plugins.module_utils._backup.snapshot import _snapshot_of_last_release
from ansible_collections.auraspeak.ops.plugins.module_utils._backup.state import BackupState

S1, S2, S3, S4, S5 = (
    '20261120T030000Z',
    '20261121T030000Z',
    '20261122T030000Z',
    '20261123T030000Z',
    '20261124T030000Z',
)


def make(directory, stamp, tag=None, project='auraspeak', manifest=True):
    """A dump file, and its manifest unless manifest=False; returns the dump's id."""
    name = dump.dump_name(project, stamp, tag)
    path = os.path.join(str(directory), name)
    with open(path, 'wb') as handle:
        handle.write(b'PGDMP' + name.encode())
    if manifest:
        with open(dump.manifest_path(path), 'w') as handle:
            handle.write('{}')
    return dump.dump_id(path)


def ids(paths):
    return [dump.dump_id(path) for path in paths]


def files(directory):
    return sorted(os.listdir(str(directory)))


@pytest.mark.parametrize(
    ('args', 'expected'),
    [
        (('auraspeak', S1), 'auraspeak-20261120T030000Z.dump'),
        (('auraspeak', S1, None), 'auraspeak-20261120T030000Z.dump'),
        (('auraspeak', S1, ''), 'auraspeak-20261120T030000Z.dump'),
        (('auraspeak', S1, 'pre-migration-1.4.0'), 'auraspeak-20261120T030000Z-pre-migration-1.4.0.dump'),
        (('my-shop', S1, 'manual'), 'my-shop-20261120T030000Z-manual.dump'),
    ],
)
def test_dump_name(args, expected):
    assert dump.dump_name(*args) == expected


@pytest.mark.parametrize(
    ('path', 'expected'),
    [
        ('/srv/dumps/auraspeak-20261120T030000Z.dump', 'auraspeak-20261120T030000Z'),
        ('auraspeak-20261120T030000Z-pre-migration-1.4.0.dump', 'auraspeak-20261120T030000Z-pre-migration-1.4.0'),
    ],
)
def test_dump_id(path, expected):
    assert dump.dump_id(path) == expected


def test_manifest_path():
    assert dump.manifest_path('/d/p-%s.dump' % S1) == '/d/p-%s.manifest.json' % S1


@pytest.mark.parametrize(
    ('name', 'expected'),
    [
        ('auraspeak-20261120T030000Z.dump', {'project': 'auraspeak', 'stamp': S1, 'tag': None}),
        ('my-shop-20261120T030000Z.dump', {'project': 'my-shop', 'stamp': S1, 'tag': None}),
        (
            'auraspeak-20261120T030000Z-pre-migration-1.4.0.dump',
            {'project': 'auraspeak', 'stamp': S1, 'tag': 'pre-migration-1.4.0'},
        ),
        ('a_b.c-20261120T030000Z-x_Y.9.dump', {'project': 'a_b.c', 'stamp': S1, 'tag': 'x_Y.9'}),
        ('auraspeak-20261120T030000Z.dump.partial', None),
        ('auraspeak-20261120T030000Z.manifest.json', None),
        ('auraspeak-20261120T030000Z', None),
        ('auraspeak-20261120T0300Z.dump', None),
        ('auraspeak-20261120-030000.dump', None),
        ('20261120T030000Z.dump', None),
        ('-20261120T030000Z.dump', None),
        ('auraspeak-20261120T030000Z-.dump', None),
        ('auraspeak-20261120T030000Z-a b.dump', None),
        ('auraspeak-20261120T030000Z-a+b.dump', None),
    ],
)
def test_parse_name(name, expected):
    assert dump.parse_name(name) == expected


@pytest.mark.parametrize('tag', [None, 'pre-migration-1.4.0', 'manual'])
def test_parse_name_reads_dump_name(tag):
    assert dump.parse_name(dump.dump_name('my-shop', S3, tag)) == {'project': 'my-shop', 'stamp': S3, 'tag': tag}


@pytest.fixture
def dumps(tmp_path):
    """Scheduled and tagged dumps, made out of order, and files list_dumps must ignore."""
    made = {
        'u3': make(tmp_path, S3),
        'u1': make(tmp_path, S1),
        'u4': make(tmp_path, S4),
        'p2': make(tmp_path, S2, 'pre-migration-1.4.0'),
        'p5': make(tmp_path, S5, 'pre-migration-1.5.0'),
        'm1': make(tmp_path, S1, 'manual'),
    }
    make(tmp_path, S5, manifest=False)  # untagged but no manifest: not complete
    make(tmp_path, S4, 'pre-migration-1.4.9', manifest=False)
    (tmp_path / ('auraspeak-%s.dump.partial' % S5)).write_bytes(b'half')
    (tmp_path / 'notes.txt').write_text('x')
    (tmp_path / 'auraspeak-20261199.dump').write_text('x')
    return made


@pytest.mark.parametrize(
    ('tagged', 'expected'),
    [
        (None, ['u1', 'u3', 'u4']),
        ('*', ['m1', 'u1', 'p2', 'u3', 'u4', 'p5']),  # same stamp: by name
        ('pre-migration', ['p2', 'p5']),
        ('pre-migration-1.4', ['p2']),
        ('pre-migration-1.5.0', ['p5']),
        ('man', ['m1']),
        ('nothing', []),
    ],
)
def test_list_dumps(tmp_path, dumps, tagged, expected):
    found = dump.list_dumps(str(tmp_path), tagged)
    assert ids(found) == [dumps[key] for key in expected]
    assert all(os.path.dirname(path) == str(tmp_path) for path in found)


def test_list_dumps_oldest_first_by_stamp_not_name(tmp_path):
    # 'a-…' sorts before 'b-…' by name, but b is older
    make(tmp_path, S2, project='a')
    make(tmp_path, S1, project='b')
    assert ids(dump.list_dumps(str(tmp_path), '*')) == ['b-%s' % S1, 'a-%s' % S2]


def test_list_dumps_missing_directory(tmp_path):
    assert dump.list_dumps(str(tmp_path / 'missing'), '*') == []


def cfg(tmp_path):
    return SimpleNamespace(dump={'dir': str(tmp_path)})


def test_rotate_keeps_the_newest(tmp_path, dumps):
    removed = dump.rotate(cfg(tmp_path), 1, None)
    assert removed == [dumps['u1'], dumps['u3']]
    assert ids(dump.list_dumps(str(tmp_path), None)) == [dumps['u4']]
    assert not os.path.exists(tmp_path / (dumps['u1'] + '.dump'))
    assert not os.path.exists(tmp_path / (dumps['u1'] + '.manifest.json'))
    # the tagged dumps, incomplete dumps and other files are not touched
    assert ids(dump.list_dumps(str(tmp_path), '*')) == [dumps[k] for k in ('m1', 'p2', 'u4', 'p5')]
    assert (tmp_path / ('auraspeak-%s.dump' % S5)).exists()
    assert (tmp_path / ('auraspeak-%s.dump.partial' % S5)).exists()
    assert (tmp_path / 'notes.txt').exists()


@pytest.mark.parametrize(
    ('keep', 'verified', 'removed', 'left'),
    [
        (3, None, [], ['u1', 'u3', 'u4']),
        (5, None, [], ['u1', 'u3', 'u4']),
        (2, None, ['u1'], ['u3', 'u4']),
        (0, None, ['u1', 'u3', 'u4'], []),
        (1, 'u1', ['u3'], ['u1', 'u4']),  # the verified dump survives beyond keep
        (1, 'u4', ['u1', 'u3'], ['u4']),
        (0, 'u3', ['u1', 'u4'], ['u3']),
        (1, 'p2', ['u1', 'u3'], ['u4']),  # a verified id of another group changes nothing
    ],
)
def test_rotate_scheduled(tmp_path, dumps, keep, verified, removed, left):
    verified_id = dumps.get(verified)
    assert dump.rotate(cfg(tmp_path), keep, verified_id) == [dumps[k] for k in removed]
    assert ids(dump.list_dumps(str(tmp_path), None)) == [dumps[k] for k in left]
    assert ids(dump.list_dumps(str(tmp_path), 'pre-migration')) == [dumps['p2'], dumps['p5']]


def test_rotate_tagged_only_touches_its_tag(tmp_path, dumps):
    assert dump.rotate(cfg(tmp_path), 1, None, tagged='pre-migration') == [dumps['p2']]
    assert ids(dump.list_dumps(str(tmp_path), '*')) == [dumps[k] for k in ('m1', 'u1', 'u3', 'u4', 'p5')]
    # the incomplete snapshot is not one to rotate
    assert (tmp_path / ('auraspeak-%s-pre-migration-1.4.9.dump' % S4)).exists()


def test_rotate_empty_directory(tmp_path):
    assert dump.rotate(cfg(tmp_path / 'none'), 1, None) == []


def test_remove_partials(tmp_path, dumps):
    (tmp_path / 'other.partial').write_text('x')
    before = files(tmp_path)
    dump.remove_partials(str(tmp_path))
    after = files(tmp_path)
    assert sorted(set(before) - set(after)) == ['auraspeak-%s.dump.partial' % S5, 'other.partial']
    assert not any(name.endswith('.partial') for name in after)
    assert len(after) == len(before) - 2


def test_check_checksum(tmp_path):
    path = tmp_path / ('auraspeak-%s.dump' % S1)
    path.write_bytes(b'PGDMP data')
    digest = hashlib.sha256(b'PGDMP data').hexdigest()
    assert dump.check_checksum(str(path), {'file': {'sha256': digest}}) is None


def test_check_checksum_corrupt(tmp_path):
    path = tmp_path / ('auraspeak-%s.dump' % S1)
    path.write_bytes(b'PGDMP data, one byte flipped')
    recorded = hashlib.sha256(b'PGDMP data').hexdigest()
    actual = hashlib.sha256(b'PGDMP data, one byte flipped').hexdigest()
    with pytest.raises(BackupError) as info:
        dump.check_checksum(str(path), {'file': {'sha256': recorded}})
    assert str(info.value) == '%s is corrupt: its sha256 is %s, the manifest recorded %s' % (path, actual, recorded)


def test_resolve(tmp_path, dumps):
    assert dump.resolve(cfg(tmp_path)) == str(tmp_path / (dumps['p5'] + '.dump'))
    assert dump.resolve(cfg(tmp_path), 'latest') == str(tmp_path / (dumps['p5'] + '.dump'))
    assert dump.resolve(cfg(tmp_path), dumps['u1']) == str(tmp_path / (dumps['u1'] + '.dump'))
    assert dump.resolve(cfg(tmp_path), dumps['u1'] + '.dump') == str(tmp_path / (dumps['u1'] + '.dump'))
    with pytest.raises(BackupError, match='does not exist'):
        dump.resolve(cfg(tmp_path), 'auraspeak-20200101T000000Z')


def test_resolve_without_dumps(tmp_path):
    with pytest.raises(BackupError, match='holds no complete dump yet'):
        dump.resolve(cfg(tmp_path))


def test_quote_ident():
    assert dump.quote_ident('app') == '"app"'
    assert dump.quote_ident('we"ird') == '"we""ird"'


@pytest.mark.parametrize(
    'snapshots, replaced, release, expected',
    [
        ([], None, '2.0.0', None),
        ([('20261124T010000Z', '2.0.0')], None, '2.0.0', 'auraspeak-20261124T010000Z-pre-migration-2.0.0'),
        # Another release migrated since: a new deploy of 2.0.0 migrates again and needs its own.
        ([('20261124T010000Z', '2.0.0'), ('20261124T020000Z', '3.0.0')], None, '2.0.0', None),
        ([('20261124T010000Z', '2.0.0')], None, '2.0.0-rc1', None),
        # A database rollback or restore since: the database the release migrates now is another one.
        ([('20261124T010000Z', '2.0.0')], 'rollback-database', '2.0.0', None),
        ([('20261124T010000Z', '2.0.0')], 'restore', '2.0.0', None),
    ],
)
def test_a_release_reuses_its_snapshot_only_while_it_is_the_last_one(tmp_path, snapshots, replaced, release, expected):
    dumps_dir = tmp_path / 'dumps'
    dumps_dir.mkdir()
    state = BackupState(str(tmp_path / 'state'), 'auraspeak')
    if replaced:
        after_the_snapshot = dump.taken_at(str(dumps_dir / dump.dump_name('auraspeak', '20261124T013000Z')))
        state.record(replaced, True, after_the_snapshot - 5, after_the_snapshot)
    make(dumps_dir, '20261124T030000Z')  # a scheduled dump is no snapshot
    for stamp, version in snapshots:
        make(dumps_dir, stamp, tag='pre-migration-' + version)
    found = _snapshot_of_last_release(SimpleNamespace(dump={'dir': str(dumps_dir)}, state=state), release)
    assert (dump.dump_id(found) if found else None) == expected


def test_scheduled_dumps_and_snapshots_are_told_apart():
    assert dump.is_scheduled('auraspeak-20261124T030000Z')
    assert not dump.is_scheduled('auraspeak-20261124T030000Z-pre-migration-2.0.0')
    assert dump.taken_at('/x/auraspeak-20261124T030000Z.dump') == 1795489200


@pytest.mark.parametrize(
    'kept', ['app', 'app_before_rollback_', 'app_before_rollback_2026; DROP', 'other_before_rollback_20261203080000']
)
def test_put_back_database_takes_only_a_database_a_rollback_kept(kept):
    cfg = SimpleNamespace(postgres={'user': 'app', 'db': 'app'})  # no live_postgres: refused before any SQL
    with pytest.raises(BackupError, match='is not a database a rollback of app kept'):
        dump.put_back_database(cfg, kept)
