# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to the auraspeak.ops collection: its API may change
# without notice. It installs the files a release runs from (compose files,
# environment file, secrets) so that they switch as one, and switch back as one
# when the release does not go live:
#
#   <project_dir>/.generations/<name>/...        one directory per installed set of files
#   <project_dir>/.release -> .generations/<name>  the one link a switch replaces (rename(2))
#   <project_dir>/app.env -> .release/app.env    fixed links: the paths users and Compose
#   <project_dir>/secrets -> .release/secrets    know stay what they were
#
# A crash at any point leaves .release on the old set or the new one, never a
# mix. The journal (a file in the state directory) names the set that serves
# while a new one is on trial; the next run puts it back if the run that
# installed the new one did not finish.

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import stat
import time

from ansible_collections.auraspeak.ops.plugins.module_utils._common.files import (
    fsync_dir,
    replace_symlink,
    write_json,
)

RELEASE_LINK = '.release'
GENERATIONS = '.generations'
LEFTOVER = re.compile(r'^\..+\.\d+\.tmp$')  # replace_symlink's temporary names


class ProjectFilesError(Exception):
    """The files cannot be installed; nothing was switched."""


def manifest(root):
    """{relative path: {type, mode, uid, gid[, sha256]}} of a tree, links not followed."""
    entries = {}
    for directory, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in dirnames + sorted(filenames):
            path = os.path.join(directory, name)
            entry = _describe(path)
            if entry['type'] == 'other':
                raise ProjectFilesError('%s is neither a file nor a directory: project files are only those' % path)
            entries[os.path.relpath(path, root)] = entry
    return entries


def changed_paths(before, after):
    """Paths added, removed or different between two manifests."""
    return sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))


class ProjectFiles:
    def __init__(self, project_dir, journal_path):
        self.project_dir = project_dir
        self.generations = os.path.join(project_dir, GENERATIONS)
        self.release_link = os.path.join(project_dir, RELEASE_LINK)
        self.journal_path = journal_path

    # -- reading ---------------------------------------------------------------

    def current(self):
        """Name of the set .release points at, or None before the first install."""
        try:
            target = os.readlink(self.release_link)
        except FileNotFoundError:
            return None
        return os.path.basename(target)

    def live_manifest(self, names):
        """What the project directory serves under the top-level names, through the links."""
        current = self.current()
        if current is not None:
            return manifest(os.path.join(self.generations, current))
        entries = {}
        for name in names:  # the layout before the first install: plain files in project_dir
            path = os.path.join(self.project_dir, name)
            if os.path.isdir(path) and not os.path.islink(path):
                entries[name] = _describe(path)
                entries.update({os.path.join(name, k): v for k, v in manifest(path).items()})
            elif os.path.lexists(path):
                entries[name] = _describe(path)
        return entries

    def plan(self, stage_dir):
        """The paths that installing stage_dir would change, and whether the links need setting up."""
        wanted = manifest(stage_dir)
        names = _top_level(wanted)
        changed = changed_paths(self.live_manifest(names), wanted)
        layout = self.current() is None or any(not self._is_link(n) for n in names)
        return changed, layout

    def journal(self):
        try:
            with open(self.journal_path, encoding='utf-8') as handle:
                return json.load(handle)
        except FileNotFoundError:
            return None
        except ValueError:
            raise ProjectFilesError(
                "the journal %s is not JSON: remove it after checking that %s holds the serving release's files"
                % (self.journal_path, self.project_dir)
            ) from None

    # -- changing ----------------------------------------------------------------

    def install(self, stage_dir):
        """Switch to a copy of stage_dir. Returns the name of the set that served before (None: no files)."""
        os.makedirs(self.generations, mode=0o755, exist_ok=True)
        self._sweep()
        names = sorted(os.listdir(stage_dir))
        previous = self._adopt_plain_files(names)
        name = self._copy_in(stage_dir, names)
        self._write_journal({'serving': previous, 'trial': name, 'release_id': None})
        for top in names:
            self._link(top)
        replace_symlink(self.release_link, os.path.join(GENERATIONS, name))
        return previous

    def note_release(self, release_id):
        """Name the ledger entry of the release on trial, for repair()."""
        journal = self.journal()
        if journal is not None:
            self._write_journal(dict(journal, release_id=release_id))

    def keep(self):
        """The release went live: its files stay, the others go."""
        current = self.current()
        self._remove_stale_links(current)
        self._clear_journal()
        self._prune(keep=current)

    def restore(self, previous):
        """Switch back to the set that served before install() (None: there were no files)."""
        if previous is None:
            for name in os.listdir(self.project_dir):
                if self._is_link(name):
                    os.unlink(os.path.join(self.project_dir, name))
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.release_link)
            fsync_dir(self.project_dir)
        else:
            replace_symlink(self.release_link, os.path.join(GENERATIONS, previous))
            self._remove_stale_links(previous)
        self._clear_journal()
        self._prune(keep=previous)

    def repair(self, finished):
        """After a run that was killed on trial: put its serving set back unless its release finished.

        finished(release_id) tells whether the ledger recorded that release as live.
        Returns 'restored', 'kept' or None (nothing to repair).
        """
        journal = self.journal()
        if journal is None:
            return None
        if journal.get('release_id') and finished(journal['release_id']):
            self.keep()
            return 'kept'
        if journal.get('serving') is not None and not os.path.isdir(os.path.join(self.generations, journal['serving'])):
            raise ProjectFilesError(
                'the journal %s names the set %s, which is not in %s: check the files, then remove the journal'
                % (self.journal_path, journal['serving'], self.generations)
            )
        self.restore(journal.get('serving'))
        return 'restored'

    # -- the steps -----------------------------------------------------------------

    def _adopt_plain_files(self, names):
        """Move the layout of plain files (before the first install) under .release. Returns the serving set."""
        current = self.current()
        plain = [n for n in names if os.path.lexists(os.path.join(self.project_dir, n)) and not self._is_link(n)]
        if current is None and not plain:
            return None
        if current is None:
            # A copy first: until .release exists, the plain files are what serves.
            current = self._copy_in(self.project_dir, plain)
            replace_symlink(self.release_link, os.path.join(GENERATIONS, current))
        for name in plain:  # same content behind the link: each step serves the same files
            replace_symlink(os.path.join(self.project_dir, name), os.path.join(RELEASE_LINK, name))
        return current

    def _copy_in(self, source_dir, names):
        """A new set: a copy of names in source_dir, named (time and content) in one rename(2) once complete."""
        staging = os.path.join(self.generations, '.staging-%d' % os.getpid())
        if os.path.lexists(staging):
            _remove(staging)
        os.mkdir(staging, 0o755)
        for name in names:
            _copy_entry(os.path.join(source_dir, name), os.path.join(staging, name))
        digest = hashlib.sha256(json.dumps(manifest(staging), sort_keys=True).encode()).hexdigest()[:12]
        name = '%s-%s' % (time.strftime('%Y%m%dT%H%M%S', time.gmtime()), digest)
        target = os.path.join(self.generations, name)
        if os.path.lexists(target):
            _remove(target)
        os.rename(staging, target)
        fsync_dir(self.generations)
        return name

    def _link(self, name):
        path = os.path.join(self.project_dir, name)
        if not self._is_link(name):
            replace_symlink(path, os.path.join(RELEASE_LINK, name))

    def _is_link(self, name):
        path = os.path.join(self.project_dir, name)
        return os.path.islink(path) and os.readlink(path) == os.path.join(RELEASE_LINK, name)

    def _remove_stale_links(self, current):
        """Links to names the serving set does not have (a compose file fewer, say)."""
        have = set(os.listdir(os.path.join(self.generations, current))) if current else set()
        for name in os.listdir(self.project_dir):
            if self._is_link(name) and name not in have:
                os.unlink(os.path.join(self.project_dir, name))

    def _sweep(self):
        """Leftovers of a run killed while it replaced a name by a link (see replace_symlink)."""
        for name in os.listdir(self.project_dir):
            if LEFTOVER.match(name):
                _remove(os.path.join(self.project_dir, name))

    def _prune(self, keep):
        if not os.path.isdir(self.generations):
            return
        for name in os.listdir(self.generations):
            if name != keep:
                _remove(os.path.join(self.generations, name))
        if keep is None:
            with contextlib.suppress(OSError):
                os.rmdir(self.generations)

    def _write_journal(self, data):
        os.makedirs(os.path.dirname(self.journal_path), mode=0o755, exist_ok=True)
        write_json(self.journal_path, data, mode=0o644)

    def _clear_journal(self):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.journal_path)
            fsync_dir(os.path.dirname(self.journal_path))


def _top_level(entries):
    return sorted({path.split(os.sep, 1)[0] for path in entries})


def _remove(path):
    shutil.rmtree(path) if os.path.isdir(path) and not os.path.islink(path) else os.unlink(path)


def _describe(path):
    info = os.lstat(path)
    entry = {'mode': '%04o' % stat.S_IMODE(info.st_mode), 'uid': info.st_uid, 'gid': info.st_gid}
    if stat.S_ISDIR(info.st_mode):
        entry['type'] = 'directory'
    elif stat.S_ISREG(info.st_mode):
        entry.update(type='file', sha256=_sha256(path))
    else:
        entry['type'] = 'other'
    return entry


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(1 << 16), b''):
            digest.update(block)
    return digest.hexdigest()


def _copy_entry(source, target):
    """Copy a file or a tree with its content, mode and owner; fsync what it writes."""
    info = os.lstat(source)
    if stat.S_ISDIR(info.st_mode):
        os.mkdir(target, 0o700)
        for name in sorted(os.listdir(source)):
            _copy_entry(os.path.join(source, name), os.path.join(target, name))
        fsync_dir(target)
    elif stat.S_ISREG(info.st_mode):
        with open(source, 'rb') as src, open(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), 'wb') as out:
            shutil.copyfileobj(src, out)
            out.flush()
            os.fsync(out.fileno())
    else:
        raise ProjectFilesError('%s is neither a file nor a directory: the project files hold only those' % source)
    if (info.st_uid, info.st_gid) != (os.lstat(target).st_uid, os.lstat(target).st_gid):
        os.chown(target, info.st_uid, info.st_gid)
    os.chmod(target, stat.S_IMODE(info.st_mode))
