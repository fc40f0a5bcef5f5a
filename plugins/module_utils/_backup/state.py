# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to auraspeak.ops (standard library only, see docker.py).
# The outcome of every backup and verification job: kept in backup-state.json
# and exported as Prometheus textfile metrics for node_exporter's collector.

from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager

from .._common.files import write_atomic, write_json
from .manifest import read_json

METRICS_FILE = 'auraspeak_backup.prom'

_METRICS = (
    ('last_success_timestamp_seconds', 'gauge', 'Unix time the last successful run finished.', 'last_success'),
    (
        'last_attempt_timestamp_seconds',
        'gauge',
        'Unix time the last run finished, whatever its outcome.',
        'last_attempt',
    ),
    ('last_status', 'gauge', '1 when the last run succeeded, 0 when it failed.', 'status_value'),
    ('last_duration_seconds', 'gauge', 'How long the last run took.', 'duration'),
    ('last_size_bytes', 'gauge', 'Size of what the last successful run stored.', 'size'),
    ('running', 'gauge', '1 while a run is under way.', 'running_value'),
)


class BackupState:
    """backup-state.json of one project: {'jobs': {job: outcome}, 'verified': {kind: id}}."""

    def __init__(self, state_dir, project, metrics_dir=None):
        self.state_dir = state_dir
        self.project = project
        self.metrics_dir = metrics_dir or os.path.join(state_dir, 'metrics')
        self.path = os.path.join(state_dir, 'backup-state.json')

    def load(self):
        state = read_json(self.path, default={}) or {}
        state.setdefault('jobs', {})
        state.setdefault('verified', {})
        return state

    def start(self, job, started):
        """Mark a job as running: a run that is killed never records its end, and this shows it."""
        state = self.load()
        outcome = dict(state['jobs'].get(job, {}))
        outcome.update({'status': 'running', 'started': started, 'pid': os.getpid()})
        state['jobs'][job] = outcome
        self._save(state)

    def reconcile(self, finished):
        """Record runs marked running as failed. Call only while holding the job lock: no job runs then."""
        state = self.load()
        stale = [job for job, outcome in state['jobs'].items() if outcome.get('status') == 'running']
        for job in stale:
            outcome = state['jobs'][job]
            outcome.update(
                {
                    'status': 'failed',
                    'result': 'failed',
                    'last_attempt': finished,
                    'duration': round(finished - outcome.get('started', finished), 3),
                    'error': 'the run (pid %s) ended without recording an outcome: it was killed or crashed'
                    % outcome.get('pid'),
                }
            )
        if stale:
            self._save(state)
        return stale

    def record(self, job, ok, started, finished, size=None, backup_id=None, error=None):
        """Record one run of a job; a failure keeps the time and id of the last success."""
        state = self.load()
        outcome = dict(state['jobs'].get(job, {}))
        outcome.pop('pid', None)
        outcome.update(
            {
                'started': started,
                'last_attempt': finished,
                'duration': round(finished - started, 3),
                'status': 'success' if ok else 'failed',
                # The outcome of the last finished run, kept while the next one runs.
                'result': 'success' if ok else 'failed',
                'error': None if ok else (error or 'failed without a message'),
            }
        )
        if ok:
            outcome.update({'last_success': finished, 'size': size, 'id': backup_id})
        state['jobs'][job] = outcome
        self._save(state)
        return outcome

    def mark_verified(self, kind, backup_id):
        state = self.load()
        state['verified'][kind] = backup_id
        self._save(state)

    def record_deployed(self, snapshot_id, writes):
        """The write count once the release that followed a pre-migration snapshot went live; returns the count kept.

        The first count stays: a re-run of the release reuses its snapshot, and the
        writes made between the two runs are data a rollback would discard too.
        """
        state = self.load()
        snapshots = state.setdefault('snapshots', {})
        if snapshot_id not in snapshots:
            snapshots[snapshot_id] = {'writes_after_deploy': writes, 'at': now()}
            self._save(state)
        return snapshots[snapshot_id]['writes_after_deploy']

    def deployed(self, snapshot_id):
        return self.load().get('snapshots', {}).get(snapshot_id)

    def running(self):
        """'<job> (pid <pid>, since <unix time>)' for each job marked running, for messages."""
        jobs = self.load()['jobs']
        return [
            '%s (pid %s, started %s)' % (job, outcome.get('pid'), outcome.get('started'))
            for job, outcome in sorted(jobs.items())
            if outcome.get('status') == 'running'
        ]

    def verified(self, kind):
        return self.load()['verified'].get(kind)

    def _save(self, state):
        os.makedirs(self.state_dir, exist_ok=True)
        write_json(self.path, state, mode=0o644)
        os.makedirs(self.metrics_dir, exist_ok=True)
        write_atomic(os.path.join(self.metrics_dir, METRICS_FILE), render_metrics(self.project, state['jobs']), 0o644)


def render_metrics(project, jobs):
    """The textfile for node_exporter: one series per job and metric, help and type once each.

    The job's label is `backup`, not `job`, which Prometheus keeps for the scrape job.
    """
    lines = []
    for suffix, kind, text, key in _METRICS:
        name = 'auraspeak_backup_%s' % suffix
        samples = []
        for job in sorted(jobs):
            outcome = dict(jobs[job])
            # A run under way keeps the status of the run before it.
            if outcome.get('result'):
                outcome['status_value'] = 1 if outcome['result'] == 'success' else 0
            outcome['running_value'] = 1 if outcome.get('status') == 'running' else 0
            value = outcome.get(key)
            if value is None:
                continue
            samples.append('%s{project="%s",backup="%s"} %s' % (name, _label(project), _label(job), _number(value)))
        if samples:
            lines += ['# HELP %s %s' % (name, text), '# TYPE %s %s' % (name, kind)] + samples
    return '\n'.join(lines) + '\n' if lines else ''


def _label(value):
    return str(value).replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n')


def _number(value):
    return repr(float(value)) if isinstance(value, float) else str(int(value))


class JobLockTimeout(Exception):
    """Another job held the project's backup lock for longer than the wait allowed."""


@contextmanager
def job_lock(state_dir, wait=True, timeout=1800, sleep=time.sleep):
    """One backup job of a project at a time; the next one waits its turn, up to timeout seconds.

    Yields True when the lock is held; with wait=False, False when another job holds it.
    Raises JobLockTimeout when the wait ends first.
    """
    os.makedirs(state_dir, exist_ok=True)
    path = os.path.join(state_dir, 'backup.lock')
    with open(path, 'a') as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not wait:
                    yield False
                    return
                if time.monotonic() >= deadline:
                    raise JobLockTimeout(path, timeout) from None
                sleep(1)
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def now():
    return round(time.time(), 3)
