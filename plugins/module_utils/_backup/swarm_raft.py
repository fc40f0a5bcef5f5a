# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to the auraspeak.ops collection: its API may change
# without notice. A Swarm manager's state (Raft log and snapshots, the node's
# certificates and keys) copied into an archive that a new cluster can start
# from (docker swarm init --force-new-cluster), while the engine runs.
#
# Docker's procedure stops the engine for the copy, which on a cluster of one
# manager stops the cluster's control and the manager's tasks. The engine writes
# its Raft log append-only and fsyncs it, so a copy of files that did not change
# while they were read is what a power cut at that instant would have left: the
# state the engine itself starts from. The copy is therefore read, the files'
# sizes, times and inodes compared before and after, and read again when
# anything moved (a quiet cluster writes to its Raft log only when its state
# changes).

from __future__ import annotations

import os
import tarfile
import time

from .._common.files import ensure_dir, write_atomic_with

PREFIX = 'swarm-raft-'
SUFFIX = '.tar.gz'
# worker/ holds the node's cache of the tasks given to it (tasks.db, rewritten at each task's change):
# the managers hand the tasks out again, and a copy that waited for it to be quiet might never be taken.
SKIPPED = ('worker',)
# What a manager's state has, and a new cluster cannot start without.
REQUIRED = (
    'state.json',
    'certificates/swarm-node.key',
    'certificates/swarm-node.crt',
    'certificates/swarm-root-ca.crt',
)
RAFT_LOG = 'raft/wal'


class RaftBackupError(Exception):
    pass


class _Moved(Exception):
    """The state changed while it was copied: this copy is dropped and another one is taken."""


def fingerprint(swarm_dir):
    """Each file under swarm_dir (but SKIPPED) by its path: (size, modification time in ns, inode)."""
    files = {}
    for directory, subdirs, names in os.walk(swarm_dir):
        relative_dir = os.path.relpath(directory, swarm_dir)
        if relative_dir == '.':
            subdirs[:] = sorted(d for d in subdirs if d not in SKIPPED)
        for name in names:
            path = os.path.join(directory, name)
            status = os.lstat(path)
            files[os.path.normpath(os.path.join(relative_dir, name))] = (
                status.st_size,
                status.st_mtime_ns,
                status.st_ino,
            )
    return files


def missing_parts(names):
    """What REQUIRED (and a Raft log) the file names lack: a manager's state has none missing."""
    missing = [name for name in REQUIRED if name not in names]
    if not any(name.startswith(RAFT_LOG) for name in names):
        missing.append(RAFT_LOG + '*/ (the Raft log)')
    return missing


def archive_name(node, now):
    return '%s%s-%s%s' % (PREFIX, node, time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(now)), SUFFIX)


def archives(dest, node):
    """This node's archives in dest, oldest first (their names sort by time)."""
    if not os.path.isdir(dest):
        return []
    head = '%s%s-' % (PREFIX, node)
    return sorted(name for name in os.listdir(dest) if name.startswith(head) and name.endswith(SUFFIX))


def back_up(swarm_dir, dest, node, keep, attempts=5, check_mode=False, now=None, pause=1.0):
    """Archive swarm_dir into dest as this node's newest archive, verify it, keep node's `keep` newest.

    Returns what was done (or, in check mode, what would be). An archive that cannot be taken or does not
    verify leaves dest as it was: older archives are removed only after a new one is in place and verified.
    """
    if not os.path.isdir(swarm_dir):
        raise RaftBackupError('%s does not exist: this engine has never been in a Swarm cluster' % swarm_dir)
    files = fingerprint(swarm_dir)
    missing = missing_parts(files)
    if missing:
        raise RaftBackupError(
            "%s is not a manager's Swarm state, it lacks %s; run the backup on a manager"
            % (swarm_dir, ', '.join(missing))
        )
    name = archive_name(node, time.time() if now is None else now)
    kept = [n for n in archives(dest, node) if n != name] + [name]
    result = {
        'archive': os.path.join(dest, name),
        'files': len(files),
        'removed': kept[:-keep] if len(kept) > keep else [],
    }
    if check_mode:
        return result
    ensure_dir(dest, 0o700)
    for attempt in range(1, attempts + 1):
        try:
            write_atomic_with(result['archive'], lambda handle: _copy_unmoved(swarm_dir, handle), 0o600)
            break
        except _Moved:
            if attempt == attempts:
                raise RaftBackupError(
                    'the Swarm state under %s changed during each of %d copies; no archive was written and the '
                    'older ones are kept. Take the backup when the cluster is quieter (no deploy or node change '
                    'running), or raise attempts' % (swarm_dir, attempts)
                ) from None
            time.sleep(pause)
    result['attempts'] = attempt
    try:
        result.update(verify(result['archive']))
    except RaftBackupError:
        os.unlink(result['archive'])
        raise
    for old in result['removed']:
        os.unlink(os.path.join(dest, old))
    return result


# A file's modification time comes from the kernel's coarse clock (a tick of 4 or 10 ms): a write in the tick of
# the first look would leave the same time. After this wait, any write during the copy shows as a later time.
CLOCK_TICK = 0.05


def _copy_unmoved(swarm_dir, handle):
    before = fingerprint(swarm_dir)
    time.sleep(CLOCK_TICK)
    try:
        with tarfile.open(fileobj=handle, mode='w:gz') as archive:
            for relative in sorted(before):
                path = os.path.join(swarm_dir, relative)
                archive.add(path, arcname=os.path.join('swarm', relative), recursive=False)
    except FileNotFoundError:  # a Raft log segment or snapshot replaced meanwhile
        raise _Moved() from None
    if fingerprint(swarm_dir) != before:
        raise _Moved()


def verify(path):
    """Read the whole archive back (gzip's checksum included) and check it holds a manager's state."""
    try:
        with tarfile.open(path, mode='r:gz') as archive:
            members = archive.getmembers()
            for member in members:
                if member.isfile():
                    archive.extractfile(member).read()
    except (OSError, tarfile.TarError, EOFError) as err:
        raise RaftBackupError('the archive %s does not read back: %s' % (path, err)) from None
    names = [os.path.relpath(member.name, 'swarm') for member in members]
    missing = missing_parts(names)
    if missing:
        raise RaftBackupError('the archive %s lacks %s' % (path, ', '.join(missing)))
    return {'bytes': os.path.getsize(path), 'verified': True}
