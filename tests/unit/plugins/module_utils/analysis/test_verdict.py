import pytest

from ansible_collections.auraspeak.ops.plugins.module_utils._analysis.verdict import Figures, judge


def served(requests, errors=0, latency=0.005, slow=0, slow_latency=1.0):
    """Figures of `requests` answers: `errors` of them 5xx, `slow` of them taking slow_latency."""
    figures = Figures()
    for index in range(requests):
        figures.add(500 if index < errors else 200, slow_latency if index >= requests - slow else latency)
    return figures


def test_too_few_requests_gives_no_verdict():
    verdict = judge(served(49, errors=49), served(1000))
    assert verdict['result'] == 'inconclusive'
    assert '49 requests, fewer than the 50' in verdict['reason']


def test_a_healthy_canary_passes():
    verdict = judge(served(100), served(900))
    assert verdict['result'] == 'pass' and verdict['breaches'] == []
    assert verdict['canary'] == {'requests': 100, 'errors': 0, 'error_rate': 0.0, 'latency_p95': 0.005}


@pytest.mark.parametrize(
    'canary_errors, baseline_errors, result',
    [
        (1, 0, 'pass'),  # 1 % is the threshold itself
        (2, 0, 'fail'),
        (25, 0, 'fail'),
        (11, 100, 'pass'),  # 11 % while the old release fails 10 %: a shared fault, not the release
        (25, 100, 'fail'),  # 25 % against the old release's 10 %
    ],
)
def test_error_rate_against_threshold_and_old_release(canary_errors, baseline_errors, result):
    verdict = judge(served(100, errors=canary_errors), served(1000, errors=baseline_errors))
    assert verdict['result'] == result


def test_an_error_breach_names_metric_value_threshold_and_old_figure():
    verdict = judge(served(100, errors=25), served(1000, errors=1))
    assert verdict['breaches'] == [
        {
            'metric': 'error_rate',
            'value': 0.25,
            'threshold': 0.01,
            'baseline': 0.001,
            'sentence': 'error rate 25.0 % of 100 requests on the new release, above the threshold of 1.0 % '
            '(the old release: 0.1 % of 1000)',
        }
    ]
    assert verdict['reason'] == verdict['breaches'][0]['sentence']


@pytest.mark.parametrize(
    'canary_latency, baseline_latency, result',
    [
        (0.305, 0.005, 'fail'),  # 300 ms slower
        (0.09, 0.005, 'pass'),  # 18x slower but under the 100 ms floor: cold starts
        (0.5, 0.4, 'pass'),  # above the floor, within 1.5x of the old release
        (0.7, 0.4, 'fail'),
    ],
)
def test_latency_against_ratio_and_floor(canary_latency, baseline_latency, result):
    verdict = judge(served(100, latency=canary_latency), served(1000, latency=baseline_latency))
    assert verdict['result'] == result


def test_latency_quantile_ignores_a_few_slow_requests():
    assert judge(served(100, slow=5), served(1000))['result'] == 'pass'
    assert judge(served(100, slow=6), served(1000))['result'] == 'fail'


def test_without_enough_baseline_requests_only_the_floor_applies():
    verdict = judge(served(100, latency=0.08), served(3, latency=0.001))
    assert verdict['result'] == 'pass'
    verdict = judge(served(100, latency=0.3), served(0))
    assert verdict['result'] == 'fail' and verdict['breaches'][0]['baseline'] is None


def test_thresholds_can_be_changed():
    assert judge(served(20, errors=2), served(100), {'min_requests': 20, 'max_error_rate': 0.2})['result'] == 'pass'
    assert judge(served(20, latency=0.05), served(100), {'min_requests': 20, 'latency_floor': 0.01})['result'] == 'fail'


def test_nearest_rank_quantile():
    figures = Figures(latencies=[0.1 * i for i in range(1, 21)])
    assert figures.quantile(0.95) == pytest.approx(1.9)
    assert figures.quantile(0.5) == pytest.approx(1.0)
    assert Figures().quantile(0.95) is None
