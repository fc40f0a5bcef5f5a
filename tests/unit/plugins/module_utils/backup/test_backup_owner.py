from types import SimpleNamespace

import pytest

from ansible_collections.auraspeak.ops.plugins.module_utils._backup import owner
from ansible_collections.auraspeak.ops.plugins.module_utils._backup.config import Config
from ansible_collections.auraspeak.ops.plugins.module_utils._backup.docker import BackupError

CFG = SimpleNamespace(owner='auraspeak@app1')


def test_a_restic_snapshot_names_its_writer_in_a_tag():
    tagged = {'tags': ['volume=auraspeak_redis-data', owner.restic_tag('auraspeak@app2')]}
    assert owner.restic_owner(tagged) == 'auraspeak@app2'
    assert owner.restic_owner({'tags': ['volume=x']}) is None
    assert owner.restic_owner({}) is None


def test_a_pgbackrest_set_names_its_writer_in_an_annotation():
    assert owner.pgbackrest_owner({'annotation': {'owner': 'auraspeak@app2'}}) == 'auraspeak@app2'
    assert owner.pgbackrest_owner({'label': '20261201-030000F'}) is None


@pytest.mark.parametrize('owners', [[], [None, None], ['auraspeak@app1', None, 'auraspeak@app1']])
def test_own_and_unmarked_backups_are_accepted(owners):
    owner.require_own(owners, CFG, 'stanza auraspeak', 'app_postgres_pgbackrest_stanza')


def test_another_writer_is_refused_naming_it_and_the_variable():
    with pytest.raises(BackupError) as caught:
        owner.require_own(
            ['auraspeak@app1', 'auraspeak@app2', None], CFG, 'restic host name auraspeak', 'backup_restic_host'
        )
    message = str(caught.value)
    assert 'written by auraspeak@app2, and this is auraspeak@app1' in message
    assert 'set backup_restic_host on each host' in message
    assert 'Nothing was restored, written or expired' in message


def test_the_writer_defaults_to_the_project_for_a_config_written_before_owners():
    base = {'project': 'shop', 'postgres': {'service': 'postgres'}, 'state_dir': '/tmp'}
    assert Config(base).owner == 'shop'
    assert Config(dict(base, owner='shop@web1')).owner == 'shop@web1'
