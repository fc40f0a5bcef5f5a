# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to auraspeak.ops (standard library only, see docker.py).
# Restore drills: restore a backup into a throwaway PostgreSQL container with
# no network and no access to the live database, count every table's rows,
# compare them with the manifest, and remove the container in every case.

from __future__ import annotations

import time

from . import dump, pgbackrest
from .docker import TOOL_LABEL, BackupError, psql, remove_container, run, wait_postgres
from .manifest import TABLE_STATS_SQL, compare_tables, tables_from_rows


def cleanup_leftovers(cfg):
    """Remove drill containers a killed run left behind."""
    _rc, out, _err = run(['docker', 'ps', '-aq', '--filter', 'label=%s=%s' % (TOOL_LABEL, cfg.project)], check=False)
    for container in out.split():
        remove_container(container)


def _timed(report, step, func, *args):
    started = time.time()
    result = func(*args)
    report['steps'].append({'step': step, 'seconds': round(time.time() - started, 3)})
    return result


def _compare(report, name, cfg, manifest):
    rows = psql(name, cfg.postgres['user'], cfg.postgres['db'], TABLE_STATS_SQL, timeout=cfg.drill_timeout)
    restored = tables_from_rows(rows)
    report['tables'] = len(restored)
    report['rows'] = sum(t['rows'] for t in restored.values())
    report['mismatches'] = compare_tables(manifest['tables'], restored)


def drill_pgbackrest(cfg, wanted=None):
    """pgbackrest verify, and meanwhile restore the set to its restore point in a throwaway container; compare.

    Both only read the repository, so the integrity check runs while the
    drill container restores: the drill takes about as long as the restore.
    """
    backup_set = pgbackrest.resolve_set(cfg, wanted)
    label = backup_set['label']
    manifest = pgbackrest.load_manifest(cfg, label)
    report = {
        'kind': 'pgbackrest',
        'id': label,
        'steps': [],
        'checked': ['pgbackrest verify', 'restore drill', 'row counts'],
    }
    name = cfg.drill_name('pgbackrest')
    try:
        started = time.time()
        pgbackrest.start_drill(cfg, name, label, manifest['restore_point'])
        _timed(report, 'integrity', pgbackrest.verify_repository, cfg)
        wait_postgres(name, cfg.postgres['user'], cfg.postgres['db'], cfg.drill_timeout)
        report['steps'].append({'step': 'restore', 'seconds': round(time.time() - started, 3)})
        _timed(report, 'compare', _compare, report, name, cfg, manifest)
    finally:
        remove_container(name)
    return report


def dump_to_drill(cfg, wanted=None):
    """The dump a drill proves: 'latest' is the newest scheduled one, which retention keeps once verified."""
    return dump.resolve(cfg, wanted, tagged=None)


def drill_dump(cfg, wanted=None):
    """Checksum the dump, restore it into a throwaway container with pg_restore, compare."""
    path = dump_to_drill(cfg, wanted)
    manifest = dump.load_manifest(path)
    report = {
        'kind': 'dump',
        'id': dump.dump_id(path),
        'path': path,
        'steps': [],
        'checked': ['sha256', 'pg_restore drill', 'row counts'],
    }
    _timed(report, 'integrity', dump.check_checksum, path, manifest)
    name = cfg.drill_name('dump')
    try:
        _timed(report, 'restore', dump.restore_into_drill, cfg, name, path)
        _timed(report, 'compare', _compare, report, name, cfg, manifest)
    finally:
        remove_container(name)
    return report


def run_drill(cfg, kind, wanted=None):
    """Verify one backup of a kind; raise BackupError on any mismatch, after cleaning up."""
    cleanup_leftovers(cfg)
    if kind == 'pgbackrest':
        report = drill_pgbackrest(cfg, wanted)
    elif kind == 'dump':
        report = drill_dump(cfg, wanted)
    else:
        from . import restic

        report = restic.verify(cfg, wanted)
    if report.get('mismatches'):
        raise BackupError(
            'the restore of %s %s does not match its manifest: %s'
            % (kind, report['id'], '; '.join(report['mismatches'][:10])),
            report,
        )
    return report
