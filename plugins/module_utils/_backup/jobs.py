# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to auraspeak.ops (standard library only, see docker.py).
# Every backup and verification job goes through here: one job of a project at
# a time, marked running when it starts and its outcome recorded (a failure
# too) before it returns; a run that was killed is recorded as failed by the
# next job.

from __future__ import annotations

import time
from contextlib import contextmanager

from . import dump, pgbackrest, restic
from .docker import BackupError
from .drill import run_drill
from .state import JobLockTimeout, job_lock, now

BACKUP_JOBS = ('full', 'diff', 'incr', 'dump', 'volumes')
VERIFY_KINDS = ('pgbackrest', 'dump', 'restic')


def require_enabled(cfg, job):
    section = {'dump': cfg.dump, 'volumes': cfg.restic, 'restic': cfg.restic}.get(job, cfg.pgbackrest)
    if not section.get('enabled'):
        raise BackupError('%s backups are turned off for %s (see the backup role variables)' % (job, cfg.project))


def recorded(cfg, job, func):
    """Run func() -> (id, bytes) under the project's job lock, recording how it went; re-raise failures."""
    with _job_lock(cfg, job):
        cfg.state.reconcile(now())
        started = now()
        cfg.state.start(job, started)
        try:
            backup_id, size = func()
        except BaseException as exc:
            message = str(exc) if isinstance(exc, BackupError) else '%s: %s' % (type(exc).__name__, exc)
            cfg.state.record(job, False, started, now(), error=message)
            raise
        return cfg.state.record(job, True, started, now(), size=size, backup_id=backup_id)


@contextmanager
def _job_lock(cfg, job):
    try:
        with job_lock(cfg.state.state_dir, timeout=cfg.job_wait_timeout):
            yield
    except JobLockTimeout as exc:
        path, timeout = exc.args
        raise BackupError(
            'the %s job of %s waited %d s for %s, held by another job of the project: %s. Wait for it to end, '
            'or raise backup_job_wait_timeout'
            % (job, cfg.project, timeout, path, ', '.join(cfg.state.running()) or 'unknown')
        ) from None


def status(cfg):
    """The recorded outcomes; runs that were killed are recorded as failed first, when no job runs."""
    with job_lock(cfg.state.state_dir, wait=False) as held:
        if held:
            cfg.state.reconcile(now())
    return cfg.state.load()


def run_backup(cfg, job):
    """Take one backup. Retention runs only after it succeeded, and keeps the last verified backup."""
    if job not in BACKUP_JOBS:
        raise BackupError('unknown backup kind %s; one of %s' % (job, ', '.join(BACKUP_JOBS)))
    require_enabled(cfg, job)
    if job == 'dump':

        def func():
            path, size = dump.take_dump(cfg)
            dump.rotate(cfg, int(cfg.dump['keep']), cfg.state.verified('dump'))
            return dump.dump_id(path), size

    elif job == 'volumes':

        def func():
            ids, added = restic.backup_volumes(cfg)
            return ','.join(ids), added

    else:
        steps = []

        def func():
            return pgbackrest.take_backup(cfg, job, steps)

        return dict(recorded(cfg, job, func), steps=steps)

    return recorded(cfg, job, func)


def has_backup(cfg, job):
    if job == 'dump':
        return bool(dump.list_dumps(cfg.dump['dir']))
    if job == 'volumes':
        return bool(restic.snapshots(cfg))
    return any(s['type'] == job for s in pgbackrest.backup_sets(cfg))


def run_verify(cfg, kind, wanted=None):
    """A restore drill; the backup it proved is marked verified, so retention keeps it."""
    if kind not in VERIFY_KINDS:
        raise BackupError('unknown backup kind %s to verify; one of %s' % (kind, ', '.join(VERIFY_KINDS)))
    require_enabled(cfg, {'pgbackrest': 'full', 'dump': 'dump', 'restic': 'volumes'}[kind])
    result = {}

    def func():
        started = time.time()
        report = run_drill(cfg, kind, wanted)
        report['seconds'] = round(time.time() - started, 3)
        if kind == 'restic':
            report['verified_as'] = ','.join(restic.mark_verified(cfg, [snap['id'] for snap in report['snapshots']]))
        # A drill of a pre-migration snapshot proves it, but retention keeps the
        # verified scheduled dump: that mark stays where it is.
        if kind != 'dump' or dump.is_scheduled(report['id']):
            cfg.state.mark_verified(kind, report.get('verified_as') or report['id'])
        result.update(report)
        return report['id'], None

    result['outcome'] = recorded(cfg, 'verify-%s' % kind, func)
    return result


def listing(cfg):
    """Every backup there is, oldest first, with what the drills verified."""
    verified = cfg.state.load()['verified']
    result = {'verified': verified, 'pgbackrest': [], 'dumps': [], 'snapshots': [], 'restic': []}
    if cfg.pgbackrest.get('enabled'):
        result['pgbackrest'] = [
            {
                'label': s['label'],
                'type': s['type'],
                'started': s['timestamp']['start'],
                'stopped': s['timestamp']['stop'],
                'bytes': s['info']['repository']['delta'],
            }
            for s in pgbackrest.backup_sets(cfg)
        ]
    for key, tagged in (('dumps', None), ('snapshots', 'pre-migration')):
        for path in dump.list_dumps(cfg.dump['dir'], tagged):
            manifest = dump.load_manifest(path)
            result[key].append(
                {'id': dump.dump_id(path), 'created': manifest['created'], 'bytes': manifest['file']['bytes']}
            )
    if cfg.restic.get('enabled'):
        result['restic'] = [
            {'id': s['short_id'], 'time': s['time'], 'paths': s['paths'], 'tags': s.get('tags') or []}
            for s in restic.snapshots(cfg)
        ]
    return result
