"""Backup benchmarks: backup and restore drill time against the raw tools, RPO and RTO.

    .venv/bin/python bench/backup_bench.py                        # pgbench scale 70 (about 1 GB), 3 runs
    .venv/bin/python bench/backup_bench.py --scale 5 --runs 1     # a quick look

A stack as site.yml deploys it with backups (WAL archived to pgBackRest,
archive_timeout 60 s), its database filled by `pgbench -i` plus a notes table.
Each comparison runs interleaved in the same session, medians and ratios:

backup: `auraspeak-backup backup dump` (pg_dump -Fc, manifest with exact row
counts, sha256, fsync) against `pg_dump -Fc` to a file; `auraspeak-backup backup
full` (backup, restore point with row counts, WAL archived, expire) against
`pgbackrest backup --type=full` followed by `pgbackrest expire`, which is what
pgBackRest does on its own with expire-auto.
drill: `auraspeak-backup verify dump` against a raw restore (a throwaway
PostgreSQL and pg_restore of the same dump); `auraspeak-backup verify
pgbackrest` against a raw `pgbackrest restore` of the same set into a
throwaway container, started until it serves.
rpo/rto: one row committed every 50 ms for a random 75 to 130 s (longer than
archive_timeout, 60 s), then the PostgreSQL container is killed and its volume
removed; restore.yml restores the latest. Per trial: rows lost, the seconds
they span, and how long restore.yml took, up to the release answering through
the edge again.
stream: the same loss of the volume with WAL streamed (app_postgres_wal_stream),
asynchronous and synchronous: rows lost per trial (random 10 to 30 s of
inserts), and the commit latency of one-row inserts (pgbench, one client, 15 s)
in each mode against a PostgreSQL without archiving or streaming started beside
it, and against archiving alone.
rto: restore.yml's time to the release answering again, for the two cases an
operator meets: the latest point after the database volume is lost (20 s of
inserts first), and a point in time (20 s of inserts, then back to the commit
half-way through, with the database up); each checks what came back.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'tests', 'integration'))

from backup_stack import BackupStack, RowWriter, build_images, remove_images  # noqa: E402
from deploy_stack import docker  # noqa: E402
from playbook_runs import run_playbook  # noqa: E402

from ansible_collections.auraspeak.ops.plugins.module_utils._backup.docker import wait_postgres  # noqa: E402

IMAGE = 'bench-backup/app'
PG_IMAGE = 'auraspeak-offline/postgres:15'
# A throwaway server as an operator would start one by hand for a restore.
RAW_RUN = (
    'run --detach --user 999:999 --network none --shm-size 256m '
    '--tmpfs /tmp --tmpfs /var/run/postgresql:uid=999,gid=999'
)


def timed(function, *args):
    started = time.monotonic()
    result = function(*args)
    return time.monotonic() - started, result


def load_data(stack, scale):
    """pgbench's tables at the scale, plus notes the app would have written."""
    pg = stack.postgres_container()
    docker('exec', pg, 'pgbench', '-i', '-q', '-s', str(scale), '-U', 'app', 'app')
    stack.sql(
        "INSERT INTO notes (title, body, author) SELECT 'note ' || g, repeat(md5(g::text), 8), 'bench' "
        'FROM generate_series(1, %d) g' % (scale * 2000)
    )
    stack.sql('CHECKPOINT')
    return stack.sql("SELECT pg_size_pretty(pg_database_size('app')), pg_database_size('app')")[0]


# -- raw baselines -----------------------------------------------------------------------


def raw_dump(stack, path):
    with open(path, 'wb') as handle:
        subprocess.run(
            ['docker', 'exec', stack.postgres_container(), 'pg_dump', '--format=custom', '-U', 'app', '-d', 'app'],
            stdout=handle,
            check=True,
        )
        handle.flush()
        os.fsync(handle.fileno())


def raw_pgbackrest_full(stack):
    pg = stack.postgres_container()
    stanza = '--stanza=' + stack.name
    docker('exec', pg, 'pgbackrest', stanza, '--type=full', 'backup')
    docker('exec', pg, 'pgbackrest', stanza, 'expire')


def raw_dump_restore(path):
    """What restoring a dump takes at least: a fresh server and pg_restore."""
    name = 'bench-raw-restore'
    docker('rm', '--force', '--volumes', name, check=False)
    script = 'initdb --username=app --auth=trust >/dev/null && exec postgres -c listen_addresses= -c fsync=off'
    docker(
        *RAW_RUN.split(),
        '--name',
        name,
        '-e',
        'PGDATA=/var/lib/postgresql/data/raw',
        '-v',
        '%s:/raw.dump:ro' % path,
        '--entrypoint',
        'sh',
        PG_IMAGE,
        '-c',
        script,
    )
    try:
        wait_postgres(name, 'app', 'postgres', 3600)
        docker('exec', name, 'createdb', '-U', 'app', 'app')
        docker(
            *['exec', '--user', '0'],
            name,
            *['pg_restore', '--exit-on-error', '--no-owner', '--no-acl', '--jobs=2'],
            *['-U', 'app', '-d', 'app', '/raw.dump'],
        )
    finally:
        docker('rm', '--force', '--volumes', name, check=False)


def raw_pgbackrest_restore(stack, label):
    """pgbackrest restore of the set into a throwaway container, started until it serves."""
    name = 'bench-raw-pgbackrest'
    docker('rm', '--force', '--volumes', name, check=False)
    config = os.path.join(stack.config_dir, 'backup', 'pgbackrest')
    repo = os.path.join(stack.backup_root, 'pgbackrest')
    script = (
        'pgbackrest --stanza=%s --set=%s --type=immediate --target-action=promote restore && '
        'exec postgres -c listen_addresses= -c archive_mode=off -c fsync=off' % (stack.name, label)
    )
    docker(
        *RAW_RUN.split(),
        '--name',
        name,
        '-e',
        'PGDATA=/var/lib/postgresql/data/pgdata',
        '-v',
        '%s:/etc/pgbackrest:ro' % config,
        '-v',
        '%s:/var/lib/pgbackrest:ro' % repo,
        '--entrypoint',
        'sh',
        PG_IMAGE,
        '-c',
        script,
    )
    try:
        wait_postgres(name, 'app', 'postgres', 3600)
    finally:
        docker('rm', '--force', '--volumes', name, check=False)


# -- comparisons ----------------------------------------------------------------------------


def compare(runs, pairs):
    """Run each (name, function) pair interleaved runs times; medians and the ratio to the first."""
    samples = {name: [] for name, _function in pairs}
    for _round in range(runs):
        for name, function in pairs:
            seconds, _result = timed(function)
            samples[name].append(seconds)
    baseline = statistics.median(samples[pairs[0][0]])
    return {
        name: {
            'median_s': round(statistics.median(values), 2),
            'runs_s': [round(v, 2) for v in values],
            'ratio': round(statistics.median(values) / baseline, 3),
        }
        for name, values in samples.items()
    }


def backup_times(stack, runs, scratch):
    dump = compare(
        runs,
        [
            ('pg_dump -Fc (baseline)', lambda: raw_dump(stack, os.path.join(scratch, 'raw.dump'))),
            ('auraspeak-backup backup dump', lambda: stack.backup_cli('backup', 'dump', timeout=3600)),
        ],
    )
    # One full backup before the measured ones, not measured: the benches of earlier stops ran it
    # (they read its steps), so the figures below stay comparable with theirs.
    stack.backup_cli('backup', 'full', timeout=3600)
    steps = []

    def ours():
        steps.append(stack.backup_cli('backup', 'full', timeout=3600)[1]['steps'])

    full = compare(
        runs,
        [
            ('pgbackrest backup --type=full + expire (baseline)', lambda: raw_pgbackrest_full(stack)),
            ('auraspeak-backup backup full', ours),
        ],
    )
    return {'dump': dump, 'pgbackrest_full': full, 'pgbackrest_full_steps': step_medians(steps)}


def step_medians(runs):
    """Where a command's time goes: each step's median seconds over the runs, and every run's."""
    names = [step['step'] for step in runs[0]]
    seconds = {name: [step['seconds'] for run in runs for step in run if step['step'] == name] for name in names}
    return {
        name: {'median_s': round(statistics.median(values), 3), 'runs_s': values} for name, values in seconds.items()
    }


def drill_times(stack, runs):
    latest_dump = stack.listing()['dumps'][-1]['id']
    path = os.path.join(stack.backup_root, 'dumps', latest_dump + '.dump')
    label = stack.listing()['pgbackrest'][-1]['label']
    dump = compare(
        runs,
        [
            ('pg_restore into a fresh server (baseline)', lambda: raw_dump_restore(path)),
            (
                'auraspeak-backup verify dump',
                lambda: stack.backup_cli('verify', 'dump', '--backup', latest_dump, timeout=3600),
            ),
        ],
    )
    pgbackrest = compare(
        runs,
        [
            ('pgbackrest restore + start (baseline)', lambda: raw_pgbackrest_restore(stack, label)),
            (
                'auraspeak-backup verify pgbackrest',
                lambda: stack.backup_cli('verify', 'pgbackrest', '--backup', label, timeout=3600),
            ),
        ],
    )
    steps = stack.backup_cli('verify', 'pgbackrest', '--backup', label, timeout=3600)[1]['steps']
    listing = stack.listing()
    sizes = {
        'dump_bytes': listing['dumps'][-1]['bytes'],
        'pgbackrest_full_repository_bytes': next(
            s['bytes'] for s in reversed(listing['pgbackrest']) if s['type'] == 'full'
        ),
    }
    return {'dump': dump, 'pgbackrest': pgbackrest, 'pgbackrest_drill_steps': steps, 'sizes': sizes}


def rpo_trial(stack, seconds, extra_vars=None):
    """Insert for `seconds`, kill PostgreSQL and remove its volume, restore the latest with restore.yml."""
    inserter = RowWriter(stack, 'rpo').start()
    time.sleep(seconds)
    pg = stack.postgres_container()
    docker('kill', pg)
    killed_at = time.time()
    inserter.stop()
    docker('rm', '--force', pg)
    docker('volume', 'rm', '%s_postgres-data' % stack.name)
    started = time.monotonic()
    run = run_playbook(
        'playbooks/restore.yml', {'restore_confirm': stack.name, **(extra_vars or {})}, inventory=stack.inventory
    )
    rto = time.monotonic() - started
    assert run.rc == 0, run.failures(stack.name)
    restored_id = int(stack.sql('SELECT coalesce(max(id), 0) FROM rpo')[0][0])
    lost = [(i, at) for i, at in inserter.committed if i > restored_id]
    return {
        'inserting_s': seconds,
        'rows_committed': len(inserter.committed),
        'rows_lost': len(lost),
        # The span of committed rows that are gone: from the first lost commit to the last.
        'seconds_lost': round(lost[-1][1] - lost[0][1], 1) if lost else 0.0,
        'last_commit_to_kill_s': round(killed_at - inserter.committed[-1][1], 2),
        'restore_yml_seconds': round(rto, 1),
    }


def pitr_trial(stack, seconds):
    """Insert for `seconds`, then restore.yml to the commit half-way through; returns its seconds."""
    inserter = RowWriter(stack, 'rpo').start()
    time.sleep(seconds)
    inserter.stop()
    middle = inserter.committed[len(inserter.committed) // 2][0]
    target = (
        stack.sql(
            "SELECT to_char(pg_xact_commit_timestamp(xmin) AT TIME ZONE 'UTC', "
            "'YYYY-MM-DD HH24:MI:SS.US') FROM rpo WHERE id = %d" % middle
        )[0][0]
        + '+00:00'
    )
    started = time.monotonic()
    extra = {'restore_confirm': stack.name, 'restore_target_time': target}
    run = run_playbook('playbooks/restore.yml', extra, inventory=stack.inventory)
    taken = time.monotonic() - started
    assert run.rc == 0, run.failures(stack.name)
    restored_id = int(stack.sql('SELECT coalesce(max(id), 0) FROM rpo')[0][0])
    # Every transaction committed at or before the target: the middle row is the last one back.
    assert restored_id == middle, (restored_id, middle)
    return {'inserting_s': seconds, 'target': target, 'restore_yml_seconds': round(taken, 1)}


def rto(stack, trials):
    """restore.yml's seconds for the latest point (volume lost) and for a point in time, trials of each."""
    stack.sql('CREATE TABLE IF NOT EXISTS rpo (id bigserial PRIMARY KEY, at timestamptz NOT NULL)')
    # The table must be in the archive before a volume is lost: 20 s of inserts is less than archive_timeout.
    stack.backup_cli('archive-now')
    latest = [rpo_trial(stack, 20) for _trial in range(trials)]
    point_in_time = [pitr_trial(stack, 20) for _trial in range(trials)]
    return {
        'latest_after_volume_loss': latest,
        'point_in_time': point_in_time,
        'median_s': {
            'latest': statistics.median(t['restore_yml_seconds'] for t in latest),
            'point_in_time': statistics.median(t['restore_yml_seconds'] for t in point_in_time),
        },
    }


def rpo_rto(stack, trials):
    """Trials of inserts longer than archive_timeout, each ended at a random moment by losing the volume."""
    stack.sql('CREATE TABLE rpo (id bigserial PRIMARY KEY, at timestamptz NOT NULL)')
    return [rpo_trial(stack, round(random.uniform(75, 130), 1)) for _trial in range(trials)]


INSERT_SCRIPT = 'INSERT INTO rpo (at) VALUES (clock_timestamp());\n'


def commit_latency_ms(container, seconds=15):
    """pgbench's average latency of one-row insert transactions, one client, in the container."""
    script = "printf '%s' > /tmp/insert.sql && pgbench -n -U app -c 1 -T %d -f /tmp/insert.sql app" % (
        INSERT_SCRIPT.replace('\n', '\\n'),
        seconds,
    )
    out = docker('exec', container, 'sh', '-c', script).stdout
    return float(next(line.split('=')[1].split()[0] for line in out.splitlines() if line.startswith('latency average')))


def unarchived_latency_ms():
    """The same inserts in a PostgreSQL of the same image without archiving or streaming."""
    name = 'bench-backup-plain'
    docker('rm', '--force', name, check=False)
    docker(*RAW_RUN.split(), '--name', name, '-e', 'POSTGRES_USER=app', '-e', 'POSTGRES_PASSWORD=x', PG_IMAGE)
    try:
        wait_postgres(name, 'app', 'app', 120, what='the plain server')
        docker('exec', name, 'psql', '-U', 'app', '-c', 'CREATE TABLE rpo (id bigserial PRIMARY KEY, at timestamptz)')
        return commit_latency_ms(name)
    finally:
        docker('rm', '--force', name, check=False)


def stream_modes(stack, trials):
    """Rows lost when the volume is lost with WAL streamed, and each mode's commit latency."""
    stack.sql('CREATE TABLE IF NOT EXISTS rpo (id bigserial PRIMARY KEY, at timestamptz NOT NULL)')
    stack.backup_cli('archive-now')
    version = stack.served_version()
    stream_dir = os.path.join(stack.dir, 'wal-stream')
    modes = {
        'archive only': {},
        'stream': {'app_postgres_wal_stream': True, 'app_postgres_wal_stream_path': stream_dir},
        'stream, synchronous': {
            'app_postgres_wal_stream': True,
            'app_postgres_wal_stream_path': stream_dir,
            'app_postgres_wal_stream_synchronous': True,
        },
    }
    # Each mode's latency beside a baseline measured right before it: these machines are noisy.
    results = {'latency_ms': {}, 'latency_ratio': {}, 'trials': {}}
    for mode, extra in modes.items():
        run = run_playbook('playbooks/site.yml', {'app_version': version, **extra}, inventory=stack.inventory)
        assert run.rc == 0, run.failures(stack.name)
        baseline = unarchived_latency_ms()
        measured = commit_latency_ms(stack.postgres_container())
        results['latency_ms'][mode] = {'no archiving (baseline)': baseline, mode: measured}
        results['latency_ratio'][mode] = round(measured / baseline, 2)
        if extra:
            results['trials'][mode] = [
                rpo_trial(stack, round(random.uniform(10, 30), 1), extra) for _t in range(trials)
            ]
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--scale', type=int, default=70, help='pgbench scale (70 is about 1 GB)')
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--only', choices=['backup', 'drill', 'rpo', 'stream', 'rto'])
    parser.add_argument('--rpo-trials', type=int, default=3)
    parser.add_argument('--output', default=os.path.join(HERE, 'results', 'backup_bench.json'))
    options = parser.parse_args()
    build_images(IMAGE)
    results = {'scale': options.scale, 'runs': options.runs}
    with tempfile.TemporaryDirectory(prefix='backup-bench-') as workdir:
        stack = BackupStack('bench-backup', workdir, IMAGE, tmpfs_size='12g')
        try:
            stack.create_or_clean_up(
                {'backup_restic_volumes': [], 'backup_pgbackrest_retention_full': 2, 'backup_dump_keep': 2}
            )
            results['database_size'] = load_data(stack, options.scale)
            stack.backup_cli('backup', 'full', timeout=3600)
            scratch = os.path.join(stack.backup_root, 'bench')
            os.makedirs(scratch, exist_ok=True)
            if options.only in (None, 'backup'):
                results['backup'] = backup_times(stack, options.runs, scratch)
            if options.only in (None, 'drill'):
                stack.backup_cli('backup', 'dump', timeout=3600)
                results['drill'] = drill_times(stack, options.runs)
            if options.only in (None, 'rpo'):
                results['rpo_rto'] = rpo_rto(stack, options.rpo_trials)
            if options.only in (None, 'stream'):
                results['stream'] = stream_modes(stack, options.rpo_trials)
            if options.only in (None, 'rto'):
                results['rto'] = rto(stack, options.rpo_trials)
        finally:
            stack.destroy()
            remove_images(IMAGE)
    os.makedirs(os.path.dirname(options.output), exist_ok=True)
    with open(options.output, 'w', encoding='utf-8') as handle:
        json.dump(results, handle, indent=2)
    print(json.dumps(results, indent=2))


if __name__ == '__main__':
    main()
