# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to the auraspeak.ops collection: its API may change
# without notice. It runs the steps of a canary: shift a share of the traffic
# to the new release, then judge it against the old one over the same window,
# every `poll` seconds, so a bad release is caught within seconds instead of at
# the end of the step. The caller owns the edge and the containers: it passes
# shift(percent) and gets the steps back, or a CanaryBreach to act on.

from __future__ import annotations

import time

from ansible_collections.auraspeak.ops.plugins.module_utils._analysis.verdict import FAIL, INCONCLUSIVE, PASS, judge

DEFAULT_SETTINGS = {
    'steps': [10, 50],
    'interval': 30,
    'poll': 1.0,
    # The first step ignores the new replicas' first seconds of traffic (both
    # releases' requests, to keep the window shared): a fresh process opens
    # its database connections and compiles its hot paths, and a p95 of 50
    # requests would count those few slow ones (measured: 113 ms against 16 ms).
    'warmup': 5,
    # A step fails after this many failed verdicts in a row, each drawn on
    # requests the one before it did not see: a p95 over a few dozen requests
    # jumps when the host is busy for a moment (measured: 2.3 s against 985 ms
    # while ansible-test ran beside a healthy release), and a window that kept
    # those requests would fail every verdict after them; a bad release keeps
    # failing on fresh requests.
    'failure_limit': 3,
    # A step without enough requests for a verdict waits up to this long, then
    # low_traffic decides: promote (the step is recorded as inconclusive) or rollback.
    'max_interval': 30,
    'low_traffic': 'promote',
    'thresholds': {},
}


class CanaryBreach(Exception):
    """A step judged the new release worse than the old one."""

    def __init__(self, step, steps):
        super().__init__(step['reason'])
        self.step = step
        self.steps = steps


def check_steps(steps):
    """The error message for a bad list of canary weights, or None."""
    if not steps:
        return None
    if any(not isinstance(s, int) or s < 1 or s > 99 for s in steps):
        return 'each step is a share of the traffic in per cent, from 1 to 99 (100 %% is the promotion): got %s' % steps
    if list(steps) != sorted(set(steps)):
        return 'steps must increase: got %s' % steps
    return None


class Canary:
    def __init__(self, shift, source, settings, clock=time.time, sleep=time.sleep):
        self.shift = shift
        self.source = source  # .figures(groups, since, until) -> {'canary': Figures, 'baseline': Figures}
        self.settings = dict(DEFAULT_SETTINGS, **{k: v for k, v in settings.items() if v is not None})
        self.clock = clock
        self.sleep = sleep

    def run(self, groups):
        """Every step's record; raises CanaryBreach at the first failed one."""
        steps = []
        for index, percent in enumerate(self.settings['steps']):
            step = self._step(percent, groups, self.settings['warmup'] if index == 0 else 0)
            step['source'] = getattr(self.source, 'name', None)
            steps.append(step)
            if step['result'] == FAIL:
                raise CanaryBreach(step, steps)
        return steps

    def _step(self, percent, groups, warmup):
        """One step's record. The interval and the wait for traffic count from the end of the warm-up."""
        self.shift(percent)
        started = self.clock()
        window = started + warmup
        failures = 0
        while True:
            self.sleep(self.settings['poll'])
            now = self.clock()
            if now < window:
                continue
            found = self.source.figures(groups, window, now)
            verdict = judge(found['canary'], found['baseline'], self.settings['thresholds'])
            if verdict['result'] == FAIL:
                failures += 1
                if failures >= self.settings['failure_limit']:
                    return _record(percent, verdict, now - started)
                window = now  # the next verdict waits for requests this one did not see
                continue
            failures = 0 if verdict['result'] == PASS else failures
            # A pass, and the wait for traffic, count from the window's start: after a failed
            # verdict a step passes only on a full interval of requests served since.
            if verdict['result'] == PASS and now - window >= self.settings['interval']:
                return _record(percent, verdict, now - started)
            if verdict['result'] == INCONCLUSIVE and now - window >= self.settings['max_interval']:
                return _record(percent, self._low_traffic(verdict, failures), now - started)

    def _low_traffic(self, verdict, failures):
        if failures:
            verdict['result'] = FAIL
            verdict['reason'] += ' since a failed verdict (a step whose last verdict failed never passes unjudged)'
            return verdict
        if self.settings['low_traffic'] == 'rollback':
            verdict['result'] = FAIL
            verdict['reason'] += ' (low_traffic is rollback: too little traffic fails the release)'
        else:
            verdict['reason'] += ' (low_traffic is promote: the step passes unjudged)'
        return verdict


def _record(percent, verdict, elapsed):
    record = {'weight': percent, 'seconds': round(elapsed, 1)}
    record.update(verdict)
    for breach in record.get('breaches', []):
        breach.pop('sentence', None)
    return record
