"""backup_pgbackrest_options against pgBackRest itself: a repository option the
role also writes (repo1-path, for a remote repository's path) replaces the
role's line instead of repeating it, which pgBackRest refuses; options that would
undo what the role guarantees are refused before anything changes."""

from __future__ import annotations

import json
import os
import subprocess

from playbook_runs import run_playbook

POSTGRES_IMAGE = 'auraspeak-offline/postgres:15'
BASE = {
    'backup_project': 'itest-pgbr',
    'backup_pgbackrest_stanza': 'itest-pgbr',
    'backup_pgbackrest_cipher_pass': 'itest-pgbr-passphrase-0123456789',
    'backup_restic_password': 'itest-pgbr-restic-password-0123',
    'backup_pgbackrest_repo_path': '',  # nothing on this machine outside the test's directory
}


def write_config(tmp_path, options):
    config_dir = tmp_path / 'pgbackrest'
    extra = dict(BASE, backup_pgbackrest_config_dir=str(config_dir), backup_pgbackrest_options=options)
    run = run_playbook('tests/integration/playbooks/backup_pgbackrest_config.yml', extra)
    assert run.rc == 0, run.failures('localhost') or run.stderr[-2000:]
    return config_dir / 'pgbackrest.conf'


def pgbackrest_info(config, repository=None):
    """`pgbackrest info` as PostgreSQL's container runs it, reading only the rendered file; repository, when
    given, is mounted at /itest-remote-path."""
    mounts = ['-v', '%s:/etc/pgbackrest/pgbackrest.conf:ro' % config]
    if repository:
        mounts += ['-v', '%s:/itest-remote-path:ro' % repository]
    argv = ['docker', 'run', '--rm', '--network', 'none', '--user', '0', *mounts, POSTGRES_IMAGE]
    argv += ['pgbackrest', '--stanza=itest-pgbr', '--output=json', 'info']
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)


def stanza_status(info):
    assert info.returncode == 0, info.stderr or info.stdout
    (stanza,) = json.loads(info.stdout)
    return stanza['status']['message']


def global_lines(config):
    text = config.read_text(encoding='utf-8')
    section = text.split('[global]', 1)[1].split('\n[', 1)[0]
    return [line for line in section.splitlines() if line and not line.startswith('#')]


def test_a_repository_path_of_the_options_replaces_the_roles(tmp_path):
    config = write_config(tmp_path, {'repo1-path': '/itest-remote-path', 'log-level-console': 'warn'})
    lines = global_lines(config)
    assert [line for line in lines if line.startswith('repo1-path=')] == ['repo1-path=/itest-remote-path']
    assert [line for line in lines if line.startswith('log-level-console=')] == ['log-level-console=warn']
    assert stanza_status(pgbackrest_info(config)) == 'missing stanza path'
    # A stanza's directories at the path of the options, and only there, are what pgBackRest finds.
    repository = tmp_path / 'repository'
    for kind in ('backup', 'archive'):
        (repository / kind / 'itest-pgbr').mkdir(parents=True)
    assert stanza_status(pgbackrest_info(config, repository)) == 'missing stanza data'


def test_without_options_the_roles_repository_stands(tmp_path):
    config = write_config(tmp_path, {})
    assert 'repo1-path=/var/lib/pgbackrest' in global_lines(config)
    assert stanza_status(pgbackrest_info(config)) == 'missing stanza path'


def test_options_that_would_undo_the_roles_guarantees_are_refused_and_nothing_is_written(tmp_path):
    for option, variable in (
        ('expire-auto', 'auraspeak-backup expires'),
        ('repo1-cipher-pass', 'backup_pgbackrest_cipher_pass'),
        ('repo1-retention-full', 'backup_pgbackrest_retention_full'),
    ):
        config_dir = tmp_path / option
        extra = dict(BASE, backup_pgbackrest_config_dir=str(config_dir), backup_pgbackrest_options={option: 'x'})
        run = run_playbook('tests/integration/playbooks/backup_pgbackrest_config.yml', extra)
        assert run.rc != 0
        message = ' '.join(run.failures('localhost'))
        assert 'backup_pgbackrest_options' in message and option in message and variable in message, message
        assert not os.path.exists(config_dir / 'pgbackrest.conf')
