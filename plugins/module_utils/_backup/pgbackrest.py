# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to auraspeak.ops (standard library only, see docker.py).
# pgBackRest runs inside the project's PostgreSQL container (archive-push,
# backup) or in a throwaway container of the same image that mounts the
# repository read-only (info, verify, restore drills).

from __future__ import annotations

import json
import os
import re
import shlex
import time

from .._common.files import write_json
from .docker import BackupError, psql, run, service_container, throwaway_argv
from .manifest import TABLE_STATS_SQL, USER_TABLES, build, read_json, tables_from_rows
from .owner import pgbackrest_owner, require_own

CONTAINER_CONF = '/etc/pgbackrest'
CONTAINER_REPO = '/var/lib/pgbackrest'

# The restore point and the row counts recovery to it must bring back. Writers
# are held off (SHARE locks, which wait for open writes to commit) only for the
# instant the point is written: the repeatable-read snapshot is taken under the
# locks, and rolling back to the savepoint releases them while the transaction
# keeps its snapshot, so the counts read exactly the point without blocking
# writers while they scan. The table list is read before the transaction (a
# query inside it would take the snapshot before the locks); when a table was
# created in between, no point is made and the caller tries again. SHARE also
# waits for an autovacuum of the table, which PostgreSQL cancels once the waiter
# has waited deadlock_timeout (1 s by default): a superuser's session waits 0.1 s.
_MARK_SQL = """
SET lock_timeout = '%(lock_timeout)ds';
SELECT rolsuper AS superuser FROM pg_roles WHERE rolname = current_user \\gset
\\if :superuser
SET deadlock_timeout = '100ms';
\\endif
SELECT coalesce(string_agg(format('%%I.%%I', n.nspname, c.relname), ', '), '') AS tables, count(*) > 0 AS any_tables
  FROM %(user_tables)s \\gset
BEGIN ISOLATION LEVEL REPEATABLE READ;
SAVEPOINT mark;
\\if :any_tables
LOCK TABLE :tables IN SHARE MODE;
\\endif
SELECT count(*) = 0 AS all_locked FROM %(user_tables)s AND NOT EXISTS (
   SELECT 1 FROM pg_locks l
    WHERE l.relation = c.oid AND l.pid = pg_backend_pid() AND l.mode = 'ShareLock' AND l.granted) \\gset
\\if :all_locked
SELECT 'point', pg_create_restore_point('%(point)s');
\\endif
ROLLBACK TO SAVEPOINT mark;
\\if :all_locked
%(stats)s
\\endif
COMMIT;
\\if :all_locked
SELECT 'wal', pg_walfile_name(pg_switch_wal());
\\endif
"""
_MARK_TRIES = 3


def restore_point_name(label):
    return 'auraspeak-%s' % label


def tool_argv(cfg, name=None, detach=False, writable_repo=False):
    """docker run of the PostgreSQL image with the repository and pgBackRest's config mounted.

    A remote repository (no repo_path: S3, SFTP) is reached over the engine's bridge network; the
    servers these containers start listen on no TCP address (server_flags).
    """
    pgb = cfg.pgbackrest
    network = 'none' if pgb.get('repo_path') else 'bridge'
    argv = throwaway_argv(cfg.project, name, detach, network) + [
        '--read-only',
        '-v',
        '%s:%s:ro' % (pgb['config_dir'], CONTAINER_CONF),
    ]
    if pgb.get('repo_path'):
        argv += ['-v', '%s:%s%s' % (pgb['repo_path'], CONTAINER_REPO, '' if writable_repo else ':ro')]
    return argv


def _stanza(cfg):
    return '--stanza=%s' % cfg.pgbackrest['stanza']


def info(cfg, live=None):
    """pgBackRest's info for the stanza: the backup sets, oldest first.

    live: ask the running PostgreSQL container (quicker than starting one);
    otherwise a throwaway container reads the repository, PostgreSQL up or
    not. None: the former when PostgreSQL runs.
    """
    if live is None:
        live = service_container(cfg.project, cfg.postgres['service']) is not None
    if live:
        _rc, out, _err = live_exec(cfg, ['--output=json', 'info'], timeout=300)
    else:
        argv = tool_argv(cfg) + [
            '--entrypoint',
            'pgbackrest',
            cfg.postgres['image'],
            _stanza(cfg),
            '--output=json',
            'info',
        ]
        _rc, out, _err = run(argv, timeout=300)
    stanzas = json.loads(out)
    return stanzas[0] if stanzas else {'backup': []}


def backup_sets(cfg, live=None, stanza_info=None):
    """The stanza's sets, oldest first (from stanza_info when the caller has it); refused when another
    writer shares the stanza."""
    sets = (stanza_info if stanza_info is not None else info(cfg, live)).get('backup', [])
    what = 'pgBackRest stanza %s' % cfg.pgbackrest['stanza']
    require_own([pgbackrest_owner(s) for s in sets], cfg, what, 'app_postgres_pgbackrest_stanza')
    return sets


def live_exec(cfg, args, timeout=None):
    container = cfg.live_postgres()
    return run(['docker', 'exec', container, 'pgbackrest', _stanza(cfg)] + args, timeout=timeout)


def stanza_create(cfg):
    """Create the stanza unless the repository has it. Returns True when it was created."""
    found = info(cfg)
    if found.get('status', {}).get('code') == 0:
        backup_sets(cfg, stanza_info=found)  # the stanza exists: it must be ours
        return False
    live_exec(cfg, ['stanza-create'], timeout=300)
    return True


def take_backup(cfg, backup_type, steps=None):
    """Run a backup, mark a restore point with the row counts, expire what retention allows.

    Returns (label, repository bytes); steps (a list) gets each step's seconds.
    A failure raises before anything expires.
    """
    steps = [] if steps is None else steps
    started = time.time()
    before = backup_sets(cfg, live=True)  # refuses a stanza another writer uses
    steps.append({'step': 'stanza check', 'seconds': round(time.time() - started, 3)})
    started = time.time()
    _rc, out, err = live_exec(cfg, ['--type=%s' % backup_type, '--annotation=owner=%s' % cfg.owner, 'backup'])
    new_set = set_from_backup_log(out + err) or _newest_listed(cfg)
    steps.append({'step': 'backup', 'seconds': round(time.time() - started, 3)})
    write_manifest(cfg, new_set, steps)
    started = time.time()
    remaining = expire(cfg, before + [new_set])
    steps.append({'step': 'expire', 'seconds': round(time.time() - started, 3)})
    newest = remaining[-1] if remaining else {}
    if newest.get('label') != new_set['label']:
        raise BackupError(
            'pgBackRest lists %s as its newest set, not the backup it just took (%s)'
            % (newest.get('label', 'no set'), new_set['label'])
        )
    return new_set['label'], newest['info']['repository']['delta']


_SET_TYPES = {'F': 'full', 'D': 'diff', 'I': 'incr'}


def set_from_backup_log(log):
    """The set a backup made, from its console log (log-level-console=info): {'label', 'type'}, or None."""
    labels = re.findall(r'new backup label = (\d{8}-\d{6}F(?:_\d{8}-\d{6}[DI])?)\b', log)
    if len(labels) != 1:
        return None
    return {'label': labels[0], 'type': _SET_TYPES[labels[0][-1]]}


def _newest_listed(cfg):
    """The newest set as pgBackRest lists it: for a log without the label (a console log level set lower)."""
    sets = backup_sets(cfg, live=True)
    if not sets:
        raise BackupError('pgBackRest reported success but lists no backup set')
    return sets[-1]


def write_manifest(cfg, backup_set, steps):
    """Create the set's restore point, record the row counts at it, wait until its WAL is archived."""
    started = time.time()
    label = backup_set['label']
    container = cfg.live_postgres()
    sql = _MARK_SQL % {
        'point': restore_point_name(label),
        'user_tables': USER_TABLES,
        'stats': TABLE_STATS_SQL.strip(),
        'lock_timeout': int(cfg.pgbackrest.get('lock_timeout', 60)),
    }
    for _try in range(_MARK_TRIES):
        rows = psql(container, cfg.postgres['user'], cfg.postgres['db'], sql)
        if any(row[0] == 'point' for row in rows):
            break
    else:
        raise BackupError(
            'tables were created while the restore point of set %s was being made, %d times in a row: '
            'run the backup again when no migration runs' % (label, _MARK_TRIES)
        )
    wal = next(row[1] for row in rows if row[0] == 'wal')
    tables = tables_from_rows(row for row in rows if row[0] not in ('point', 'wal'))
    manifest = build(
        'pgbackrest',
        label,
        cfg.postgres['db'],
        tables,
        time.time(),
        extra={'restore_point': restore_point_name(label), 'wal': wal, 'type': backup_set['type']},
    )
    os.makedirs(manifest_dir(cfg), exist_ok=True)
    write_json(manifest_path(cfg, label), manifest, mode=0o640)
    steps.append({'step': 'restore point and row counts', 'seconds': round(time.time() - started, 3)})
    started = time.time()
    wait_archived(cfg, container, wal)
    steps.append({'step': 'restore point archived', 'seconds': round(time.time() - started, 3)})


def wait_archived(cfg, container, wal, timeout=120):
    deadline = time.time() + timeout
    while True:
        rows = psql(
            container,
            cfg.postgres['user'],
            cfg.postgres['db'],
            "SELECT coalesce(last_archived_wal, ''), coalesce(last_failed_wal, '') FROM pg_stat_archiver;",
        )
        archived, failed = rows[0]
        if archived[:24] >= wal:
            return
        if time.time() > deadline:
            raise BackupError(
                'WAL segment %s was not archived within %d s (last failed: %s): archive_command is failing, '
                'see the PostgreSQL container log' % (wal, timeout, failed or 'none')
            )
        time.sleep(0.1)


def manifest_dir(cfg):
    return os.path.join(cfg.state.state_dir, 'pgbackrest-manifests')


def manifest_path(cfg, label):
    return os.path.join(manifest_dir(cfg), '%s.json' % label)


def fulls_to_keep(sets, retention_full, verified_label):
    """How many full backups expire must keep so the last verified set survives retention.

    A differential or incremental set's label starts with its full's label
    (20261126-030000F_20261127-030000D), and expiring a full expires them too.
    """
    fulls = [s['label'] for s in sets if s['type'] == 'full']
    full_label = (verified_label or '').split('_')[0]
    if full_label in fulls:
        return max(retention_full, len(fulls) - fulls.index(full_label))
    return retention_full


def expire(cfg, sets):
    """Expire by retention, keeping the last verified set; drop the manifests of the sets that went.

    Returns the sets that remain, oldest first.
    """
    keep = fulls_to_keep(sets, int(cfg.pgbackrest['retention_full']), cfg.state.verified('pgbackrest'))
    live_exec(cfg, ['--repo1-retention-full=%d' % keep, 'expire'], timeout=600)
    remaining = backup_sets(cfg, live=True)
    labels = {s['label'] for s in remaining}
    for name in os.listdir(manifest_dir(cfg)) if os.path.isdir(manifest_dir(cfg)) else []:
        if name.endswith('.json') and name[: -len('.json')] not in labels:
            os.unlink(os.path.join(manifest_dir(cfg), name))
    return remaining


def verify_repository(cfg):
    argv = tool_argv(cfg) + ['--entrypoint', 'pgbackrest', cfg.postgres['image'], _stanza(cfg), 'verify']
    rc, out, err = run(argv, check=False, timeout=cfg.drill_timeout)
    problems = [
        line.strip() for line in (out + err).splitlines() if ' ERROR:' in line or ' WARN:' in line or 'invalid' in line
    ]
    if rc != 0 or problems:
        raise BackupError(
            'pgbackrest verify found problems in the repository: %s' % (' | '.join(problems[-6:]) or 'exit %d' % rc)
        )


def load_manifest(cfg, label):
    manifest = read_json(manifest_path(cfg, label))
    if manifest is None:
        raise BackupError(
            'backup set %s has no manifest in %s: it was not taken by auraspeak-backup, so a drill cannot '
            'compare it; take a new backup (backup.yml) and verify that' % (label, manifest_dir(cfg))
        )
    return manifest


def resolve_set(cfg, wanted=None):
    sets = backup_sets(cfg)
    if not sets:
        raise BackupError('the pgBackRest repository holds no backup set yet: run backup.yml first')
    if not wanted or wanted == 'latest':
        return sets[-1]
    for backup_set in sets:
        if backup_set['label'] == wanted:
            return backup_set
    raise BackupError('no backup set %s in the repository; sets: %s' % (wanted, ', '.join(s['label'] for s in sets)))


def server_flags(cfg, archive):
    """postgres -c flags of a restored server: the live settings, no TCP, archiving to the repository or off."""
    settings = dict(cfg.postgres.get('settings') or {})
    for name in ('archive_mode', 'archive_command', 'listen_addresses'):
        settings.pop(name, None)
    settings['listen_addresses'] = ''
    if archive:
        settings.update({'archive_mode': 'on', 'archive_command': 'pgbackrest %s archive-push %%p' % _stanza(cfg)})
    else:
        settings.update({'archive_mode': 'off', 'fsync': 'off'})
    flags = []
    for name, value in sorted(settings.items()):
        flags += ['-c', '%s=%s' % (name, value)]
    return flags


def restore_args(label=None, restore_point=None, target_time=None):
    """pgbackrest restore options: to a time (PITR), to a set's restore point or end, or to the end of the archive."""
    args = ['--set=%s' % label] if label else []
    if target_time:
        args += ['--type=time', '--target=%s' % target_time, '--target-action=promote']
    elif restore_point:
        args += ['--type=name', '--target=%s' % restore_point, '--target-action=promote']
    elif label:
        args += ['--type=immediate', '--target-action=promote']
    return args + ['restore']


def start_drill(cfg, name, label, restore_point):
    """A throwaway container: restore the set to its restore point, then serve it with no network, never archiving."""
    script = 'pgbackrest "$@" && exec postgres %s' % ' '.join(shlex.quote(f) for f in server_flags(cfg, archive=False))
    argv = (
        tool_argv(cfg, name=name, detach=True)
        + [
            '--shm-size',
            '256m',
            '-e',
            'PGDATA=%s' % cfg.postgres['pgdata'],
            '--entrypoint',
            'sh',
            cfg.postgres['image'],
            '-c',
            script,
            'drill',
            _stanza(cfg),
        ]
        + restore_args(label, restore_point)
    )
    run(argv)
