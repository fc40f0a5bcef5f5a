# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to the auraspeak.ops collection: its API may change
# without notice. It holds the logic of the release_analysis module: judge the
# releases a service runs now from what the edge served them in a recent
# window, with the same verdict compose_deploy draws at each canary step.

from __future__ import annotations

import time

from ansible_collections.auraspeak.ops.plugins.module_utils._analysis.sources import past_figures
from ansible_collections.auraspeak.ops.plugins.module_utils._analysis.verdict import THRESHOLD_OPTIONS, judge
from ansible_collections.auraspeak.ops.plugins.module_utils._common.engine import Engine
from ansible_collections.auraspeak.ops.plugins.module_utils._common.image_ref import InvalidReference, split_reference
from ansible_collections.auraspeak.ops.plugins.module_utils._deploy.containers import (
    project_containers,
    upstream_addresses,
)


class AnalysisInputError(Exception):
    """The module's input names something that does not run; the message says what does."""


def release_of(container):
    """The release a container runs: its image's tag."""
    try:
        return split_reference(container.image_ref or '')[1]
    except InvalidReference:
        return None


def pick_releases(by_release, canary, baseline):
    """(canary, baseline) versions: the asked ones, or the newest running release and the other one."""
    running = sorted(by_release)
    if not running:
        raise AnalysisInputError('no container of the service runs: there is no release to judge')
    for name, version in (('canary', canary), ('baseline', baseline)):
        if version is not None and version not in by_release:
            raise AnalysisInputError("%s '%s' does not run: the service runs %s" % (name, version, ', '.join(running)))
    if canary is None:
        candidates = [r for r in running if r != baseline]
        if baseline is None and len(running) > 2:
            raise AnalysisInputError(
                'the service runs %d releases (%s): name the one to judge with canary'
                % (len(running), ', '.join(running))
            )
        canary = _newest(by_release, candidates)
    if baseline is None:
        rest = [r for r in running if r != canary]
        baseline = rest[0] if len(rest) == 1 else None
    return canary, baseline


def _newest(by_release, versions):
    """The release whose containers were created last."""
    return max(versions, key=lambda v: max(c.created for c in by_release[v]))


def run_release_analysis(module):
    params = module.params
    engine = Engine.from_module(module)
    containers = [
        c for c in project_containers(engine, params['project']) if c.service == params['service'] and c.running
    ]
    by_release = {}
    for container in containers:
        by_release.setdefault(release_of(container), []).append(container)
    canary, baseline = pick_releases(by_release, params['canary'], params['baseline'])
    groups = {
        'canary': upstream_addresses(by_release.get(canary, []), params['port']),
        'baseline': upstream_addresses(by_release.get(baseline, []), params['port']),
    }
    now = time.time()
    found = past_figures(params, engine, params['edge_container'], groups, now - params['window'], now)
    verdict = judge(found['canary'], found['baseline'], {k: params[k] for k in THRESHOLD_OPTIONS})
    verdict['canary'].update(version=canary, containers=sorted(c.name for c in by_release.get(canary, [])))
    verdict['baseline'].update(version=baseline, containers=sorted(c.name for c in by_release.get(baseline, [])))
    for breach in verdict['breaches']:
        breach.pop('sentence', None)
    verdict['window'] = params['window']
    verdict['source'] = params['source']
    return verdict
