# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to auraspeak.ops (standard library only, see docker.py).
# The WAL stream of the app's receiver (app_postgres_wal_stream) in a restore:
# its segments go into the restored pg_wal, where recovery replays them once
# the archive has none further (PostgreSQL asks restore_command first, then
# pg_wal), so a restore reaches the last byte received. After recovery the
# stream is set aside: the new timeline starts a stream of its own.

from __future__ import annotations

from .._common.clock import utc_stamp
from .docker import run, throwaway_argv

MOUNT = '/wal-stream'
KEPT_PREFIX = 'before-restore-'
# A segment's name is 24 hex digits; the receiver writes the current one as <name>.partial,
# padded with zeros to a full segment, which recovery reads up to its last valid record.
_SEGMENTS = '[0-9A-F]' * 24

_COPY = (
    'n=0; for f in %(mount)s/%(segments)s %(mount)s/%(segments)s.partial; do'
    ' [ -f "$f" ] || continue; name=${f##*/};'
    ' cp -- "$f" "%(pgdata)s/pg_wal/${name%%.partial}" || exit 1; n=$((n + 1)); done; echo "$n"'
)
_SET_ASIDE = (
    'cd %(mount)s && set -- %(segments)s %(segments)s.partial *.history; kept=%(kept)s; n=0;'
    ' for f; do [ -f "$f" ] || continue; mkdir -p "$kept" && mv -- "$f" "$kept/" || exit 1; n=$((n + 1)); done;'
    ' echo "$n"'
)


def path(cfg):
    """The host directory of the stream, or '' without one."""
    return cfg.postgres.get('wal_stream') or ''


def add_to_restored(cfg, volume, data_mount):
    """Copy the streamed segments into the restored data directory's pg_wal; returns how many."""
    script = _COPY % {'mount': MOUNT, 'segments': _SEGMENTS, 'pgdata': cfg.postgres['pgdata']}
    argv = throwaway_argv(cfg.project) + ['-v', '%s:%s' % (volume, data_mount), '-v', '%s:%s:ro' % (path(cfg), MOUNT)]
    return int(run(argv + ['--entrypoint', 'sh', cfg.postgres['image'], '-c', script])[1].strip())


def set_aside(cfg):
    """Move the stream's files into before-restore-<time>/ beside it; returns that name, None when it was empty."""
    kept = KEPT_PREFIX + utc_stamp()
    script = _SET_ASIDE % {'mount': MOUNT, 'segments': _SEGMENTS, 'kept': kept}
    argv = throwaway_argv(cfg.project) + ['-v', '%s:%s' % (path(cfg), MOUNT)]
    moved = int(run(argv + ['--entrypoint', 'sh', cfg.postgres['image'], '-c', script])[1].strip())
    return kept if moved else None
