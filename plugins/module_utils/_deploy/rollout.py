# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to the auraspeak.ops collection: its API may change
# without notice. It carries out a deploy plan: recreate the stateful services
# through Compose, run the migration, and roll the stateless ones - new
# containers beside the old, health gate, edge switch, drain, graceful stop.
# Whatever fails before the switch leaves the old containers serving.

from __future__ import annotations

import contextlib
import time

from ansible_collections.auraspeak.ops.plugins.module_utils._analysis.canary import Canary, CanaryBreach
from ansible_collections.auraspeak.ops.plugins.module_utils._analysis.prometheus import PrometheusError
from ansible_collections.auraspeak.ops.plugins.module_utils._common.docker_cli import DockerCLIError, tail
from ansible_collections.auraspeak.ops.plugins.module_utils._common.lock_heartbeat import LockLost
from ansible_collections.auraspeak.ops.plugins.module_utils._deploy.containers import (
    failure_details,
    project_containers,
    upstream_addresses,
    wait_until_healthy,
)
from ansible_collections.auraspeak.ops.plugins.module_utils._deploy.edge_upstream import (
    canary_directives,
    render_upstreams,
    split_traffic,
)
from ansible_collections.auraspeak.ops.plugins.module_utils._deploy.plan import ROLLING
from ansible_collections.auraspeak.ops.plugins.module_utils._deploy.readiness import answer_of, wait_until_ready


class DeployFailed(Exception):
    """The release could not go live; the previous one still serves.

    status is what the ledger records: failed, or rolled_back when the release
    served a share of the traffic and the analysis sent it all back.
    """

    def __init__(self, reason, status='failed', **details):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.details = details


class Rollout:
    def __init__(self, engine, project, edge, settings, sleep=time.sleep):
        self.engine = engine
        self.project = project
        self.edge = edge  # an EdgeSwitch, or None when no edge fronts the services
        # health_timeout, drain_timeout, migrate, and analysis: None, or the canary
        # settings with 'source', a function (since) -> a started figures source.
        self.settings = settings
        self.sleep = sleep
        self.actions = {}
        self.durations = {}
        # {service: count} of stopped replicas removed to make room for the new ones, while
        # the release is not live: a failed run creates them again (stopped), as it found them.
        self.stopped_removed = {}

    def run(self, plans):
        recreate = [p for p in plans.values() if p.spec.strategy != ROLLING and p.changes]
        rolling = [p for p in plans.values() if p.spec.strategy == ROLLING and p.changes]
        if recreate:
            self._still_locked('recreating %s: nothing was changed' % ', '.join(p.spec.name for p in recreate))
            self._timed('recreate', self._recreate, recreate)
        if self._migration_needed(plans):
            self._timed('migrate', self._migrate)
        live = {p.spec.name: list(p.keep) for p in plans.values() if p.spec.strategy == ROLLING}
        for plan in rolling:
            self._timed('rolling:' + plan.spec.name, self._roll, plan, live)
        if self.edge and not rolling:
            self.edge.switch(live)
        return live

    def _still_locked(self, before):
        """Stop before the next step when another run took the deploy lock over: it may be deploying now."""
        check = self.settings.get('lock_check')
        try:
            if check:
                check()
        except LockLost as exc:
            raise DeployFailed('%s; this run stopped before %s' % (exc, before)) from None

    def _timed(self, name, function, *args):
        started = time.monotonic()
        try:
            return function(*args)
        finally:
            self.durations[name] = round(time.monotonic() - started, 2)

    # -- stateful services ---------------------------------------------------

    def _recreate(self, plans):
        names = [p.spec.name for p in plans]
        try:
            self.project.up(names, wait_timeout=self.settings['health_timeout'])
        except DockerCLIError as exc:
            containers = [c for c in project_containers(self.engine, self.project.name) if c.service in names]
            broken = [c for c in containers if not c.running or c.health not in (None, 'healthy')]
            raise DeployFailed(
                'services %s did not come up healthy: %s' % (', '.join(names), _last_line(exc.stderr or exc.msg)),
                failed_containers=failure_details(self.engine, broken),
            ) from None
        for name in names:
            self.actions[name] = 'recreated'

    # -- migration -----------------------------------------------------------

    def _migration_needed(self, plans):
        migrate = self.settings.get('migrate')
        return bool(migrate) and plans[migrate['service']].changes

    def _migrate(self):
        migrate = self.settings['migrate']
        if migrate.get('before'):
            self._before_migration(migrate['before'])
        self._still_locked('the migration: nothing was migrated or switched')
        rc, out, err = self.project.run_once(migrate['service'], migrate['command'])
        if rc != 0:
            raise DeployFailed(
                'the migration (%s) failed with exit code %d; nothing was switched'
                % (' '.join(migrate['command']), rc),
                migration_output=tail((out or '') + (err or ''), 40),
            )
        self.actions['migration'] = tail(out, 5)
        if migrate.get('after'):
            self._after_migration(migrate['after'])

    def _after_migration(self, command):
        """The migrated database is in place; a failure here is a warning, the release goes on."""
        rc, out, err = self.settings['run_host_command'](command)
        if rc != 0:
            self.settings['warn'](
                'the command after the migration (%s) failed with exit code %d: %s'
                % (' '.join(command), rc, _last_line((err or '') + (out or '')))
            )
            return
        self.actions['after_migration'] = (out or '').strip()

    def _before_migration(self, command):
        rc, out, err = self.settings['run_host_command'](command)
        if rc != 0:
            raise DeployFailed(
                'the command before the migration (%s) failed with exit code %d; nothing was migrated or switched'
                % (' '.join(command), rc),
                before_migration_output=tail((out or '') + (err or ''), 40),
            )
        self.actions['before_migration'] = (out or '').strip()

    # -- stateless services ---------------------------------------------------

    def _roll(self, plan, live):
        service = plan.spec.name
        stopped = [c for c in plan.remove if not c.running]
        running_old = [c for c in plan.remove if c.running]
        self._still_locked('starting new %s containers: nothing was switched' % service)
        if stopped:
            # Compose would start them instead of creating new containers.
            self._remove(stopped)
            self.stopped_removed[service] = len(stopped)
        new = self._start_new(plan) if plan.add else []
        if new:
            self._gate(plan, new)
            try:
                self._still_locked('traffic reached the new %s containers: nothing was switched' % service)
            except DeployFailed:
                self._remove(new)
                raise
        # The old release, still serving: what a canary is judged against. A
        # run killed during the analysis leaves both; this run judges them again.
        baseline = [c for c in running_old if not plan.spec.is_current(c)]
        canary = list(plan.keep) + new
        if self.edge and self.settings.get('analysis') and baseline and canary:
            self._analyse(plan, live, baseline, canary)
        live[service] = canary
        if self.edge:
            try:
                self.edge.switch(live)
            except DockerCLIError as exc:
                self._remove(new)
                raise DeployFailed(exc.msg) from None
        self.stopped_removed.pop(service, None)
        if running_old:
            if self.edge:
                self.sleep(self.settings['drain_timeout'])
            self._retire(running_old)
        self.actions[service] = {
            'started': [c.name for c in new],
            'stopped': [c.name for c in running_old],
            'removed': [c.name for c in stopped],
        }

    def _analyse(self, plan, live, baseline, canary):
        """Canary steps at the edge; on a breach all traffic goes back to baseline and canary is stopped."""
        service = plan.spec.name
        settings = self.settings['analysis']
        groups = {
            'canary': upstream_addresses(canary, plan.spec.port),
            'baseline': upstream_addresses(baseline, plan.spec.port),
        }

        def shift(percent):
            old, new = split_traffic(len(baseline), len(canary), percent)
            weights = dict([(c.name, old) for c in baseline] + [(c.name, new) for c in canary])
            self.edge.switch(dict(live, **{service: baseline + canary}), weights)

        source = settings['source'](time.time())
        try:
            self.actions['analysis'] = Canary(shift, source, settings, sleep=self.sleep).run(groups)
        except CanaryBreach as breach:
            self.actions['analysis'] = breach.steps
            self.edge.switch(dict(live, **{service: baseline}))
            self.sleep(min(self.settings['drain_timeout'], 2))
            self._stop_and_remove(canary)
            raise DeployFailed(
                'the release was rolled back at the %d %% step after %.0f s: %s; all traffic is back on the '
                'previous release' % (breach.step['weight'], breach.step['seconds'], breach.step['reason']),
                status='rolled_back',
                analysis=breach.steps,
            ) from None
        except (DockerCLIError, PrometheusError) as exc:
            # No figures, no verdict: the release is not promoted unjudged.
            self.edge.switch(dict(live, **{service: baseline}))
            self._remove(canary)
            raise DeployFailed('%s; all traffic is back on the previous release' % getattr(exc, 'msg', exc)) from None
        finally:
            source.stop()

    def _start_new(self, plan):
        service = plan.spec.name
        before = {c.id for c in project_containers(self.engine, self.project.name) if c.service == service}
        running = len([c for c in plan.keep + plan.remove if c.running])
        self.project.up([service], scale={service: running + plan.add}, no_recreate=True)
        return [
            c for c in project_containers(self.engine, self.project.name) if c.service == service and c.id not in before
        ]

    def _gate(self, plan, new):
        """The health gate: new containers must be healthy in time, or they go and the old ones stay.

        A container without a health check of its own is probed by the deploy at the
        service's health_path, when it has one: running and answering 200 is healthy.
        """
        spec = plan.spec
        missing = [c.name for c in new if not c.has_healthcheck]
        if missing and not spec.health_path:
            self._remove(new)
            raise DeployFailed(
                'service %s has no health check (%s): a rolling deploy needs one to know when new '
                'containers can take traffic; add a healthcheck to the service or a HEALTHCHECK to '
                'its image, or give the deploy a path to probe (services[].health_path; the app '
                "role's app_health_path)" % (spec.name, ', '.join(missing))
            )
        probe = (lambda container: answer_of(container, spec.port, spec.health_path)) if missing else None
        result = wait_until_healthy(self.engine, [c.id for c in new], self.settings['health_timeout'], probe=probe)
        if result.failed:
            details = failure_details(self.engine, result.failed)
            self._remove(new)
            raise DeployFailed(
                'new %s containers were %s; they were removed and %s'
                % (plan.spec.name, result.reason, _what_serves(plan)),
                failed_containers=details,
            )
        if plan.spec.readiness_path and plan.spec.port:
            self._ready(plan, result.healthy)

    def _ready(self, plan, healthy):
        """The readiness gate: healthy is alive; each new container must also answer its readiness path."""
        path, timeout = plan.spec.readiness_path, self.settings['health_timeout']
        answers = wait_until_ready(healthy, plan.spec.port, path, timeout, sleep=self.sleep)
        if answers:
            self._remove(healthy)
            raise DeployFailed(
                'new %s containers were not ready within %d s (GET %s on port %d): %s; they were removed and %s'
                % (
                    plan.spec.name,
                    timeout,
                    path,
                    plan.spec.port,
                    '; '.join('%s %s' % kv for kv in sorted(answers.items())),
                    _what_serves(plan),
                ),
                not_ready=answers,
            )

    def _retire(self, containers):
        """Stop and remove the old set once the new one serves: the release is live, so a failure is a warning."""
        try:
            self._stop_and_remove(containers)
        except DockerCLIError as exc:
            # One container failing (gone already, a daemon error) must not keep the others.
            self._remove(containers)
            left = [c.name for c in containers if self.engine.inspect_container(c.id) is not None]
            if left:
                self.settings['warn'](
                    'the release is live, but the old containers %s could not be removed (%s); the next deploy '
                    'removes them' % (', '.join(left), _last_line(exc.stderr or exc.msg))
                )

    def _stop_and_remove(self, containers):
        # A stop sends each container's stop signal and waits its
        # stop_grace_period (Compose sets both on the container).
        self.engine.stop({c.id: c.stop_timeout for c in containers})
        # A retired replica's anonymous volumes (an image's VOLUME) go with it; named ones stay.
        self.engine.remove([c.id for c in containers])

    def _remove(self, containers):
        """Best effort, while a failure is handled: what cannot go now, the next deploy removes."""
        with contextlib.suppress(DockerCLIError):
            self.engine.remove([c.id for c in containers], force=True)


class EdgeSwitch:
    """Points the edge at the live containers of every rolling service."""

    def __init__(self, upstream, project, specs, directives, options):
        self.upstream = upstream
        self.project = project
        self.specs = {s.name: s for s in specs if s.strategy == ROLLING}
        self.directives = directives
        self.options = options  # server_options, keepalive, keepalive_timeout, fallback
        self.changed = False

    def blocks(self, live):
        return [
            (spec.upstream, [c.name for c in live.get(name, [])], spec.port)
            for name, spec in sorted(self.specs.items())
        ]

    def render(self, live, weights=None):
        blocks = [
            (name, [(server, (weights or {}).get(server, 1)) for server in servers], port)
            for name, servers, port in self.blocks(live)
        ]
        directives = self.directives if weights is None else canary_directives(self.directives)
        return render_upstreams(self.project, blocks, directives, **self.options)

    def is_current(self, live):
        """Whether nginx serves live: the file says so and nginx has read it since."""
        return self.upstream.is_current(self.render(live), self._upstream_names())

    def snapshot(self):
        return self.upstream.snapshot(self._upstream_names())

    def name_stopped(self, live):
        """Point the file at live whose containers are stopped: nginx reads it when whoever starts them reloads it."""
        self.upstream.write_unloaded(self.render(live))

    def restore(self, snapshot):
        """The edge's files as snapshot() found them (a deploy that did not go live)."""
        return self.upstream.restore(snapshot)

    def switch(self, live, weights=None):
        """Point the edge at live ({service: containers}); weights ({name: weight}) during a canary.

        Returns once nginx serves the new file; raises DockerCLIError, with the old file back, when it does not.
        """
        changed = self.upstream.apply(self.render(live, weights), self._upstream_names())
        self.changed = self.changed or changed

    def _upstream_names(self):
        return [s.upstream for s in self.specs.values()]


def _what_serves(plan):
    """What a release that did not go live leaves serving."""
    if any(c.running for c in plan.keep + plan.remove):
        return 'the previous release keeps serving'
    if plan.keep or plan.remove:
        return 'no %s container ran before this run either: they were stopped' % plan.spec.name
    return 'no %s container ran before this run either' % plan.spec.name


def _last_line(text):
    lines = tail(text, 1)
    return lines[0] if lines else ''
