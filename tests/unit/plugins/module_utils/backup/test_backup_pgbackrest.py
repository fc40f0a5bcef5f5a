from types import SimpleNamespace

import pytest

from ansible_collections.auraspeak.ops.plugins.module_utils._backup import pgbackrest


def cfg(settings=None, stanza='main', repo_path='/srv/backup/pgbackrest', **postgres):
    return SimpleNamespace(
        project='auraspeak',
        postgres=dict({'image': 'postgres:16', 'settings': settings}, **postgres),
        pgbackrest={
            'stanza': stanza,
            'config_dir': '/etc/auraspeak/auraspeak/backup/pgbackrest',
            'repo_path': repo_path,
        },
    )


def full(label):
    return {'label': label, 'type': 'full', 'reference': None}


def child(label, kind, *reference):
    return {'label': label, 'type': kind, 'reference': list(reference)}


F1, F2, F3 = '20261101-030000F', '20261108-030000F', '20261115-030000F'
D1 = F1 + '_20261102-030000D'
I1 = F1 + '_20261103-030000I'
D2 = F2 + '_20261109-030000D'
I2 = F2 + '_20261110-030000I'

SETS = [
    full(F1),
    child(D1, 'diff', F1),
    child(I1, 'incr', F1, D1),
    full(F2),
    child(D2, 'diff', F2),
    child(I2, 'incr', F2, D2),
    full(F3),
]


@pytest.mark.parametrize(
    ('retention', 'verified', 'expected'),
    [
        (2, None, 2),
        (2, '', 2),
        (2, F3, 2),  # the newest full is kept anyway
        (1, F3, 1),
        (1, F2, 2),
        (2, F1, 3),  # the oldest full: every full must stay
        (1, D1, 3),  # a diff keeps the full it is based on
        (1, I1, 3),  # an incr too, through the first label of its references
        (1, D2, 2),
        (1, I2, 2),
        (5, F1, 5),  # retention above what verification needs
        (2, '20261001-030000F', 2),  # a verified set that has expired already
    ],
)
def test_fulls_to_keep(retention, verified, expected):
    assert pgbackrest.fulls_to_keep(SETS, retention, verified) == expected


def test_fulls_to_keep_without_sets():
    assert pgbackrest.fulls_to_keep([], 3, F1) == 3


@pytest.mark.parametrize(
    ('kwargs', 'expected'),
    [
        ({}, ['restore']),
        ({'label': F1}, ['--set=' + F1, '--type=immediate', '--target-action=promote', 'restore']),
        (
            {'label': F1, 'restore_point': 'auraspeak-' + F1},
            ['--set=' + F1, '--type=name', '--target=auraspeak-' + F1, '--target-action=promote', 'restore'],
        ),
        (
            {'label': F1, 'target_time': '2026-11-26 10:00:00.000000+00'},
            [
                '--set=' + F1,
                '--type=time',
                '--target=2026-11-26 10:00:00.000000+00',
                '--target-action=promote',
                'restore',
            ],
        ),
        (
            # a target time wins over the set's restore point
            {'label': F1, 'restore_point': 'auraspeak-' + F1, 'target_time': '2026-11-26 10:00:00.000000+00'},
            [
                '--set=' + F1,
                '--type=time',
                '--target=2026-11-26 10:00:00.000000+00',
                '--target-action=promote',
                'restore',
            ],
        ),
        (
            {'target_time': '2026-11-26 10:00:00.000000+00'},
            ['--type=time', '--target=2026-11-26 10:00:00.000000+00', '--target-action=promote', 'restore'],
        ),
        (
            {'restore_point': 'auraspeak-x'},
            ['--type=name', '--target=auraspeak-x', '--target-action=promote', 'restore'],
        ),
    ],
)
def test_restore_args(kwargs, expected):
    assert pgbackrest.restore_args(**kwargs) == expected


def test_restore_args_positional_order():
    assert pgbackrest.restore_args(F1, 'p', 't') == pgbackrest.restore_args(
        label=F1, restore_point='p', target_time='t'
    )


LIVE = {
    'shared_buffers': '256MB',
    'wal_level': 'replica',
    'archive_mode': 'on',
    'archive_command': 'pgbackrest --stanza=main archive-push %p',
    'listen_addresses': '*',
    'max_connections': 100,
}


def test_server_flags_with_archiving():
    assert pgbackrest.server_flags(cfg(LIVE, stanza='prod'), archive=True) == [
        '-c',
        'archive_command=pgbackrest --stanza=prod archive-push %p',
        '-c',
        'archive_mode=on',
        '-c',
        'listen_addresses=',
        '-c',
        'max_connections=100',
        '-c',
        'shared_buffers=256MB',
        '-c',
        'wal_level=replica',
    ]


def test_server_flags_without_archiving():
    assert pgbackrest.server_flags(cfg(dict(LIVE, fsync='on')), archive=False) == [
        '-c',
        'archive_mode=off',
        '-c',
        'fsync=off',
        '-c',
        'listen_addresses=',
        '-c',
        'max_connections=100',
        '-c',
        'shared_buffers=256MB',
        '-c',
        'wal_level=replica',
    ]


@pytest.mark.parametrize('settings', [None, {}])
def test_server_flags_without_live_settings(settings):
    assert pgbackrest.server_flags(cfg(settings), archive=False) == [
        '-c',
        'archive_mode=off',
        '-c',
        'fsync=off',
        '-c',
        'listen_addresses=',
    ]


def test_server_flags_without_settings_key():
    config = cfg()
    del config.postgres['settings']
    assert pgbackrest.server_flags(config, archive=True) == [
        '-c',
        'archive_command=pgbackrest --stanza=main archive-push %p',
        '-c',
        'archive_mode=on',
        '-c',
        'listen_addresses=',
    ]


def test_server_flags_leave_the_config_alone():
    live = dict(LIVE)
    config = cfg(live)
    pgbackrest.server_flags(config, archive=False)
    assert config.postgres['settings'] == LIVE


@pytest.mark.parametrize(
    ('label', 'expected'),
    [(F1, 'auraspeak-20261101-030000F'), (I2, 'auraspeak-20261108-030000F_20261110-030000I')],
)
def test_restore_point_name(label, expected):
    assert pgbackrest.restore_point_name(label) == expected


def test_tool_argv_mounts_repository_read_only():
    assert pgbackrest.tool_argv(cfg(), name='drill') == [
        *['docker', 'run', '--user', '999:999', '--network', 'none', '--tmpfs', '/tmp'],
        *['--tmpfs', '/var/run/postgresql:uid=999,gid=999', '--label', 'io.auraspeak.ops.backup-tool=auraspeak'],
        *['--rm', '--name', 'drill', '--read-only'],
        *['-v', '/etc/auraspeak/auraspeak/backup/pgbackrest:/etc/pgbackrest:ro'],
        *['-v', '/srv/backup/pgbackrest:/var/lib/pgbackrest:ro'],
    ]


def test_tool_argv_writable_detached_and_without_local_repository():
    argv = pgbackrest.tool_argv(cfg(), detach=True, writable_repo=True)
    assert '--detach' in argv and '--rm' not in argv
    assert argv[-2:] == ['-v', '/srv/backup/pgbackrest:/var/lib/pgbackrest']
    argv = pgbackrest.tool_argv(cfg(repo_path=None))
    assert argv[-2:] == ['-v', '/etc/auraspeak/auraspeak/backup/pgbackrest:/etc/pgbackrest:ro']
    assert not any(a.endswith(':/var/lib/pgbackrest') or a.endswith(':/var/lib/pgbackrest:ro') for a in argv)


# The console log of `pgbackrest backup` (log-level-console=info) names the set it made.
BACKUP_LOG = """2026-12-05 21:49:54.076 P00   INFO: backup command begin 2.45: --annotation=owner=auraspeak@host1 ...
2026-12-05 21:49:58.912 P00   INFO: new backup label = %s
2026-12-05 21:49:58.990 P00   INFO: full backup size = 1.1GB, file total = 1290
2026-12-05 21:49:59.001 P00   INFO: backup command end: completed successfully (4926ms)
"""


@pytest.mark.parametrize('label, kind', [(F1, 'full'), (D1, 'diff'), (I1, 'incr')])
def test_the_new_set_is_read_from_the_backup_log(label, kind):
    assert pgbackrest.set_from_backup_log(BACKUP_LOG % label) == {'label': label, 'type': kind}


@pytest.mark.parametrize(
    'log',
    [
        '2026-12-05 21:49:59.001 P00   INFO: backup command end: completed successfully',  # a lower log level
        BACKUP_LOG % F1 + BACKUP_LOG % F2,  # two labels: which one is ours is not known
        BACKUP_LOG % 'not-a-label',
    ],
)
def test_a_log_without_exactly_one_label_names_no_set(log):
    assert pgbackrest.set_from_backup_log(log) is None
