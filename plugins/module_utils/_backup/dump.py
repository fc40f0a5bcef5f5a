# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to auraspeak.ops (standard library only, see docker.py).
# Logical dumps (pg_dump -Fc) with a manifest beside each one. The row counts
# come from the snapshot pg_dump itself reads (pg_export_snapshot), so they are
# exact while the application keeps writing.

from __future__ import annotations

import os
import re
import subprocess
import time

from .._common.clock import parse_stamp, utc_stamp
from .._common.files import write_json
from .docker import BackupError, psql, psql_argv, run, throwaway_argv, wait_postgres
from .manifest import (
    TABLE_STATS_SQL,
    WRITES_SQL,
    build,
    read_json,
    sha256_file,
    tables_from_rows,
)

SUFFIX = '.dump'
MANIFEST_SUFFIX = '.manifest.json'
_NAME = re.compile(r'^(?P<project>.+)-(?P<stamp>\d{8}T\d{6}Z)(?:-(?P<tag>[A-Za-z0-9._-]+))?\.dump$')


def dump_name(project, stamp, tag=None):
    return '%s-%s%s%s' % (project, stamp, '-%s' % tag if tag else '', SUFFIX)


def dump_id(path):
    return os.path.basename(path)[: -len(SUFFIX)]


def parse_name(name):
    match = _NAME.match(name)
    return match.groupdict() if match else None


def taken_at(path):
    """When a dump was taken (its name's UTC stamp), as a time.time() value."""
    return parse_stamp(parse_name(os.path.basename(path))['stamp'])


def is_scheduled(identifier):
    """Whether a dump id names a scheduled dump (untagged), not a pre-migration snapshot."""
    parts = parse_name(identifier + SUFFIX)
    return bool(parts) and not parts['tag']


def list_dumps(directory, tagged=None):
    """Complete dumps (those with a manifest), oldest first.

    tagged: None for the scheduled (untagged) dumps, '*' for all, or a tag prefix.
    """
    found = []
    for name in sorted(os.listdir(directory)) if os.path.isdir(directory) else []:
        parts = parse_name(name)
        if not parts or not os.path.exists(os.path.join(directory, name[: -len(SUFFIX)] + MANIFEST_SUFFIX)):
            continue
        tag = parts['tag'] or ''
        if tagged == '*' or (tagged is None and not tag) or (tagged and tag.startswith(tagged)):
            found.append(os.path.join(directory, name))
    return sorted(found, key=lambda path: parse_name(os.path.basename(path))['stamp'])


def manifest_path(path):
    return path[: -len(SUFFIX)] + MANIFEST_SUFFIX


def take_dump(cfg, tag=None):
    """Write <dir>/<project>-<stamp>[-tag].dump and its manifest; return (path, bytes).

    The dump is written as .partial and renamed only once complete and
    checksummed, so a failed or killed run never leaves a dump that looks good.
    """
    directory = cfg.dump['dir']
    os.makedirs(directory, mode=0o700, exist_ok=True)
    remove_partials(directory)
    container = cfg.live_postgres()
    path = _new_path(directory, cfg.project, tag)
    partial = path + '.partial'
    try:
        tables, writes = _dump_with_counts(cfg, container, partial)
        file_info = {'name': os.path.basename(path), 'bytes': os.path.getsize(partial), 'sha256': sha256_file(partial)}
        manifest = build(
            'dump',
            dump_id(path),
            cfg.postgres['db'],
            tables,
            time.time(),
            file_info=file_info,
            extra={'tag': tag or None, 'writes': writes},
        )
        os.replace(partial, path)
        write_json(manifest_path(path), manifest, mode=0o600)
    except BaseException:
        for leftover in (partial, path):
            if os.path.exists(leftover) and not os.path.exists(manifest_path(path)):
                os.unlink(leftover)
        raise
    return path, file_info['bytes']


def _new_path(directory, project, tag):
    """The path of a new dump, named by the second it starts.

    Names are ids, so an existing dump is never overwritten: a second dump
    within the same second waits for the next one (jobs of a project hold one
    lock, so no other job takes the name meanwhile).
    """
    while True:
        stamp = utc_stamp()
        path = os.path.join(directory, dump_name(project, stamp, tag))
        taken = [n for n in os.listdir(directory) if n.startswith('%s-%s' % (project, stamp))]
        if not taken:
            return path
        time.sleep(0.2)


def _dump_with_counts(cfg, container, partial):
    user, database = cfg.postgres['user'], cfg.postgres['db']
    session = subprocess.Popen(
        psql_argv(container, user, database),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        session.stdin.write('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;\nSELECT pg_export_snapshot();\n')
        session.stdin.flush()
        snapshot = session.stdout.readline().strip()
        if not snapshot:
            raise BackupError('could not open a snapshot in %s: %s' % (database, session.stderr.read().strip()[-300:]))
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'wb') as handle:
            proc = subprocess.run(
                [
                    'docker',
                    'exec',
                    container,
                    'pg_dump',
                    '--format=custom',
                    '--snapshot=%s' % snapshot,
                    '--username',
                    user,
                    '--dbname',
                    database,
                ],
                stdout=handle,
                stderr=subprocess.PIPE,
                check=False,
            )
            handle.flush()
            os.fsync(handle.fileno())
        if proc.returncode != 0:
            raise BackupError(
                'pg_dump failed (exit %d): %s' % (proc.returncode, proc.stderr.decode(errors='replace').strip()[-400:])
            )
        # The counts read the snapshot pg_dump read, while the session still holds it.
        session.stdin.write(TABLE_STATS_SQL.strip() + '\n' + WRITES_SQL + '\nCOMMIT;\n')
        session.stdin.close()
        out = session.stdout.read()
        if session.wait() != 0:
            raise BackupError('counting rows for the manifest failed: %s' % session.stderr.read().strip()[-300:])
        rows = [line.split('|') for line in out.splitlines() if line]
        writes = [int(row[1]) for row in rows if row[0] == 'writes' and len(row) == 2]
        return tables_from_rows(row for row in rows if len(row) == 3), writes[0] if writes else None
    finally:
        if session.poll() is None:
            session.kill()
            session.wait()


def remove_partials(directory):
    for name in os.listdir(directory):
        if name.endswith('.partial'):
            os.unlink(os.path.join(directory, name))


def rotate(cfg, keep, verified_id, tagged=None):
    """Delete the oldest complete dumps beyond keep, never the last verified one. Returns what was removed."""
    dumps = list_dumps(cfg.dump['dir'], tagged)
    removed = []
    for path in dumps[: max(0, len(dumps) - keep)]:
        if dump_id(path) == verified_id:
            continue
        os.unlink(manifest_path(path))
        os.unlink(path)
        removed.append(dump_id(path))
    return removed


def resolve(cfg, wanted=None, tagged='*'):
    """A dump path from an id, a path, or 'latest': the newest dump list_dumps(tagged) finds (scheduled or not)."""
    if wanted and wanted != 'latest':
        path = (
            wanted
            if os.path.isabs(wanted)
            else os.path.join(cfg.dump['dir'], wanted if wanted.endswith(SUFFIX) else wanted + SUFFIX)
        )
        if not os.path.exists(path):
            raise BackupError('dump %s does not exist' % path)
        return path
    dumps = list_dumps(cfg.dump['dir'], tagged)
    if not dumps:
        raise BackupError('%s holds no complete dump yet: run backup.yml -e backup_kind=dump first' % cfg.dump['dir'])
    return dumps[-1]


def load_manifest(path):
    manifest = read_json(manifest_path(path))
    if manifest is None:
        raise BackupError(
            '%s has no manifest (%s): it cannot be verified' % (path, os.path.basename(manifest_path(path)))
        )
    return manifest


def check_checksum(path, manifest):
    actual = sha256_file(path)
    if actual != manifest['file']['sha256']:
        raise BackupError(
            '%s is corrupt: its sha256 is %s, the manifest recorded %s' % (path, actual, manifest['file']['sha256'])
        )


def start_server(cfg, name, extra_mounts=()):
    """A throwaway PostgreSQL server with no network, initialised empty, for drills and rollbacks."""
    argv = throwaway_argv(cfg.project, name, detach=True) + [
        '--shm-size',
        '256m',
        '-e',
        'PGDATA=/var/lib/postgresql/data/drill',
    ]
    for mount in extra_mounts:
        argv += ['-v', mount]
    script = (
        'initdb --username="$DRILL_USER" --auth=trust --encoding=UTF8 >/dev/null '
        '&& exec postgres -c listen_addresses= -c fsync=off'
    )
    run(
        argv + ['-e', 'DRILL_USER=%s' % cfg.postgres['user'], '--entrypoint', 'sh', cfg.postgres['image'], '-c', script]
    )


def restore_into_drill(cfg, name, path):
    start_server(cfg, name, extra_mounts=['%s:/drill/backup.dump:ro' % path])
    user, database = cfg.postgres['user'], cfg.postgres['db']
    wait_postgres(name, user, 'postgres', cfg.drill_timeout)
    psql(name, user, 'postgres', 'CREATE DATABASE %s;' % quote_ident(database))
    # As root: the dump is root's and mode 0600; the server runs as postgres.
    run(
        [
            'docker',
            'exec',
            '--user',
            '0',
            name,
            'pg_restore',
            '--exit-on-error',
            '--no-owner',
            '--no-acl',
            '--jobs=%d' % int(cfg.dump.get('restore_jobs', 2)),
            '--username',
            user,
            '--dbname',
            database,
            '/drill/backup.dump',
        ],
        timeout=cfg.drill_timeout,
    )


def quote_ident(name):
    return '"%s"' % name.replace('"', '""')


# <db>_before_rollback_<UTC time>: the name a database a rollback replaced is kept under.
KEPT_INFIX = '_before_rollback_'


def restore_as_database(cfg, path):
    """pg_restore the dump into a new database, then swap names; the replaced database is kept.

    The application must be stopped: renaming needs the database without
    connections. Returns the name the replaced database now has.
    """
    container = cfg.live_postgres()
    user, database = cfg.postgres['user'], cfg.postgres['db']
    stamp = time.strftime('%Y%m%d%H%M%S', time.gmtime())
    incoming, kept = '%s_restoring' % database, '%s%s%s' % (database, KEPT_INFIX, stamp)
    psql(container, user, 'postgres', 'DROP DATABASE IF EXISTS %s;' % quote_ident(incoming))
    psql(container, user, 'postgres', 'CREATE DATABASE %s OWNER %s;' % (quote_ident(incoming), quote_ident(user)))
    with open(path, 'rb') as handle:
        proc = subprocess.run(
            [
                'docker',
                'exec',
                '-i',
                container,
                'pg_restore',
                '--exit-on-error',
                '--single-transaction',
                '--no-owner',
                '--no-acl',
                '--username',
                user,
                '--dbname',
                incoming,
            ],
            stdin=handle,
            capture_output=True,
            check=False,
        )
    if proc.returncode != 0:
        psql(container, user, 'postgres', 'DROP DATABASE IF EXISTS %s;' % quote_ident(incoming))
        raise BackupError(
            'pg_restore of %s failed, the database was not touched: %s'
            % (path, proc.stderr.decode(errors='replace').strip()[-400:])
        )
    swap_databases(container, user, database, kept, incoming)
    return kept


def swap_databases(container, user, database, out_name, in_name):
    """database is renamed out_name and in_name takes its name, after its sessions are ended."""
    psql(
        container,
        user,
        'postgres',
        """
SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%(db)s' AND pid <> pg_backend_pid();
ALTER DATABASE %(qdb)s RENAME TO %(qout)s;
ALTER DATABASE %(qin)s RENAME TO %(qdb)s;
"""
        % {
            'db': database.replace("'", "''"),
            'qdb': quote_ident(database),
            'qout': quote_ident(out_name),
            'qin': quote_ident(in_name),
        },
    )


def put_back_database(cfg, kept):
    """Undo restore_as_database: kept is the database again, and the restored copy that replaced it is dropped.

    For a rollback whose release did not go live: its replicas never took traffic
    on the copy, and the snapshot it came from is still on disk. The application
    must be stopped.
    """
    user, database = cfg.postgres['user'], cfg.postgres['db']
    if not re.fullmatch(re.escape(database + KEPT_INFIX) + r'[0-9]{14}', kept):
        raise BackupError(
            '--kept %s is not a database a rollback of %s kept: pass the kept_database rollback-database '
            'reported (%s<time>)' % (kept, database, database + KEPT_INFIX)
        )
    container = cfg.live_postgres()
    listed = "SELECT count(*) FROM pg_database WHERE datname = '%s';" % kept.replace("'", "''")
    if psql(container, user, 'postgres', listed) != [['1']]:
        raise BackupError(
            'the database %s is gone: the database %s was left as the rollback made it' % (kept, database)
        )
    copy = '%s_rolled_back_copy' % database
    psql(container, user, 'postgres', 'DROP DATABASE IF EXISTS %s;' % quote_ident(copy))
    swap_databases(container, user, database, copy, kept)
    psql(container, user, 'postgres', 'DROP DATABASE %s;' % quote_ident(copy))
