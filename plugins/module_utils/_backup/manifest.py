# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to auraspeak.ops (standard library only, see docker.py).
# A manifest records what a backup must contain - every table with its exact
# row count, and the checksum of the file - so a restore drill can prove it.

from __future__ import annotations

import hashlib
import json

from .docker import BackupError

MANIFEST_FORMAT = 1

# The tables a manifest counts, as pg_class c with its pg_namespace n: the
# project's permanent tables, not the catalogs. Queries read FROM it.
USER_TABLES = (
    'pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace'
    " WHERE c.relkind = 'r' AND c.relpersistence = 'p'"
    " AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'"
)

# Exact row counts of every user table and their on-disk size, which is reported
# only: a restored table is smaller when the original was bloated. psql's \gexec
# runs one count(*) per table as a statement of its own, so each is planned for
# its table (an index-only scan where the visibility map allows), and the rows
# come out ordered by table name; it needs psql reading stdin, not -c. One
# backend and no JIT: PostgreSQL cannot see the container's CPU limit
# (app_postgres_cpus, 1 by default), under which parallel workers made a count
# slower, and the counts should not take CPU from the app's queries.
TABLE_STATS_SQL = (
    'SET max_parallel_workers_per_gather = 0;\nSET jit = off;\n'
    "SELECT format('SELECT %L, count(*), %s FROM ONLY %I.%I',\n"
    "              format('%I.%I', n.nspname, c.relname), pg_total_relation_size(c.oid), n.nspname, c.relname)\n"
    '  FROM ' + USER_TABLES + "\n ORDER BY format('%I.%I', n.nspname, c.relname) \\gexec\n"
)

# Rows inserted, updated and deleted, as PostgreSQL counts them in the database:
# what a database rollback measures the writes it would discard by.
WRITES_SQL = "SELECT 'writes', coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_user_tables;"


def tables_from_rows(rows):
    """{table: {'rows': n, 'bytes': n}} from the rows TABLE_STATS_SQL returns."""
    return {name: {'rows': int(count), 'bytes': int(size)} for name, count, size in rows}


def build(kind, backup_id, database, tables, created, file_info=None, extra=None):
    manifest = {
        'format': MANIFEST_FORMAT,
        'kind': kind,
        'id': backup_id,
        'database': database,
        'created': created,
        'tables': tables,
    }
    if file_info:
        manifest['file'] = file_info
    if extra:
        manifest.update(extra)
    return manifest


def compare_tables(expected, actual):
    """Mismatches between two {table: {'rows': n}} maps, as sentences; empty when they agree."""
    mismatches = []
    for name in sorted(set(expected) - set(actual)):
        mismatches.append('table %s is missing from the restore' % name)
    for name in sorted(set(actual) - set(expected)):
        mismatches.append('table %s is in the restore but not in the manifest' % name)
    for name in sorted(set(expected) & set(actual)):
        want, got = expected[name]['rows'], actual[name]['rows']
        if want != got:
            mismatches.append('table %s has %d rows, the manifest says %d' % (name, got, want))
    return mismatches


def sha256_file(path, chunk=1024 * 1024):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(chunk), b''):
            digest.update(block)
    return digest.hexdigest()


def read_json(path, default=None):
    try:
        with open(path) as handle:
            return json.load(handle)
    except FileNotFoundError:
        return default
    except ValueError as exc:
        raise BackupError('%s is not valid JSON (%s): move it away and run the job again' % (path, exc)) from None
