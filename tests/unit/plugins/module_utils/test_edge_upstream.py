from ansible_collections.auraspeak.ops.plugins.module_utils._edge_upstream import render_upstreams, upstream_name


def test_upstream_names_are_nginx_identifiers():
    assert upstream_name('auraspeak', 'app') == 'auraspeak_app'
    assert upstream_name('my-shop.prod', 'web-api') == 'my_shop_prod_web_api'


def test_render_lists_live_containers_sorted_with_directives():
    text = render_upstreams('p', [('p_app', ['p-app-4', 'p-app-3'], 3000)], directives=['least_conn'])
    assert text.splitlines()[2:] == [
        'upstream p_app {',
        '    least_conn;',
        '    server p-app-3:3000 max_fails=1 fail_timeout=5s;',
        '    server p-app-4:3000 max_fails=1 fail_timeout=5s;',
        '    keepalive 32;',
        '}',
    ]


def test_render_without_containers_keeps_nginx_valid():
    text = render_upstreams('p', [('p_app', [], 3000)])
    assert '    server 127.0.0.1:9 down;  # no live container' in text


def test_render_is_stable_for_the_same_containers():
    blocks = [('p_app', ['b', 'a'], 80)]
    assert render_upstreams('p', blocks) == render_upstreams('p', [('p_app', ['a', 'b'], 80)])
