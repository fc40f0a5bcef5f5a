# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to the auraspeak.ops collection: its API may change
# without notice. It stops, starts or signals a set of containers through the
# engine client, and says what it did by id, name and state only: never their
# configuration, whose environment holds secrets.

from __future__ import annotations

from ansible_collections.auraspeak.ops.plugins.module_utils._common.engine import EngineError

STATES = ('stopped', 'started', 'signalled')
# States in which a container's process runs: a stop or a signal reaches it, a start has nothing to do.
RUNNING = ('running', 'paused', 'restarting')
# The engine's grace period when a container sets none (`docker stop` without --time).
DEFAULT_GRACE = 10


class Target:
    """One container as found: who it is, what state it was in, how long a stop may take."""

    def __init__(self, inspect):
        self.id = inspect['Id']
        self.name = inspect['Name'].lstrip('/')
        self.status = inspect['State']['Status']
        timeout = inspect['Config'].get('StopTimeout')
        self.grace = DEFAULT_GRACE if timeout is None else timeout

    @property
    def running(self):
        return self.status in RUNNING


def find(engine, containers=None, labels=None):
    """The containers named (ids or names, all must exist), or those carrying every label."""
    if labels:
        return [Target(data) for data in engine.inspect_containers(engine.container_ids(labels))]
    found = {name: engine.inspect_container(name) for name in dict.fromkeys(containers or [])}
    missing = [name for name, data in found.items() if data is None]
    if missing:
        raise EngineError(
            'no container %s on this engine: check the names, or whether it was removed' % ', '.join(missing)
        )
    return list({t.id: t for t in (Target(data) for data in found.values())}.values())


def to_change(targets, state):
    """The targets a run acts on: a stop or a signal on the running ones, a start on the others.

    A signal to a container that does not run is refused: nothing would receive it.
    """
    if state == 'started':
        return [t for t in targets if not t.running]
    if state == 'signalled':
        idle = [t.name for t in targets if not t.running]
        if idle:
            raise EngineError('%s is not running, so no process receives the signal: start it first' % ', '.join(idle))
    return [t for t in targets if t.running]


def apply(engine, changing, state, signal):
    if state == 'stopped':
        engine.stop({t.id: t.grace for t in changing})
    elif state == 'started':
        engine.start([t.id for t in changing])
    else:
        for target in changing:
            engine.kill(target.id, signal)


def report(targets, changing):
    """What the module returns: id, name, state before, and whether it acted on each."""
    acted = {t.id for t in changing}
    return [{'id': t.id, 'name': t.name, 'status': t.status, 'changed': t.id in acted} for t in targets]
