# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to auraspeak.ops (standard library only, see docker.py).
# Restore of the live database from pgBackRest (restore.yml): to a time
# (PITR), to a backup set, or to the end of the archive. The current data is
# moved aside inside its volume (an instant rename, nothing copied or lost),
# the backup is restored, and recovery runs in a server with no network, so
# nothing connects before it is done and checked.

from __future__ import annotations

import datetime
import re
import time

from .._common.clock import utc_stamp
from . import pgbackrest, wal_stream
from .docker import BackupError, psql, remove_container, run, service_container, throwaway_argv, wait_postgres
from .manifest import TABLE_STATS_SQL, compare_tables, read_json, tables_from_rows

DATA_MOUNT = '/var/lib/postgresql/data'
KEPT_PREFIX = 'pgdata.before-restore-'


def parse_target_time(text, now=None):
    """A PITR target from ISO 8601 with a UTC offset; returns (epoch seconds, text for pgBackRest in UTC)."""
    try:
        # Python before 3.11 does not read a Z suffix.
        moment = datetime.datetime.fromisoformat(re.sub(r'[Zz]$', '+00:00', str(text).strip()))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise BackupError(
            'restore_target_time %r is not a time with a UTC offset: write it as "2026-11-26 10:00:00+00:00" '
            '(ISO 8601; Z for UTC is fine)' % (text,)
        )
    epoch = moment.timestamp()
    if epoch > (now if now is not None else time.time()):
        raise BackupError('restore_target_time %s is in the future: nothing is archived for it yet' % text)
    utc = moment.astimezone(datetime.timezone.utc)  # noqa: UP017 (managed hosts' Python < 3.11)
    return epoch, utc.strftime('%Y-%m-%d %H:%M:%S.%f+00')


def choose_set(sets, epoch):
    """The newest set that ended before the target time: PITR starts from it and replays WAL up to the target."""
    before = [s for s in sets if s['timestamp']['stop'] <= epoch]
    if not before:
        oldest = _utc(sets[0]['timestamp']['stop'])
        raise BackupError(
            'restore_target_time is before the end of the oldest backup set (%s, ended %s): the repository cannot '
            'recover to it; choose a time after %s' % (sets[0]['label'], oldest, oldest)
        )
    return before[-1]


def _utc(epoch):
    utc = datetime.timezone.utc  # noqa: UP017 (managed hosts' Python < 3.11)
    return datetime.datetime.fromtimestamp(epoch, utc).strftime('%Y-%m-%d %H:%M:%S+00:00')


def plan(cfg, target_time=None, backup_set=None):
    """What restore would do; raises on a target the repository cannot reach. Changes nothing."""
    if target_time and backup_set:
        raise BackupError('set restore_target_time or restore_backup_set, not both')
    sets = pgbackrest.backup_sets(cfg)
    if not sets:
        raise BackupError('the pgBackRest repository of %s holds no backup set: nothing to restore' % cfg.project)
    if backup_set:
        chosen = pgbackrest.resolve_set(cfg, backup_set)
        manifest = read_json(pgbackrest.manifest_path(cfg, chosen['label']))
        return {
            'target': 'set',
            'set': chosen['label'],
            'restore_point': manifest['restore_point'] if manifest else None,
            'manifest': bool(manifest),
        }
    if target_time:
        epoch, text = parse_target_time(target_time)
        chosen = choose_set(sets, epoch)
        return {'target': 'time', 'time': text, 'set': chosen['label']}
    return {'target': 'latest', 'set': sets[-1]['label']}


def archive_now(cfg):
    """Close and archive the current WAL segment, so a restore to the latest loses nothing already committed."""
    container = service_container(cfg.project, cfg.postgres['service'])
    if not container:
        return None
    rows = psql(container, cfg.postgres['user'], cfg.postgres['db'], 'SELECT pg_walfile_name(pg_switch_wal());')
    wal = rows[0][0]
    pgbackrest.wait_archived(cfg, container, wal)
    return wal


def restore(cfg, target_time=None, backup_set=None, keep_current=True, progress=None):
    """Restore into the project's data volume and run recovery; PostgreSQL of the project must be stopped.

    progress (a dict) learns the volume and the kept data's name as soon as
    they are known, so a failure can say where the data from before is.
    """
    progress = {} if progress is None else progress
    chosen = plan(cfg, target_time, backup_set)
    if service_container(cfg.project, cfg.postgres['service']):
        raise BackupError(
            'the %s service of %s is running: stop it before a restore (restore.yml stops the application and the '
            'database first)' % (cfg.postgres['service'], cfg.project)
        )
    volume = cfg.postgres_volume()
    started = time.time()
    progress['volume'] = volume
    kept = progress['kept'] = _set_current_aside(cfg, volume, keep_current)
    args = pgbackrest.restore_args(
        chosen['set'] if chosen['target'] != 'latest' else None,
        chosen.get('restore_point'),
        chosen.get('time'),
    )
    argv = pgbackrest.tool_argv(cfg) + ['-v', '%s:%s' % (volume, DATA_MOUNT), '--entrypoint', 'pgbackrest']
    run(argv + [cfg.postgres['image'], '--stanza=%s' % cfg.pgbackrest['stanza']] + args, timeout=cfg.drill_timeout)
    report = dict(chosen, volume=volume, kept=kept, restore_seconds=round(time.time() - started, 3))
    if wal_stream.path(cfg):
        report['streamed_segments'] = wal_stream.add_to_restored(cfg, volume, DATA_MOUNT)
    report.update(_recover(cfg, volume, chosen))
    if wal_stream.path(cfg):
        report['stream_kept'] = wal_stream.set_aside(cfg)
    return report


def kept_hint(progress):
    """Where the data from before a failed restore is, and how to put it back."""
    if not progress.get('kept'):
        return 'The data directory was not touched.' if 'kept' not in progress else 'There was no data to keep.'
    return (
        'The data from before the restore is kept in volume %(volume)s as %(kept)s: to put it back, with the '
        'database stopped, run: docker run --rm -u 999:999 -v %(volume)s:/d --entrypoint sh <postgres image> -c '
        '"rm -rf /d/pgdata && mv /d/%(kept)s /d/pgdata"' % progress
    )


def _set_current_aside(cfg, volume, keep_current):
    """Create the volume when it is gone; move the current data aside (or delete it). Returns the kept name."""
    if run(['docker', 'volume', 'inspect', volume], check=False)[0] != 0:
        # Labelled as Compose labels its own volumes, so `docker compose up` adopts it.
        run(
            [
                'docker',
                'volume',
                'create',
                '--label',
                'com.docker.compose.project=%s' % cfg.project,
                '--label',
                'com.docker.compose.volume=%s' % cfg.postgres.get('volume', 'postgres-data'),
                volume,
            ]
        )
    kept = KEPT_PREFIX + utc_stamp() if keep_current else None
    step = 'mv pgdata %s' % kept if kept else 'rm -rf pgdata'
    script = 'cd %s && if [ -e pgdata ]; then %s; else echo none; fi' % (DATA_MOUNT, step)
    argv = throwaway_argv(cfg.project) + ['-v', '%s:%s' % (volume, DATA_MOUNT), '--entrypoint', 'sh']
    _rc, out, _err = run(argv + [cfg.postgres['image'], '-c', script])
    return None if out.strip() == 'none' else kept


def _recover(cfg, volume, chosen):
    """Recover in a server of our own (no network, archiving as the live one does), check it, stop it cleanly."""
    name = 'auraspeak-recover-%s' % cfg.project
    remove_container(name)
    argv = (
        pgbackrest.tool_argv(cfg, name=name, detach=True, writable_repo=True)
        + [
            '--shm-size',
            '256m',
            '-e',
            'PGDATA=%s' % cfg.postgres['pgdata'],
            '-v',
            '%s:%s' % (volume, DATA_MOUNT),
            '--entrypoint',
            'postgres',
            cfg.postgres['image'],
        ]
        + pgbackrest.server_flags(cfg, archive=True)
    )
    started = time.time()
    try:
        run(argv)
        wait_postgres(name, cfg.postgres['user'], cfg.postgres['db'], cfg.drill_timeout, what='recovery')
        report = {'recovery_seconds': round(time.time() - started, 3)}
        rows = psql(
            name,
            cfg.postgres['user'],
            cfg.postgres['db'],
            'SELECT timeline_id FROM pg_control_checkpoint();\n' + TABLE_STATS_SQL,
        )
        report['timeline'] = int(rows[0][0])
        tables = tables_from_rows(rows[1:])
        report.update(tables=len(tables), rows=sum(t['rows'] for t in tables.values()), mismatches=[])
        if chosen.get('restore_point'):
            report['mismatches'] = compare_tables(pgbackrest.load_manifest(cfg, chosen['set'])['tables'], tables)
        # A clean shutdown archives what recovery wrote (the new timeline's history) before it ends.
        run(['docker', 'stop', '--time', '600', name], timeout=660)
        status = run(['docker', 'inspect', '--format', '{{.State.ExitCode}}', name])[1].strip()
        if status != '0':
            raise BackupError('the recovered server did not shut down cleanly (exit %s)' % status)
    finally:
        remove_container(name)
    if report['mismatches']:
        raise BackupError(
            'the restored database does not match the manifest of set %s: %s'
            % (chosen['set'], '; '.join(report['mismatches'][:10])),
            report,
        )
    return report
