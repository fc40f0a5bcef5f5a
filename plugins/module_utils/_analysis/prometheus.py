# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to the auraspeak.ops collection: its API may change
# without notice. It reads what the edge served each release from Prometheus:
# the counts the edge role's mtail keeps per upstream address (job "edge"),
# which Prometheus scrapes every scrape interval. A window is counted between
# two scrapes of the edge, exactly (the counters' difference), never
# extrapolated: requests served after the edge's last scrape are not in
# Prometheus yet, so a verdict waits for them instead of drawing on data that
# does not include the new release. Releases are told apart by their
# containers' addresses, which the caller knows from the engine, so the
# verdict does not wait for Prometheus to discover the new replicas either.

from __future__ import annotations

import json
import math
import time
import urllib.parse

from ansible.module_utils.urls import open_url

from ansible_collections.auraspeak.ops.plugins.module_utils._analysis.verdict import Figures

EDGE_JOB = 'edge'
REQUESTS = 'edge_http_requests_total'
RETRIES = 'edge_upstream_retries_total'
BUCKETS = 'edge_http_request_duration_seconds_bucket'
# The counts at the window's first scrape are read from samples up to this long before it: a counter
# that did not change in that time keeps its value (mtail exports no timestamps, so every scrape
# stores a sample; the margin covers a missed scrape or two).
LOOKBACK = 60


class PrometheusError(Exception):
    """Prometheus could not be asked, or refused the query; the message says which and why."""


def window_scrapes(scrape_times, since, until):
    """(first, last) scrape of one edge instance inside [since, until], or None with fewer than two."""
    inside = sorted(t for t in scrape_times if since <= t <= until)
    if len(inside) < 2:
        return None
    return inside[0], inside[-1]


def value_at(samples, moment):
    """A counter's value at a scrape: its newest sample at or before it, 0 before its first one."""
    older = [value for when, value in samples if when <= moment]
    return older[-1] if older else 0.0


def counted(samples, first, last):
    """What a counter counted between two scrapes; after a reset (mtail restarted), what it counted since."""
    start, end = value_at(samples, first), value_at(samples, last)
    return end - start if end >= start else end


def quantile_from_buckets(buckets, q):
    """The q quantile of a cumulative histogram {upper bound: count}, as Prometheus' histogram_quantile
    interpolates it (linearly inside the bucket, from 0 at the lowest); None without observations."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return None
    rank = q * buckets[bounds[-1]]
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank and count > below:
            if math.isinf(bound):
                return lower  # beyond the highest finite bound: that bound is all that is known
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = max(bound, 0.0), count
    return lower


class HistogramFigures(Figures):
    """Figures whose latencies are a histogram's bucket counts, not each request's time."""

    def __init__(self):
        super().__init__()
        self.buckets = {}

    def add_bucket(self, bound, count):
        self.buckets[bound] = self.buckets.get(bound, 0.0) + count

    def quantile(self, q):
        return quantile_from_buckets(self.buckets, q)


def window_figures(groups, scrapes, series, since, until):
    """{group: HistogramFigures} served between the first and last scrape of each edge instance in the window.

    scrapes: {instance: [scrape times]}; series: {metric name: [(labels, [(time, value), ...]), ...]}.
    An instance scraped fewer than two times in the window adds nothing (the verdict waits).
    """
    owner = {address: name for name, addresses in groups.items() for address in addresses}
    result = {name: HistogramFigures() for name in groups}
    spans = {instance: window_scrapes(times, since, until) for instance, times in scrapes.items()}

    def each(metric):
        for labels, samples in series.get(metric, []):
            name, span = owner.get(labels.get('upstream')), spans.get(labels.get('instance'))
            if name and span:
                yield result[name], labels, counted(samples, *span)

    for figures, labels, count in each(REQUESTS):
        figures.requests += round(count)
        if labels.get('status', '').startswith('5'):
            figures.errors += round(count)
    # A retried attempt failed on this replica: a request and an error of its release (as in the edge log).
    for figures, _labels, count in each(RETRIES):
        figures.requests += round(count)
        figures.errors += round(count)
    for figures, labels, count in each(BUCKETS):
        figures.add_bucket(float(labels['le']), count)
    return result


def answer_data(answer):
    """The data of a Prometheus API answer; PrometheusError when the query was refused."""
    if answer.get('status') != 'success':
        raise PrometheusError('Prometheus refused the query: %s' % answer.get('error', answer))
    return answer.get('data', {})


def parse_matrix(answer):
    """[(labels, [(time, value), ...]), ...] of a Prometheus API answer holding a range vector."""
    data = answer_data(answer)
    if data.get('resultType') != 'matrix':
        raise PrometheusError('Prometheus answered a %s, not a range vector' % data.get('resultType'))
    return [
        (item['metric'], [(float(when), float(value)) for when, value in item['values']]) for item in data['result']
    ]


class PrometheusSource:
    """What the edge served each group of addresses, from the edge's counts in Prometheus."""

    name = 'prometheus'

    def __init__(self, url, timeout=10, fetch=None, clock=time.time):
        self.url = url.rstrip('/')
        self.timeout = timeout
        self.fetch = fetch or self._fetch
        self.clock = clock

    def start(self):
        return self

    def stop(self):
        pass

    def check(self):
        """Raises PrometheusError unless Prometheus answers and an edge target of job "edge" is up."""
        answer = self.fetch('/api/v1/query', {'query': 'up{job="%s"} == 1' % EDGE_JOB})
        if not answer_data(answer).get('result'):
            raise PrometheusError(
                'Prometheus at %s scrapes no edge counts (no target of job "%s" is up): run the monitoring '
                "role with the edge's metrics, or analyse from the edge log" % (self.url, EDGE_JOB)
            )

    def figures(self, groups, since, until=None):
        until = self.clock() if until is None else until
        reach = '%ds' % (math.ceil(until - since) + LOOKBACK)
        # One query a poll: the scrapes (up) and the three counters, told apart by name.
        names = '|'.join(('up', REQUESTS, RETRIES, BUCKETS))
        scrapes, series = {}, {}
        for labels, samples in self.range_vector('{__name__=~"%s",job="%s"}[%s]' % (names, EDGE_JOB, reach), until):
            name = labels.get('__name__')
            if name == 'up':
                # A failed scrape (up 0) stored no counts: it cannot bound a window.
                scrapes.setdefault(labels.get('instance'), []).extend(when for when, value in samples if value == 1)
            else:
                series.setdefault(name, []).append((labels, samples))
        return window_figures(groups, scrapes, series, since, until)

    def range_vector(self, query, moment):
        return parse_matrix(self.fetch('/api/v1/query', {'query': query, 'time': '%.3f' % moment}))

    def _fetch(self, path, params):
        url = '%s%s?%s' % (self.url, path, urllib.parse.urlencode(params))
        try:
            response = open_url(url, timeout=self.timeout, method='GET')
            return json.loads(response.read())
        except Exception as error:  # open_url raises URLError, HTTPError, socket errors, ValueError
            raise PrometheusError(
                "cannot read the edge's counts from Prometheus at %s: %s" % (self.url, error)
            ) from None
