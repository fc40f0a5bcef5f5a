import pytest

from ansible_collections.auraspeak.ops.plugins.module_utils._edge_upstream import (
    render_upstreams,
    split_traffic,
    upstream_name,
)


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
