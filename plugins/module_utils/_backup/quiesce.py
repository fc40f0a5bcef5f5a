# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to auraspeak.ops (standard library only, see docker.py).
# The writers of a volume frozen while restic reads it. A database file in the
# volume (Grafana's SQLite) is then read as of one instant, which its engine
# recovers from as from a power cut, not as pages of different moments.
#
# `docker pause` freezes the containers' processes (the cgroup freezer). The
# reader is created before the pause, so that it exists whenever it must be
# stopped. A watchdog in a session of its own removes the reader and thaws the
# writers once the time limit is up, so a backup killed while they are frozen
# (even with SIGKILL) keeps them frozen no longer than that, and the reader it
# left behind cannot finish a snapshot of a volume that is being written again.

from __future__ import annotations

import contextlib
import os
import signal
import subprocess

from .docker import CommandTimeout, run

# $1 the limit in seconds, $2 the reader's container name, then the writers' ids.
_WATCHDOG = (
    'sleep "$1"; docker rm --force "$2" >/dev/null 2>&1; docker wait "$2" >/dev/null 2>&1;'
    ' shift 2; exec docker unpause "$@"'
)


def running_writers(volume):
    """The ids of the running containers that mount a volume (paused ones are not running)."""
    _rc, out, _err = run(['docker', 'ps', '--quiet', '--filter', 'volume=%s' % volume, '--filter', 'status=running'])
    return out.split()


def _stop(reader):
    """Remove the reader, and wait until it no longer runs: when its own --rm removal is under way, `docker rm`
    answers at once while the container may still be stopping."""
    run(['docker', 'rm', '--force', reader], check=False)
    with contextlib.suppress(CommandTimeout):
        run(['docker', 'wait', reader], check=False, timeout=60)


@contextlib.contextmanager
def writers_paused(volume, reader, limit):
    """Pause the running containers that mount `volume` for the block (at most `limit` seconds); yields their ids.

    `reader` names the container that reads the volume in the block, created before it: it is removed
    (stopped first) before the writers are thawed, on every way out. With no writer running there is
    nothing to pause, and no limit.
    """
    writers, watchdog = [], None
    try:
        writers = running_writers(volume)
        if writers:
            watchdog = subprocess.Popen(  # pylint: disable=consider-using-with  # outlives this process on purpose
                ['sh', '-c', _WATCHDOG, 'auraspeak-backup-thaw', str(int(limit)), reader] + writers,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            run(['docker', 'pause'] + writers)
        yield writers
    finally:
        _stop(reader)
        if writers:
            run(['docker', 'unpause'] + writers, check=False)  # any not paused answer an error, harmlessly
        if watchdog:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(watchdog.pid, signal.SIGKILL)
            watchdog.wait()
