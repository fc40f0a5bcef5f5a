import pytest

from ansible_collections.auraspeak.ops.plugins.module_utils._analysis.canary import Canary, CanaryBreach, check_steps
from ansible_collections.auraspeak.ops.plugins.module_utils._analysis.verdict import Figures


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class Traffic:
    """A source that serves `rate` requests a second, split by the current weight."""

    def __init__(self, clock, rate, canary_error_rate=0.0, from_percent=0, cold_seconds=0.0):
        self.clock = clock
        self.rate = rate
        self.canary_error_rate = canary_error_rate
        self.from_percent = from_percent  # the canary fails only from this weight on (load-dependent bugs)
        self.cold_until = clock() + cold_seconds  # the canary answers in 1 s until then (a cold start)
        self.percent = 0
        self.shifts = []

    def shift(self, percent):
        self.percent = percent
        self.shifts.append(percent)

    def figures(self, groups, since, until):
        seconds = until - since
        canary_requests = int(self.rate * seconds * self.percent / 100)
        error_rate = self.canary_error_rate if self.percent >= self.from_percent else 0.0
        errors = int(canary_requests * error_rate)
        latency = 1.0 if since < self.cold_until else 0.005
        canary = Figures(canary_requests, errors, [latency] * canary_requests)
        baseline_requests = int(self.rate * seconds) - canary_requests
        return {'canary': canary, 'baseline': Figures(baseline_requests, 0, [0.005] * baseline_requests)}


def run(traffic, clock, **settings):
    return Canary(traffic.shift, traffic, dict({'interval': 10}, **settings), clock=clock, sleep=clock.sleep).run({})


def test_a_healthy_release_passes_every_step_after_its_interval():
    clock = Clock()
    traffic = Traffic(clock, rate=300)
    steps = run(traffic, clock)
    assert traffic.shifts == [10, 50]
    # The first step's interval starts after the 5 s warm-up.
    assert [(s['weight'], s['result'], s['seconds']) for s in steps] == [(10, 'pass', 15.0), (50, 'pass', 10.0)]


def test_a_bad_release_is_caught_at_the_first_verdict_not_at_the_end_of_the_step():
    clock = Clock()
    traffic = Traffic(clock, rate=300, canary_error_rate=0.25)
    with pytest.raises(CanaryBreach) as caught:
        run(traffic, clock, interval=60)
    step = caught.value.step
    assert (step['weight'], step['result']) == (10, 'fail')
    # 5 s of warm-up, 30 canary requests a second (50 within 2 s), 3 failed verdicts in a row,
    # each on the 50 requests after the one before it.
    assert step['seconds'] <= 11.0
    assert step['breaches'][0]['metric'] == 'error_rate' and 'sentence' not in step['breaches'][0]
    assert traffic.shifts == [10]


def test_a_release_that_turns_bad_in_the_second_step_is_caught_there():
    clock = Clock()
    traffic = Traffic(clock, rate=300, canary_error_rate=0.5, from_percent=50)
    with pytest.raises(CanaryBreach) as caught:
        run(traffic, clock, interval=20)
    assert [s['result'] for s in caught.value.steps] == ['pass', 'fail']


def test_low_traffic_promotes_unjudged_by_default():
    clock = Clock()
    steps = run(Traffic(clock, rate=2), clock)
    assert [s['result'] for s in steps] == ['inconclusive', 'inconclusive']
    assert 'low_traffic is promote' in steps[0]['reason']


def test_low_traffic_waits_up_to_max_interval_then_fails_closed_when_asked():
    clock = Clock()
    with pytest.raises(CanaryBreach) as caught:
        run(Traffic(clock, rate=2), clock, max_interval=25, low_traffic='rollback')
    assert caught.value.step['seconds'] == 30.0  # 5 s warm-up, then 25 s waiting for traffic
    assert 'too little traffic fails the release' in caught.value.step['reason']


def test_low_traffic_that_picks_up_before_max_interval_gets_a_verdict():
    clock = Clock()
    steps = run(Traffic(clock, rate=30), clock, max_interval=60)
    # 10 % of 30 a second: 50 requests 17 s after the 5 s warm-up, past the 10 s interval.
    assert steps[0]['result'] == 'pass' and 21 <= steps[0]['seconds'] <= 23


@pytest.mark.parametrize(
    'steps, problem',
    [([10, 50], None), ([], None), ([0, 50], 'from 1 to 99'), ([10, 100], 'from 1 to 99'), ([50, 10], 'increase')],
)
def test_steps_are_checked(steps, problem):
    message = check_steps(steps)
    assert (message is None) if problem is None else (problem in message)


def test_the_first_seconds_of_a_fresh_canary_are_left_out_of_the_verdicts():
    clock = Clock()
    assert [s['result'] for s in run(Traffic(clock, rate=300, cold_seconds=6), clock)] == ['pass', 'pass']
    clock = Clock()
    with pytest.raises(CanaryBreach) as caught:
        run(Traffic(clock, rate=300, cold_seconds=6), clock, warmup=0)
    assert caught.value.step['breaches'][0]['metric'] == 'latency_p95'


class BusyMoment(Traffic):
    """Healthy, but the canary answers in 2 s during [start, end) of the clock (the host was busy)."""

    def __init__(self, clock, rate, start, end):
        super().__init__(clock, rate)
        self.start, self.end = start, end

    def figures(self, groups, since, until):
        found = super().figures(groups, since, until)
        latencies = found['canary'].latencies
        overlap = max(0.0, min(until, self.end) - max(since, self.start))
        slow = min(len(latencies), int(self.rate * overlap * self.percent / 100))
        found['canary'].latencies = [2.0] * slow + latencies[slow:]
        return found


def test_a_busy_moment_counts_against_one_verdict_not_every_verdict_whose_window_holds_it():
    # The canary is slow for the 2 s after the warm-up, then healthy for good. Every
    # failed verdict must rest on requests the previous one did not see: otherwise the
    # same 60 slow requests fail three verdicts in a row and a healthy release is rolled back.
    clock = Clock()
    start = clock() + 5
    assert [s['result'] for s in run(BusyMoment(clock, 300, start, start + 2), clock)] == ['pass', 'pass']


def test_a_release_that_stays_slow_fails_on_fresh_requests_each_time():
    clock = Clock()
    with pytest.raises(CanaryBreach) as caught:
        run(BusyMoment(clock, 300, clock() + 5, clock() + 60), clock, interval=60)
    step = caught.value.step
    assert step['breaches'][0]['metric'] == 'latency_p95'
    # The last failed verdict is over the requests since the one before it, not the whole step.
    assert step['canary']['requests'] < 2 * 50 and step['seconds'] <= 12.0


def test_a_bad_release_is_not_promoted_for_want_of_fresh_requests_after_a_failed_verdict():
    # The integration test's settings: 10 canary requests a second, verdicts on 20, a 4 s
    # interval (so by default a 4 s wait for traffic). After a failed verdict the next one
    # waits for 20 new requests; that wait is not "too little traffic", and a step whose
    # last verdict failed never passes unjudged.
    clock = Clock()
    traffic = Traffic(clock, rate=100, canary_error_rate=0.25)
    with pytest.raises(CanaryBreach) as caught:
        run(traffic, clock, interval=4, max_interval=4, thresholds={'min_requests': 20})
    assert caught.value.step['weight'] == 10 and traffic.shifts == [10]
    # Traffic stops right after the first failed verdict: the step fails at max_interval,
    # whatever low_traffic says, because its last verdict failed.
    clock = Clock()
    traffic = Stops(clock, rate=100, canary_error_rate=0.25, at=clock() + 5 + 2)
    with pytest.raises(CanaryBreach) as caught:
        run(traffic, clock, interval=4, max_interval=4, thresholds={'min_requests': 20})
    assert 'since a failed verdict' in caught.value.step['reason'] and traffic.shifts == [10]


class Stops(Traffic):
    """Traffic that stops at `at` on the clock."""

    def __init__(self, clock, rate, canary_error_rate, at):
        super().__init__(clock, rate, canary_error_rate)
        self.at = at

    def figures(self, groups, since, until):
        return super().figures(groups, min(since, self.at), min(until, self.at))


def test_after_a_busy_moment_a_step_passes_on_a_full_interval_of_fresh_requests():
    clock = Clock()
    start = clock() + 5
    steps = run(BusyMoment(clock, 300, start, start + 2), clock)
    # One failed verdict at 2 s after the warm-up, then 10 s of requests after it.
    assert steps[0]['result'] == 'pass' and steps[0]['seconds'] >= 5 + 2 + 10
    assert steps[0]['canary']['requests'] >= 10 * 30
