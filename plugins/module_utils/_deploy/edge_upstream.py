# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to the auraspeak.ops collection: its API may change
# without notice. It keeps the edge's nginx upstreams in step with the live
# containers: render the upstream file, validate it with `nginx -t` inside the
# edge container, reload nginx gracefully and wait until it serves the file,
# and put the old file back when validation or the reload fails (see
# docs/deploy.md for the contract).

from __future__ import annotations

import math
import os
import re

from ansible_collections.auraspeak.ops.plugins.module_utils._common.docker_cli import DockerCLIError
from ansible_collections.auraspeak.ops.plugins.module_utils._common.files import write_atomic
from ansible_collections.auraspeak.ops.plugins.module_utils._deploy.edge_nginx import EdgeNginx

# A replica is taken out by nginx only after 3 errors within 10 s, and never
# the last one: every replica is listed again as a backup server that nginx
# never takes out, so a transient error on all of them at once (a restart, a
# network blip) is retried instead of answered "no live upstreams" (502).
DEFAULT_SERVER_OPTIONS = 'max_fails=3 fail_timeout=10s'
# Seconds an idle keep-alive connection to a replica stays open. It must stay
# below the application's own idle timeout (Node.js: 5 s by default), or
# requests race the application closing the connection and fail with 502.
DEFAULT_KEEPALIVE_TIMEOUT = 4
# Seconds nginx has to start new workers after a reload before the switch counts as failed.
DEFAULT_RELOAD_TIMEOUT = 10
# Balancing methods with which nginx refuses backup servers.
_NO_BACKUP_METHODS = ('hash', 'ip_hash', 'random')


def upstream_name(project, service):
    return re.sub(r'[^A-Za-z0-9_]', '_', '%s_%s' % (project, service))


def split_traffic(old_count, new_count, percent):
    """nginx weights (old, new) that send `percent` of the requests to the new replicas."""
    if not old_count or percent >= 100:
        return 1, 1
    if not new_count or percent <= 0:
        return 1, 0
    old_weight, new_weight = (100 - percent) * new_count, percent * old_count
    divisor = math.gcd(old_weight, new_weight)
    return old_weight // divisor, new_weight // divisor


def canary_directives(directives):
    """The upstream directives during a canary step: least_conn left out, so each release gets its weight.

    least_conn counts open connections: a slower release holds each request longer and gets fewer new
    ones than its weight (measured: 5.2 % at a 10 % step for a release 300 ms slower), so its verdicts
    came half as often. nginx's default weighted round-robin sends exactly the weights.
    """
    return [d for d in directives if d.split() != ['least_conn']]


def render_upstreams(
    project,
    blocks,
    directives=(),
    server_options=DEFAULT_SERVER_OPTIONS,
    keepalive=32,
    keepalive_timeout=DEFAULT_KEEPALIVE_TIMEOUT,
    fallback=True,
):
    """The text of <project>.conf: one upstream block per (name, servers, port).

    servers is a list of container names, or of (name, weight) pairs during a
    canary; a weight of 0 leaves the server out of the primary tier.
    """
    lines = [
        '# Managed by auraspeak.ops.compose_deploy for project %s: the live containers.' % project,
        '# Rewritten on every deploy; edits are lost.',
    ]
    with_backups = fallback and not any(d.split()[0] in _NO_BACKUP_METHODS for d in directives if d.strip())
    for name, servers, port in blocks:
        weighted = sorted((s, 1) if isinstance(s, str) else tuple(s) for s in servers)
        lines.append('upstream %s {' % name)
        lines.extend('    %s;' % directive for directive in directives)
        for server, weight in weighted:
            if weight:
                extra = ' weight=%d' % weight if weight != 1 else ''
                lines.append('    server %s:%d %s%s;' % (server, port, server_options, extra))
        if with_backups:
            # The fallback tier: the same replicas, never taken out (see above).
            lines.extend(
                '    server %s:%d max_fails=0 backup;' % (server, port) for server, weight in weighted if weight
            )
        if not any(weight for _server, weight in weighted):
            # nginx needs one server per upstream; this one never takes traffic.
            lines.append('    server 127.0.0.1:9 down;  # no live container')
        if keepalive:
            lines.append('    keepalive %d;' % keepalive)
            lines.append('    keepalive_timeout %ds;' % keepalive_timeout)
        lines.append('}')
    return '\n'.join(lines) + '\n'


def placeholder_path(upstream_dir, name):
    """Where the edge role keeps a stand-in upstream until the first deploy (docs/deploy.md)."""
    return os.path.join(upstream_dir, '%s.placeholder.conf' % name)


class EdgeUpstream:
    """The upstream file of one project and the edge container that reads it."""

    def __init__(self, engine, container, upstream_dir, project, reload_timeout=DEFAULT_RELOAD_TIMEOUT):
        self.engine = engine
        self.container = container
        self.upstream_dir = upstream_dir
        self.path = os.path.join(upstream_dir, '%s.conf' % project)
        self.nginx = EdgeNginx(engine, container, reload_timeout)

    def current_text(self):
        try:
            with open(self.path, encoding='utf-8') as handle:
                return handle.read()
        except FileNotFoundError:
            return None

    def edge_running(self):
        data = self.engine.inspect_container(self.container)
        return bool(data and data['State'].get('Running'))

    def is_current(self, text, upstream_names):
        """Whether the file holds text and nginx serves it (read it after the file was last written)."""
        if self.current_text() != text or self._stale_placeholders(upstream_names):
            return False
        return self._loaded()

    def _loaded(self):
        """Whether nginx read the file after it was last written (nothing to read when the edge is not running)."""
        return not self.edge_running() or self.nginx.loaded_since(os.stat(self.path).st_mtime)

    def apply(self, text, upstream_names):
        """Make nginx serve text; returns whether anything changed. Raises DockerCLIError when nginx refuses it.

        A file that already holds text is reloaded when nginx has not read it since it was written:
        a run killed between writing it and the reload leaves it so.
        """
        previous = self.current_text()
        stale_placeholders = self._stale_placeholders(upstream_names)
        if previous == text and not stale_placeholders:
            if self._loaded():
                return False
            self.nginx.reload()
            return True
        os.makedirs(self.upstream_dir, mode=0o755, exist_ok=True)
        placeholders = {p: _read(p) for p in stale_placeholders}
        write_atomic(self.path, text, mode=0o644)
        for path in stale_placeholders:
            os.unlink(path)
        if self.edge_running():
            self._test_and_reload(previous, placeholders)
        return True

    def write_unloaded(self, text):
        """Write the file without a reload, for containers nginx cannot resolve yet (created, not started):
        whoever starts them reloads nginx."""
        os.makedirs(self.upstream_dir, mode=0o755, exist_ok=True)
        write_atomic(self.path, text, mode=0o644)

    def snapshot(self, upstream_names):
        """{path: text or None} of the project's upstream file and placeholders, for restore()."""
        paths = [self.path] + [placeholder_path(self.upstream_dir, n) for n in upstream_names]
        return {path: _read(path) if os.path.exists(path) else None for path in paths}

    def restore(self, snapshot):
        """Put the files of snapshot() back byte for byte and signal a reload; returns whether any differed.

        Called while a failure is handled: the reload is not waited for, so it cannot hide that failure.
        """
        differ = {p: t for p, t in snapshot.items() if (_read(p) if os.path.exists(p) else None) != t}
        for path, text in differ.items():
            if text is None:
                os.unlink(path)
            else:
                write_atomic(path, text, mode=0o644)
        if differ and self.edge_running():
            self.nginx.signal_reload()
        return bool(differ)

    def _stale_placeholders(self, upstream_names):
        return [p for p in (placeholder_path(self.upstream_dir, n) for n in upstream_names) if os.path.exists(p)]

    def _test_and_reload(self, previous, placeholders):
        rc, out, err = self.engine.exec(self.container, ['nginx', '-t'])
        if rc != 0:
            self._restore(previous, placeholders)
            raise DockerCLIError(
                'nginx in %s rejected the new upstreams, the previous file is back in place: %s'
                % (self.container, (err or out).strip()),
                cmd=['docker', 'exec', self.container, 'nginx', '-t'],
                rc=rc,
                stdout=out,
                stderr=err,
            )
        try:
            self.nginx.reload()
        except DockerCLIError as exc:
            # The file must name what nginx serves: the next edge start reads it, and the new
            # containers it names are removed now. nginx reloads the old file when it can.
            self._restore(previous, placeholders)
            self.nginx.signal_reload()
            raise DockerCLIError(
                '%s; the previous file is back in place' % exc.msg, cmd=exc.cmd, rc=exc.rc, stderr=exc.stderr
            ) from None

    def _restore(self, previous, placeholders):
        if previous is None:
            os.unlink(self.path)
        else:
            write_atomic(self.path, previous, mode=0o644)
        for path, text in placeholders.items():
            write_atomic(path, text, mode=0o644)


def _read(path):
    with open(path, encoding='utf-8') as handle:
        return handle.read()
