"""deploy.yml with an image this project did not write: the offline Alertmanager.

No JWT secret, no database, no Redis, no migration, no edge, no NODE_ENV, and no
health check in the image: the deploy probes app_health_path itself. The
inventory below holds nothing of auraspeak-server, so whatever the collection
still assumes of it shows here. The tests depend on their order.
"""

from __future__ import annotations

import json
import os
import pathlib
import sys
import urllib.error
import urllib.request

import pytest
import yaml
from deploy_stack import docker
from playbook_runs import run_playbook

pytestmark = pytest.mark.deploy

PROJECT = 'itest-any'
IMAGE = 'itest-any/alertmanager'
SOURCE_IMAGE = 'auraspeak-offline/alertmanager:0.25'


@pytest.fixture(scope='module')
def stack(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp('any-image'))
    for version in ('1', '2'):
        docker('image', 'tag', SOURCE_IMAGE, '%s:%s' % (IMAGE, version))
    inventory = os.path.join(workdir, 'hosts.yml')
    host = {
        'ansible_connection': 'local',
        'ansible_python_interpreter': sys.executable,
        'app_project': PROJECT,
        'app_config_dir': os.path.join(workdir, 'etc'),
        'app_state_dir': os.path.join(workdir, 'state'),
        'app_image_name': IMAGE,
        'app_pull': 'never',
        'app_port': 9093,
        'app_user': '65534:65534',  # the image's own user, who owns its data volume
        'app_replicas': 2,
        'app_uses_jwt': False,
        'app_uses_database': False,
        'app_uses_redis': False,
        'app_migration_command': [],
        'app_node_env': '',
        'app_edge_enabled': False,
        'app_health_path': '/-/healthy',
        'app_readiness_path': '/-/ready',
        'app_health_timeout': 30,
        'app_drain_timeout': 0,
    }
    with open(inventory, 'w', encoding='utf-8') as handle:
        yaml.safe_dump({'all': {'children': {'app': {'hosts': {PROJECT: host}}}}}, handle)
    remove_project()
    yield inventory
    remove_project()
    docker('image', 'rm', '%s:1' % IMAGE, '%s:2' % IMAGE, check=False)


def remove_project():
    ids = docker('ps', '-aq', '--filter', 'label=com.docker.compose.project=%s' % PROJECT, check=False).stdout.split()
    if ids:
        docker('rm', '--force', '--volumes', *ids, check=False)
    docker('network', 'rm', PROJECT + '_internal', check=False)


def deploy(inventory, version, **extra):
    return run_playbook('playbooks/deploy.yml', dict(app_version=version, **extra), inventory=inventory)


def project_containers():
    ids = docker(
        'ps',
        '-aq',
        '--filter',
        'label=com.docker.compose.project=%s' % PROJECT,
        '--filter',
        'label=com.docker.compose.oneoff=False',
    ).stdout.split()
    return json.loads(docker('inspect', *ids).stdout) if ids else []


def answer(container, path):
    address = next(iter(container['NetworkSettings']['Networks'].values()))['IPAddress']
    try:
        with urllib.request.urlopen('http://%s:9093%s' % (address, path), timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def anonymous_volumes(containers):
    return sorted(m['Name'] for c in containers for m in c['Mounts'] if m['Type'] == 'volume')


def ledger(inventory):
    with open(os.path.join(os.path.dirname(inventory), 'state', PROJECT, 'releases.json'), encoding='utf-8') as f:
        return json.load(f)['releases']


def test_an_image_without_a_health_check_deploys_with_the_deploys_own_probe(stack):
    run = deploy(stack, '1')
    assert run.rc == 0, run.failures(PROJECT) or run.stderr[-3000:]
    containers = project_containers()
    assert sorted(c['Config']['Labels']['com.docker.compose.service'] for c in containers) == ['app', 'app']
    for container in containers:
        assert container['State']['Status'] == 'running' and 'Health' not in container['State']
        assert answer(container, '/-/healthy') == 200
        names = {item.split('=', 1)[0] for item in container['Config']['Env']}
        assert not names & {'NODE_ENV', 'JWT_SECRET', 'DATABASE_URL', 'REDIS_URL', 'SENTRY_DSN'}, names
        assert not [n for n in names if n.endswith('_FILE')], names
    assert [(r['version'], r['status']) for r in ledger(stack)] == [('1', 'active')]


def test_a_second_run_changes_nothing(stack):
    before = sorted(c['Id'] for c in project_containers())
    run = deploy(stack, '1')
    assert run.rc == 0, run.failures(PROJECT)
    assert run.host_stats(PROJECT)['changed'] == 0, [r for r in run.task_results(PROJECT) if r.get('changed')]
    assert sorted(c['Id'] for c in project_containers()) == before


def test_without_a_path_to_probe_the_image_is_refused_and_the_release_keeps_serving(stack):
    before = sorted(c['Id'] for c in project_containers())
    run = deploy(stack, '2', app_health_path='')
    assert run.rc != 0
    message = ' '.join(run.failures(PROJECT))
    assert 'has no health check' in message and 'app_health_path' in message, message
    assert sorted(c['Id'] for c in project_containers()) == before


def test_a_release_that_never_answers_its_health_path_leaves_the_old_one_serving(stack):
    before = sorted(c['Id'] for c in project_containers())
    run = deploy(stack, '2', app_health_path='/not-there', app_health_timeout=5)
    assert run.rc != 0
    message = ' '.join(run.failures(PROJECT))
    assert 'answered 404' in message, message
    assert sorted(c['Id'] for c in project_containers()) == before
    assert [(r['version'], r['status']) for r in ledger(stack)][-1] == ('2', 'failed')


def test_a_new_release_rolls_out_and_takes_the_old_ones_volumes_with_them(stack):
    old = project_containers()
    old_volumes = anonymous_volumes(old)
    assert len(old_volumes) == 2  # the image's VOLUME, one per replica
    run = deploy(stack, '2')
    assert run.rc == 0, run.failures(PROJECT)
    new = project_containers()
    assert not {c['Id'] for c in new} & {c['Id'] for c in old}
    assert {c['Config']['Labels']['io.auraspeak.ops.release'] for c in new} == {'2'}
    assert all(answer(c, '/-/ready') == 200 for c in new)
    left = docker('volume', 'ls', '--quiet').stdout.split()
    assert not set(old_volumes) & set(left), 'the retired replicas left their anonymous volumes'


def test_a_database_the_app_does_not_use_is_refused_before_anything_changes(stack):
    before = sorted(c['Id'] for c in project_containers())
    run = deploy(stack, '1', app_postgres_enabled=True)
    assert run.rc != 0
    message = ' '.join(run.failures(PROJECT))
    assert 'app_postgres_enabled runs a PostgreSQL the app does not use' in message, message
    assert sorted(c['Id'] for c in project_containers()) == before


def test_a_secret_without_a_jwt_secret_is_fingerprinted_with_a_key_kept_on_the_host(stack):
    token = 'itest-any-token-7c1e'
    run = deploy(stack, '2', app_secret_env={'ALERT_TOKEN': token})
    assert run.rc == 0, run.failures(PROJECT)
    key = pathlib.Path(os.path.dirname(stack), 'state', PROJECT, 'secrets-fingerprint.key')
    assert oct(key.stat().st_mode & 0o777) == '0o600' and len(key.read_text(encoding='utf-8')) == 43
    containers = project_containers()
    labels = {c['Config']['Labels'].get('io.auraspeak.ops.secrets') for c in containers}
    assert len(labels) == 1 and None not in labels
    assert token not in json.dumps([c['Config'] for c in containers]) and token not in run.stdout
    again = deploy(stack, '2', app_secret_env={'ALERT_TOKEN': token})
    assert again.rc == 0 and again.host_stats(PROJECT)['changed'] == 0
