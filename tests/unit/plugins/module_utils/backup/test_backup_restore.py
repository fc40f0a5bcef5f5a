import pytest

from ansible_collections.auraspeak.ops.plugins.module_utils._backup import restore
from ansible_collections.auraspeak.ops.plugins.module_utils._backup.docker import BackupError

T = 1795687200.0  # 2026-11-26 10:00:00 UTC
LATER = T + 86400


@pytest.mark.parametrize(
    ('text', 'epoch', 'utc'),
    [
        ('2026-11-26 10:00:00+00:00', T, '2026-11-26 10:00:00.000000+00'),
        ('2026-11-26T10:00:00+00:00', T, '2026-11-26 10:00:00.000000+00'),
        ('2026-11-26T10:00:00Z', T, '2026-11-26 10:00:00.000000+00'),
        ('2026-11-26T10:00:00z', T, '2026-11-26 10:00:00.000000+00'),
        ('  2026-11-26 10:00:00Z \n', T, '2026-11-26 10:00:00.000000+00'),
        ('2026-11-26 12:00:00+02:00', T, '2026-11-26 10:00:00.000000+00'),
        ('2026-11-26 05:30:00-04:30', T, '2026-11-26 10:00:00.000000+00'),
        ('2026-11-26 00:30:00-10:00', T + 3600 * 0.5, '2026-11-26 10:30:00.000000+00'),
        ('2026-11-26 10:00:00.25Z', T + 0.25, '2026-11-26 10:00:00.250000+00'),
        ('2026-11-27 01:00:00+01:00', T + 14 * 3600, '2026-11-27 00:00:00.000000+00'),
    ],
)
def test_parse_target_time(text, epoch, utc):
    assert restore.parse_target_time(text, now=LATER) == (epoch, utc)


def test_parse_target_time_now_itself_is_fine():
    assert restore.parse_target_time('2026-11-26 10:00:00Z', now=T) == (T, '2026-11-26 10:00:00.000000+00')


@pytest.mark.parametrize('text', ['2026-11-26 10:00:00', '2026-11-26', 'yesterday', '', None, '10:00+00:00', 'Z'])
def test_parse_target_time_needs_an_offset(text):
    with pytest.raises(BackupError) as info:
        restore.parse_target_time(text, now=LATER)
    assert 'is not a time with a UTC offset' in str(info.value)
    assert repr(text) in str(info.value)


def test_parse_target_time_in_the_future():
    with pytest.raises(BackupError) as info:
        restore.parse_target_time('2026-11-26 10:00:01Z', now=T)
    assert str(info.value) == (
        'restore_target_time 2026-11-26 10:00:01Z is in the future: nothing is archived for it yet'
    )


def backup_set(label, stop):
    return {'label': label, 'timestamp': {'start': stop - 60, 'stop': stop}}


SETS = [backup_set('F1', 100), backup_set('D1', 200), backup_set('F2', 300)]


@pytest.mark.parametrize(
    ('epoch', 'label'),
    [(100, 'F1'), (199.9, 'F1'), (200, 'D1'), (250, 'D1'), (300, 'F2'), (10**10, 'F2')],
)
def test_choose_set(epoch, label):
    assert restore.choose_set(SETS, epoch)['label'] == label


@pytest.mark.parametrize('epoch', [99.999, 0])
def test_choose_set_before_the_oldest(epoch):
    with pytest.raises(BackupError) as info:
        restore.choose_set(SETS, epoch)
    assert str(info.value) == (
        'restore_target_time is before the end of the oldest backup set (F1, ended 1970-01-01 00:01:40+00:00): the '
        'repository cannot recover to it; choose a time after 1970-01-01 00:01:40+00:00'
    )


def test_kept_hint_before_anything_was_touched():
    assert restore.kept_hint({}) == 'The data directory was not touched.'
    assert restore.kept_hint({'volume': 'auraspeak_postgres-data'}) == 'The data directory was not touched.'


def test_kept_hint_without_data():
    assert restore.kept_hint({'volume': 'auraspeak_postgres-data', 'kept': None}) == 'There was no data to keep.'


def test_kept_hint_with_kept_data():
    hint = restore.kept_hint({'volume': 'auraspeak_postgres-data', 'kept': 'pgdata.before-restore-20261126T100000Z'})
    assert hint == (
        'The data from before the restore is kept in volume auraspeak_postgres-data as '
        'pgdata.before-restore-20261126T100000Z: to put it back, with the database stopped, run: docker run --rm '
        '-u 999:999 -v auraspeak_postgres-data:/d --entrypoint sh <postgres image> -c '
        '"rm -rf /d/pgdata && mv /d/pgdata.before-restore-20261126T100000Z /d/pgdata"'
    )
