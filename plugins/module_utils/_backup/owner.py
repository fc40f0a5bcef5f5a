# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to auraspeak.ops (standard library only, see docker.py).
# Who wrote a backup. Two hosts (or projects) that write one pgBackRest stanza or
# one restic host name to a shared repository expire each other's backups and
# may restore each other's data. Every backup is marked with its writer, the
# project and the inventory host ("auraspeak@app1"), and a repository that
# holds another writer's backups under our name is refused before anything is
# restored, written or expired.

from __future__ import annotations

from .docker import BackupError

RESTIC_TAG_PREFIX = 'owner='


def restic_tag(owner):
    return RESTIC_TAG_PREFIX + owner


def restic_owner(snapshot):
    """The writer a restic snapshot was tagged with, or None (taken before owners were recorded)."""
    tags = snapshot.get('tags') or []
    return next((tag[len(RESTIC_TAG_PREFIX) :] for tag in tags if tag.startswith(RESTIC_TAG_PREFIX)), None)


def pgbackrest_owner(backup_set):
    """The writer a pgBackRest set was annotated with, or None (taken before owners were recorded)."""
    return (backup_set.get('annotation') or {}).get('owner')


def require_own(owners, cfg, what, variable):
    """Refuse backups of other writers under our name; unmarked ones count as ours (one writer before)."""
    others = sorted({owner for owner in owners if owner and owner != cfg.owner})
    if others:
        raise BackupError(
            '%s already holds backups written by %s, and this is %s: two hosts or projects that share a repository'
            " must not share a name, or they expire and restore each other's backups. Nothing was restored, written"
            ' or expired. Give each its own: set %s on each host (for example to <project>-<inventory host>)'
            % (what, ', '.join(others), cfg.owner, variable)
        )
