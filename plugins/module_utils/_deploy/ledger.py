# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to the auraspeak.ops collection: its API may change
# without notice. It reads and writes the release ledger of a project,
# <state_dir>/<project>/releases.json (format and statuses: docs/deploy.md),
# and holds the pure functions that change or query its data. It runs on the
# managed host, so it keeps to Python 3.8 and the standard library.
#
# Writers go through ReleaseLedger.transaction(): an exclusive flock of
# releases.json.lock, then an atomic replace of the file (temporary file in the
# same directory, fsync, os.replace, fsync of the directory). Readers need no
# lock: they see the old file or the new one, never a partial one.
#
# The file keeps at most MAX_ENTRIES (100) releases, so it cannot grow forever:
# when a write would exceed it, the oldest entries that are not active, not
# deploying and hold none of the retained image ids (of the newest `keep`
# versions, ReleaseLedger(keep=...), 10 by default) are dropped first, then the
# oldest others except the newest entry of each retained version (see
# cap_entries). Only more than 100 entries that are active, deploying or such a
# newest entry could exceed it.

from __future__ import annotations

import contextlib
import fcntl
import json
import os

from ansible_collections.auraspeak.ops.plugins.module_utils._common.files import ensure_dir, write_atomic
from ansible_collections.auraspeak.ops.plugins.module_utils._common.names import check_project

STATUSES = ('deploying', 'active', 'superseded', 'failed', 'rolled_back', 'interrupted')
# rolled_back: the release served a canary share of the traffic and the release
# analysis sent it all back to the previous one (the entry's analysis says why).
FINISHED_STATUSES = ('active', 'failed', 'rolled_back', 'interrupted')
KINDS = ('deploy', 'rollback')
SERVED = ('active', 'superseded')
PRUNABLE = ('active', 'superseded', 'failed', 'rolled_back', 'interrupted')
INTERRUPTED_REASON = 'the deploy stopped before it finished (found by a later run)'

MAX_ENTRIES = 100
# Versions whose images the size cap protects when the caller does not say how
# many releases it keeps; above any sensible keep_releases.
CAP_KEEP = 10

DEFAULT_STATE_DIR = '/var/lib/auraspeak'
LEDGER_NAME = 'releases.json'


class LedgerError(Exception):
    """The ledger cannot be read, written or changed as asked; the message says what to do."""


# -- paths --------------------------------------------------------------------


def project_file(state_dir, project, name):
    """<state_dir>/<project>/<name>, after checking the project name."""
    return os.path.join(state_dir, check_project(project), name)


# -- the file -----------------------------------------------------------------


class ReleaseLedger:
    """The ledger file of one project; the project name is the basename of its directory."""

    def __init__(self, path, keep=CAP_KEEP, max_entries=MAX_ENTRIES):
        self.path = os.path.abspath(path)
        self.directory = os.path.dirname(self.path)
        self.project = os.path.basename(self.directory)
        self.lock_path = self.path + '.lock'
        self.keep = keep
        self.max_entries = max_entries

    def empty(self):
        return {'project': self.project, 'releases': []}

    def exists(self):
        return os.path.exists(self.path)

    def read(self):
        try:
            with open(self.path, encoding='utf-8') as handle:
                text = handle.read()
        except FileNotFoundError:
            return self.empty()
        except (OSError, UnicodeDecodeError) as exc:
            raise LedgerError(
                'cannot read the release ledger %s: %s. Run as a user that can read it (become: true)'
                % (self.path, getattr(exc, 'strerror', None) or exc)
            ) from None
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise LedgerError(
                'the release ledger %s is not valid JSON (%s). It is never replaced automatically: restore it '
                'from a backup, or move it aside to start a new ledger (the release history is then lost)'
                % (self.path, exc)
            ) from None
        problem = _shape_problem(data)
        if problem:
            raise LedgerError(
                'the release ledger %s is not a ledger: %s. Restore it from a backup, or move it aside to start '
                'a new ledger (docs/deploy.md describes the format)' % (self.path, problem)
            )
        return data

    @contextlib.contextmanager
    def transaction(self):
        """Yield the data under an exclusive lock; write it back when the block ends without an exception."""
        try:
            ensure_dir(self.directory)
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise LedgerError(
                'cannot create the release ledger lock %s: %s. Run as a user that can write %s (become: true)'
                % (self.lock_path, exc.strerror or exc, self.directory)
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            data = self.read()
            yield data
            cap_entries(data, keep=self.keep, max_entries=self.max_entries)
            self._write(data)
        finally:
            os.close(fd)  # also releases the flock

    def _write(self, data):
        write_atomic(self.path, json.dumps(data, indent=2, ensure_ascii=False) + '\n', mode=0o644)


def _shape_problem(data):
    if not isinstance(data, dict) or not isinstance(data.get('releases'), list):
        return 'expected an object with a "releases" list'
    for index, entry in enumerate(data['releases']):
        if not isinstance(entry, dict) or not isinstance(entry.get('id'), int):
            return 'releases[%d] has no integer "id"' % index
        if entry.get('status') not in STATUSES:
            return 'releases[%d] has the unknown status %r' % (index, entry.get('status'))
    return None


# -- changes --------------------------------------------------------------------


def start_release(data, *, version, images, config_hash, deployed_by, now, kind='deploy'):
    """Append a 'deploying' entry and return its id."""
    if kind not in KINDS:
        raise ValueError('kind %r is not one of %s' % (kind, ', '.join(KINDS)))
    releases = data['releases']
    release_id = max((entry['id'] for entry in releases), default=0) + 1
    active = current(data)
    releases.append(
        {
            'id': release_id,
            'version': version,
            'kind': kind,
            'status': 'deploying',
            'images': {service: dict(image) for service, image in (images or {}).items()},
            'config_hash': config_hash,
            'started_at': now,
            'finished_at': None,
            'deployed_by': deployed_by,
            'previous': active['version'] if active else None,
            'reason': None,
        }
    )
    return release_id


def finish_release(data, release_id, *, status, now, reason=None, analysis=None):
    """End a 'deploying' entry; 'active' marks the previously active entry 'superseded'.

    analysis: the canary steps' verdicts, kept in the entry when given.
    """
    if status not in FINISHED_STATUSES:
        raise ValueError('status %r is not one of %s' % (status, ', '.join(FINISHED_STATUSES)))
    entry = next((e for e in data['releases'] if e['id'] == release_id), None)
    if entry is None:
        raise LedgerError(
            'release %r is not in the ledger of %s: finish the id start_release returned'
            % (release_id, data.get('project'))
        )
    if entry['status'] != 'deploying':
        raise LedgerError(
            "release %r of %s is '%s', not 'deploying': only a release that is deploying can be finished"
            % (release_id, data.get('project'), entry['status'])
        )
    if status == 'active':
        for other in data['releases']:
            if other['status'] == 'active':
                other['status'] = 'superseded'
    entry.update(status=status, finished_at=now, reason=reason)
    if analysis:
        entry['analysis'] = analysis
    return entry


def mark_interrupted(data, now):
    """Mark every entry still 'deploying' as 'interrupted'; return their ids."""
    ids = []
    for entry in data['releases']:
        if entry['status'] == 'deploying':
            entry.update(status='interrupted', finished_at=now, reason=INTERRUPTED_REASON)
            ids.append(entry['id'])
    return ids


# -- queries ----------------------------------------------------------------------


def _newest_first(data):
    return sorted(data['releases'], key=lambda entry: entry['id'], reverse=True)


def current(data):
    return next((e for e in _newest_first(data) if e['status'] == 'active'), None)


def previous(data):
    """What a rollback goes back to: the newest superseded release of another version than the live one.

    A version a rollback went away from is skipped until it is deployed again, so two
    rollbacks in a row go further back instead of returning to the release rolled back.
    """
    active = current(data)
    version = active['version'] if active else None
    skipped = rolled_back_from(data)
    return next(
        (
            e
            for e in _newest_first(data)
            if e['status'] == 'superseded' and e['version'] != version and e['version'] not in skipped
        ),
        None,
    )


def rolled_back_from(data):
    """Versions a rollback replaced and that have not gone live again since."""
    versions = set()
    for entry in sorted(data['releases'], key=lambda e: e['id']):
        if entry['status'] in SERVED:
            versions.discard(entry['version'])
            if entry.get('kind') == 'rollback' and entry.get('previous'):
                versions.add(entry['previous'])
    return versions


def history(data, limit=None):
    entries = _newest_first(data)
    return entries if limit is None else entries[: max(limit, 0)]


def find(data, version):
    return next((e for e in _newest_first(data) if e['version'] == version and e['status'] in SERVED), None)


def _image_ids(entry):
    return {image.get('id') for image in (entry.get('images') or {}).values() if image.get('id')}


def retained_versions(data, keep):
    """The newest `keep` distinct versions among active/superseded entries, the active one first."""
    active = current(data)
    versions = [active['version']] if active else []
    for entry in _newest_first(data):
        if entry['status'] in SERVED and entry['version'] not in versions:
            versions.append(entry['version'])
    return versions[: max(keep, 1 if active else 0)]


def retained_image_ids(data, keep):
    """Image ids of every active/superseded entry of the retained versions (all services)."""
    versions = set(retained_versions(data, keep))
    ids = set()
    for entry in data['releases']:
        if entry['status'] in SERVED and entry['version'] in versions:
            ids |= _image_ids(entry)
    return ids


def prunable_images(data, keep):
    """Images of finished entries that are not retained, oldest first, one per id.

    Never an image of the current release or of one still deploying. Before removing one by its
    ref, check the ref still names that id: it may since name a newer image (a version rebuilt
    under the same tag).
    """
    protected = retained_image_ids(data, keep)
    for entry in data['releases']:
        if entry['status'] in ('active', 'deploying'):
            protected |= _image_ids(entry)
    images, seen = [], set()
    for entry in sorted(data['releases'], key=lambda e: e['id']):
        if entry['status'] not in PRUNABLE:
            continue
        for service in sorted(entry.get('images') or {}):
            image = entry['images'][service]
            image_id = image.get('id')
            if image_id and image_id not in protected and image_id not in seen:
                seen.add(image_id)
                images.append({'ref': image.get('ref'), 'id': image_id})
    return images


def cap_entries(data, keep=CAP_KEEP, max_entries=MAX_ENTRIES):
    """Drop the oldest entries beyond max_entries; return the dropped ids.

    First dropped: entries that are neither active nor deploying and hold none of the
    retained image ids. Should that not be enough (many entries sharing retained images),
    next the oldest of the rest, except the newest entry of each retained version, so
    find() still answers for every version that can be rolled back to.
    """
    releases = data['releases']
    excess = len(releases) - max_entries
    if excess <= 0:
        return []
    retained = retained_image_ids(data, keep)
    newest_of_version = {}
    for version in retained_versions(data, keep):
        entry = find(data, version)
        if entry:
            newest_of_version[entry['id']] = entry
    oldest_first = sorted(releases, key=lambda e: e['id'])
    keepers = [e for e in oldest_first if e['status'] in ('active', 'deploying') or e['id'] in newest_of_version]
    keeper_ids = {e['id'] for e in keepers}
    unretained = [e for e in oldest_first if e['id'] not in keeper_ids and not (_image_ids(e) & retained)]
    sharing = [e for e in oldest_first if e['id'] not in keeper_ids and _image_ids(e) & retained]
    dropped = {e['id'] for e in (unretained + sharing)[:excess]}
    data['releases'] = [e for e in releases if e['id'] not in dropped]
    return sorted(dropped)
