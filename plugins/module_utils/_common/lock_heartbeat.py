# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to the auraspeak.ops collection: its API may change
# without notice. Standard library only: the backup role installs it beside the
# auraspeak-backup command, which beats for the deploy lock during a restore.
#
# The deploy lock's heartbeat. While a run works under the lock - compose_deploy
# (the pre-migration snapshot, the migration, the health gate, the analysis,
# the drain) or auraspeak-backup (a database rollback, a restore) - a thread
# touches the lock file every HEARTBEAT_EVERY seconds, under the same flock
# as every other change to the lock. The file's modification time is the last
# heartbeat: a lock is stale when it has missed heartbeats for stale_after
# seconds, however long its run has been working. A beat that finds the lock
# held by someone else (force=true, a takeover) marks the heartbeat lost, and
# the run stops at its next step.

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading

HEARTBEAT_EVERY = 2.0
# A run whose heartbeats stopped this long ago has no module working any more.
SILENT_AFTER = 3 * HEARTBEAT_EVERY
# stale_after must leave room for the tasks between heartbeats (the playbook's own).
MIN_STALE_AFTER = 30


class LockLost(Exception):
    """The deploy lock this run held was taken over or removed."""


@contextlib.contextmanager
def guard(path):
    """Exclusive flock of <path>.guard for the time of one decision and its write.

    The guard file is created 0600 and never removed: removing an flock file lets two
    processes lock different files.
    """
    fd = os.open(path + '.guard', os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # also releases the flock


def silence(mtime, now):
    """Whole seconds since the last heartbeat of a lock whose file was modified at mtime."""
    return max(int(now - mtime), 0)


def _holder(raw):
    try:
        lock = json.loads(raw.decode('utf-8'))
    except ValueError:
        return None
    return lock.get('holder') if isinstance(lock, dict) else None


def beat(path, holder):
    """Touch the lock when holder holds it; otherwise say why it does not."""
    with guard(path):
        try:
            with open(path, 'rb') as handle:
                raw = handle.read()
        except FileNotFoundError:
            return 'the deploy lock %s was removed while this run held it (force=true released it?)' % path
        current = _holder(raw)
        if current != holder:
            return (
                'the deploy lock %s was taken over by %r while this run (%r) held it: another run forced it or '
                'found it stale' % (path, current, holder)
            )
        os.utime(path)
        return None


class Heartbeat:
    """Beat for the lock at path while the body runs; check() raises LockLost once the lock is gone."""

    def __init__(self, path, holder, every=HEARTBEAT_EVERY):
        self.path = path
        self.holder = holder
        self.every = every
        self.lost = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name='deploy-lock-heartbeat', daemon=True)

    def __enter__(self):
        self.lost = beat(self.path, self.holder)
        self.check()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _run(self):
        while not self._stop.wait(self.every):
            try:
                self.lost = beat(self.path, self.holder)
            except OSError:
                continue  # a passing error (a full disk): the next beat tries again
            if self.lost:
                return

    def check(self):
        if self.lost:
            raise LockLost(self.lost)
