"""Replica counts of a stack whose definitions stay: what restore.yml stops and the next deploy brings back."""

import pytest

from ansible_collections.auraspeak.ops.plugins.module_utils._deploy.stack_scale import (
    ScaleError,
    replicas_of,
    scale_order,
    scaling,
)


def stack():
    def service(replicas, order):
        return {'deploy': {'replicas': replicas}, 'labels': {'io.auraspeak.ops.start-order': str(order)}}

    return {'services': {'app': service(2, 20), 'postgres': service(1, 10), 'redis': service(1, 10)}}


def current(**replicas):
    counts = {'app': 2, 'postgres': 1, 'redis': 1, **replicas}
    return {name: {'Spec': {'Mode': {'Replicated': {'Replicas': count}}}} for name, count in counts.items()}


UNCHANGED = {'app': 'unchanged', 'postgres': 'unchanged', 'redis': 'unchanged'}


def test_a_count_of_this_run_stops_a_service_and_the_next_run_brings_it_back():
    assert scaling(stack(), current(), UNCHANGED, {'app': 0, 'postgres': 0}) == {'app': (2, 0), 'postgres': (1, 0)}
    assert scaling(stack(), current(app=0, postgres=0), UNCHANGED, {}) == {'app': (0, 2), 'postgres': (0, 1)}
    assert scaling(stack(), current(), UNCHANGED, {}) == {}


def test_the_app_stops_before_what_it_uses_and_starts_after_it():
    changes = {'app': (2, 0), 'postgres': (1, 0)}
    assert scale_order(stack(), changes) == ['app', 'postgres']
    changes = {'app': (0, 2), 'postgres': (0, 1), 'redis': (0, 1)}
    assert scale_order(stack(), changes) == ['postgres', 'redis', 'app']


def test_counts_for_a_stack_that_would_change_or_for_unknown_services_are_refused():
    with pytest.raises(ScaleError, match='but app would change: deploy without replicas first'):
        scaling(stack(), current(), dict(UNCHANGED, app='update'), {'postgres': 0})
    with pytest.raises(ScaleError, match='replicas names worker, which the stack does not have'):
        scaling(stack(), current(), UNCHANGED, {'worker': 0})


def test_a_service_being_updated_or_global_is_left_to_the_deploy():
    global_redis = dict(current(), redis={'Spec': {'Mode': {'Global': {}}}})
    assert replicas_of(global_redis['redis']['Spec']) is None
    assert scaling(stack(), global_redis, UNCHANGED, {}) == {}
    assert scaling(stack(), current(app=1), dict(UNCHANGED, app='update'), {}) == {}
