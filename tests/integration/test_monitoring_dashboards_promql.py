"""Every PromQL expression of the monitoring role's dashboards, checked by promtool.

The expressions (panel targets, rows' nested panels, annotations, and the metric
selector of `label_values(...)` variable queries) get their Grafana variables replaced
by plain values and are written as recording rules, which `promtool check rules`
parses, in the offline Prometheus image (nothing is pulled; no network). A rule's
name tells where its expression comes from: dashboard:<file>_p<panel id>_<refId>.
The Grafana-managed alert rules are checked the same way.
"""

from __future__ import annotations

import json
import os
import re
import subprocess

import jinja2
import pytest
import yaml

ROLE = os.path.join(os.path.dirname(__file__), '..', '..', 'roles', 'monitoring')
DASHBOARDS = os.path.join(ROLE, 'files', 'dashboards')
IMAGE = 'auraspeak-offline/prometheus:2.42'

# Grafana's interval variables, then any other variable ($var, ${var}, ${var:format}).
INTERVALS = re.compile(r'\$(?:__rate_interval|__interval|__range)\b|\$\{(?:__rate_interval|__interval|__range)\}')
VARIABLE = re.compile(r'\$\{\w+(?::\w+)?\}|\$[A-Za-z_]\w*')
LABEL_VALUES = re.compile(r'^\s*label_values\((?P<metric>.+),\s*(?P<label>\w+)\s*\)\s*$', re.S)


def substitute(expr):
    return VARIABLE.sub('auraspeak', INTERVALS.sub('5m', expr))


def _rule_name(*parts):
    return 'dashboard:' + '_'.join(re.sub(r'\W', '_', str(part)) for part in parts)


def dashboard_expressions():
    """(record name, where it comes from, expression) of every Prometheus query of every dashboard."""
    found = []
    for name in sorted(os.listdir(DASHBOARDS)):
        if not name.endswith('.json'):
            continue
        with open(os.path.join(DASHBOARDS, name), encoding='utf-8') as handle:
            dashboard = json.load(handle)
        stem = name[: -len('.json')]
        for variable in dashboard['templating']['list']:
            if variable['type'] != 'query':
                continue
            query = variable['query']['query'] if isinstance(variable['query'], dict) else variable['query']
            match = LABEL_VALUES.match(query)
            expr = match.group('metric') if match else query
            found.append(
                (_rule_name(stem, 'var', variable['name']), '%s variable $%s' % (name, variable['name']), expr)
            )
        for index, annotation in enumerate(dashboard['annotations']['list']):
            if annotation.get('datasource', {}).get('type') == 'prometheus':
                found.append(
                    (
                        _rule_name(stem, 'annotation', index),
                        '%s annotation %r' % (name, annotation['name']),
                        annotation['expr'],
                    )
                )
        for panel in dashboard['panels']:
            for inner in [panel, *panel.get('panels', [])]:
                for target in inner.get('targets', []):
                    source = target.get('datasource') or inner.get('datasource') or {}
                    if source.get('type') == 'prometheus':
                        found.append(
                            (
                                _rule_name(stem, 'p%d' % inner['id'], target['refId']),
                                '%s panel %d %r target %s' % (name, inner['id'], inner['title'], target['refId']),
                                target['expr'],
                            )
                        )
    return found


def alerting_expressions():
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(os.path.join(ROLE, 'templates')),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
    )
    env.filters['bool'] = lambda value: str(value).lower() in ('1', 'true', 'yes', 'on')
    env.filters['to_json'] = json.dumps
    with open(os.path.join(ROLE, 'defaults', 'main.yml'), encoding='utf-8') as handle:
        context = {k: v for k, v in yaml.safe_load(handle).items() if not (isinstance(v, str) and '{{' in v)}
    context.update(
        monitoring_app_project='auraspeak',
        monitoring_project='auraspeak-monitoring',
        monitoring_grafana_alerting_enabled=True,
    )
    rendered = yaml.safe_load(env.get_template('grafana/alerting.yml.j2').render(**context))
    found = []
    for group in rendered['groups']:
        for rule in group['rules']:
            for query in rule['data']:
                if query['datasourceUid'] == 'prometheus':
                    name = 'grafana_alert:' + re.sub(r'\W', '_', rule['uid'])
                    found.append((name, 'alerting.yml.j2 rule %s' % rule['uid'], query['model']['expr']))
    return found


def promtool_check(directory, rules):
    """Write the rules file and run `promtool check rules` on it: returns the completed process."""
    body = {'groups': [{'name': 'dashboards', 'rules': [{'record': record, 'expr': expr} for record, expr in rules]}]}
    path = os.path.join(str(directory), 'dashboards.rules.yml')
    with open(path, 'w', encoding='utf-8') as handle:
        yaml.safe_dump(body, handle, sort_keys=False, width=1000)
    os.chmod(str(directory), 0o755)
    os.chmod(path, 0o644)
    command = [
        'docker', 'run', '--rm', '--network', 'none', '-v', '%s:/check:ro' % directory,
        '--entrypoint', 'promtool', IMAGE, 'check', 'rules', '/check/dashboards.rules.yml',
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)


@pytest.fixture(scope='module', autouse=True)
def prometheus_image():
    present = subprocess.run(['docker', 'image', 'inspect', IMAGE], capture_output=True, check=False, timeout=60)
    if present.returncode != 0:
        pytest.skip('%s is not built (make images)' % IMAGE)


def _report(result, found):
    where = '\n'.join('%s  <-  %s\n    %s' % (record, origin, expr) for record, origin, expr in found)
    return 'promtool exit %d\nstdout:\n%s\nstderr:\n%s\nrules:\n%s' % (
        result.returncode,
        result.stdout,
        result.stderr,
        where,
    )


def test_the_extraction_finds_every_dashboard_query():
    found = dashboard_expressions()
    records = [record for record, _ignored, _ignored in found]
    assert len(set(records)) == len(records), 'two expressions share a record name'
    files = {origin.split()[0] for _ignored, origin, _ignored in found}
    assert files == {name for name in os.listdir(DASHBOARDS) if name.endswith('.json')}
    substituted = [substitute(expr) for _ignored, _ignored, expr in found]
    assert not [expr for expr in substituted if '$' in expr]
    assert any('variable $project' in origin for _ignored, origin, _ignored in found)
    assert any('Edge requests' in origin for _ignored, origin, _ignored in found)  # a panel of a collapsed row


def test_dashboard_promql_is_valid(tmp_path):
    found = dashboard_expressions() + alerting_expressions()
    result = promtool_check(tmp_path, [(record, substitute(expr)) for record, _ignored, expr in found])
    assert result.returncode == 0, _report(result, found)
    assert 'SUCCESS: %d rules found' % len(found) in result.stdout + result.stderr, _report(result, found)


@pytest.mark.parametrize(
    'expr',
    [
        'rate(http_requests_total[5m]',
        'sum by (version) (rate(http_requests_total{job="app"}[$__rate_interval])',
        'histogram_quantile(0.99, sum by (le) rate(http_request_duration_seconds_bucket[5m]))',
        'up{job="app", project=$project}',
    ],
)
def test_the_check_catches_a_broken_expression(tmp_path, expr):
    found = [('dashboard:ok', 'valid', 'sum(up)'), ('dashboard:broken', 'broken on purpose', expr)]
    result = promtool_check(tmp_path, [(record, substitute(e)) for record, _ignored, e in found])
    assert result.returncode != 0, _report(result, found)
    assert '"dashboard:broken": could not parse expression' in result.stdout + result.stderr, _report(result, found)


def test_a_broken_dashboard_query_is_reported_with_its_panel(tmp_path):
    found = dashboard_expressions()
    record, origin, _ignored = next(item for item in found if ' panel ' in item[1])
    found = [(r, o, e + ')' if r == record else e) for r, o, e in found]
    result = promtool_check(tmp_path, [(r, substitute(e)) for r, _ignored, e in found])
    assert result.returncode != 0, _report(result, found)
    assert '"%s": could not parse expression' % record in result.stdout + result.stderr, _report(result, found)
    assert origin.startswith('app-red.json panel ')
