# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to auraspeak.ops (standard library only, see docker.py).
# Database rollback: deploy.yml takes a pre-migration snapshot (a dump tagged
# with the release) before a migration runs and records the write count right
# after it; rollback.yml restores that snapshot, after counting the writes that
# it would discard.

from __future__ import annotations

import os
import time

from . import dump
from .docker import BackupError, psql
from .jobs import recorded
from .manifest import WRITES_SQL

SNAPSHOT_TAG = 'pre-migration'


def snapshot_tag(release):
    return '%s-%s' % (SNAPSHOT_TAG, release)


def count_writes(cfg):
    container = cfg.live_postgres()
    return int(psql(container, cfg.postgres['user'], cfg.postgres['db'], WRITES_SQL)[0][1])


def take_snapshot(cfg, release):
    """The pre-migration dump of a release, taken once; keeps the newest snapshot_keep snapshots.

    A re-run of the release that went last (after a kill, a replica-count or env
    change) runs the migration again over a database it migrated already: a
    snapshot now would hold the migration, so the release keeps the one taken
    before its migration first ran. Returns the outcome, with reused true then.
    """
    reused = {}

    def func():
        earlier = _snapshot_of_last_release(cfg, release)
        if earlier:
            reused['reused'] = True
            return dump.dump_id(earlier), os.path.getsize(earlier)
        path, size = dump.take_dump(cfg, tag=snapshot_tag(release))
        dump.rotate(cfg, int(cfg.dump.get('snapshot_keep', 5)), None, tagged=SNAPSHOT_TAG)
        return dump.dump_id(path), size

    outcome = recorded(cfg, 'snapshot', func)
    return dict(outcome, reused=reused.get('reused', False))


# Jobs that replace the database: after one, a deploy migrates a different database.
DATABASE_REPLACED_BY = ('rollback-database', 'restore')


def _snapshot_of_last_release(cfg, release):
    """The newest pre-migration snapshot when it is release's and still describes the database's past.

    None when another release migrated since (its snapshot is newer), or a database
    rollback or restore replaced the database after it was taken.
    """
    found = _snapshots(cfg)
    if not found or _tag_of(found[-1]) != snapshot_tag(release):
        return None
    jobs = cfg.state.load()['jobs']
    replaced = max((jobs.get(job, {}).get('last_success') or 0) for job in DATABASE_REPLACED_BY)
    return None if replaced >= dump.taken_at(found[-1]) else found[-1]


def mark_migrated(cfg, release):
    """Right after the release's migration: the write count a later rollback is measured against.

    Every write after it counts, also those of the old replicas while the new ones pass
    the health gate and the analysis; only writes made during the migration itself
    are not told apart from the migration's own.
    """
    snapshot_id = dump.dump_id(latest_snapshot(cfg, release))
    return {'snapshot': snapshot_id, 'writes': cfg.state.record_deployed(snapshot_id, count_writes(cfg))}


def latest_snapshot(cfg, release=None):
    """The newest pre-migration snapshot, of a given release or of any."""
    found = _snapshots(cfg, release)
    if not found:
        where = ' of release %s' % release if release else ''
        raise BackupError(
            'there is no pre-migration snapshot%s in %s: deploy.yml takes one before each migration once the backup '
            'role has run on the host; restore a backup instead (restore.yml)' % (where, cfg.dump['dir'])
        )
    return found[-1]


def _snapshots(cfg, release=None):
    """Pre-migration snapshots, oldest first: of one release, or of all."""
    if not release:
        return dump.list_dumps(cfg.dump['dir'], SNAPSHOT_TAG)
    tag = snapshot_tag(release)
    # The listing matches tags by prefix: 1.0.1 would also list 1.0.10's.
    return [path for path in dump.list_dumps(cfg.dump['dir'], tag) if _tag_of(path) == tag]


def _tag_of(path):
    return dump.parse_name(os.path.basename(path))['tag']


def writes_since(cfg, snapshot_path):
    """Row writes the database counted since the release migrated it (or since the snapshot).

    Returns (writes, since) with since 'migration' or 'snapshot', or (None, reason)
    when PostgreSQL's counters were reset since then and the count is unknown.
    """
    snapshot_id = dump.dump_id(snapshot_path)
    deployed = cfg.state.deployed(snapshot_id)
    if deployed is not None:
        baseline, since = int(deployed['writes_after_deploy']), 'migration'
    else:
        baseline, since = dump.load_manifest(snapshot_path).get('writes'), 'snapshot'
    if baseline is None:
        return None, 'the snapshot recorded no write count'
    current = count_writes(cfg)
    if current < baseline:
        return None, "PostgreSQL's statistics were reset since (a restore or a crash)"
    return current - baseline, since


def plan_rollback(cfg, release):
    """What a database rollback to the pre-migration snapshot of release would do, without doing it."""
    path = latest_snapshot(cfg, release)
    manifest = dump.load_manifest(path)
    writes, since = writes_since(cfg, path)
    return {
        'snapshot': dump.dump_id(path),
        'taken': manifest['created'],
        'tables': len(manifest['tables']),
        'rows': sum(t['rows'] for t in manifest['tables'].values()),
        'writes_lost': writes,
        'counted_since': since,
    }


def end_other_sessions(cfg, wait=10):
    """End the database's other sessions, so PostgreSQL's write counters are complete.

    A session reports its counts when it ends (or, idle, up to 10 s later), so
    the count is exact only once the application is stopped and its sessions
    are gone. Sessions still there after wait seconds are terminated.
    """
    container = cfg.live_postgres()
    others = (
        'FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() '
        "AND backend_type = 'client backend'"
    )
    deadline = time.time() + wait
    while int(psql(container, cfg.postgres['user'], cfg.postgres['db'], 'SELECT count(*) %s;' % others)[0][0]):
        if time.time() > deadline:
            psql(container, cfg.postgres['user'], cfg.postgres['db'], 'SELECT pg_terminate_backend(pid) %s;' % others)
            deadline = time.time() + wait
        time.sleep(0.2)


def rollback_database(cfg, release, force=False):
    """Replace the database with the release's pre-migration snapshot; the current one is kept renamed.

    The application must be stopped. Refuses while writes would be lost (or
    their count is unknown) unless force.
    """
    end_other_sessions(cfg)
    plan = plan_rollback(cfg, release)
    if plan['writes_lost'] is None and not force:
        raise BackupError(
            'cannot count the writes since snapshot %s: %s. Nothing was changed; to roll back anyway, '
            'set rollback_database_force: true' % (plan['snapshot'], plan['counted_since'])
        )
    if plan['writes_lost'] and not force:
        raise BackupError(
            'rolling the database back to snapshot %s would discard %d row writes made since the %s. '
            'Nothing was changed; to discard them, set rollback_database_force: true'
            % (
                plan['snapshot'],
                plan['writes_lost'],
                'release migrated the database' if plan['counted_since'] == 'migration' else 'snapshot',
            )
        )
    path = latest_snapshot(cfg, release)
    dump.check_checksum(path, dump.load_manifest(path))
    kept = {}

    def func():
        kept['database'] = dump.restore_as_database(cfg, path)
        return plan['snapshot'], None

    recorded(cfg, 'rollback-database', func)
    return dict(plan, kept_database=kept['database'])


def undo_rollback(cfg, kept):
    """Put back the database rollback_database() replaced (kept), when the release it went back to did not go live.

    The application must be stopped.
    """

    def func():
        dump.put_back_database(cfg, kept)
        return kept, None

    recorded(cfg, 'rollback-database-undo', func)
    return {'database': cfg.postgres['db'], 'put_back': kept}
