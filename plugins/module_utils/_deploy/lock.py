# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to the auraspeak.ops collection: its API may change
# without notice. It holds the logic of the deploy_lock module: the lock file
# <state_dir>/<project>/deploy.lock that lets one deploy of a project run at a
# time, a pure decide() and the file operations that carry it out.
#
# The lock file is JSON {holder, controller: {host, pid}, acquired_at, host,
# pid, and lease_until while its holder works where it cannot beat}; its
# modification time is the holder's last heartbeat (_lock_heartbeat).
# Every change happens under an flock of <lock>.guard: read, decide, check the
# file still holds what was read, then create it with O_CREAT|O_EXCL, replace
# it with os.replace of a temporary file, or unlink it. Check mode takes no
# flock and writes nothing.

from __future__ import annotations

import contextlib
import json
import os
import socket
import tempfile
import time

from ansible_collections.auraspeak.ops.plugins.module_utils._common.clock import parse_time, utc_now, utc_time
from ansible_collections.auraspeak.ops.plugins.module_utils._common.files import ensure_dir, fsync_dir
from ansible_collections.auraspeak.ops.plugins.module_utils._common.lock_heartbeat import (
    MIN_STALE_AFTER,
    SILENT_AFTER,
    guard,
    silence,
)
from ansible_collections.auraspeak.ops.plugins.module_utils._deploy.ledger import DEFAULT_STATE_DIR, project_file

LOCK_NAME = 'deploy.lock'
FORCE_HINT = 'force=true (the playbooks expose deploy_lock_force=true)'


class LockError(Exception):
    """The lock file cannot be read or written; the message says what to do."""


def lock_path(params):
    """The lock path from the module options path, or state_dir and project."""
    if params.get('path'):
        return os.path.abspath(params['path'])
    return os.path.abspath(project_file(params.get('state_dir') or DEFAULT_STATE_DIR, params['project'], LOCK_NAME))


def read_lock(path):
    """What the lock file holds: None when there is none, else {'raw', 'lock', 'mtime'}.

    'lock' is the parsed content, or {'holder': None, 'unreadable': True} when the file is not
    a lock deploy_lock wrote (empty, damaged): such a lock is held by nobody known, goes stale
    by its modification time, and force=true removes it.
    """
    try:
        with open(path, 'rb') as handle:
            raw = handle.read()
            mtime = os.fstat(handle.fileno()).st_mtime
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise LockError(
            'cannot read the deploy lock %s: %s. Run as a user that can read it (become: true)'
            % (path, exc.strerror or exc)
        ) from None
    try:
        lock = json.loads(raw.decode('utf-8'))
    except ValueError:
        lock = None
    if not isinstance(lock, dict) or not isinstance(lock.get('holder'), str):
        lock = {'holder': None, 'unreadable': True}
    return {'raw': raw, 'lock': lock, 'mtime': mtime}


def lock_age(observed, now):
    """Whole seconds since the lock was acquired (its file's mtime when acquired_at is unusable)."""
    acquired = parse_time(observed['lock'].get('acquired_at'))
    if acquired is None:
        acquired = observed['mtime']
    return max(int(now - acquired), 0)


def lease_left(lock, now):
    """Whole seconds left of the lock's lease (0: none, or over)."""
    until = parse_time(lock.get('lease_until'))
    return max(int(until - now), 0) if until is not None else 0


def with_lease(lock, lease, now):
    """The lock's content with a lease of lease seconds from now (0: without one)."""
    content = {key: value for key, value in lock.items() if key != 'lease_until'}
    if lease > 0:
        content['lease_until'] = utc_time(now + lease)
    return content


def describe(lock):
    """Who holds a lock, for messages."""
    if lock.get('unreadable'):
        return 'an unreadable lock file (not written by deploy_lock, or damaged)'
    controller = lock.get('controller') or {}
    return "'%s' (controller %s, pid %s; target host %s)" % (
        lock['holder'],
        controller.get('host') or 'unknown',
        controller.get('pid') or 'unknown',
        lock.get('host') or 'unknown',
    )


def decide(lock, quiet, *, path, state, holder, stale_after, force=False, takeover=None, age=None, leased=0):
    """What to do with the lock file, from what it holds (None: no lock) and its silence.

    quiet is the seconds since the holder's last heartbeat, age the seconds since it took the
    lock (for messages; quiet when not given), leased the seconds left of its lease: while
    they last, only force takes the lock.

    Returns {'action': 'create'|'replace'|'remove'|'none'|'refuse', 'took_over', 'previous_holder',
    'warning', 'msg'}; pure, so the module and the tests share it.
    """
    decision = {'action': 'none', 'took_over': False, 'previous_holder': None, 'warning': None, 'msg': None}
    if lock is None:
        decision['action'] = 'create' if state == 'acquired' else 'none'
        return decision
    if lock.get('holder') == holder:
        decision['action'] = 'none' if state == 'acquired' else 'remove'
        return decision
    who = describe(lock)
    since = '%s (%d s ago; last heartbeat %d s ago)' % (
        lock.get('acquired_at') or 'an unknown time',
        quiet if age is None else age,
        quiet,
    )
    if state == 'released':
        if force:
            decision.update(
                action='remove',
                previous_holder=lock.get('holder'),
                warning='force=true: released the deploy lock %s held by %s since %s' % (path, who, since),
            )
        else:
            decision.update(
                action='refuse',
                msg='the deploy lock %s is held by %s since %s, not by %r: left in place. Release it from the run '
                'that holds it, or if that run died with %s' % (path, who, since, holder, FORCE_HINT),
            )
        return decision
    if force:
        reason = 'force=true: took over the deploy lock %s from %s, held since %s' % (path, who, since)
    elif leased > 0:
        decision.update(
            action='refuse',
            msg='the deploy lock %s is held by %s since %s, on a lease for %d more s: its run works where it '
            'cannot beat for the lock (a restore on a Swarm data node). Wait for it to finish, or if that run '
            'died take over with %s' % (path, who, since, leased, FORCE_HINT),
        )
        return decision
    elif takeover is not None and lock.get('holder') == takeover and quiet >= SILENT_AFTER:
        reason = 'took over the deploy lock %s from %s, held since %s: takeover named that holder' % (path, who, since)
    elif takeover is not None and lock.get('holder') == takeover:
        decision.update(
            action='refuse',
            msg='the deploy lock %s is held by %s since %s: the ansible process of that run is gone, but a module '
            'of it still beats and works on the host; wait for it to finish, or take over with %s'
            % (path, who, since, FORCE_HINT),
        )
        return decision
    elif quiet > stale_after:
        reason = (
            'took over the stale deploy lock %s from %s, held since %s: no heartbeat for more than stale_after=%d s'
            % (
                path,
                who,
                since,
                stale_after,
            )
        )
    else:
        decision.update(
            action='refuse',
            msg='the deploy lock %s is held by %s since %s: wait for it to finish, or if that run died take over '
            'with %s; it goes stale after %d s without a heartbeat' % (path, who, since, FORCE_HINT, stale_after),
        )
        return decision
    decision.update(action='replace', took_over=True, previous_holder=lock.get('holder'), warning=reason)
    return decision


def check_stale_after(value, name):
    """Refuse a stale_after that heartbeats between the playbook's tasks cannot keep."""
    if value < MIN_STALE_AFTER:
        raise ValueError(
            '%s %d is below %d s: set it to the seconds without a heartbeat after which a lock counts as '
            'abandoned (default 300)' % (name, value, MIN_STALE_AFTER)
        )


def lock_problem(path, holder):
    """None when holder holds the lock at path, else why not (for compose_deploy's check)."""
    observed = read_lock(path)
    if observed is None:
        return 'no deploy lock at %s: acquire it first with auraspeak.ops.deploy_lock (holder %r)' % (path, holder)
    if observed['lock'].get('holder') != holder:
        return 'the deploy lock %s is held by %s, not by %r: another deploy runs' % (
            path,
            describe(observed['lock']),
            holder,
        )
    return None


# -- file operations, all under the guard -------------------------------------------


def _unchanged(path, expected_raw):
    observed = read_lock(path)
    current = observed['raw'] if observed else None
    if current != expected_raw:
        raise LockError(
            'the deploy lock %s changed while this run held %s.guard: something writes it without the guard. '
            'Run again' % (path, path)
        )


def _write(fd, content):
    data = (json.dumps(content, sort_keys=True, indent=2) + '\n').encode('utf-8')
    while data:
        data = data[os.write(fd, data) :]


def create_lock(path, content):
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise LockError('the deploy lock %s appeared while this run held its guard: run again' % path) from None
    try:
        _write(fd, content)
        os.fchmod(fd, 0o600)
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_dir(os.path.dirname(path))


def replace_lock(path, expected_raw, content):
    fd, temp = tempfile.mkstemp(dir=os.path.dirname(path), prefix='.deploy.lock.', suffix='.tmp')
    try:
        _write(fd, content)
        os.fsync(fd)
        os.close(fd)
        _unchanged(path, expected_raw)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    fsync_dir(os.path.dirname(path))


def remove_lock(path, expected_raw):
    _unchanged(path, expected_raw)
    os.unlink(path)
    fsync_dir(os.path.dirname(path))


# -- the module ---------------------------------------------------------------------


class DeployLock:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.path = lock_path(self.params)
        self.holder = self.params['holder']
        if not self.holder or not self.holder.strip():
            raise ValueError('holder is empty: set it to what identifies this run, e.g. "alice@controller:run-<uuid>"')
        check_stale_after(self.params['stale_after'], 'stale_after')
        if self.params['lease'] < 0:
            raise ValueError(
                'lease %d is below 0: give the seconds the holder works where it cannot beat, or 0 for no lease'
                % self.params['lease']
            )

    def new_content(self):
        controller = self.params.get('controller') or {}
        return {
            'holder': self.holder,
            'controller': {'host': controller.get('host'), 'pid': controller.get('pid')},
            'acquired_at': utc_now(),
            'host': socket.gethostname(),
            'pid': os.getpid(),
        }

    def _guard(self):
        directory = os.path.dirname(self.path)
        if self.module.check_mode:
            return contextlib.nullcontext()
        if self.params['state'] == 'acquired':
            ensure_dir(directory)
        elif not os.path.isdir(directory):
            return contextlib.nullcontext()  # no directory, so no lock to release
        return guard(self.path)

    def run(self):
        """Returns (failed, result)."""
        state = self.params['state']
        result = {'changed': False, 'path': self.path, 'holder': self.holder, 'took_over': False}
        with self._guard():
            observed = read_lock(self.path)
            lock = observed['lock'] if observed else None
            now = time.time()
            age = lock_age(observed, now) if observed else None
            quiet = silence(observed['mtime'], now) if observed else None
            decision = decide(
                lock,
                quiet,
                age=age,
                path=self.path,
                state=state,
                holder=self.holder,
                stale_after=self.params['stale_after'],
                force=self.params['force'],
                takeover=self.params.get('takeover'),
                leased=lease_left(lock, now) if lock else 0,
            )
            action = decision['action']
            if action == 'refuse':
                result.update(msg=decision['msg'], held_by=lock, age=age, silence=quiet)
                return True, result
            after = self.new_content() if action in ('create', 'replace') else lock if action == 'none' else None
            if state == 'acquired':
                after = with_lease(after, self.params['lease'], now)
                if action == 'none' and after != lock:
                    action = 'replace'  # the holder's lease begins or ends: its own lock, rewritten
            if not self.module.check_mode:
                if action == 'create':
                    create_lock(self.path, after)
                elif action == 'replace':
                    replace_lock(self.path, observed['raw'], after)
                elif action == 'remove':
                    remove_lock(self.path, observed['raw'])
        if decision['warning']:
            self.module.warn(decision['warning'])
        result.update(changed=action != 'none', took_over=decision['took_over'])
        result['acquired_at'] = (after if state == 'acquired' else lock or {}).get('acquired_at')
        if state == 'acquired':
            result['lease_until'] = after.get('lease_until')
        if decision['previous_holder'] is not None or decision['took_over']:
            result['previous_holder'] = decision['previous_holder']
        if self.module._diff:
            result['diff'] = {'before': lock or {}, 'after': after or {}}
        return False, result


def run_deploy_lock(module):
    """Entry point used by the module: returns (failed, result)."""
    try:
        return DeployLock(module).run()
    except (ValueError, LockError) as exc:
        return True, {'msg': str(exc), 'changed': False}
    except OSError as exc:
        where = exc.filename or module.params.get('path') or module.params.get('state_dir')
        return True, {
            'msg': 'cannot write the deploy lock at %s: %s. Run as a user that can write there (become: true)'
            % (where, exc.strerror or exc),
            'changed': False,
        }
