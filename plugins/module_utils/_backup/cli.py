# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to auraspeak.ops (standard library only, see docker.py).
# The host's `auraspeak-backup` command, run by the schedules the backup role
# installs and by backup.yml, restore.yml, deploy.yml and rollback.yml. It
# prints one JSON document; on failure {"failed": true, "msg": ...} and exit 1.

from __future__ import annotations

import argparse
import contextlib
import json
import sys

from .._common.lock_heartbeat import Heartbeat, LockLost
from . import jobs, pgbackrest, restic, restore, snapshot
from .config import DEFAULT_CONFIG_DIR, config_path, load
from .docker import BackupError


def parser():
    top = argparse.ArgumentParser(
        prog='auraspeak-backup', description='Backups, restore drills and restores of a project.'
    )
    top.add_argument('--project', default='auraspeak', help='compose project (default: auraspeak)')
    top.add_argument('--config', help='backup.json (default: %s/<project>/backup/backup.json)' % DEFAULT_CONFIG_DIR)
    top.add_argument('--deploy-lock', help='the deploy lock this command works under: it beats for it while it runs')
    top.add_argument('--lock-holder', help='the holder of --deploy-lock (the run that calls this command)')
    sub = top.add_subparsers(dest='command', required=True)

    cmd = sub.add_parser('backup', help='take a backup')
    cmd.add_argument('kind', choices=jobs.BACKUP_JOBS)
    cmd.add_argument('--if-none', action='store_true', help='only when the repository holds no backup of this kind')
    cmd = sub.add_parser('verify', help='integrity check and restore drill of one backup')
    cmd.add_argument('kind', choices=jobs.VERIFY_KINDS)
    cmd.add_argument('--backup', default='latest', help='set label, dump id or snapshot id (default: latest)')
    cmd = sub.add_parser('init', help='create the pgBackRest stanza or the restic repository when missing')
    cmd.add_argument('--only', choices=('pgbackrest', 'restic'), required=True)
    sub.add_parser('status', help='the recorded outcome of every job')
    sub.add_parser('list', help='the backups there are: pgBackRest sets, dumps, snapshots, restic snapshots')

    for name, text in (
        ('restore-plan', 'what restore-database would do'),
        ('restore-database', 'restore from pgBackRest'),
    ):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument('--time', help='recover to this time (PITR), e.g. "2026-11-26 10:00:00+00:00"')
        cmd.add_argument('--set', help='restore this backup set (to its restore point)')
    cmd.add_argument('--discard-current', action='store_true', help='delete the current data instead of keeping it')
    sub.add_parser('archive-now', help='archive the current WAL segment (before a restore to the latest)')
    cmd = sub.add_parser('restore-volume', help='replace a volume with a restic snapshot')
    cmd.add_argument('volume')
    cmd.add_argument('--snapshot', default='latest')

    cmd = sub.add_parser('snapshot', help='pre-migration snapshot of the database (deploy.yml)')
    cmd.add_argument('release')
    cmd = sub.add_parser('snapshot-migrated', help='record the write count right after the migration (deploy.yml)')
    cmd.add_argument('release')
    for name, text in (
        ('rollback-plan', 'count the writes a rollback would discard'),
        ('rollback-database', 'restore the pre-migration snapshot of a release'),
    ):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument('--release', required=True, help='the release whose pre-migration snapshot to restore')
    cmd.add_argument('--force', action='store_true', help='roll back even when writes would be discarded')
    cmd = sub.add_parser('rollback-database-undo', help='put back the database a rollback replaced')
    cmd.add_argument('--kept', required=True, help='the name rollback-database kept it under')
    return top


def dispatch(cfg, args):
    command = args.command
    if command == 'backup':
        if args.if_none and jobs.has_backup(cfg, args.kind):
            return {'taken': False}
        return dict(jobs.run_backup(cfg, args.kind), taken=True)
    if command == 'verify':
        return jobs.run_verify(cfg, args.kind, args.backup)
    if command == 'init':
        return {'created': pgbackrest.stanza_create(cfg) if args.only == 'pgbackrest' else restic.init(cfg)}
    if command == 'status':
        return jobs.status(cfg)
    if command == 'list':
        return jobs.listing(cfg)
    if command == 'restore-plan':
        return restore.plan(cfg, args.time, args.set)
    if command == 'restore-database':
        return restore_database(cfg, args)
    if command == 'archive-now':
        return {'archived': restore.archive_now(cfg)}
    if command == 'restore-volume':
        result = {}
        jobs.recorded(
            cfg,
            'restore-volume',
            lambda: _store(result, 'snapshot', restic.restore_volume(cfg, args.volume, args.snapshot)),
        )
        return dict(result, volume=args.volume)
    if command == 'snapshot':
        return jobs_snapshot(cfg, args.release)
    if command == 'snapshot-migrated':
        return snapshot.mark_migrated(cfg, args.release)
    if command == 'rollback-plan':
        return snapshot.plan_rollback(cfg, args.release)
    if command == 'rollback-database-undo':
        return snapshot.undo_rollback(cfg, args.kept)
    return snapshot.rollback_database(cfg, args.release, force=args.force)


def _store(result, key, value):
    result[key] = value
    return value, None


def jobs_snapshot(cfg, release):
    outcome = snapshot.take_snapshot(cfg, release)
    return {'id': outcome['id'], 'bytes': outcome['size'], 'release': release, 'reused': outcome['reused']}


def restore_database(cfg, args):
    report, progress = {}, {}

    def func():
        try:
            report.update(restore.restore(cfg, args.time, args.set, not args.discard_current, progress))
        except BackupError as exc:
            raise BackupError('%s. %s' % (exc, restore.kept_hint(progress)), exc.report) from None
        return report['set'], None

    jobs.recorded(cfg, 'restore', func)
    return report


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        cfg = load(args.config or config_path(args.project))
        with heartbeat(args):
            result = dispatch(cfg, args)
    except BackupError as exc:
        json.dump({'failed': True, 'msg': str(exc), 'report': exc.report}, sys.stdout, default=str)
        sys.stdout.write('\n')
        return 1
    json.dump(result, sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write('\n')
    return 0


@contextlib.contextmanager
def heartbeat(args):
    """Beat for the caller's deploy lock while the command works (a restore can outlast stale_after)."""
    if not args.deploy_lock:
        yield
        return
    if not args.lock_holder:
        raise BackupError('--deploy-lock needs --lock-holder: the holder of the lock, as deploy_lock took it')
    try:
        with Heartbeat(args.deploy_lock, args.lock_holder):
            yield
    except LockLost as exc:
        raise BackupError(str(exc)) from None
