import pytest

from ansible_collections.auraspeak.ops.plugins.module_utils._backup import config
from ansible_collections.auraspeak.ops.plugins.module_utils._backup.docker import BackupError
from ansible_collections.auraspeak.ops.plugins.module_utils._common.files import write_json


@pytest.mark.parametrize(
    ('args', 'expected'),
    [
        (('auraspeak',), '/etc/auraspeak/auraspeak/backup/backup.json'),
        (('shop', '/srv/conf'), '/srv/conf/shop/backup/backup.json'),
        (('shop', '/srv/conf/'), '/srv/conf/shop/backup/backup.json'),
    ],
)
def test_config_path(args, expected):
    assert config.config_path(*args) == expected


def data(tmp_path, **more):
    return dict({'project': 'auraspeak', 'postgres': {'service': 'postgres'}, 'state_dir': str(tmp_path)}, **more)


@pytest.mark.parametrize(
    ('postgres', 'expected'),
    [
        ({'service': 'postgres'}, 'auraspeak_postgres-data'),
        ({'service': 'postgres', 'volume': 'db'}, 'auraspeak_db'),
    ],
)
def test_postgres_volume(tmp_path, postgres, expected):
    assert config.Config(data(tmp_path, postgres=postgres)).postgres_volume() == expected


def test_defaults(tmp_path):
    cfg = config.Config(data(tmp_path, pgbackrest=None))
    assert (cfg.pgbackrest, cfg.dump, cfg.restic) == ({'enabled': False}, {'enabled': False}, {'enabled': False})
    assert cfg.drill_timeout == 1800
    assert cfg.state.path == str(tmp_path / 'backup-state.json')
    assert cfg.state.metrics_dir == str(tmp_path / 'metrics')


def test_values(tmp_path):
    cfg = config.Config(
        data(tmp_path, dump={'enabled': True, 'dir': '/d'}, drill_timeout='60', metrics_dir=str(tmp_path / 'm'))
    )
    assert cfg.dump == {'enabled': True, 'dir': '/d'}
    assert cfg.drill_timeout == 60
    assert cfg.state.metrics_dir == str(tmp_path / 'm')
    assert cfg.state.project == 'auraspeak'


def test_load(tmp_path):
    path = str(tmp_path / 'backup.json')
    write_json(path, data(tmp_path))
    assert config.load(path).project == 'auraspeak'


def test_load_missing(tmp_path):
    path = str(tmp_path / 'backup.json')
    with pytest.raises(BackupError) as info:
        config.load(path)
    assert str(info.value) == '%s does not exist: run the auraspeak.ops.backup role on this host first' % path
