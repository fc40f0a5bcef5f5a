# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to the auraspeak.ops collection: its API may change
# without notice. A set of files under one directory, each with its content,
# mode and owner, written in one call (the file_set module): a role renders a
# whole project in one round trip instead of one task per file.

from __future__ import annotations

import grp
import os
import pwd

from .files import ensure_dir, write_atomic


class FileSetError(Exception):
    """A file of the set cannot be written as asked; the message names it and says what to fix."""


def _id(value, database, kind):
    text = str(value)
    if text.isdigit():
        return int(text)
    try:
        return database(text)[2]
    except KeyError:
        raise FileSetError('%s %s does not exist on this host: give a numeric id or create it' % (kind, text)) from None


class Entry:
    """One file of the set, with its wanted content, mode and owner resolved to ids."""

    def __init__(self, root, spec):
        self.name = spec['path']
        self.path = _relative(root, self.name, 'files[].path')
        self.content = spec['content'].encode('utf-8')
        self.mode = int(spec['mode'], 8)
        self.uid = _id(spec['owner'], pwd.getpwnam, 'user')
        group = spec.get('group')
        self.gid = _id(group, grp.getgrnam, 'group') if group not in (None, '') else None

    def differs(self):
        """Whether the file on disk is not yet as wanted (missing, other content, mode or owner)."""
        try:
            status = os.lstat(self.path)
            with open(self.path, 'rb') as handle:
                same_content = handle.read() == self.content
        except FileNotFoundError:
            return True
        return not (
            same_content
            and status.st_mode & 0o7777 == self.mode
            and status.st_uid == self.uid
            and (self.gid is None or status.st_gid == self.gid)
        )

    def write(self):
        ensure_dir(os.path.dirname(self.path))
        write_atomic(self.path, self.content, self.mode)
        os.chown(self.path, self.uid, -1 if self.gid is None else self.gid)


def _relative(root, name, option):
    parts = name.split('/')
    if not name or name.startswith('/') or '..' in parts or '' in parts:
        raise FileSetError('%s %r must be relative to root, without "..": fix it' % (option, name))
    return os.path.join(root, *parts)


def write_set(root, files, directories=(), check_mode=False):
    """Create the directories and write every file of the set that differs; returns the relative paths
    that were (or would be) created or written."""
    if not os.path.isdir(root):
        raise FileSetError('root %s is not a directory: create it first' % root)
    missing = [name for name in directories if not os.path.isdir(_relative(root, name, 'directories[]'))]
    entries = [Entry(root, spec) for spec in files]
    changed = [entry for entry in entries if entry.differs()]
    if not check_mode:
        for name in missing:
            ensure_dir(_relative(root, name, 'directories[]'))
        for entry in changed:
            entry.write()
    return missing + [entry.name for entry in changed]
