"""restore.yml and the database rollback of rollback.yml against the real engine.

One stack (itest-b2) with WAL archiving, backups and exact commit timestamps is
taken through, in order: refused restores, point-in-time recovery under
continuous writes, restore of a named backup set, restore of a volume, and a
release whose migration is rolled back with the database. The tests of this
module depend on that order.
"""

from __future__ import annotations

import datetime
import os
import signal
import subprocess
import time

import pytest
from awx_jobs import run_job, survey_answers
from backup_stack import (
    BACKUP_SECRETS,
    TOOLS_IMAGE,
    VAULTED,
    BackupStack,
    RowWriter,
    build_images,
    change_volume,
    fill_up,
    fill_volume,
    remove_images,
    volume_tree,
    wait_for,
)
from deploy_stack import docker
from playbook_runs import ENV, ROOT, leaked, playbook_command, run_playbook, run_verbose

pytestmark = pytest.mark.backup
IMAGE = 'itest-backup2/app'
ARCHIVE_TIMEOUT = 10


@pytest.fixture(scope='module')
def stack(tmp_path_factory):
    build_images(IMAGE)
    stack = BackupStack('itest-b2', str(tmp_path_factory.mktemp('restore')), IMAGE)
    stack.create_or_clean_up({'app_postgres_archive_timeout': ARCHIVE_TIMEOUT})
    stack.sql(
        'CREATE TABLE events (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp(), '
        "body text NOT NULL DEFAULT 'w')"
    )
    yield stack
    stack.destroy()
    remove_images(IMAGE)


def restore(stack, **extra):
    return run_playbook('playbooks/restore.yml', dict(restore_confirm=stack.name, **extra), inventory=stack.inventory)


def postgres_identity(stack):
    return docker('inspect', '--format', '{{.Id}} {{.State.StartedAt}}', stack.postgres_container()).stdout


def committed_at(stack):
    """Every event's id and commit time (track_commit_timestamp is on in the test stack)."""
    rows = stack.sql('SELECT id, extract(epoch FROM pg_xact_commit_timestamp(xmin)) FROM events ORDER BY id')
    return [(int(i), float(t)) for i, t in rows]


def dict_msg(result):
    return result['msg'] if isinstance(result.get('msg'), dict) else {}


def restore_report(run, stack):
    """What restore.yml reported of the database restore."""
    return next(dict_msg(r)['database'] for r in run.task_results(stack.name) if 'database' in dict_msg(r))


def last_archived(stack):
    return stack.sql("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")[0][0]


def test_archive_timeout_holds_right_after_postgresql_restarts(stack):
    """PostgreSQL 15 enforces archive_timeout only once its checkpointer first wakes, up to
    checkpoint_timeout (5 min) after a start; the app role's health check wakes it."""
    postgres = stack.postgres_container()
    docker('restart', postgres)
    assert wait_for(lambda: '(healthy)' in docker('ps', '--filter', 'id=' + postgres, '--format', '{{.Status}}').stdout)
    time.sleep(1)
    before = last_archived(stack)
    stack.sql("INSERT INTO events (body) VALUES ('after restart')")
    assert wait_for(lambda: last_archived(stack) > before, timeout=3 * ARCHIVE_TIMEOUT), 'no WAL archived in time'


# -- refused restores --------------------------------------------------------------------------


def test_restore_without_confirmation_is_refused_and_changes_nothing(stack):
    before = postgres_identity(stack)
    run = run_playbook('playbooks/restore.yml', inventory=stack.inventory)
    assert run.rc != 0
    assert 'pass -e restore_confirm=itest-b2' in ' '.join(run.failures(stack.name))
    assert postgres_identity(stack) == before and stack.served_version() == '1.0.0'


@pytest.mark.parametrize(
    ('extra', 'message'),
    [
        ({'restore_target_time': '2001-01-01 00:00:00+00:00'}, 'is before the end of the oldest backup set'),
        ({'restore_target_time': 'yesterday at noon'}, 'is not a time with a UTC offset'),
        ({'restore_target_time': '2026-11-26 10:00:00'}, 'is not a time with a UTC offset'),
        ({'restore_backup_set': '20010101-000000F'}, 'no backup set 20010101-000000F in the repository'),
        ({'restore_volumes': ['itest-b2_not-backed-up']}, 'must be among backup_restic_volumes'),
    ],
    ids=['too-early', 'not-a-time', 'no-offset', 'no-such-set', 'volume-not-backed-up'],
)
def test_restore_to_what_the_backups_cannot_reach_is_refused(stack, extra, message):
    before = postgres_identity(stack)
    run = restore(stack, **extra)
    assert run.rc != 0
    assert message in ' '.join(run.failures(stack.name))
    assert postgres_identity(stack) == before


def test_check_mode_says_what_it_would_restore(stack):
    before = postgres_identity(stack)
    run = run_playbook('playbooks/restore.yml', {'restore_confirm': stack.name}, check=True, inventory=stack.inventory)
    assert run.rc == 0, run.failures(stack.name)
    said = [r['msg'] for r in run.task_results(stack.name) if str(r.get('msg', '')).startswith('Would restore')]
    assert said and 'then release 1.0.0 again' in said[0]
    assert postgres_identity(stack) == before


# -- point-in-time recovery ---------------------------------------------------------------------------


def test_pitr_restores_exactly_the_rows_committed_before_the_target_time(stack):
    with RowWriter(stack, 'events', interval=0.01) as writer:
        time.sleep(3)
        target = time.time()
        time.sleep(3)
    assert len(writer.committed) > 50
    rows = committed_at(stack)
    expected = [i for i, at in rows if at <= target]
    later = [i for i, at in rows if at > target]
    assert expected and later, 'the writer must have committed rows on both sides of the target'
    text = datetime.datetime.fromtimestamp(target, datetime.timezone.utc).isoformat()  # noqa: UP017

    run = restore(stack, restore_target_time=text)
    assert run.rc == 0, run.failures(stack.name)
    assert [i for i, _at in committed_at(stack)] == expected
    assert stack.served_version() == '1.0.0'
    report = restore_report(run, stack)
    assert (
        report['target'] == 'time' and report['timeline'] >= 2 and report['kept'].startswith('pgdata.before-restore-')
    )
    assert stack.job('restore')['status'] == 'success'


def test_the_data_from_before_the_restore_is_kept(stack):
    listing = docker('exec', stack.postgres_container(), 'ls', '/var/lib/postgresql/data').stdout.split()
    assert 'pgdata' in listing and any(name.startswith('pgdata.before-restore-') for name in listing)


def test_backups_and_drills_go_on_after_a_restore(stack):
    assert stack.backup_cli('backup', 'diff')[1]['status'] == 'success'
    assert stack.backup_cli('verify', 'pgbackrest')[1]['mismatches'] == []


def test_restore_of_a_named_set_matches_its_manifest(stack, tmp_path):
    stack.sql("INSERT INTO events (body) SELECT 'set' FROM generate_series(1, 500)")
    label = stack.backup_cli('backup', 'diff')[1]['id']
    at_backup = [i for i, _at in committed_at(stack)]
    stack.sql("INSERT INTO events (body) SELECT 'after' FROM generate_series(1, 100)")
    # As the "Restore" job template runs it: the survey's confirmation and backup set.
    answers = survey_answers('restore', restore_confirm=stack.name, restore_backup_set=label)
    run = run_job(tmp_path, 'restore', stack.inventory, answers, vaulted=VAULTED)
    run.assert_ran_unattended(stack.name)
    assert [i for i, _at in committed_at(stack)] == at_backup
    report = restore_report(run, stack)
    assert report['set'] == label and report['mismatches'] == [] and report['restore_point'] == 'auraspeak-' + label


def test_a_restore_from_before_a_password_change_puts_the_login_roles_right(stack):
    # The set's pg_authid is from before the change: no alternate role yet, and the owner's old
    # password. The release's files say it logs in as the alternate role with the new password.
    label = stack.backup_cli('backup', 'diff')[1]['id']
    version = stack.ledger()[-1]['version']
    # No pre-migration snapshots: the database rollback tests below count them.
    rotated = {
        'app_version': version,
        'app_postgres_password': 'itest-b2-postgres-rotated',
        'deploy_snapshot_before_migration': False,
    }
    changed = run_playbook('playbooks/deploy.yml', rotated, inventory=stack.inventory)
    assert changed.rc == 0, changed.failures(stack.name)
    run = restore(stack, restore_backup_set=label, app_postgres_password=rotated['app_postgres_password'])
    assert run.rc == 0, run.failures(stack.name)
    assert stack.request('GET', '/readyz')[0] == 200
    assert stack.sql("SELECT rolname FROM pg_roles WHERE rolname LIKE 'app%' ORDER BY 1") == [['app'], ['app_alt']]
    # Back to the inventory's password, for the tests after this one.
    back = run_playbook(
        'playbooks/deploy.yml',
        {'app_version': version, 'deploy_snapshot_before_migration': False},
        inventory=stack.inventory,
    )
    assert back.rc == 0, back.failures(stack.name)
    assert stack.request('GET', '/readyz')[0] == 200


def test_restore_to_the_latest_loses_no_committed_row(stack):
    stack.sql("INSERT INTO events (body) SELECT 'latest' FROM generate_series(1, 50)")
    before = [i for i, _at in committed_at(stack)]
    run = run_verbose('playbooks/restore.yml', {'restore_confirm': stack.name}, inventory=stack.inventory)
    assert run.returncode == 0, run.stdout[-3000:]
    assert leaked(run, BACKUP_SECRETS) == []
    assert [i for i, _at in committed_at(stack)] == before


# -- volumes --------------------------------------------------------------------------------------------


def test_a_restored_volume_is_byte_identical(stack):
    fill_volume(stack.files_volume, 'restore')
    digest, listing = volume_tree(stack.files_volume)
    assert stack.backup_cli('backup', 'volumes')[1]['status'] == 'success'
    change_volume(stack.files_volume)
    assert volume_tree(stack.files_volume)[0] != digest
    before = postgres_identity(stack)
    # A container of another project on the volume, as Grafana on its own: stopped and started again.
    user = stack.name + '-volume-user'
    docker('run', '-d', '--name', user, '--network', 'none', '-v', stack.files_volume + ':/data:ro',
           '--entrypoint', 'sleep', TOOLS_IMAGE, 'infinity')  # fmt: skip
    try:
        user_started = docker('inspect', '--format', '{{.State.StartedAt}}', user).stdout
        run = restore(stack, restore_database=False, restore_volumes=[stack.files_volume])
        assert run.rc == 0, run.failures(stack.name)
        state = docker('inspect', '--format', '{{.State.Running}} {{.State.StartedAt}}', user).stdout.split()
        assert state[0] == 'true' and state[1] != user_started.strip(), state
    finally:
        docker('rm', '--force', user, check=False)
    restored_digest, restored_listing = volume_tree(stack.files_volume)
    assert restored_listing == listing
    assert restored_digest == digest
    assert stack.served_version() == '1.0.0'
    assert postgres_identity(stack) != before  # the project was stopped for the restore and is up again


# -- database rollback ----------------------------------------------------------------------------------


def test_deploy_takes_a_pre_migration_snapshot(stack):
    token = stack.login()
    cmd = playbook_command('playbooks/deploy.yml', {'app_version': '2.0.0'}, inventory=stack.inventory)
    deploy = subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 300
        while len(stack.containers('app')) <= 2 and time.monotonic() < deadline and deploy.poll() is None:
            time.sleep(0.2)
        # Migrated, the new replicas on trial: users still write, through the old release.
        for title in ('during-deploy-1', 'during-deploy-2'):
            stack.add_note(token, title)
        assert deploy.poll() is None, 'the deploy went live before the notes were written'
    finally:
        out = deploy.communicate(timeout=600)[0]
    assert deploy.returncode == 0, out[-3000:]
    assert 'tags' in stack.tables()
    snapshots = stack.dumps(snapshots=True)
    assert len(snapshots) == 1 and snapshots[0].endswith('-pre-migration-2.0.0')
    manifest_file = os.path.join(stack.backup_root, 'dumps', snapshots[0] + '.manifest.json')
    with open(manifest_file, encoding='utf-8') as handle:
        assert 'public.tags' not in handle.read()  # taken before the migration
    assert snapshots[0] in stack.state()['snapshots']


def test_a_second_deploy_of_the_same_release_takes_no_snapshot(stack):
    run = run_playbook('playbooks/deploy.yml', {'app_version': '2.0.0'}, inventory=stack.inventory)
    assert run.rc == 0 and run.host_stats(stack.name)['changed'] == 0
    assert len(stack.dumps(snapshots=True)) == 1


def test_database_rollback_is_refused_while_it_would_discard_writes(stack):
    token = stack.login()
    for title in ('after-deploy-1', 'after-deploy-2', 'after-deploy-3'):
        stack.add_note(token, title)
    # An idle session publishes its counts within 10 s (PGSTAT_IDLE_INTERVAL); the plan the
    # rollback refuses with reads them while the application still runs.
    time.sleep(11)
    run = run_playbook('playbooks/rollback.yml', {'rollback_database': True}, inventory=stack.inventory)
    assert run.rc != 0
    message = ' '.join(run.failures(stack.name))
    # Counted exactly once the application is stopped: 5 inserted rows, 2 of them while the
    # new release was on trial (counted from the end of the migration, not from the switch).
    assert 'would discard 5 row writes' in message and 'rollback_database_force' in message
    assert stack.served_version() == '2.0.0'
    assert 'tags' in stack.tables()
    assert {'after-deploy-1', 'after-deploy-2', 'after-deploy-3'} <= set(stack.note_titles())


def test_a_rerun_of_the_live_release_keeps_its_one_pre_migration_snapshot(stack):
    # A replica-count change recreates the app and runs the migration again, as a re-run after a
    # kill or an env change does: the database is migrated already, its snapshot would be no rollback.
    snapshots = stack.dumps(snapshots=True)
    run = run_playbook('playbooks/deploy.yml', {'app_version': '2.0.0', 'app_replicas': 3}, inventory=stack.inventory)
    assert run.rc == 0, run.failures(stack.name)
    assert len(stack.containers('app')) == 3
    assert stack.dumps(snapshots=True) == snapshots
    # The writes since the release first went live still count, the re-run did not reset them.
    refused = run_playbook('playbooks/rollback.yml', {'rollback_database': True}, inventory=stack.inventory)
    assert refused.rc != 0
    assert 'would discard 5 row writes' in ' '.join(refused.failures(stack.name))
    assert stack.served_version() == '2.0.0'


def test_a_database_rollback_whose_release_fails_the_gate_puts_the_database_and_the_live_release_back(stack):
    # The rollback stops the app and swaps the database before the old release's replicas
    # start; when they fail the health gate, the stopped ones were the only app there was.
    titles = set(stack.note_titles())
    databases = stack.sql('SELECT datname FROM pg_database ORDER BY 1', database='postgres')
    run = run_playbook(
        'playbooks/rollback.yml',
        {
            'rollback_database': True,
            'rollback_database_force': True,
            'app_env': {'FAULT_HEALTH_FAIL': '1'},
            'app_health_timeout': 25,
        },
        inventory=stack.inventory,
    )
    assert run.rc != 0
    message = ' '.join(run.failures(stack.name))
    assert 'new app containers were' in message and 'no app container ran before this run either' in message, message
    assert len(stack.containers('app')) == 3, message  # running replicas
    assert stack.served_version() == '2.0.0'
    assert 'the database is back as it was' in message and 'release 2.0.0 serves again' in message, message
    assert 'tags' in stack.tables()
    assert set(stack.note_titles()) == titles
    # The snapshot's copy went; nothing else was left behind or taken away.
    assert stack.sql('SELECT datname FROM pg_database ORDER BY 1', database='postgres') == databases
    assert [e['status'] for e in stack.ledger() if e['version'] == '2.0.0'][-1] == 'active'


def test_forced_database_rollback_restores_the_snapshot_and_the_previous_release(stack, tmp_path):
    # As the "Roll back" job template runs it, with the survey's database switch and force.
    run = run_job(
        tmp_path,
        'rollback',
        stack.inventory,
        survey_answers('rollback', rollback_database='yes', rollback_database_force='yes'),
        vaulted=VAULTED,
    )
    run.assert_ran_unattended(stack.name)
    assert stack.served_version() == '1.0.0'
    assert 'tags' not in stack.tables()
    assert not {'after-deploy-1', 'after-deploy-2', 'after-deploy-3', 'during-deploy-1'} & set(stack.note_titles())
    report = next(r['msg'] for r in run.task_results(stack.name) if 'kept_database' in dict_msg(r))
    assert report['writes_lost'] == 5
    # The replaced database is kept, renamed, with the rows the rollback took out of service.
    kept = report['kept_database']
    assert stack.sql("SELECT count(*) FROM notes WHERE title LIKE 'after-deploy-%'", database=kept) == [['3']]
    assert [e['version'] for e in stack.ledger()][-1] == '1.0.0'


def test_a_failed_pre_migration_snapshot_stops_the_deploy_before_the_migration(stack):
    filler = os.path.join(stack.backup_root, 'filler')
    fill_up(filler)
    try:
        run = run_playbook('playbooks/deploy.yml', {'app_version': '2.0.0'}, inventory=stack.inventory)
    finally:
        os.unlink(filler)
    assert run.rc != 0
    assert 'the command before the migration' in ' '.join(run.failures(stack.name))
    assert stack.served_version() == '1.0.0'
    assert 'tags' not in stack.tables()  # migration 0004 never ran
    assert stack.ledger()[-1]['version'] == '2.0.0' and stack.ledger()[-1]['status'] == 'failed'
    assert stack.job('snapshot')['status'] == 'failed'


def test_the_dump_drill_proves_a_scheduled_dump_not_a_pre_migration_snapshot(stack):
    stack.backup_cli('backup', 'dump')
    scheduled = stack.dumps()[-1]
    stack.backup_cli('snapshot', '9.9.9')  # newer than the scheduled dump, as a deploy's would be
    snapshot = stack.dumps(snapshots=True)[-1]
    assert snapshot.endswith('-pre-migration-9.9.9')
    _rc, report = stack.backup_cli('verify', 'dump')
    # Retention keeps the verified dump: it must be one retention counts, not a snapshot.
    assert report['id'] == scheduled
    assert stack.state()['verified']['dump'] == scheduled
    _rc, report = stack.backup_cli('verify', 'dump', '--backup', snapshot)
    assert report['id'] == snapshot and report['mismatches'] == []
    assert stack.state()['verified']['dump'] == scheduled


# -- streaming WAL (app_postgres_wal_stream) --------------------------------------------------------------


def with_stream(stack, **more):
    """Extra vars of the stack with the WAL receiver; every playbook run must pass them (backup.json too)."""
    return {
        'app_postgres_wal_stream': True,
        'app_postgres_wal_stream_path': os.path.join(stack.dir, 'wal-stream'),
        # No segment switch of its own while a test runs: what is not streamed is not in the archive.
        'app_postgres_archive_timeout': 600,
        **more,
    }


def receiver_caught_up(stack):
    """The receiver streams and has flushed all the WAL PostgreSQL has flushed."""
    rows = stack.sql(
        "SELECT state = 'streaming' AND flush_lsn >= pg_current_wal_flush_lsn() FROM pg_stat_replication "
        "WHERE application_name = 'wal_receiver'"
    )
    return rows == [['t']]


@pytest.fixture(scope='module')
def stream_dir(stack):
    """The stream's directory, a tmpfs of its own so that a test can fill it up; for the whole module."""
    path = os.path.join(stack.dir, 'wal-stream')
    os.makedirs(path, exist_ok=True)
    subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=256m,uid=999,gid=999,mode=0700', 'tmpfs', path], check=True)
    yield path
    subprocess.run(['umount', '--lazy', path], check=False)


@pytest.fixture(scope='module')
def streaming(stack, stream_dir):
    """site.yml once with the receiver on, asynchronous: the stream tests share it."""
    on = run_verbose(
        'playbooks/site.yml', with_stream(stack, app_version=stack.served_version()), inventory=stack.inventory
    )
    assert on.returncode == 0, on.stdout[-4000:]
    assert leaked(on, BACKUP_SECRETS) == []
    assert wait_for(lambda: receiver_caught_up(stack), 60), 'the receiver streaming did not happen'
    return stream_dir


def test_the_stream_brings_back_commits_the_archive_never_got(stack, streaming):
    # Complete segments older than the last archived one are in the archive: the receiver prunes them.
    stream = streaming
    for _switch in range(2):
        stack.backup_cli('archive-now')
    archived = last_archived(stack)

    def pruned():
        segments = sorted(name for name in os.listdir(stream) if len(name) == 24)
        return segments == [archived]

    assert wait_for(pruned, 30), 'the archived segments pruned from the stream did not happen'

    # Killed (from the host, as the kernel's OOM killer would: `docker kill` counts as a stop by hand),
    # the receiver is started again by the engine (on-failure) and resumes from its slot.
    receiver = stack.containers('wal-receiver')[0]
    os.kill(int(docker('inspect', '--format', '{{.State.Pid}}', receiver).stdout), signal.SIGKILL)
    stack.sql("INSERT INTO events (body) SELECT 'receiver-down' FROM generate_series(1, 20)")
    assert wait_for(lambda: receiver_caught_up(stack), 60), 'the receiver streaming again did not happen'
    assert docker('inspect', '--format', '{{.RestartCount}}', receiver).stdout.strip() == '1'

    # Rows only PostgreSQL's data volume and the stream hold: committed after the last archived segment.
    stack.sql("INSERT INTO events (body) SELECT 'streamed-only' FROM generate_series(1, 30)")
    expected = [i for i, _at in committed_at(stack)]
    assert wait_for(lambda: receiver_caught_up(stack), 30), 'the receiver flushing the last commit did not happen'
    ((newest, archived),) = stack.sql(
        'SELECT pg_walfile_name(pg_current_wal_flush_lsn()), last_archived_wal FROM pg_stat_archiver'
    )
    assert newest > archived, (newest, archived)
    # The data volume is lost: the server killed, its volume removed.
    postgres = stack.postgres_container()
    volume = docker(
        'inspect',
        '--format',
        '{{range .Mounts}}{{if eq .Destination "/var/lib/postgresql/data"}}{{.Name}}{{end}}{{end}}',
        postgres,
    ).stdout.strip()
    docker('rm', '--force', postgres)
    docker('volume', 'rm', volume)

    run = run_playbook(
        'playbooks/restore.yml', with_stream(stack, restore_confirm=stack.name), inventory=stack.inventory
    )
    assert run.rc == 0, run.failures(stack.name)
    report = restore_report(run, stack)
    assert report['streamed_segments'] >= 1 and report['stream_kept'].startswith('before-restore-'), report
    assert [i for i, _at in committed_at(stack)] == expected
    # The new timeline streams from its start, into the emptied directory.
    assert wait_for(lambda: receiver_caught_up(stack), 60), 'the receiver streaming the new timeline did not happen'
    kept = os.path.join(stream, report['stream_kept'])
    assert os.listdir(kept) and newest in {name.split('.')[0] for name in os.listdir(kept)}


def test_a_full_stream_disk_stops_the_receiver_not_the_database_and_it_resumes_without_a_gap(stack, streaming):
    small = streaming
    try:
        assert wait_for(lambda: receiver_caught_up(stack), 60), 'the receiver does not stream'
        receiver = stack.containers('wal-receiver')[0]
        # Shrunk to what it holds and half a segment: the next segment does not fit.
        usage = os.statvfs(small)
        used_mb = (usage.f_blocks - usage.f_bfree) * usage.f_frsize // 2**20
        subprocess.run(['mount', '-o', 'remount,size=%dm' % (used_mb + 8), small], check=True)
        # 40 MB of WAL (stored uncompressed): the stream's disk fills, the database goes on.
        stack.sql('ALTER TABLE events ALTER body SET STORAGE EXTERNAL')
        stack.sql("INSERT INTO events (body) SELECT repeat('x', 2000) FROM generate_series(1, 20000)")
        assert wait_for(lambda: 'No space left on device' in docker('logs', receiver).stderr, 60)
        assert stack.sql('SELECT count(*) FROM events WHERE length(body) = 2000') == [['20000']]
        # Room again: the receiver catches up from its slot, and the stream has no gap.
        subprocess.run(['mount', '-o', 'remount,size=256m', small], check=True)
        assert wait_for(lambda: receiver_caught_up(stack), 120), 'the receiver did not catch up'
        # Segment numbers (16 MB segments: 256 to a log file), from the names, .partial included.
        names = [name[:24] for name in os.listdir(small) if name[:24].isalnum()]
        segments = sorted(int(name[8:16], 16) * 256 + int(name[16:24], 16) for name in names)
        assert segments == list(range(segments[0], segments[0] + len(segments))), segments
    finally:
        subprocess.run(['mount', '-o', 'remount,size=256m', small], check=False)


def receiver_state(stack):
    return stack.sql("SELECT state, sync_state FROM pg_stat_replication WHERE application_name = 'wal_receiver'")


def test_a_synchronous_stream_has_every_commit_before_it_returns_and_stops_commits_without_it(stack, stream_dir):
    version = stack.served_version()
    sync = with_stream(stack, app_version=version, app_postgres_wal_stream_synchronous=True)
    on = run_playbook('playbooks/site.yml', sync, inventory=stack.inventory)
    assert on.rc == 0, on.failures(stack.name)
    assert wait_for(lambda: receiver_state(stack) == [['streaming', 'sync']], 60), receiver_state(stack)
    # A commit returns once the receiver has flushed it: nothing to wait for afterwards.
    for _commit in range(20):
        (flushed,) = stack.sql(
            "INSERT INTO events (body) VALUES ('sync'); "
            'SELECT flush_lsn >= pg_current_wal_flush_lsn() FROM pg_stat_replication '
            "WHERE application_name = 'wal_receiver'"
        )[-1]
        assert flushed == 't'

    # The documented cost: with the receiver down, a commit waits (committed locally, not acknowledged).
    receiver = stack.containers('wal-receiver')[0]
    docker('stop', receiver)
    waiting = subprocess.Popen(
        ['docker', 'exec', stack.postgres_container(), 'psql', '-XAtq', '-U', 'app', '-d', 'app', '-c',
         "INSERT INTO events (body) VALUES ('waits for the receiver')"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    with pytest.raises(subprocess.TimeoutExpired):
        waiting.wait(timeout=5)
    docker('start', receiver)
    assert waiting.wait(timeout=60) == 0
    assert stack.sql("SELECT count(*) FROM events WHERE body = 'waits for the receiver'") == [['1']]
