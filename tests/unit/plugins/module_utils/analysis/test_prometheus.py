import math
import re

import pytest

from ansible_collections.auraspeak.ops.plugins.module_utils._analysis.prometheus import (
    BUCKETS,
    REQUESTS,
    RETRIES,
    PrometheusError,
    PrometheusSource,
    counted,
    quantile_from_buckets,
    window_figures,
    window_scrapes,
)
from ansible_collections.auraspeak.ops.plugins.module_utils._analysis.verdict import FAIL, INCONCLUSIVE, PASS, judge

CANARY, OLD = '172.18.0.7:3000', '172.18.0.5:3000'
GROUPS = {'canary': [CANARY], 'baseline': [OLD]}
EDGE = 'edge-metrics:3903'


def test_quantiles_are_interpolated_inside_the_bucket_as_histogram_quantile_does():
    buckets = {0.1: 50, 0.5: 100, math.inf: 100}
    assert quantile_from_buckets(buckets, 0.95) == pytest.approx(0.46)
    assert quantile_from_buckets(buckets, 0.25) == pytest.approx(0.05)


def test_mtails_negative_first_bound_does_not_pull_quantiles_below_zero():
    assert quantile_from_buckets({-1: 0, 0.005: 10, math.inf: 10}, 0.5) == pytest.approx(0.0025)


def test_a_quantile_beyond_the_highest_bound_is_that_bound_and_no_observation_is_none():
    assert quantile_from_buckets({0.1: 0, 10: 0, math.inf: 5}, 0.95) == 10
    assert quantile_from_buckets({0.1: 0, math.inf: 0}, 0.95) is None
    assert quantile_from_buckets({}, 0.95) is None


def test_a_window_is_bounded_by_the_first_and_last_scrape_inside_it():
    assert window_scrapes([98, 100, 102, 104, 106], 99, 105) == (100, 104)
    assert window_scrapes([98, 100, 106], 99, 105) is None


def test_a_counter_counts_what_it_counted_between_two_scrapes_and_across_a_reset():
    samples = [(100, 10), (102, 14), (104, 30)]
    assert counted(samples, 100, 104) == 20
    assert counted([(100, 50), (102, 3), (104, 7)], 100, 104) == 7
    # A series that appeared after the first scrape counted all its value in the window.
    assert counted([(103, 4), (104, 6)], 100, 104) == 6


def series(metric, upstream, samples, **labels):
    return dict(labels, __name__=metric, upstream=upstream, instance=EDGE, job='edge'), samples


def test_the_figures_of_each_release_come_from_its_addresses_between_the_scrapes():
    scrapes = {EDGE: [100, 102, 104, 106]}
    data = {
        REQUESTS: [
            series(REQUESTS, CANARY, [(102, 0), (104, 40), (106, 90)], status='200'),
            series(REQUESTS, CANARY, [(102, 0), (104, 5), (106, 10)], status='500'),
            series(REQUESTS, OLD, [(100, 1000), (102, 1100), (104, 1300), (106, 1500)], status='200'),
            series(REQUESTS, '-', [(100, 5), (106, 9)], status='404'),
        ],
        RETRIES: [series(RETRIES, CANARY, [(102, 0), (106, 2)])],
        BUCKETS: [
            series(BUCKETS, CANARY, [(102, 0), (106, 80)], le='0.1'),
            series(BUCKETS, CANARY, [(102, 0), (106, 100)], le='+Inf'),
            series(BUCKETS, OLD, [(102, 0), (106, 400)], le='0.1'),
            series(BUCKETS, OLD, [(102, 0), (106, 400)], le='+Inf'),
        ],
    }
    found = window_figures(GROUPS, scrapes, data, 101, 107)
    canary, old = found['canary'], found['baseline']
    assert (canary.requests, canary.errors) == (100 + 2, 10 + 2)
    assert (old.requests, old.errors) == (400, 0)
    assert canary.quantile(0.5) == pytest.approx(0.0625) and canary.quantile(0.95) == 0.1
    verdict = judge(canary, old)
    assert verdict['result'] == FAIL and verdict['breaches'][0]['metric'] == 'error_rate', verdict


def test_no_verdict_before_the_edge_was_scraped_twice_inside_the_window():
    # The new release has served since 103, but Prometheus has one scrape of the edge since then:
    # its requests are not in the data yet, so there is nothing to judge, not a pass on nothing.
    scrapes = {EDGE: [100, 102, 104]}
    data = {REQUESTS: [series(REQUESTS, CANARY, [(104, 60)], status='200')]}
    found = window_figures(GROUPS, scrapes, data, 103, 105)
    assert found['canary'].requests == 0
    assert judge(found['canary'], found['baseline'])['result'] == INCONCLUSIVE


def matrix(*items):
    return {
        'status': 'success',
        'data': {
            'resultType': 'matrix',
            'result': [{'metric': labels, 'values': [[t, str(v)] for t, v in samples]} for labels, samples in items],
        },
    }


class FakePrometheus:
    """Answers /api/v1/query as Prometheus does, from series held per metric name."""

    def __init__(self, held):
        self.held = held
        self.asked = []

    def __call__(self, path, params):
        self.asked.append((path, params))
        wanted = re.search(r'__name__=~"([^"]+)"', params['query']).group(1).split('|')
        return matrix(
            *[(dict(labels, __name__=name), samples) for name in wanted for labels, samples in self.held.get(name, [])]
        )


def test_the_source_asks_for_the_edge_jobs_series_over_the_window_and_skips_failed_scrapes():
    held = {
        'up': [({'job': 'edge', 'instance': EDGE}, [(100, 1), (102, 1), (104, 0), (106, 1)])],
        REQUESTS: [
            series(REQUESTS, CANARY, [(100, 0), (102, 30), (106, 80)], status='200'),
            series(REQUESTS, OLD, [(100, 0), (102, 300), (106, 800)], status='200'),
        ],
        BUCKETS: [
            series(BUCKETS, CANARY, [(100, 0), (102, 30), (106, 80)], le='0.05'),
            series(BUCKETS, CANARY, [(100, 0), (102, 30), (106, 80)], le='+Inf'),
            series(BUCKETS, OLD, [(100, 0), (102, 300), (106, 800)], le='0.05'),
            series(BUCKETS, OLD, [(100, 0), (102, 300), (106, 800)], le='+Inf'),
        ],
    }
    fake = FakePrometheus(held)
    found = PrometheusSource('http://127.0.0.1:9090/', fetch=fake).figures(GROUPS, 101, 107)
    # Scrape 104 failed: the window runs from 102 to 106.
    assert (found['canary'].requests, found['baseline'].requests) == (50, 500)
    assert judge(found['canary'], found['baseline'], {'min_requests': 20})['result'] == PASS
    # One query a poll, for the scrapes and the three counters.
    assert [(p['query'], p['time']) for _path, p in fake.asked] == [
        (
            '{__name__=~"up|edge_http_requests_total|edge_upstream_retries_total|'
            'edge_http_request_duration_seconds_bucket",job="edge"}[66s]',
            '107.000',
        )
    ]


def test_a_query_prometheus_refuses_is_an_error_that_says_so():
    source = PrometheusSource('http://x', fetch=lambda path, params: {'status': 'error', 'error': 'parse error'})
    with pytest.raises(PrometheusError, match='Prometheus refused the query: parse error'):
        source.figures(GROUPS, 0, 10)


def test_an_unreachable_prometheus_is_an_error_naming_its_address():
    source = PrometheusSource('http://127.0.0.1:9', timeout=2)
    with pytest.raises(PrometheusError, match=r"cannot read the edge's counts from Prometheus at http://127.0.0.1:9"):
        source.figures(GROUPS, 0, 10)
