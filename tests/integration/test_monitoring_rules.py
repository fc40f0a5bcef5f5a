"""The monitoring role's Prometheus alert rules, rendered and unit-tested with promtool.

Each roles/monitoring/templates/rules/<group>.rules.yml.j2 is rendered the way the role
renders it (Jinja variables between double square brackets, so Prometheus' own curly-brace
templates stay as they are) with the role's defaults, into a temporary directory. promtool
from the offline Prometheus image then checks every rendered file (`promtool check rules`)
and runs the unit tests of tests/promtool/<group>.test.yml (`promtool test rules`), in a
container without network that mounts both directories read-only: the test files name
their rule files as /rules/<group>.rules.yml.

The pure-Python tests need no Docker: every alert has a severity, a summary and a
description, and is covered by a test case where it fires and one where it must not.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import jinja2
import pytest
import yaml

pytestmark = pytest.mark.monitoring

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / 'roles' / 'monitoring'
TEMPLATES = ROLE / 'templates' / 'rules'
PROMTOOL_TESTS = ROOT / 'tests' / 'promtool'
IMAGE = 'auraspeak-offline/prometheus:2.42'
GROUPS = ('app', 'host', 'containers', 'services', 'backups', 'tls', 'edge', 'swarm')
DOCKER_TIMEOUT = 300  # seconds for one promtool run

# The defaults that are Jinja expressions, as the role resolves them without inventory.
EXPRESSION_VALUES = {'monitoring_app_replicas': 2, 'monitoring_app_project': 'auraspeak'}


def role_context() -> dict:
    """The role's defaults that are plain values, plus the expressions the rules use."""
    defaults = yaml.safe_load((ROLE / 'defaults' / 'main.yml').read_text(encoding='utf-8'))
    context = {name: value for name, value in defaults.items() if not (isinstance(value, str) and '{{' in value)}
    context.update(EXPRESSION_VALUES)
    return context


def render(template: Path, context: dict) -> str:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template.parent)),
        variable_start_string='[[',
        variable_end_string=']]',
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    return environment.get_template(template.name).render(context)


@pytest.fixture(scope='module')
def rules_dir(tmp_path_factory) -> Path:
    """Every rules template rendered as <group>.rules.yml, readable by promtool's user."""
    directory = tmp_path_factory.mktemp('rules')
    context = role_context()
    for template in sorted(TEMPLATES.glob('*.rules.yml.j2')):
        (directory / template.name.removesuffix('.j2')).write_text(render(template, context), encoding='utf-8')
    directory.chmod(0o755)
    for path in directory.iterdir():
        path.chmod(0o644)
    return directory


@pytest.fixture(scope='module')
def rendered(rules_dir) -> dict[str, dict]:
    """Group name -> the rendered file, parsed."""
    return {
        path.name.removesuffix('.rules.yml'): yaml.safe_load(path.read_text(encoding='utf-8'))
        for path in sorted(rules_dir.glob('*.rules.yml'))
    }


@pytest.fixture(scope='module')
def alerts(rendered) -> dict[str, dict]:
    """Alert name -> its rule, over every group."""
    found = {}
    for document in rendered.values():
        for group in document['groups']:
            for rule in group['rules']:
                if 'alert' in rule:
                    assert rule['alert'] not in found, 'alert %s is defined twice' % rule['alert']
                    found[rule['alert']] = rule
    return found


@pytest.fixture(scope='module')
def promtool():
    """Run promtool in the offline image, the rendered rules at /rules and the tests at /tests."""
    if shutil.which('docker') is None:
        pytest.skip('no docker CLI')
    inspect = subprocess.run(
        ['docker', 'image', 'inspect', IMAGE], capture_output=True, text=True, check=False, timeout=60
    )
    if inspect.returncode != 0:
        pytest.skip('image %s is missing: build it with `make images`' % IMAGE)

    def run(rules_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
        command = [
            'docker', 'run', '--rm', '--network', 'none', '--user', '0',
            # The test storage lives in a temporary directory: the rest stays read-only.
            '--read-only', '--tmpfs', '/tmp',
            '--volume', '%s:/rules:ro' % rules_dir,
            '--volume', '%s:/tests:ro' % PROMTOOL_TESTS,
            '--workdir', '/tests',
            '--entrypoint', 'promtool',
            IMAGE, *args,
        ]  # fmt: skip
        return subprocess.run(command, capture_output=True, text=True, check=False, timeout=DOCKER_TIMEOUT)

    return run


def output(result: subprocess.CompletedProcess[str]) -> str:
    return 'exit code %d\n--- stdout\n%s\n--- stderr\n%s' % (result.returncode, result.stdout, result.stderr)


# --------------------------------------------------------------------------
# Rendering and coverage (no Docker)
# --------------------------------------------------------------------------


def test_one_template_and_one_test_file_per_group():
    assert sorted(path.name for path in TEMPLATES.glob('*.rules.yml.j2')) == sorted(
        '%s.rules.yml.j2' % group for group in GROUPS
    )
    for group in GROUPS:
        assert (PROMTOOL_TESTS / ('%s.test.yml' % group)).is_file(), 'no promtool tests for group %s' % group


def test_each_file_holds_its_named_group(rendered):
    for name, document in rendered.items():
        assert [group['name'] for group in document['groups']] == [name]


def test_every_threshold_variable_is_used():
    """A monitoring_alert_* default that no template reads would be a knob that does nothing."""
    text = ''.join(path.read_text(encoding='utf-8') for path in TEMPLATES.glob('*.rules.yml.j2'))
    unused = [name for name in role_context() if name.startswith('monitoring_alert_') and name not in text]
    assert unused == []


def test_thresholds_come_from_the_variables(rules_dir):
    """Another value of a variable changes the rendered rules (no threshold is hard-coded twice)."""
    context = role_context()
    for name in [name for name in context if name.startswith('monitoring_alert_')]:
        changed = dict(context, **{name: '4242'})
        differs = [
            template.name
            for template in TEMPLATES.glob('*.rules.yml.j2')
            if render(template, changed) != (rules_dir / template.name.removesuffix('.j2')).read_text(encoding='utf-8')
        ]
        assert differs, '%s changes no rendered rule' % name


def test_every_alert_has_severity_summary_and_description(alerts):
    assert alerts
    for name, rule in alerts.items():
        assert rule.get('labels', {}).get('severity') in ('warning', 'critical'), name
        for annotation in ('summary', 'description'):
            assert str(rule.get('annotations', {}).get(annotation, '')).strip(), '%s has no %s' % (name, annotation)
        assert '[[' not in rule['expr'] and ']]' not in rule['expr'], name


def test_every_alert_has_a_firing_and_a_quiet_test_case(alerts):
    firing, quiet = set(), set()
    for path in sorted(PROMTOOL_TESTS.glob('*.test.yml')):
        document = yaml.safe_load(path.read_text(encoding='utf-8'))
        for test in document.get('tests', []):
            for case in test.get('alert_rule_test', []):
                (firing if case.get('exp_alerts') else quiet).add(case['alertname'])
    assert sorted(set(alerts) - firing) == [], 'alerts without a test case where they fire'
    assert sorted(set(alerts) - quiet) == [], 'alerts without a test case where they must not fire'
    assert sorted((firing | quiet) - set(alerts)) == [], 'test cases of alerts that do not exist'


def test_test_files_name_the_rendered_rules(rendered):
    for path in sorted(PROMTOOL_TESTS.glob('*.test.yml')):
        document = yaml.safe_load(path.read_text(encoding='utf-8'))
        assert document['rule_files'], path.name
        for rule_file in document['rule_files']:
            assert rule_file.startswith('/rules/') and rule_file.removeprefix('/rules/').removesuffix('.rules.yml') in (
                rendered
            ), '%s: %s is not a rendered rules file' % (path.name, rule_file)


# --------------------------------------------------------------------------
# promtool
# --------------------------------------------------------------------------


@pytest.mark.parametrize('group', GROUPS)
def test_promtool_check_rules(promtool, rules_dir, group):
    result = promtool(rules_dir, 'check', 'rules', '/rules/%s.rules.yml' % group)
    assert result.returncode == 0, output(result)
    assert 'SUCCESS' in result.stdout, output(result)


@pytest.mark.parametrize('group', GROUPS)
def test_promtool_unit_tests(promtool, rules_dir, group):
    result = promtool(rules_dir, 'test', 'rules', '/tests/%s.test.yml' % group)
    assert result.returncode == 0, output(result)


# --------------------------------------------------------------------------
# The series the rules read exist: the postgres exporter against a real PostgreSQL
# --------------------------------------------------------------------------

POSTGRES_IMAGE = 'auraspeak-offline/postgres:15'
EXPORTER_IMAGE = 'auraspeak-offline/postgres-exporter:0.11'
CONTRACT = 'itest-rules-pg'  # network and container prefix (conftest removes leftovers)


def docker(*args: str) -> str:
    result = subprocess.run(['docker', *args], capture_output=True, text=True, check=False, timeout=DOCKER_TIMEOUT)
    assert result.returncode == 0, (args, result.stderr)
    return result.stdout.strip()


def scrape_at(address: str, wanted: str, timeout: float = 60) -> str:
    """The exporter's metrics once they hold the wanted text (or at the timeout): it starts before it answers."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen('http://%s:9187/metrics' % address, timeout=10) as response:
                text = response.read().decode()
            if wanted in text or time.monotonic() > deadline:
                return text
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.5)


@pytest.fixture
def exporter_metrics(promtool):
    """The exporter's metrics for a PostgreSQL that has the WAL receiver's slot (app_postgres_wal_stream)."""
    for image in (POSTGRES_IMAGE, EXPORTER_IMAGE):
        if subprocess.run(['docker', 'image', 'inspect', image], capture_output=True, check=False).returncode:
            pytest.skip('image %s is missing: build it with `make images`' % image)
    subprocess.run(
        ['docker', 'rm', '--force', CONTRACT + '-db', CONTRACT + '-exporter'], capture_output=True, check=False
    )
    subprocess.run(['docker', 'network', 'rm', CONTRACT], capture_output=True, check=False)
    docker('network', 'create', CONTRACT)
    try:
        docker('run', '--detach', '--name', CONTRACT + '-db', '--network', CONTRACT, '--shm-size', '64m',
               '-e', 'POSTGRES_USER=app', '-e', 'POSTGRES_PASSWORD=contract', POSTGRES_IMAGE)  # fmt: skip
        deadline = time.monotonic() + 120
        while subprocess.run(['docker', 'exec', CONTRACT + '-db', 'pg_isready', '-U', 'app', '-h', '127.0.0.1'],
                             capture_output=True, check=False).returncode:  # fmt: skip
            assert time.monotonic() < deadline, 'PostgreSQL did not start'
            time.sleep(0.5)
        docker('exec', CONTRACT + '-db', 'psql', '-XAtq', '-U', 'app', '-c',
               "SELECT pg_create_physical_replication_slot('auraspeak_wal_stream', true)")  # fmt: skip
        # As the monitoring role runs it: the address, then the user and the password apart (the role
        # hands the password over as a file).
        docker('run', '--detach', '--name', CONTRACT + '-exporter', '--network', CONTRACT,
               '-e', 'DATA_SOURCE_URI=%s-db:5432/app?sslmode=disable' % CONTRACT,
               '-e', 'DATA_SOURCE_USER=app', '-e', 'DATA_SOURCE_PASS=contract', EXPORTER_IMAGE)  # fmt: skip
        address = docker('inspect', '--format', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}',
                         CONTRACT + '-exporter')  # fmt: skip
        yield scrape_at(address, 'slot_name="auraspeak_wal_stream"')
    finally:
        subprocess.run(
            ['docker', 'rm', '--force', CONTRACT + '-db', CONTRACT + '-exporter'], capture_output=True, check=False
        )
        subprocess.run(['docker', 'network', 'rm', CONTRACT], capture_output=True, check=False)


def test_every_postgres_series_the_rules_read_is_one_the_exporter_exports(alerts, exporter_metrics):
    read = {name for rule in alerts.values() for name in re.findall(r'\b(pg_[a-z_]+)\{', rule['expr'])}
    assert {'pg_up', 'pg_replication_slots_active', 'pg_replication_slots_pg_wal_lsn_diff'} <= read
    exported = set(re.findall(r'^(pg_[a-z_]+)[{ ]', exporter_metrics, re.M))
    assert read <= exported, sorted(read - exported)
    # The slot's series carry the label the rules select on, and an unused slot reads inactive.
    assert (
        'pg_replication_slots_active{database="",server="%s-db:5432",slot_name="auraspeak_wal_stream"} 0' % (CONTRACT)
        in exporter_metrics.splitlines()
    )
