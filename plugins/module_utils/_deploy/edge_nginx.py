# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to the auraspeak.ops collection: its API may change
# without notice. It tells what the edge's nginx has loaded, from nginx's own
# processes: `nginx -s reload` only signals the master, which then reads the
# configuration and starts new workers, or logs an error and keeps the old
# ones. A reload is done when every worker that takes requests is new; a file
# is loaded when every such worker started after the file was written.

from __future__ import annotations

import contextlib
import os
import time

from ansible_collections.auraspeak.ops.plugins.module_utils._common.docker_cli import DockerCLIError

SERVING_WORKER = 'nginx: worker process'  # old workers say '... is shutting down'
FIRST_POLL, LAST_POLL = 0.1, 1.0  # seconds between looks at the workers during a reload


def serving_workers(top):
    """Host pids of the workers that take requests, from the engine's top of the container (ps -o pid,args)."""
    if not top:
        return []
    titles = top.get('Titles') or []
    if 'PID' not in titles or 'COMMAND' not in titles:
        return []
    pid_at, args_at = titles.index('PID'), titles.index('COMMAND')
    return [
        int(row[pid_at])
        for row in top.get('Processes') or []
        if row[pid_at].isdigit() and row[args_at].strip() == SERVING_WORKER
    ]


def started_at(pid, proc='/proc', now=time.time):
    """Wall-clock time a process of this host started (10 ms precision), or None when /proc does not show it."""
    try:
        with open(os.path.join(proc, str(pid), 'stat'), encoding='utf-8') as handle:
            # Field 22, starttime in clock ticks after boot; the command in field 2 may hold spaces.
            ticks = int(handle.read().rsplit(')', 1)[1].split()[19])
        with open(os.path.join(proc, 'uptime'), encoding='utf-8') as handle:
            uptime = float(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return now() - uptime + ticks / os.sysconf('SC_CLK_TCK')


class EdgeNginx:
    """The nginx master of the edge container, seen through its processes."""

    def __init__(self, engine, container, reload_timeout, sleep=time.sleep):
        self.engine = engine
        self.container = container
        self.reload_timeout = reload_timeout
        self.sleep = sleep

    def workers(self):
        return serving_workers(self.engine.top(self.container, '-o pid,args'))

    def loaded_since(self, moment):
        """Whether nginx read its configuration after moment (a time.time()): all its workers are younger.

        Unknown (no worker seen, /proc not readable) counts as not loaded: a reload too many is harmless.
        """
        starts = [started_at(pid) for pid in self.workers()]
        return bool(starts) and all(start is not None and start > moment for start in starts)

    def reload(self):
        """Reload and wait until new workers serve; raises DockerCLIError with nginx's own error when they do not."""
        before = set(self.workers())
        signalled = time.time()
        rc, out, err = self.engine.exec(self.container, ['nginx', '-s', 'reload'])
        if rc != 0:
            raise DockerCLIError(
                'nginx in %s refused the reload signal: %s' % (self.container, (err or out).strip()),
                cmd=['docker', 'exec', self.container, 'nginx', '-s', 'reload'],
                rc=rc,
                stdout=out,
                stderr=err,
            )
        deadline = time.monotonic() + self.reload_timeout
        pause = FIRST_POLL
        while True:
            workers = set(self.workers())
            if workers and not workers & before:
                return
            if time.monotonic() >= deadline:
                break
            # Each look is a `docker top`: quick at first, then less often on a slow reload.
            self.sleep(pause)
            pause = min(pause * 2, LAST_POLL)
        errors = self._errors_since(signalled)
        raise DockerCLIError(
            'nginx in %s did not load the new upstreams within %d s (its workers were not replaced)%s'
            % (self.container, self.reload_timeout, ': %s' % errors if errors else ''),
            cmd=['docker', 'exec', self.container, 'nginx', '-s', 'reload'],
        )

    def signal_reload(self):
        """Best effort, for putting things back: nginx reloads when it can, nothing waits for it."""
        with contextlib.suppress(DockerCLIError):
            self.engine.exec(self.container, ['nginx', '-s', 'reload'])

    def _errors_since(self, moment):
        output = self.engine.logs(self.container, since=moment) or ''
        lines = [line for line in output.splitlines() if '[emerg]' in line or '[alert]' in line]
        return ' '.join(lines[-3:])
