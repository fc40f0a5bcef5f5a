import pytest

from ansible_collections.auraspeak.ops.plugins.module_utils._deploy.edge_upstream import (
    canary_directives,
    render_upstreams,
    split_traffic,
    upstream_name,
)
from ansible_collections.auraspeak.ops.plugins.module_utils._deploy.plan import ROLLING
from ansible_collections.auraspeak.ops.plugins.module_utils._deploy.rollout import EdgeSwitch


def test_upstream_names_are_nginx_identifiers():
    assert upstream_name('auraspeak', 'app') == 'auraspeak_app'
    assert upstream_name('my-shop.prod', 'web-api') == 'my_shop_prod_web_api'


def test_render_lists_live_containers_sorted_with_directives():
    text = render_upstreams('p', [('p_app', ['p-app-4', 'p-app-3'], 3000)], directives=['least_conn'])
    assert text.splitlines()[2:] == [
        'upstream p_app {',
        '    least_conn;',
        '    server p-app-3:3000 max_fails=3 fail_timeout=10s;',
        '    server p-app-4:3000 max_fails=3 fail_timeout=10s;',
        '    server p-app-3:3000 max_fails=0 backup;',
        '    server p-app-4:3000 max_fails=0 backup;',
        '    keepalive 32;',
        '    keepalive_timeout 4s;',
        '}',
    ]


def test_render_without_containers_keeps_nginx_valid():
    text = render_upstreams('p', [('p_app', [], 3000)])
    assert '    server 127.0.0.1:9 down;  # no live container' in text


def test_render_is_stable_for_the_same_containers():
    blocks = [('p_app', ['b', 'a'], 80)]
    assert render_upstreams('p', blocks) == render_upstreams('p', [('p_app', ['a', 'b'], 80)])


def test_keepalive_idle_timeout_is_below_node_default():
    text = render_upstreams('p', [('p_app', ['a'], 3000)])
    assert '    keepalive_timeout 4s;' in text


def test_every_replica_is_also_a_backup_nginx_never_takes_out():
    lines = render_upstreams('p', [('p_app', ['a', 'b'], 3000)], directives=['least_conn']).splitlines()
    assert '    server a:3000 max_fails=3 fail_timeout=10s;' in lines
    assert '    server a:3000 max_fails=0 backup;' in lines and '    server b:3000 max_fails=0 backup;' in lines


@pytest.mark.parametrize('directive', ['ip_hash', 'hash $remote_addr consistent', 'random two'])
def test_no_backup_tier_where_nginx_refuses_it(directive):
    assert 'backup' not in render_upstreams('p', [('p_app', ['a'], 3000)], directives=[directive])


def test_canary_weights_are_rendered_and_weight_zero_leaves_a_server_out():
    text = render_upstreams('p', [('p_app', [('old', 9), ('new', 1), ('gone', 0)], 3000)])
    assert '    server old:3000 max_fails=3 fail_timeout=10s weight=9;' in text
    assert '    server new:3000 max_fails=3 fail_timeout=10s;' in text
    assert 'gone' not in text


@pytest.mark.parametrize(
    'old, new, percent, weights',
    [(2, 2, 10, (9, 1)), (2, 2, 50, (1, 1)), (2, 3, 10, (27, 2)), (2, 2, 100, (1, 1)), (0, 2, 10, (1, 1))],
)
def test_split_traffic(old, new, percent, weights):
    assert split_traffic(old, new, percent) == weights
    if old and percent < 100:
        old_weight, new_weight = weights
        assert new * new_weight / (new * new_weight + old * old_weight) == pytest.approx(percent / 100)


@pytest.mark.parametrize(
    'directives, during_a_step',
    [
        (['least_conn'], []),
        (['least_conn', 'zone app 64k'], ['zone app 64k']),
        (['ip_hash'], ['ip_hash']),
        (['hash $cookie_session consistent'], ['hash $cookie_session consistent']),
        ([], []),
    ],
)
def test_a_canary_step_balances_by_weight_alone(directives, during_a_step):
    # least_conn sends a slow release fewer requests than its weight; session affinity is kept.
    assert canary_directives(directives) == during_a_step


class _Spec:
    name, strategy, upstream, port = 'app', ROLLING, 'p_app', 3000


def test_the_edge_leaves_least_conn_out_during_a_step_and_puts_it_back_at_promotion():
    switch = EdgeSwitch(upstream=None, project='p', specs=[_Spec()], directives=['least_conn'], options={})
    live = {'app': [type('C', (), {'name': n})() for n in ('old', 'new')]}
    during = switch.render(live, {'old': 9, 'new': 1}).splitlines()
    assert '    least_conn;' not in during and '    server old:3000 max_fails=3 fail_timeout=10s weight=9;' in during
    assert '    least_conn;' in switch.render(live).splitlines()
