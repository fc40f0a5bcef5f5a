"""Structural tests of the Grafana dashboards the monitoring role provisions.

Their PromQL is checked by promtool in tests/integration/test_monitoring_dashboards_promql.py.
"""

from __future__ import annotations

import json
import os
import re

import pytest

DASHBOARDS = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'roles', 'monitoring', 'files', 'dashboards')
NAMES = ['app-red.json', 'backups.json', 'containers.json', 'host.json', 'postgres.json', 'redis.json']
DATASOURCES = {'prometheus': 'prometheus', 'loki': 'loki'}  # uid -> type


def load(name):
    with open(os.path.join(DASHBOARDS, name), encoding='utf-8') as handle:
        return json.load(handle)


def panels(dashboard):
    """Every panel, the ones inside (collapsed) rows included."""
    for panel in dashboard['panels']:
        yield panel
        yield from panel.get('panels', [])


def group_labels(expr):
    """The label lists of every `by (...)` of an expression."""
    return [{label.strip() for label in labels.split(',')} for labels in re.findall(r'\bby\s*\(([^)]*)\)', expr)]


@pytest.fixture(scope='module', params=NAMES)
def dashboard(request):
    return load(request.param)


def test_the_dashboards_are_the_expected_files():
    assert sorted(name for name in os.listdir(DASHBOARDS) if name.endswith('.json')) == NAMES


def test_uids_and_titles_are_unique_and_fixed():
    dashboards = [load(name) for name in NAMES]
    uids = [d['uid'] for d in dashboards]
    titles = [d['title'] for d in dashboards]
    assert len(set(uids)) == len(uids)
    assert len(set(titles)) == len(titles)
    assert uids == ['auraspeak-' + name[: -len('.json')] for name in NAMES]
    assert all(len(uid) <= 40 for uid in uids)  # Grafana's limit


def test_dashboard_header(dashboard):
    assert dashboard['tags'] == ['auraspeak']
    assert 36 <= dashboard['schemaVersion'] <= 40
    assert dashboard.get('id') is None  # provisioned: Grafana assigns it
    assert dashboard['panels']


def test_panel_ids_are_unique_and_panels_placed(dashboard):
    ids = [panel['id'] for panel in panels(dashboard)]
    assert len(set(ids)) == len(ids), 'duplicate panel id'
    for panel in panels(dashboard):
        grid = panel['gridPos']
        assert grid['x'] + grid['w'] <= 24 and grid['h'] > 0, panel['title']
        assert panel['title']


def test_every_panel_queries_a_provisioned_datasource(dashboard):
    for panel in panels(dashboard):
        if panel['type'] == 'row':
            continue
        source = panel.get('datasource')
        assert isinstance(source, dict), panel['title']
        assert DATASOURCES.get(source.get('uid')) == source.get('type'), panel['title']
        assert panel['targets'], panel['title']
        ref_ids = [target['refId'] for target in panel['targets']]
        assert len(set(ref_ids)) == len(ref_ids), panel['title']
        for target in panel['targets']:
            assert target.get('datasource', source) == source, panel['title']
            assert isinstance(target.get('expr'), str) and target['expr'].strip(), panel['title']


def test_template_variables_and_annotations_query_prometheus(dashboard):
    variables = dashboard['templating']['list']
    assert len({v['name'] for v in variables}) == len(variables)
    for variable in variables:
        if variable['type'] == 'query':
            assert variable['datasource'] == {'type': 'prometheus', 'uid': 'prometheus'}
            query = variable['query']['query'] if isinstance(variable['query'], dict) else variable['query']
            assert re.fullmatch(r'label_values\(.+,\s*\w+\)', query), query
    for annotation in dashboard['annotations']['list']:
        if not annotation.get('builtIn'):
            assert annotation['datasource'] == {'type': 'prometheus', 'uid': 'prometheus'}
            assert annotation['expr'].strip()


def test_variables_used_are_defined(dashboard):
    defined = {v['name'] for v in dashboard['templating']['list']}
    text = json.dumps(dashboard['panels']) + json.dumps(dashboard['annotations'])
    used = set(re.findall(r'\$\{?([A-Za-z]\w*)', text)) - {'__rate_interval', '__interval', '__range'}
    assert used <= defined, used - defined


def test_project_dashboards_filter_on_the_project():
    for name in ('app-red.json', 'backups.json', 'containers.json'):
        dashboard = load(name)
        assert 'project' in {v['name'] for v in dashboard['templating']['list']}, name
        for panel in panels(dashboard):
            for target in panel.get('targets', []):
                if 'job="app' in target['expr'] or 'auraspeak_backup' in target['expr'] or 'cadvisor' in target['expr']:
                    assert '$project' in target['expr'], (name, panel['title'])


# --------------------------------------------------------------------------- app RED


@pytest.fixture(scope='module')
def red():
    dashboard = load('app-red.json')
    return {panel['title']: panel for panel in panels(dashboard)}


RED_BY_VERSION = [
    'Request rate by version',
    'Error rate (5xx share) by version',
    'Latency p50 by version',
    'Latency p95 by version',
    'Latency p99 by version',
    'Replicas up by version',
    'Edge answers / s by version',
    'Edge 5xx share by version',
    'Edge latency p95 by version',
]


@pytest.mark.parametrize('title', RED_BY_VERSION)
def test_red_panels_split_by_version(red, title):
    for target in red[title]['targets']:
        groups = group_labels(target['expr'])
        assert groups and all('version' in labels for labels in groups), target['expr']
        assert '{{version}}' in target['legendFormat']


def test_red_rate_and_errors(red):
    (rate,) = red['Request rate by version']['targets']
    assert 'rate(http_requests_total{' in rate['expr']
    (errors,) = red['Error rate (5xx share) by version']['targets']
    numerator, _ignored, denominator = errors['expr'].partition(' / ')
    assert 'status=~"5.."' in numerator and 'status' not in denominator
    assert red['Error rate (5xx share) by version']['fieldConfig']['defaults']['unit'] == 'percentunit'


def test_red_latency_quantiles(red):
    quantiles = set()
    for title in ('Latency p50 by version', 'Latency p95 by version', 'Latency p99 by version'):
        (target,) = red[title]['targets']
        match = re.match(r'histogram_quantile\(([0-9.]+),', target['expr'])
        assert match, target['expr']
        assert 'http_request_duration_seconds_bucket' in target['expr']
        assert {'version', 'le'} <= group_labels(target['expr'])[0]
        quantiles.add(float(match.group(1)))
        assert red[title]['fieldConfig']['defaults']['unit'] == 's'
    assert quantiles == {0.5, 0.95, 0.99}


def test_red_replicas_up_and_ready(red):
    exprs = [target['expr'] for target in red['Replicas up by version']['targets']]
    assert any(expr.startswith('sum by (version) (up{job="app"') for expr in exprs)
    assert any('probe_success{job="app-ready"' in expr for expr in exprs)


def test_red_logs_come_from_loki(red):
    logs = [panel for panel in red.values() if panel['type'] == 'logs']
    assert logs
    for panel in logs:
        assert panel['datasource'] == {'type': 'loki', 'uid': 'loki'}
        assert panel['targets'][0]['expr'].startswith('{project="$project", service="app"}')
