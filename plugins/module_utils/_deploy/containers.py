# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to the auraspeak.ops collection: its API may change
# without notice. It reads the containers of a compose project from the engine
# and waits for their health, for compose_deploy.

from __future__ import annotations

import time

from ansible_collections.auraspeak.ops.plugins.module_utils._common.engine import EngineError
from ansible_collections.auraspeak.ops.plugins.module_utils._deploy.compose_cli import (
    LABEL_CONFIG_HASH,
    LABEL_NUMBER,
    LABEL_ONEOFF,
    LABEL_PROJECT,
    LABEL_SERVICE,
)

POLL_INTERVAL = 0.5
DEFAULT_STOP_TIMEOUT = 10


class Container:
    """What the deploy needs to know of one container, from `docker inspect`."""

    def __init__(self, data):
        config = data.get('Config') or {}
        labels = config.get('Labels') or {}
        state = data.get('State') or {}
        self.id = data['Id']
        self.name = data['Name'].lstrip('/')
        self.service = labels.get(LABEL_SERVICE)
        self.number = int(labels.get(LABEL_NUMBER) or 0)
        self.config_hash = labels.get(LABEL_CONFIG_HASH)
        self.oneoff = labels.get(LABEL_ONEOFF) == 'True'
        self.image_id = data.get('Image')
        self.image_ref = config.get('Image')
        self.status = state.get('Status')
        self.health = (state.get('Health') or {}).get('Status')
        self.health_log = [entry.get('Output', '').strip() for entry in (state.get('Health') or {}).get('Log') or []]
        self.has_healthcheck = bool((config.get('Healthcheck') or {}).get('Test')) and (
            config['Healthcheck']['Test'][0] != 'NONE'
        )
        self.exit_code = state.get('ExitCode')
        networks = (data.get('NetworkSettings') or {}).get('Networks') or {}
        self.addresses = sorted(n['IPAddress'] for n in networks.values() if n.get('IPAddress'))
        self.created = data.get('Created') or ''  # RFC 3339 from the engine: sorts as text
        # The stop signal's grace period compose set (stop_grace_period); the engine's default otherwise.
        self.stop_timeout = config.get('StopTimeout') or DEFAULT_STOP_TIMEOUT

    @property
    def running(self):
        return self.status == 'running'

    def summary(self):
        return {'id': self.id[:12], 'name': self.name, 'status': self.status, 'health': self.health}


def upstream_addresses(containers, port):
    """The 'ip:port' strings nginx logs as $upstream_addr for these containers."""
    return {'%s:%d' % (address, port) for c in containers for address in c.addresses}


def inspect_containers(engine, ids):
    """Every one of ids, inspected; one that no longer exists is an error (someone removed it under us)."""
    containers = [Container(item) for item in engine.inspect_containers(ids)]
    gone = set(ids) - {c.id for c in containers}
    if gone:
        raise EngineError(
            'the containers %s were removed while the deploy waited for them: find out who removed them '
            '(docker events) and run the deploy again' % ', '.join(sorted(i[:12] for i in gone))
        )
    return containers


def project_containers(engine, project):
    """The service containers of a project (one-off `compose run` containers left out)."""
    ids = engine.container_ids(labels=['%s=%s' % (LABEL_PROJECT, project)])
    containers = [Container(item) for item in engine.inspect_containers(ids)]  # those removed meanwhile left out
    return sorted((c for c in containers if not c.oneoff and c.service), key=lambda c: (c.service, c.number))


class HealthWaitResult:
    def __init__(self, healthy, failed, reason):
        self.healthy = healthy
        self.failed = failed
        self.reason = reason


def wait_until_healthy(engine, ids, timeout, probe=None, clock=time.monotonic, sleep=time.sleep):
    """Poll until every container is healthy, one fails, or timeout seconds pass.

    A container with a health check of its own is healthy when the engine says so.
    One without is healthy once it runs and probe(container) answers (200, body):
    the deploy's own HTTP check, for images that carry no health-check tool.
    A container fails when it stops, restarts, or its health check reports
    unhealthy. Returns a HealthWaitResult; never raises for a failed container.
    """
    deadline = clock() + timeout
    answers = {}
    while True:
        containers = inspect_containers(engine, ids)
        failed = [c for c in containers if c.status in ('exited', 'dead', 'restarting') or c.health == 'unhealthy']
        if failed:
            return HealthWaitResult([], failed, 'not healthy: ' + ', '.join(_describe(c, answers) for c in failed))
        for container in containers:
            if probe and not container.has_healthcheck and container.running and not _healthy(container, answers):
                answers[container.id] = probe(container)
        waiting = [c for c in containers if not _healthy(c, answers)]
        if not waiting:
            return HealthWaitResult(containers, [], None)
        if clock() >= deadline:
            return HealthWaitResult(
                [],
                waiting,
                'not healthy within %d s: %s' % (timeout, ', '.join(_describe(c, answers) for c in waiting)),
            )
        sleep(POLL_INTERVAL)


def _healthy(container, answers):
    if container.has_healthcheck:
        return container.health == 'healthy'
    return answers.get(container.id, (None, ''))[0] == 200


def _describe(container, answers):
    if container.status != 'running':
        return '%s %s (exit code %s)' % (container.name, container.status, container.exit_code)
    if container.id in answers:
        status, body = answers[container.id]
        return '%s %s' % (container.name, ('answered %d: %s' % (status, body)) if status else 'no answer: ' + body)
    return '%s %s' % (container.name, container.health or 'without health status')


def failure_details(engine, containers, log_lines=30):
    """Health log and last log lines of each failed container, for the error report."""
    details = []
    for container in containers:
        output = engine.logs(container.id, tail=log_lines) or ''
        details.append(
            {
                'container': container.name,
                'status': container.status,
                'health': container.health,
                'health_log': container.health_log[-3:],
                'log_tail': output.splitlines()[-log_lines:],
            }
        )
    return details
