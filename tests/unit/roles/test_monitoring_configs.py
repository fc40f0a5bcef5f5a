"""Structural tests of the monitoring role's Grafana, Loki and Alloy configuration.

Grafana, Loki and Alloy have no images here, so their configuration is not run: the
templates are rendered with plain Jinja (StrictUndefined, the role's defaults plus
explicit values for the defaults that are Jinja expressions) and what the stack
relies on is checked in the result. The Alloy file is read by the small parser below
(blocks `name "label" { ... }` and attributes `key = value`).
"""

from __future__ import annotations

import json
import os
import re

import jinja2
import pytest
import yaml

ROLE = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'roles', 'monitoring')
TEMPLATES = os.path.join(ROLE, 'templates')
DASHBOARDS = os.path.join(ROLE, 'files', 'dashboards')

# Values for the defaults that are Jinja expressions (the role's own inventory decides them).
EXPLICIT = {
    'monitoring_app_project': 'auraspeak',
    'monitoring_project': 'auraspeak-monitoring',
}


def _bool(value):
    if isinstance(value, str):
        return value.strip().lower() in ('1', 'true', 'yes', 'on', 'y')
    return bool(value)


def role_vars(**overrides):
    with open(os.path.join(ROLE, 'defaults', 'main.yml'), encoding='utf-8') as handle:
        defaults = yaml.safe_load(handle)
    context = {key: value for key, value in defaults.items() if not (isinstance(value, str) and '{{' in value)}
    context.update(EXPLICIT)
    context.update(overrides)
    return context


def render(name, **overrides):
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,  # as ansible.builtin.template renders
        keep_trailing_newline=True,
    )
    env.filters['bool'] = _bool
    env.filters['to_json'] = json.dumps
    env.filters['to_nice_yaml'] = lambda value, indent=2: yaml.safe_dump(value, indent=indent, sort_keys=False)
    return env.get_template(name).render(**role_vars(**overrides))


# --------------------------------------------------------------------------- Loki


@pytest.fixture(scope='module')
def loki():
    return yaml.safe_load(render('loki/loki.yaml.j2'))


def test_loki_is_a_single_tenant_on_port_3100(loki):
    assert loki['auth_enabled'] is False
    assert loki['server']['http_listen_port'] == 3100
    assert loki['common']['replication_factor'] == 1
    assert loki['common']['ring']['kvstore']['store'] == 'inmemory'


def test_loki_keeps_everything_under_slash_loki(loki):
    paths = [
        loki['common']['path_prefix'],
        *loki['common']['storage']['filesystem'].values(),
        loki['ingester']['wal']['dir'],
        *loki['storage_config']['tsdb_shipper'].values(),
        loki['compactor']['working_directory'],
    ]
    assert all(path == '/loki' or path.startswith('/loki/') for path in paths), paths


def test_loki_schema_is_tsdb_v13_on_the_filesystem(loki):
    (schema,) = loki['schema_config']['configs']
    assert (schema['store'], schema['schema'], schema['object_store']) == ('tsdb', 'v13', 'filesystem')
    assert schema['index']['period'] == '24h'


def test_loki_compactor_enforces_the_retention(loki):
    compactor = loki['compactor']
    assert compactor['retention_enabled'] is True
    assert compactor['delete_request_store'] == 'filesystem'
    assert compactor['working_directory']
    limits = loki['limits_config']
    assert limits['retention_period'] == '744h'
    assert limits['reject_old_samples'] is True
    assert limits['max_label_names_per_series'] <= 10


def test_loki_retention_follows_the_variable():
    rendered = yaml.safe_load(render('loki/loki.yaml.j2', monitoring_loki_retention_period='168h'))
    assert rendered['limits_config']['retention_period'] == '168h'


# --------------------------------------------------------------------------- Grafana


@pytest.mark.parametrize('loki_enabled', [True, False, 'true', 'false'])
def test_datasources_have_fixed_uids_and_loki_only_when_enabled(loki_enabled):
    rendered = yaml.safe_load(render('grafana/datasources.yml.j2', monitoring_loki_enabled=loki_enabled))
    assert rendered['apiVersion'] == 1
    sources = {source['uid']: source for source in rendered['datasources']}
    assert len(sources) == len(rendered['datasources']), 'duplicate uid'
    prometheus = sources['prometheus']
    assert (prometheus['type'], prometheus['url']) == ('prometheus', 'http://prometheus:9090')
    assert [uid for uid, source in sources.items() if source.get('isDefault')] == ['prometheus']
    if _bool(loki_enabled):
        assert (sources['loki']['type'], sources['loki']['url']) == ('loki', 'http://loki:3100')
    else:
        assert 'loki' not in sources
    assert all(source['type'] != 'loki' for uid, source in sources.items() if uid != 'loki')
    if 'alertmanager' in sources:
        assert sources['alertmanager']['type'] == 'alertmanager'
        assert prometheus['jsonData']['alertmanagerUid'] == 'alertmanager'


def test_dashboard_provider_reads_the_files_read_only():
    rendered = yaml.safe_load(render('grafana/dashboards.yml.j2'))
    (provider,) = rendered['providers']
    assert provider['type'] == 'file'
    assert provider['options']['path'] == '/etc/grafana/dashboards'
    assert provider['folder'] == 'auraspeak'
    assert provider['disableDeletion'] is True
    assert provider['allowUiUpdates'] is False


def _dashboard_panel_ids(uid):
    for name in os.listdir(DASHBOARDS):
        with open(os.path.join(DASHBOARDS, name), encoding='utf-8') as handle:
            dashboard = json.load(handle)
        if dashboard['uid'] == uid:
            panels = []
            for panel in dashboard['panels']:
                panels += [panel, *panel.get('panels', [])]
            return {panel['id'] for panel in panels}
    raise AssertionError('no dashboard ' + uid)


def test_grafana_alert_rules_query_prometheus_with_the_role_thresholds():
    rendered = yaml.safe_load(render('grafana/alerting.yml.j2', monitoring_grafana_alerting_enabled=True))
    assert rendered['apiVersion'] == 1
    (group,) = rendered['groups']
    assert group['folder'] == 'auraspeak'
    rules = {rule['uid']: rule for rule in group['rules']}
    assert set(rules) == {'auraspeak-app-5xx-ratio', 'auraspeak-app-p99-latency'}
    for rule in rules.values():
        data = {query['refId']: query for query in rule['data']}
        assert rule['condition'] in data
        query = data['A']
        assert query['datasourceUid'] == 'prometheus'
        assert 'project="auraspeak"' in query['model']['expr']
        threshold = data[rule['condition']]
        assert threshold['datasourceUid'] == '__expr__'
        assert threshold['model']['expression'] == 'A'
        assert rule['labels']['project'] == 'auraspeak'
        dashboard = rule['annotations']['__dashboardUid__']
        assert int(rule['annotations']['__panelId__']) in _dashboard_panel_ids(dashboard)
    ratio = rules['auraspeak-app-5xx-ratio']
    assert 'status=~"5.."' in ratio['data'][0]['model']['expr']
    assert ratio['data'][1]['model']['conditions'][0]['evaluator'] == {'type': 'gt', 'params': [0.05]}
    assert ratio['for'] == '5m'
    latency = rules['auraspeak-app-p99-latency']
    assert latency['data'][0]['model']['expr'].startswith('histogram_quantile(0.99,')
    assert latency['data'][1]['model']['conditions'][0]['evaluator']['params'] == [1.0]
    assert latency['annotations']['summary'].endswith(' 1s')
    (contact_point,) = rendered['contactPoints']
    assert contact_point['receivers'][0]['settings']['url'] == 'http://alertmanager:9093'
    assert rendered['policies'][0]['receiver'] == contact_point['name']


def test_grafana_alert_rules_are_removed_when_disabled():
    enabled = yaml.safe_load(render('grafana/alerting.yml.j2', monitoring_grafana_alerting_enabled=True))
    disabled = yaml.safe_load(render('grafana/alerting.yml.j2', monitoring_grafana_alerting_enabled=False))
    assert 'groups' not in disabled
    assert {rule['uid'] for rule in disabled['deleteRules']} == {rule['uid'] for rule in enabled['groups'][0]['rules']}


def test_grafana_alert_threshold_follows_the_variable():
    rendered = yaml.safe_load(
        render(
            'grafana/alerting.yml.j2', monitoring_grafana_alerting_enabled=True, monitoring_alert_app_5xx_ratio='0.1'
        )
    )
    ratio = next(rule for rule in rendered['groups'][0]['rules'] if rule['uid'] == 'auraspeak-app-5xx-ratio')
    assert ratio['data'][1]['model']['conditions'][0]['evaluator']['params'] == [0.1]
    assert '10%' in ratio['annotations']['summary']


# --------------------------------------------------------------------------- Alloy

TOKEN = re.compile(
    r'(?P<space>[ \t\r]+)|(?P<comment>//[^\n]*|/\*.*?\*/)|(?P<newline>\n)'
    r'|(?P<string>"(?:[^"\\\n]|\\.)*")|(?P<raw>`[^`]*`)'
    r'|(?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)'
    r'|(?P<number>[0-9][0-9.eE+-]*)|(?P<punct>[{}\[\]()=,:!<>+*/%-]+?)',
    re.S,
)


def tokenize(text):
    tokens, pos = [], 0
    while pos < len(text):
        match = TOKEN.match(text, pos)
        if not match:
            raise SyntaxError('unexpected %r at offset %d (an unterminated string?)' % (text[pos : pos + 20], pos))
        pos = match.end()
        if match.lastgroup not in ('space', 'comment'):
            tokens.append((match.lastgroup, match.group()))
    return tokens


def parse_body(tokens, pos, nested):
    """Parse statements up to the closing brace (nested) or the end: returns (body, position).

    A body is a list of ('attr', key, value_tokens) and ('block', name, label, body).
    """
    body = []
    while pos < len(tokens):
        kind, value = tokens[pos]
        if kind == 'newline':
            pos += 1
        elif value == '}':
            if not nested:
                raise SyntaxError('unbalanced }')
            return body, pos + 1
        elif kind != 'ident':
            raise SyntaxError('expected a name, got %r' % value)
        elif tokens[pos + 1][1] == '=':
            end, depth = pos + 2, 0
            while (
                end < len(tokens)
                and (depth or tokens[end][0] != 'newline')
                and not (depth == 0 and tokens[end][1] == '}')
            ):
                depth += {'[': 1, '{': 1, '(': 1, ']': -1, '}': -1, ')': -1}.get(tokens[end][1], 0)
                if depth < 0:
                    raise SyntaxError('unbalanced brackets after %s' % value)
                end += 1
            if depth:
                raise SyntaxError('unbalanced brackets after %s' % value)
            body.append(('attr', value, tokens[pos + 2 : end]))
            pos = end
        else:
            label, pos = None, pos + 1
            if tokens[pos][0] == 'string':
                label, pos = json.loads(tokens[pos][1]), pos + 1
            if tokens[pos][1] != '{':
                raise SyntaxError('expected { after %s' % value)
            inner, pos = parse_body(tokens, pos + 1, nested=True)
            body.append(('block', value, label, inner))
    if nested:
        raise SyntaxError('unbalanced {: missing }')
    return body, pos


def parse_alloy(text):
    return parse_body(tokenize(text), 0, nested=False)[0]


def blocks(body, name=None):
    return [item for item in body if item[0] == 'block' and name in (None, item[1])]


def attr(body, key):
    values = [item[2] for item in body if item[0] == 'attr' and item[1] == key]
    assert len(values) == 1, 'expected one %s, got %d' % (key, len(values))
    return values[0]


def string(tokens):
    assert len(tokens) == 1 and tokens[0][0] == 'string', tokens
    return json.loads(tokens[0][1])


def string_list(tokens):
    assert tokens[0][1] == '[' and tokens[-1][1] == ']', tokens
    return [json.loads(value) for kind, value in tokens if kind == 'string']


def reference(tokens):
    assert len(tokens) == 1 and tokens[0][0] == 'ident', tokens
    return tokens[0][1]


def references(body):
    """Every dotted name used in an attribute value, at any depth."""
    found = []
    for item in body:
        if item[0] == 'attr':
            found += [value for kind, value in item[2] if kind == 'ident' and '.' in value]
        else:
            found += references(item[3])
    return found


# What each component of the file exports, and may be referenced by.
EXPORTS = {
    'discovery.docker': {'targets'},
    'discovery.relabel': {'output', 'rules'},
    'loki.write': {'receiver'},
    'loki.source.docker': set(),
}
MAPPED = {
    '__meta_docker_container_label_com_docker_compose_project': 'project',
    '__meta_docker_container_label_com_docker_compose_service': 'service',
    '__meta_docker_container_label_io_auraspeak_ops_release': 'version',
}


@pytest.fixture(scope='module')
def alloy():
    return parse_alloy(render('alloy/config.alloy.j2'))


def test_alloy_parser_rejects_broken_files():
    for broken in (
        'loki.write "x" {\n  endpoint {\n    url = "http://loki"\n  }\n',
        'loki.write "x" {\n  url = "http://loki\n}\n',
        'loki.write "x" {\n  forward_to = [a.b.c\n}\n',
        'loki.write "x" }\n',
    ):
        with pytest.raises(SyntaxError):
            parse_alloy(broken)


def test_alloy_components_are_known_and_unique(alloy):
    components = [(name, label) for kind, name, label, _ignored in blocks(alloy) if name != 'logging']
    assert len(set(components)) == len(components)
    assert {name for name, _ignored in components} <= set(EXPORTS)
    assert all(label for _ignored, label in components)


def test_alloy_references_are_declared_and_every_component_is_used(alloy):
    declared = {'%s.%s' % (name, label): name for _ignored, name, label, _ignored in blocks(alloy) if label}
    used = set()
    for reference in references(alloy):
        component, _ignored, export = reference.rpartition('.')
        assert component in declared, 'undeclared component in %s' % reference
        assert export in EXPORTS[declared[component]], 'no export %s of %s' % (export, declared[component])
        used.add(component)
    unused = {component for component, name in declared.items() if name != 'loki.source.docker'} - used
    assert not unused


def test_alloy_reads_both_compose_projects_through_the_docker_socket(alloy):
    projects = {}
    for _ignored, _ignored, label, body in blocks(alloy, 'discovery.docker'):
        assert string(attr(body, 'host')) == 'unix:///var/run/docker.sock'
        (flt,) = blocks(body, 'filter')
        assert string(attr(flt[3], 'name')) == 'label'
        (value,) = string_list(attr(flt[3], 'values'))
        key, _ignored, project = value.partition('=')
        assert key == 'com.docker.compose.project'
        projects[project] = 'discovery.docker.%s.targets' % label
    assert set(projects) == {'auraspeak', 'auraspeak-monitoring'}
    read = []
    for _ignored, _ignored, _ignored, body in blocks(alloy, 'loki.source.docker'):
        assert string(attr(body, 'host')) == 'unix:///var/run/docker.sock'
        read.append(reference(attr(body, 'targets')))
        assert reference(attr(body, 'relabel_rules')).startswith('discovery.relabel.')
    assert sorted(read) == sorted(projects.values())


def test_alloy_sets_only_project_service_and_version(alloy):
    (relabel,) = blocks(alloy, 'discovery.relabel')
    mapped = {}
    for _ignored, _ignored, _ignored, rule in blocks(relabel[3], 'rule'):
        keys = {item[1] for item in rule if item[0] == 'attr'}
        action = string(attr(rule, 'action')) if 'action' in keys else 'replace'
        if action in ('keep', 'drop'):
            continue
        assert action == 'replace', 'unexpected action %s' % action
        (source,) = string_list(attr(rule, 'source_labels'))
        mapped[source] = string(attr(rule, 'target_label'))
    assert mapped == MAPPED


def test_alloy_pushes_to_loki(alloy):
    (write,) = blocks(alloy, 'loki.write')
    (endpoint,) = blocks(write[3], 'endpoint')
    assert string(attr(endpoint[3], 'url')) == 'http://loki:3100/loki/api/v1/push'


def test_alloy_uses_the_project_variables():
    text = render('alloy/config.alloy.j2', monitoring_app_project='shop', monitoring_project='shop-monitoring')
    values = [
        string_list(attr(f[3], 'values'))
        for b in blocks(parse_alloy(text), 'discovery.docker')
        for f in blocks(b[3], 'filter')
    ]
    assert sorted(values) == [['com.docker.compose.project=shop'], ['com.docker.compose.project=shop-monitoring']]
