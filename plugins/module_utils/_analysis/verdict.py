# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to the auraspeak.ops collection: its API may change
# without notice. It judges a canary against the baseline (the release it
# replaces) from figures both served over the same window. Pure logic: no
# engine, no clock, so every rule has a unit test (docs/deploy.md, "Release
# analysis").

from __future__ import annotations

import math

PASS = 'pass'
FAIL = 'fail'
INCONCLUSIVE = 'inconclusive'

DEFAULT_THRESHOLDS = {
    # A canary fails on errors when more than this share of its requests got a
    # 5xx (Flagger's built-in check: 99 % success) and its rate is that much
    # above the baseline's too, so a fault both releases share (a database
    # outage) is not blamed on the new one.
    'max_error_rate': 0.01,
    # Latency: the canary's quantile fails when it is above max_latency_ratio
    # times the baseline's and above the absolute floor (seconds); the floor
    # keeps a few cold-start milliseconds from counting.
    'latency_quantile': 0.95,
    'max_latency_ratio': 1.5,
    'latency_floor': 0.1,
    # No verdict before the canary has served this many requests.
    'min_requests': 50,
}
THRESHOLD_OPTIONS = tuple(DEFAULT_THRESHOLDS)
# The same options in the argument specs of compose_deploy (analysis) and release_analysis.
THRESHOLD_ARGUMENT_SPEC = dict(
    min_requests=dict(type='int', default=DEFAULT_THRESHOLDS['min_requests']),
    max_error_rate=dict(type='float', default=DEFAULT_THRESHOLDS['max_error_rate']),
    latency_quantile=dict(type='float', default=DEFAULT_THRESHOLDS['latency_quantile']),
    max_latency_ratio=dict(type='float', default=DEFAULT_THRESHOLDS['max_latency_ratio']),
    latency_floor=dict(type='float', default=DEFAULT_THRESHOLDS['latency_floor']),
)


class Figures:
    """What one release served in a window: request count, 5xx count, latencies (s)."""

    def __init__(self, requests=0, errors=0, latencies=()):
        self.requests = requests
        self.errors = errors
        self.latencies = sorted(latencies)

    def add(self, status, seconds):
        self.requests += 1
        if status >= 500:
            self.errors += 1
        if seconds is not None:
            self.latencies.append(seconds)

    @property
    def error_rate(self):
        return self.errors / self.requests if self.requests else 0.0

    def quantile(self, q):
        """Nearest-rank quantile of the latencies, or None without any."""
        values = sorted(self.latencies)
        if not values:
            return None
        return values[max(0, math.ceil(q * len(values)) - 1)]

    def as_dict(self, q):
        latency = self.quantile(q)
        return {
            'requests': self.requests,
            'errors': self.errors,
            'error_rate': round(self.error_rate, 4),
            'latency_p%g' % (q * 100): None if latency is None else round(latency, 4),
        }


def judge(canary, baseline, thresholds=None):
    """A verdict dict: result (pass, fail, inconclusive), breaches, and both releases' figures."""
    limits = dict(DEFAULT_THRESHOLDS, **(thresholds or {}))
    q = limits['latency_quantile']
    verdict = {'canary': canary.as_dict(q), 'baseline': baseline.as_dict(q), 'breaches': []}
    if canary.requests < limits['min_requests']:
        verdict.update(
            result=INCONCLUSIVE,
            reason='the new release served %d requests, fewer than the %d a verdict needs'
            % (canary.requests, limits['min_requests']),
        )
        return verdict
    breaches = [b for b in (_error_breach(canary, baseline, limits), _latency_breach(canary, baseline, limits)) if b]
    verdict['breaches'] = breaches
    verdict['result'] = FAIL if breaches else PASS
    verdict['reason'] = '; '.join(b['sentence'] for b in breaches) if breaches else 'within every threshold'
    return verdict


def _error_breach(canary, baseline, limits):
    limit = limits['max_error_rate']
    rate, old = canary.error_rate, baseline.error_rate
    if rate <= limit or rate <= old + limit:
        return None
    return {
        'metric': 'error_rate',
        'value': round(rate, 4),
        'threshold': limit,
        'baseline': round(old, 4),
        'sentence': 'error rate %s of %d requests on the new release, above the threshold of %s '
        '(the old release: %s of %d)'
        % (_percent(rate), canary.requests, _percent(limit), _percent(old), baseline.requests),
    }


def _latency_breach(canary, baseline, limits):
    q = limits['latency_quantile']
    name = 'p%g' % (q * 100)
    value, old = canary.quantile(q), baseline.quantile(q)
    if value is None:
        return None
    # Without enough baseline requests the ratio means nothing: the floor alone applies.
    ratio_limit = (
        limits['max_latency_ratio'] * old if old is not None and baseline.requests >= limits['min_requests'] else 0
    )
    limit = max(limits['latency_floor'], ratio_limit)
    if value <= limit:
        return None
    return {
        'metric': 'latency_' + name,
        'value': round(value, 4),
        'threshold': round(limit, 4),
        'baseline': None if old is None else round(old, 4),
        'sentence': "%s latency %s on the new release, above the threshold of %s (%sx the old release's %s, "
        'at least %s)'
        % (
            name,
            _ms(value),
            _ms(limit),
            limits['max_latency_ratio'],
            'n/a' if old is None else _ms(old),
            _ms(limits['latency_floor']),
        ),
    }


def _percent(rate):
    return '%.1f %%' % (rate * 100)


def _ms(seconds):
    return '%d ms' % round(seconds * 1000)
