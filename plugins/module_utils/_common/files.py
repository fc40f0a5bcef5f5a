# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to the auraspeak.ops collection: its API may change
# without notice. The collection's one way to create directories and to replace a file: a temporary file
# in the same directory, fsync, rename(2) over the target, fsync of the
# directory. A reader, or a crash at any point, sees the old file or the new
# one, never a part of either.

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import tempfile

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_dir(path, mode=0o755):
    """Create path and its missing parents, each with mode (not narrowed by the umask)."""
    missing = []
    while path and not os.path.isdir(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, mode)
        except FileExistsError:
            continue
        os.chmod(directory, mode)


def write_atomic(path, data, mode=0o600):
    """Replace path with data (str or bytes), created with mode."""
    if isinstance(data, str):
        data = data.encode('utf-8')
    write_atomic_with(path, lambda handle: handle.write(data), mode)


def write_atomic_with(path, fill, mode=0o600):
    """Replace path with what fill(handle) writes to a binary file, created with mode.

    If fill raises, path is left as it was and the temporary file goes: a writer can give up half-way.
    """
    directory = os.path.dirname(os.path.abspath(path))
    fd, temp = tempfile.mkstemp(dir=directory, prefix='.%s.' % os.path.basename(path), suffix='.tmp')

    def write_and_replace():
        with os.fdopen(fd, 'wb') as handle:
            os.fchmod(handle.fileno(), mode)
            fill(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)

    _put_in_place(temp, write_and_replace, directory)


def write_json(path, data, mode=0o600):
    """Replace path with data as indented JSON with sorted keys. Data that is not JSON changes nothing."""
    write_atomic(path, json.dumps(data, indent=2, sort_keys=True) + '\n', mode)


def replace_symlink(path, target):
    """Make path a symlink to target in one step: rename(2) over a file or link, an exchange with a directory."""
    directory = os.path.dirname(os.path.abspath(path))
    temp = os.path.join(directory, '.%s.%d.tmp' % (os.path.basename(path), os.getpid()))
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temp)
    os.symlink(target, temp)

    def swap():
        if os.path.isdir(path) and not os.path.islink(path):
            _exchange(temp, path)  # temp is now the directory
            shutil.rmtree(temp)
        else:
            os.replace(temp, path)

    _put_in_place(temp, swap, directory)


def _put_in_place(temp, move, directory):
    """move() puts temp in place; if it fails, temp goes. Then the directory entry is made durable."""
    try:
        move()
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    fsync_dir(directory)


def _exchange(first, second):
    """renameat2(RENAME_EXCHANGE): swap two paths atomically (Linux 3.15, glibc 2.28)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) != 0:
        error = ctypes.get_errno()
        raise OSError(error, 'cannot exchange %s and %s: %s' % (first, second, os.strerror(error)))
