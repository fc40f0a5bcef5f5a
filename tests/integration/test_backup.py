"""The backup role, backup.yml, verify_backup.yml and backup_verify against the real engine.

One stack (itest-b1) is deployed with site.yml, which runs the backup role
after the deploy, and is then taken through its life in order: the role's
second run and check mode, backups of every kind and their metrics, restore
drills, corrupted backups, failed and killed backups, and retention. The tests
of this module depend on that order.
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import urllib.request

import pytest
from awx_jobs import run_job, survey_answers
from backup_stack import (
    BACKUP_SECRETS,
    CIPHER_PASS,
    RESTIC_PASSWORD,
    VAULTED,
    BackupStack,
    build_images,
    fill_up,
    fill_volume,
    remove_images,
    wait_for,
)
from deploy_stack import docker
from playbook_runs import ENV, ROOT, leaked, run_module, run_playbook, run_verbose

pytestmark = pytest.mark.backup
IMAGE = 'itest-backup1/app'
ROLE_PLAY = 'tests/integration/playbooks/backup_role.yml'
AWS_SECRET = 'itest-aws-secret-value-0123456789'


@pytest.fixture(scope='module')
def stack(tmp_path_factory):
    build_images(IMAGE)
    stack = BackupStack('itest-b1', str(tmp_path_factory.mktemp('backup')), IMAGE)
    # Small retention numbers, so the retention test needs few backups; restic reads all data back.
    stack.create_or_clean_up(
        {
            'backup_dump_keep': 2,
            'backup_pgbackrest_retention_full': 1,
            'backup_restic_keep_daily': 1,
            'backup_restic_keep_weekly': 0,
            'backup_restic_keep_monthly': 0,
            'backup_restic_check_subset': '100%',
        }
    )
    yield stack
    stack.destroy()
    remove_images(IMAGE)


def role(stack, check=False, **extra):
    return run_playbook(ROLE_PLAY, extra or None, check=check, inventory=stack.inventory)


def cli(stack, *args, **kwargs):
    return stack.backup_cli(*args, **kwargs)


# -- the role -------------------------------------------------------------------------


def test_site_sets_up_pgbackrest_and_takes_the_first_full_backup(stack):
    full = stack.job('full')
    assert full['status'] == 'success' and full['id'].endswith('F')
    assert stack.pgbackrest_sets() == [full['id']]
    # PostgreSQL archives to the stanza: a segment switched now reaches the repository.
    assert cli(stack, 'archive-now')[1]['archived']
    assert stack.metric('last_status', 'full') == 1
    assert stack.metric('last_success_timestamp_seconds', 'full') == pytest.approx(full['last_success'])


# Files that are secrets themselves (docs/security.md, "Where secrets live": secrets/ of the config
# and of each kept generation of it, the backup tools' configuration), what holds the database's own
# data (repositories, dumps), and the inventory the test wrote (a user's vault): everything else
# under the stack must show no secret.
SECRET_FILES = ('etc/backup/restic-password', 'etc/backup/restic.env', 'etc/backup/pgbackrest/pgbackrest.conf')


def holds_secrets_by_design(relative):
    return (
        relative in SECRET_FILES
        or relative == 'hosts.yml'
        or relative.startswith('backups/')
        or 'secrets' in relative.split(os.sep)[:-1]
    )


def test_site_yml_with_diff_vvv_shows_no_secret_of_any_role(stack):
    # The stack's site.yml ran with --diff -vvv: the docker_host, edge, app and backup roles with the
    # app's JWT secret, PostgreSQL and Redis passwords, pgBackRest's cipher pass and restic's password.
    assert 'TASK [auraspeak.ops.backup' in stack.site_run.stdout
    assert leaked(stack.site_run, BACKUP_SECRETS) == []
    shown = {}
    for root, _dirs, files in os.walk(stack.dir):
        for name in files:
            path = os.path.join(root, name)
            relative = os.path.relpath(path, stack.dir)
            if holds_secrets_by_design(relative) or not os.path.isfile(path):
                continue
            with open(path, encoding='utf-8', errors='replace') as handle:
                text = handle.read()
            shown.update(
                {relative: [s for s in BACKUP_SECRETS if s in text]} if any(s in text for s in BACKUP_SECRETS) else {}
            )
    assert shown == {}, shown


def test_second_run_of_the_role_changes_nothing(stack):
    run = role(stack)
    assert run.rc == 0, run.failures(stack.name)
    assert run.host_stats(stack.name)['changed'] == 0


def test_check_mode_changes_nothing(stack):
    before = stack.state(), stack.pgbackrest_sets()
    run = role(stack, check=True, backup_dump_keep=3)
    assert run.rc == 0, run.failures(stack.name)
    assert run.host_stats(stack.name)['changed'] >= 1  # backup.json would change
    assert (stack.state(), stack.pgbackrest_sets()) == before
    with open(stack.backup_config, encoding='utf-8') as handle:
        assert '"keep": 2' in handle.read()


def test_the_cron_file_runs_each_job_with_the_installed_command(stack):
    with open(os.path.join(stack.dir, 'cron', 'auraspeak-backup'), encoding='utf-8') as handle:
        lines = [line for line in handle.read().splitlines() if line and not line.startswith(('#', 'SHELL', 'PATH'))]
    jobs = {
        line.split(' root ')[1].split(' >>')[0].split(' --config %s ' % stack.backup_config)[1]: line for line in lines
    }
    assert sorted(jobs) == sorted(
        [
            'backup full',
            'backup diff',
            'verify pgbackrest',
            'backup dump',
            'verify dump',
            'backup volumes',
            'verify restic',
        ]
    )
    assert jobs['backup full'].startswith('0 3 * * 0 root ')
    # Run one line's command exactly as cron would (sh -c, the file's PATH).
    command = jobs['backup dump'].split(' root ', 1)[1]
    before = stack.dumps()
    subprocess.run(['sh', '-c', command], check=True, env={'PATH': '/usr/local/bin:/usr/bin:/bin'})
    assert len(stack.dumps()) == len(before) + 1
    with open(os.path.join(stack.dir, 'backup.log'), encoding='utf-8') as handle:
        assert '"status": "success"' in handle.read()


def test_missing_secret_is_refused_before_any_change(stack, tmp_path):
    other = str(tmp_path / 'etc')
    run = role(stack, backup_pgbackrest_cipher_pass='', backup_config_dir=other)
    assert run.rc != 0
    assert 'backup_pgbackrest_cipher_pass must be set' in ' '.join(run.failures(stack.name))
    assert not os.path.exists(other)


@pytest.mark.parametrize(
    ('extra', 'message'),
    [
        ({'backup_dump_schedule': 'daily'}, 'backup_dump_schedule is "daily"'),
        ({'backup_restic_volumes': ['no/such volume']}, 'not Docker volume names'),
        ({'backup_scheduler': 'anacron'}, 'backup_scheduler must be one of: auto, systemd, cron, none'),
        ({'backup_dump_keep': 0}, 'backup_dump_keep and backup_snapshot_keep (1 or more'),
        ({'backup_pgbackrest_repo_path': '/srv/elsewhere'}, 'set app_postgres_pgbackrest_config_dir'),
        ({'backup_restic_quiesce_volumes': ['itest-not-backed-up']}, 'backup_restic_quiesce_volumes must name volumes'),
    ],
    ids=['schedule', 'volume-name', 'scheduler', 'keep', 'repository-path', 'quiesce-volume'],
)
def test_bad_input_is_refused_naming_the_variable(stack, tmp_path, extra, message):
    other = str(tmp_path / 'etc')
    run = role(stack, backup_config_dir=other, **extra)
    assert run.rc != 0
    assert message in ' '.join(run.failures(stack.name))
    assert not os.path.exists(other)


# -- backups and drills -------------------------------------------------------------------


def test_backup_yml_takes_every_kind_and_exports_metrics(stack, tmp_path):
    fill_volume(stack.files_volume, 'one')
    stack.sql("CREATE TABLE facts (id serial PRIMARY KEY, body text); INSERT INTO facts (body) VALUES ('a'), ('b')")
    # As the "Back up" job template runs it, at the most a job can print (verbosity 3 and --diff).
    job = run_job(tmp_path, 'backup', stack.inventory, survey_answers('backup'), VAULTED, verbosity=3, diff=True)
    job.assert_ran_unattended(stack.name)
    assert leaked(job, BACKUP_SECRETS) == []
    for job in ('diff', 'dump', 'volumes'):
        assert stack.job(job)['status'] == 'success', stack.job(job)
        assert stack.metric('last_status', job) == 1
        assert stack.metric('last_size_bytes', job) > 0
        assert stack.metric('running', job) == 0
    assert stack.job('diff')['id'].endswith('D')
    assert [s['paths'] for s in stack.listing()['restic']][-1] == ['/volumes/' + stack.files_volume]


@pytest.mark.parametrize('kind', ['pgbackrest', 'dump', 'restic'])
def test_check_mode_of_backup_verify_names_the_backup_and_runs_no_drill(stack, kind):
    run = run_module('auraspeak.ops.backup_verify', {'config': stack.backup_config, 'kind': kind}, check=True)
    result = run.result
    assert result['changed'] is False and result['report']['id']
    assert result['msg'].startswith('would verify %s backup ' % kind)
    assert 'verify-%s' % kind not in stack.state()['jobs']


def live_row_counts(stack):
    rows = stack.sql("SELECT format('%I.%I', schemaname, relname) FROM pg_stat_user_tables ORDER BY 1")
    return {name: int(stack.sql('SELECT count(*) FROM %s' % name)[0][0]) for (name,) in rows}


def test_verify_backup_yml_drills_every_kind(stack):
    run = run_playbook('playbooks/verify_backup.yml', inventory=stack.inventory)
    assert run.rc == 0, run.failures(stack.name)
    reports = {
        r['item']: r['report'] for t in run.task_results(stack.name) for r in t.get('results', []) if 'report' in r
    }
    assert sorted(reports) == ['dump', 'pgbackrest', 'restic']
    for kind, report in reports.items():
        assert report['mismatches'] == [], kind
        assert [s['step'] for s in report['steps']][:2] in (
            ['integrity', 'restore'],
            ['integrity', 'restore ' + report['id']],
        )
    counts = live_row_counts(stack)
    assert reports['dump']['tables'] == len(counts) and reports['dump']['rows'] == sum(counts.values())
    assert reports['pgbackrest']['tables'] == len(counts)
    assert stack.state()['verified']['dump'] == reports['dump']['id']
    assert stack.drill_containers() == []
    assert stack.metric('last_status', 'verify-pgbackrest') == 1


def test_a_drill_never_touches_the_live_database(stack):
    before = docker('inspect', '--format', '{{.Id}} {{.State.StartedAt}}', stack.postgres_container()).stdout
    assert cli(stack, 'verify', 'dump')[1]['mismatches'] == []
    assert docker('inspect', '--format', '{{.Id}} {{.State.StartedAt}}', stack.postgres_container()).stdout == before
    assert stack.sql("SELECT count(*) FROM pg_database WHERE datname LIKE 'app%'") == [['1']]


def test_a_write_open_while_the_restore_point_is_made_is_counted_as_recovery_brings_it_back(stack):
    # A transaction that has written and not committed when the backup marks its restore point:
    # the mark waits for it (SHARE lock), and its row must be both in the counts and in the restore.
    # Counts read in a snapshot taken before the lock was granted would miss the row recovery replays.
    writer = subprocess.Popen(
        ['docker', 'exec', '-i', stack.postgres_container()]
        + ['psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-U', 'app', '-d', 'app'],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    backup = None
    try:
        writer.stdin.write("BEGIN;\nINSERT INTO facts (body) VALUES ('in flight');\nSELECT 'written';\n")
        writer.stdin.flush()
        assert writer.stdout.readline().strip() == 'written'
        backup = subprocess.Popen(
            stack.cli_argv('backup', 'diff'), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        waiting = "SELECT count(*) FROM pg_locks WHERE mode = 'ShareLock' AND NOT granted"
        assert wait_for(lambda: stack.sql(waiting) != [['0']], 120), 'the mark waiting for the open write'
        writer.stdin.write('COMMIT;\n')
        writer.stdin.close()
        assert writer.wait(timeout=30) == 0
        out, err = backup.communicate(timeout=600)
        assert backup.returncode == 0, (out[-2000:], err[-2000:])
    finally:
        for proc in (writer, backup):
            if proc is not None and proc.poll() is None:
                proc.kill()
    label = json.loads(out)['id']
    report = cli(stack, 'verify', 'pgbackrest', '--backup', label)[1]
    assert report['mismatches'] == [] and report['id'] == label, report


# -- corrupted backups -------------------------------------------------------------------------


def flip_bytes(path, offset=None, count=16):
    """Invert count bytes in the middle of a file (or at offset); returns what was there."""
    size = os.path.getsize(path)
    offset = size // 2 if offset is None else offset
    with open(path, 'r+b') as handle:
        handle.seek(offset)
        original = handle.read(count)
        handle.seek(offset)
        handle.write(bytes(b ^ 0xFF for b in original))
    return offset, original


def put_back(path, offset, original):
    with open(path, 'r+b') as handle:
        handle.seek(offset)
        handle.write(original)


def test_a_corrupted_dump_is_caught(stack):
    dump_id = stack.dumps()[-1]
    path = os.path.join(stack.backup_root, 'dumps', dump_id + '.dump')
    offset, original = flip_bytes(path)
    try:
        rc, out = cli(stack, 'verify', 'dump', '--backup', dump_id, check=False)
    finally:
        put_back(path, offset, original)
    assert rc == 1 and 'is corrupt: its sha256 is' in out['msg']
    assert stack.job('verify-dump')['status'] == 'failed'
    assert stack.metric('last_status', 'verify-dump') == 0
    assert cli(stack, 'verify', 'dump', '--backup', dump_id)[1]['mismatches'] == []


def test_a_dump_that_restores_other_rows_than_its_manifest_is_caught(stack):
    dump_id = stack.dumps()[-1]
    manifest_file = os.path.join(stack.backup_root, 'dumps', dump_id + '.manifest.json')
    with open(manifest_file, encoding='utf-8') as handle:
        text = handle.read()
    manifest = json.loads(text)
    manifest['tables']['public.facts']['rows'] += 1
    with open(manifest_file, 'w', encoding='utf-8') as handle:
        json.dump(manifest, handle)
    try:
        run = run_module(
            'auraspeak.ops.backup_verify', {'config': stack.backup_config, 'kind': 'dump', 'backup': dump_id}
        )
    finally:
        with open(manifest_file, 'w', encoding='utf-8') as handle:
            handle.write(text)
    assert run.result['failed'] is True
    assert 'table public.facts has 2 rows, the manifest says 3' in run.result['msg']
    assert run.result['report']['mismatches'] == ['table public.facts has 2 rows, the manifest says 3']
    assert stack.drill_containers() == []


def largest_file(directory):
    files = [os.path.join(d, f) for d, _dirs, names in os.walk(directory) for f in names]
    return max(files, key=os.path.getsize)


def test_a_corrupted_pgbackrest_repository_file_is_caught(stack):
    label = stack.pgbackrest_sets()[0]
    target = largest_file(os.path.join(stack.backup_root, 'pgbackrest', 'backup', stack.name, label, 'pg_data'))
    offset, original = flip_bytes(target)
    try:
        run = run_module('auraspeak.ops.backup_verify', {'config': stack.backup_config, 'kind': 'pgbackrest'})
    finally:
        put_back(target, offset, original)
    assert run.result['failed'] is True
    assert 'pgbackrest verify found problems' in run.result['msg']
    assert stack.drill_containers() == []
    assert cli(stack, 'verify', 'pgbackrest')[1]['mismatches'] == []


def test_a_corrupted_restic_pack_is_caught(stack):
    target = largest_file(os.path.join(stack.backup_root, 'restic', 'data'))
    offset, original = flip_bytes(target)
    try:
        rc, out = cli(stack, 'verify', 'restic', check=False)
    finally:
        put_back(target, offset, original)
    assert rc == 1 and 'restic check' in out['msg']
    assert stack.drill_containers() == []
    assert cli(stack, 'verify', 'restic')[1]['mismatches'] == []


# -- failed and killed backups -------------------------------------------------------------------


def test_a_backup_with_the_database_down_is_recorded_failed_and_removes_nothing(stack):
    before = stack.dumps(), stack.pgbackrest_sets(), stack.job('dump')['last_success']
    postgres = stack.postgres_container()
    docker('stop', postgres)
    try:
        for kind in ('dump', 'diff'):
            rc, out = cli(stack, 'backup', kind, check=False)
            assert rc == 1 and 'the postgres service of the itest-b1 project is not running' in out['msg']
            assert stack.job(kind)['status'] == 'failed'
            assert stack.metric('last_status', kind) == 0
    finally:
        docker('start', postgres)
        assert wait_for(
            lambda: 'healthy' in docker('ps', '--filter', 'id=' + postgres, '--format', '{{.Status}}').stdout
        )
    assert (stack.dumps(), stack.pgbackrest_sets(), stack.job('dump')['last_success']) == before
    assert cli(stack, 'backup', 'dump')[1]['status'] == 'success'


def test_a_full_repository_fails_the_backup_and_keeps_the_good_ones(stack):
    before = stack.dumps(), stack.pgbackrest_sets()
    filler = os.path.join(stack.backup_root, 'filler')
    fill_up(filler)
    try:
        for kind in ('dump', 'full'):
            rc, out = cli(stack, 'backup', kind, check=False)
            assert rc == 1, out
            assert stack.job(kind)['status'] == 'failed'
        assert not [n for n in os.listdir(os.path.join(stack.backup_root, 'dumps')) if n.endswith('.partial')]
    finally:
        os.unlink(filler)
    assert (stack.dumps(), stack.pgbackrest_sets()) == before
    assert cli(stack, 'verify', 'dump')[1]['mismatches'] == []


def test_a_killed_backup_is_recorded_failed_and_leaves_no_dump_that_looks_good(stack):
    stack.sql(
        'CREATE TABLE bulk AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS body '
        'FROM generate_series(1, 1500000) g'
    )
    dumps_dir = os.path.join(stack.backup_root, 'dumps')
    before = stack.dumps()
    proc = subprocess.Popen(stack.cli_argv('backup', 'dump'), stdout=subprocess.DEVNULL, start_new_session=True)
    try:
        assert wait_for(
            lambda: any(
                n.endswith('.partial') and os.path.getsize(os.path.join(dumps_dir, n)) > 0
                for n in os.listdir(dumps_dir)
            ),
            timeout=60,
            interval=0.05,
        )
        assert stack.job('dump')['status'] == 'running'
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        stack.sql('DROP TABLE bulk')
    assert stack.dumps() == before
    status = cli(stack, 'status')[1]['jobs']['dump']
    assert status['status'] == 'failed' and 'killed or crashed' in status['error']
    assert stack.metric('last_status', 'dump') == 0
    assert cli(stack, 'backup', 'dump')[1]['status'] == 'success'
    assert not [n for n in os.listdir(dumps_dir) if n.endswith('.partial')]


# -- retention ---------------------------------------------------------------------------------------


def test_dump_rotation_keeps_the_last_verified_dump(stack):
    verified = cli(stack, 'verify', 'dump')[1]['id']
    for _round in range(3):
        cli(stack, 'backup', 'dump')
    dumps = stack.dumps()
    assert verified in dumps
    assert len(dumps) == 3  # backup_dump_keep 2, plus the verified one


def test_pgbackrest_expiry_keeps_the_last_verified_set(stack):
    verified = cli(stack, 'verify', 'pgbackrest')[1]['id']
    full = verified.split('_')[0]
    cli(stack, 'backup', 'full')
    sets = stack.pgbackrest_sets()
    assert full in sets and verified in sets  # retention_full 1 would have expired them
    newest = cli(stack, 'verify', 'pgbackrest')[1]['id']
    cli(stack, 'backup', 'full')
    sets = stack.pgbackrest_sets()
    assert full not in sets and newest in sets
    assert [s for s in sets if s.endswith('F')] == sets[-2:] and len(sets) == 2


def test_restic_forget_keeps_the_verified_snapshot(stack):
    verified = cli(stack, 'verify', 'restic')[1]['verified_as']
    for _round in range(2):
        cli(stack, 'backup', 'volumes')
    snapshots = stack.listing()['restic']
    ids = [s['id'] for s in snapshots]
    assert verified in ids
    assert 'verified' in next(s for s in snapshots if s['id'] == verified)['tags']
    assert len(ids) == 2  # the newest of the day (keep daily 1) and the verified one


# -- a repository shared by two hosts -----------------------------------------------------------------

ANOTHER_HOST = 'itest-b1@another-host'


def another_writer(stack, tmp_path, restic_host=None):
    """backup.json of a second host of the project on the same repositories: another writer, own state.

    With restic_host it writes volumes under a host name of its own, and no database (which would
    need a PostgreSQL and a stanza of its own).
    """
    with open(stack.backup_config, encoding='utf-8') as handle:
        data = json.load(handle)
    data.update(owner=ANOTHER_HOST, state_dir=str(tmp_path / 'state'), metrics_dir=str(tmp_path / 'metrics'))
    if restic_host:
        data['restic']['host'] = restic_host
        data['pgbackrest']['enabled'] = data['dump']['enabled'] = False
    path = tmp_path / 'backup.json'
    path.write_text(json.dumps(data), encoding='utf-8')
    return str(path)


def cli_as(stack, config, *args):
    proc = subprocess.run(
        stack.cli_argv(*args, config=config), capture_output=True, text=True, timeout=900, check=False
    )
    return proc.returncode, proc.stdout, proc.stderr


def restic_ids(listing_json):
    return [s['id'] for s in json.loads(listing_json)['restic']]


def annotate(stack, label, owner):
    docker(
        'exec',
        stack.postgres_container(),
        'pgbackrest',
        '--stanza=itest-b1',
        'annotate',
        '--set=' + label,
        '--annotation=owner=' + owner,
    )


def test_every_backup_names_its_writer(stack):
    with open(stack.backup_config, encoding='utf-8') as handle:
        data = json.load(handle)
    assert (data['owner'], data['restic']['host']) == ('itest-b1@itest-b1', 'itest-b1')
    snapshots = stack.listing()['restic']
    assert snapshots and all('owner=itest-b1@itest-b1' in s['tags'] for s in snapshots)
    info = docker('exec', stack.postgres_container(), 'pgbackrest', '--stanza=itest-b1', '--output=json', 'info')
    sets = json.loads(info.stdout)[0]['backup']
    assert sets[-1]['annotation'] == {'owner': 'itest-b1@itest-b1'}


def test_a_second_host_writing_the_same_names_is_refused_and_changes_nothing(stack, tmp_path):
    sets, snapshots = stack.pgbackrest_sets(), [s['id'] for s in stack.listing()['restic']]
    other = another_writer(stack, tmp_path)
    rc, out, err = cli_as(stack, other, 'backup', 'volumes')
    out += err
    assert rc != 0 and 'written by itest-b1@itest-b1, and this is %s' % ANOTHER_HOST in out, out
    assert 'set backup_restic_host on each host' in out
    rc, out, err = cli_as(stack, other, 'backup', 'full')
    out += err
    assert rc != 0 and 'pgBackRest stanza itest-b1 already holds backups written by itest-b1@itest-b1' in out, out
    assert 'set app_postgres_pgbackrest_stanza on each host' in out
    assert stack.pgbackrest_sets() == sets
    assert [s['id'] for s in stack.listing()['restic']] == snapshots
    # The other way round: the stanza holds a set of another writer, and this host refuses it.
    annotate(stack, sets[-1], ANOTHER_HOST)
    try:
        assert cli(stack, 'backup', 'full', check=False)[0] != 0
        assert 'written by %s' % ANOTHER_HOST in stack.job('full')['error']
    finally:
        annotate(stack, sets[-1], 'itest-b1@itest-b1')
    assert stack.pgbackrest_sets() == sets


def test_hosts_with_names_of_their_own_share_a_repository_and_keep_their_backups(stack, tmp_path):
    other = another_writer(stack, tmp_path, restic_host='itest-b1-another-host')
    rc, out, err = cli_as(stack, other, 'backup', 'volumes')
    assert rc == 0, out + err
    theirs = restic_ids(cli_as(stack, other, 'list')[1])
    ours = [s['id'] for s in stack.listing()['restic']]
    assert len(theirs) == 1 and not set(theirs) & set(ours)
    # Each one's retention (keep daily 1) forgets within its own name only.
    cli(stack, 'backup', 'volumes')
    assert restic_ids(cli_as(stack, other, 'list')[1]) == theirs
    ours = [s['id'] for s in stack.listing()['restic']]
    assert len(ours) == 2  # the newest and the verified one
    assert cli_as(stack, other, 'backup', 'volumes')[0] == 0
    assert len(restic_ids(cli_as(stack, other, 'list')[1])) == 1
    assert [s['id'] for s in stack.listing()['restic']] == ours


def test_no_secret_in_output_even_with_vvv_and_diff(stack):
    """A changed restic environment file is written, and no secret reaches the output."""
    cmd = [
        os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'),
        os.path.join(ROOT, ROLE_PLAY),
        '-i',
        stack.inventory,
        '-vvv',
        '--diff',
        '-e',
        json.dumps({'backup_restic_env': {'AWS_SECRET_ACCESS_KEY': AWS_SECRET}}),
    ]
    env = dict(ENV, ANSIBLE_STDOUT_CALLBACK='default')
    completed = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert completed.returncode == 0, completed.stdout[-3000:]
    with open(os.path.join(stack.config_dir, 'backup', 'restic.env'), encoding='utf-8') as handle:
        assert handle.read() == 'AWS_SECRET_ACCESS_KEY=%s\n' % AWS_SECRET
    output = completed.stdout + completed.stderr
    assert 'restic.env' in output
    for secret in (CIPHER_PASS, RESTIC_PASSWORD, AWS_SECRET):
        assert secret not in output


# -- the repositories on S3 --------------------------------------------------------------------------
# The store stands outside the host, as a real one does: an nginx container with
# a network namespace of its own, joined to the host by a veth pair
# (198.51.100.201/30 on the host, .202 outside; a /30 of the documentation range
# the firewall tests use as their internet, so both can run at once). moto's S3
# server (.venv-moto) runs in that namespace on loopback, behind nginx: TLS for
# pgBackRest, which speaks S3 over TLS only (nginx ends TLS cleanly; moto's own
# TLS server closes connections without a TLS close, which OpenSSL 3 refuses as
# "unexpected eof while reading"), plain HTTP for restic (restic 0.14 takes no CA
# file from its environment). The certificate is self-signed, so the test turns
# pgBackRest's TLS verification off. Docker forwards nothing from the project's
# internal network beyond the host: PostgreSQL reaches this store only through
# its egress network.

MOTO = os.path.join(ROOT, '.venv-moto', 'bin', 'moto_server')
S3_KEY, S3_SECRET = 'itest-s3-key-id', 'itest-s3-secret-value-0123456789'
S3_STORE = 'itest-s3-store'
S3_HOST_SIDE, S3_OUTSIDE = 'itest-s3h', 'itest-s3o'
S3_HOST_ADDR, S3_ADDR = '198.51.100.201', '198.51.100.202'
S3_MOTO_PORT = 9000
S3_PROXY_CONF = """
worker_processes 1;
error_log stderr;
pid /tmp/nginx.pid;
events {}
http {
  access_log off;
  client_max_body_size 0;
  client_body_temp_path /tmp;
  proxy_temp_path /tmp;
  proxy_request_buffering off;
  proxy_http_version 1.1;
  proxy_set_header Host $http_host;
  server {
    listen 443 ssl;
    ssl_certificate /etc/s3/cert.pem;
    ssl_certificate_key /etc/s3/key.pem;
    location / { proxy_pass http://127.0.0.1:%d; }
  }
  server {
    listen 80;
    location / { proxy_pass http://127.0.0.1:%d; }
  }
}
""" % (S3_MOTO_PORT, S3_MOTO_PORT)


def s3_request(method, url):
    context = ssl._create_unverified_context()  # the test's self-signed certificate
    with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=10, context=context) as answer:
        return answer.read().decode()


def bucket_created(url):
    try:
        s3_request('PUT', url + '/backups')
    except OSError:
        return False
    return True


def in_store_namespace(pid, *argv, **kwargs):
    return subprocess.run(['nsenter', '-t', str(pid), '-n', *argv], check=True, capture_output=True, **kwargs)


def ip(*argv):
    subprocess.run(['ip', *argv], check=True, capture_output=True)


def start_store(tmp_path):
    """The nginx container with no network, then its namespace joined to the host by the veth pair."""
    key, cert = str(tmp_path / 'key.pem'), str(tmp_path / 'cert.pem')
    subj = '/CN=' + S3_ADDR
    openssl = ['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', subj]
    subprocess.run([*openssl, '-keyout', key, '-out', cert], check=True, capture_output=True)
    os.chmod(key, 0o644)  # nginx reads it as its own user, in a test directory
    (tmp_path / 'nginx.conf').write_text(S3_PROXY_CONF, encoding='utf-8')
    docker('rm', '--force', S3_STORE, check=False)
    subprocess.run(['ip', 'link', 'delete', S3_HOST_SIDE], check=False, capture_output=True)
    image = 'auraspeak-offline/nginx:1.22'
    conf = ['-c', '/etc/s3/nginx.conf', '-g', 'daemon off;']
    mount = '%s:/etc/s3:ro' % tmp_path
    docker(
        'run', '--detach', '--name', S3_STORE, '--network', 'none', '-v', mount, '--entrypoint', 'nginx', image, *conf
    )
    pid = int(docker('inspect', '--format', '{{.State.Pid}}', S3_STORE).stdout)
    ip('link', 'add', S3_HOST_SIDE, 'type', 'veth', 'peer', 'name', S3_OUTSIDE)
    ip('link', 'set', S3_OUTSIDE, 'netns', str(pid))
    ip('addr', 'add', S3_HOST_ADDR + '/30', 'dev', S3_HOST_SIDE)
    ip('link', 'set', S3_HOST_SIDE, 'up')
    in_store_namespace(pid, 'ip', 'addr', 'add', S3_ADDR + '/30', 'dev', S3_OUTSIDE)
    in_store_namespace(pid, 'ip', 'link', 'set', S3_OUTSIDE, 'up')
    in_store_namespace(pid, 'ip', 'route', 'add', 'default', 'via', S3_HOST_ADDR)
    return pid


@pytest.fixture
def s3_servers(tmp_path):
    """(endpoint address, https URL, http URL) of one S3 store beyond the host, with a bucket "backups"."""
    pid = start_store(tmp_path)
    moto_argv = ['nsenter', '-t', str(pid), '-n', MOTO, '-H', '127.0.0.1', '-p', str(S3_MOTO_PORT)]
    moto = subprocess.Popen(moto_argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tls_url = 'https://' + S3_ADDR
    try:
        assert wait_for(lambda: bucket_created(tls_url), timeout=60), 'no S3 store at ' + tls_url
        yield S3_ADDR, tls_url, 'http://' + S3_ADDR
    finally:
        moto.terminate()
        moto.wait(timeout=10)
        docker('rm', '--force', S3_STORE, check=False)  # its namespace goes, and the veth pair with it


def s3_keys(url, prefix):
    return s3_request('GET', '%s/backups?list-type=2&prefix=%s' % (url, prefix))


def test_the_repositories_move_to_s3_where_backups_archiving_and_drills_work(stack, s3_servers):
    """The documented S3 setup, from PostgreSQL's archive_command to the restore drills."""
    endpoint, tls_url, plain_url = s3_servers
    s3_vars = {
        'app_version': '1.0.0',
        'app_postgres_pgbackrest_repo_path': '',
        'backup_pgbackrest_repo_path': '',
        'backup_pgbackrest_options': {
            'repo1-type': 's3',
            'repo1-path': '/itest-b1',
            'repo1-s3-bucket': 'backups',
            'repo1-s3-endpoint': endpoint,
            'repo1-s3-uri-style': 'path',
            'repo1-s3-region': 'us-east-1',
            'repo1-storage-verify-tls': 'n',
            'repo1-s3-key': S3_KEY,
            'repo1-s3-key-secret': S3_SECRET,
        },
        'backup_restic_repository': 's3:%s/backups/volumes' % plain_url,
        'backup_restic_env': {'AWS_ACCESS_KEY_ID': S3_KEY, 'AWS_SECRET_ACCESS_KEY': S3_SECRET},
    }
    moved = run_verbose('playbooks/site.yml', s3_vars, inventory=stack.inventory)
    assert moved.returncode == 0, moved.stdout[-4000:] + moved.stderr[-2000:]
    assert leaked(moved, [S3_SECRET]) == []
    # site.yml created the stanza on S3 and took its first full backup there.
    assert len(stack.pgbackrest_sets()) == 1
    info = 'itest-b1/backup/itest-b1/backup.info'
    assert '<Key>%s</Key>' % info in s3_keys(tls_url, info)
    cli(stack, 'backup', 'diff')  # waits until PostgreSQL archived the restore point's WAL to S3
    wal = 'itest-b1/archive/itest-b1/15-1/'  # PostgreSQL 15's WAL segments, the first database id
    assert '<Key>%s' % wal in s3_keys(tls_url, wal)
    cli(stack, 'backup', 'volumes')
    assert '<Key>volumes/config</Key>' in s3_keys(plain_url, 'volumes/')
    for kind in ('pgbackrest', 'restic'):
        report = cli(stack, 'verify', kind)[1]  # fails unless the drill restored what the backup holds
        assert report['mismatches'] == [], report
