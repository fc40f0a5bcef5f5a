# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to the auraspeak.ops collection: its API may change
# without notice. compose_deploy's side of the deploy lock: check that the run
# that calls it holds the lock, or - when called without a holder - hold the
# lock itself for as long as it changes anything; either way, beat for it while
# the deploy works (_lock_heartbeat).

from __future__ import annotations

import contextlib
import os
import socket
import time

from ansible_collections.auraspeak.ops.plugins.module_utils._common.clock import utc_now
from ansible_collections.auraspeak.ops.plugins.module_utils._common.files import ensure_dir
from ansible_collections.auraspeak.ops.plugins.module_utils._common.lock_heartbeat import (
    Heartbeat,
    LockLost,
    guard,
    silence,
)
from ansible_collections.auraspeak.ops.plugins.module_utils._deploy.lock import (
    LOCK_NAME,
    check_stale_after,
    create_lock,
    decide,
    lock_age,
    lock_problem,
    read_lock,
    remove_lock,
)


class DeployLockError(Exception):
    """Another run holds the deploy lock."""


@contextlib.contextmanager
def held_lock(state_dir, holder, stale_after, warn):
    """Run the body while the project's deploy lock is held by this deploy; yields its Heartbeat."""
    path = os.path.join(state_dir, LOCK_NAME)
    try:
        check_stale_after(stale_after, 'lock_stale_after')
    except ValueError as exc:
        raise DeployLockError(str(exc)) from None
    if holder:
        problem = lock_problem(path, holder)
        if problem:
            raise DeployLockError(problem)
        with _beating(path, holder) as heartbeat:
            yield heartbeat
        return
    own = 'compose_deploy@%s:pid-%d' % (socket.gethostname(), os.getpid())
    ensure_dir(state_dir)
    with guard(path):
        observed = read_lock(path)
        lock = observed['lock'] if observed else None
        now = time.time()
        quiet = silence(observed['mtime'], now) if observed else None
        age = lock_age(observed, now) if observed else None
        decision = decide(lock, quiet, age=age, path=path, state='acquired', holder=own, stale_after=stale_after)
        if decision['action'] == 'refuse':
            raise DeployLockError(decision['msg'])
        if decision['warning']:
            warn(decision['warning'])
        if observed:
            remove_lock(path, observed['raw'])  # a stale lock, taken over
        content = {
            'holder': own,
            'controller': {},
            'acquired_at': utc_now(),
            'host': socket.gethostname(),
            'pid': os.getpid(),
        }
        create_lock(path, content)
    try:
        with _beating(path, own) as heartbeat:
            yield heartbeat
    finally:
        with guard(path):
            observed = read_lock(path)
            if observed and observed['lock'].get('holder') == own:
                remove_lock(path, observed['raw'])


@contextlib.contextmanager
def _beating(path, holder):
    try:
        with Heartbeat(path, holder) as heartbeat:
            yield heartbeat
    except LockLost as exc:
        raise DeployLockError(str(exc)) from None
