# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to the auraspeak.ops collection: its API may change without notice.
"""Replica counts of a stack whose definitions stay: stopping services and bringing them back.

restore.yml stops the app, then PostgreSQL, by running the stack with 0 replicas of
them (stack_deploy's replicas option); the next run without the option finds the
counts differ from the stack's and scales them back, PostgreSQL before the app.
A count scaled by hand (docker service scale) is brought back the same way.
"""

from __future__ import annotations

START_ORDER_LABEL = 'io.auraspeak.ops.start-order'
# Swarm's task states once a task's container has stopped for good.
STOPPED_STATES = ('complete', 'shutdown', 'failed', 'rejected', 'orphaned', 'remove')


class ScaleError(ValueError):
    pass


def replicas_of(service_spec):
    """The replica count of a replicated service as Swarm has it, None for a global one."""
    mode = service_spec.get('Mode') or {}
    return mode['Replicated'].get('Replicas', 1) if 'Replicated' in mode else None


def scaling(stack, current, actions, overrides):
    """{service: (replicas now, replicas wanted)} of the services whose definition stays but whose count differs.

    overrides: {service: replicas} for this run instead of the stack's; only for a stack
    whose definitions all stay, since docker stack deploy would set every count back.
    """
    unknown = sorted(set(overrides) - set(stack['services']))
    if unknown:
        raise ScaleError('replicas names %s, which the stack does not have' % ', '.join(unknown))
    changing = sorted(name for name, action in actions.items() if action != 'unchanged')
    if overrides and changing:
        raise ScaleError(
            'replicas applies to a stack whose definition stays, but %s would change: deploy without replicas first'
            % ', '.join(changing)
        )
    changes = {}
    for name, action in actions.items():
        if action != 'unchanged':
            continue
        have = replicas_of(current[name]['Spec'])
        if have is None:
            continue
        want = int(overrides.get(name, stack['services'][name]['deploy'].get('replicas', 1)))
        if have != want:
            changes[name] = (have, want)
    return changes


def scale_order(stack, changes):
    """The services to scale, in order: those that go down first, the app before what it uses; then those that
    come up, what the app uses first (the compose backend's start order labels)."""

    def start_order(name):
        labels = stack['services'][name].get('labels') or {}
        return int(labels.get(START_ORDER_LABEL, 50)), name

    downs = sorted((name for name, (have, want) in changes.items() if want < have), key=start_order, reverse=True)
    ups = sorted((name for name, (have, want) in changes.items() if want > have), key=start_order)
    return downs + ups
