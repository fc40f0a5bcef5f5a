# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to the auraspeak.ops collection: its API may change
# without notice. It decides, from what the engine reports, what a deploy must
# do to each service. Pure logic: no engine calls, so check mode and the unit
# tests use exactly the planning the real run uses.

from __future__ import annotations

ROLLING = 'rolling'
RECREATE = 'recreate'


class ServiceSpec:
    """What a service should look like after the deploy."""

    def __init__(
        self,
        name,
        strategy,
        replicas,
        config_hash,
        image_id,
        port=None,
        upstream=None,
        readiness_path=None,
        health_path=None,
    ):
        self.name = name
        self.strategy = strategy
        self.replicas = replicas
        self.config_hash = config_hash
        self.image_id = image_id  # None when the image is not on the host yet
        self.port = port
        self.readiness_path = readiness_path
        # Probed by the deploy for containers without a health check of their own.
        self.health_path = health_path
        self.upstream = upstream

    def is_current(self, container):
        return (
            container.config_hash == self.config_hash
            and self.image_id is not None
            and container.image_id == self.image_id
        )


class ServicePlan:
    """The action for one service and the containers it concerns.

    keep: up-to-date healthy containers that stay; add: how many new ones to
    start; remove: containers to take out of traffic, stop and remove.
    """

    def __init__(self, spec, action, reason, keep=(), add=0, remove=()):
        self.spec = spec
        self.action = action
        self.reason = reason
        self.keep = list(keep)
        self.add = add
        self.remove = list(remove)

    @property
    def changes(self):
        return self.action != 'none'

    def as_dict(self):
        return {
            'strategy': self.spec.strategy,
            'action': self.action,
            'reason': self.reason,
            'replicas': self.spec.replicas,
            'keep': [c.name for c in self.keep],
            'add': self.add,
            'remove': [c.name for c in self.remove],
        }


def plan_service(spec, containers):
    mine = [c for c in containers if c.service == spec.name]
    if spec.strategy == ROLLING:
        return _plan_rolling(spec, mine)
    return _plan_recreate(spec, mine)


def plan_services(specs, containers):
    return {spec.name: plan_service(spec, containers) for spec in specs}


def _plan_rolling(spec, mine):
    # A replica still starting is not proven: it is replaced, not trusted.
    usable = [c for c in mine if spec.is_current(c) and c.running and c.health in ('healthy', None)]
    keep = usable[: spec.replicas]
    remove = [c for c in mine if c not in keep]
    add = spec.replicas - len(keep)
    if not mine:
        return ServicePlan(spec, 'create', 'no container runs yet', add=add)
    if add == 0 and not remove:
        return ServicePlan(spec, 'none', 'up to date', keep=keep)
    if add == 0:
        return ServicePlan(spec, 'scale', _why_remove(spec, remove, usable), keep=keep, remove=remove)
    return ServicePlan(spec, 'update', _why_update(spec, mine, keep), keep=keep, add=add, remove=remove)


def _plan_recreate(spec, mine):
    if not mine:
        return ServicePlan(spec, 'create', 'no container runs yet')
    outdated = [c for c in mine if not spec.is_current(c)]
    stopped = [c for c in mine if not c.running]
    if not outdated and not stopped and len(mine) == spec.replicas:
        return ServicePlan(spec, 'none', 'up to date', keep=mine)
    if outdated:
        reason = _outdated_reason(spec, outdated)
    elif stopped:
        reason = '%s not running' % ', '.join(c.name for c in stopped)
    else:
        reason = '%d containers, %d wanted' % (len(mine), spec.replicas)
    return ServicePlan(spec, 'update', reason, remove=outdated)


def _why_update(spec, mine, keep):
    outdated = [c for c in mine if not spec.is_current(c)]
    if outdated:
        return _outdated_reason(spec, outdated)
    return '%d of %d replicas healthy and current' % (len(keep), spec.replicas)


def _why_remove(spec, remove, usable):
    if len(usable) > spec.replicas:
        return '%d replicas run, %d wanted' % (len(usable), spec.replicas)
    return '%s not current or not healthy' % ', '.join(c.name for c in remove)


def _outdated_reason(spec, outdated):
    if spec.image_id is None:
        return 'the image is not on the host yet'
    if any(c.config_hash != spec.config_hash for c in outdated):
        return 'the service configuration changed'
    return 'the image changed'
