"""The monitoring stack's Compose file with every service on, Grafana, Loki, Alloy and
cAdvisor included: their images cannot run here, so this is how far they are checked.
The role's own task renders it, and `docker compose config` (its validation) must accept it.
"""

from __future__ import annotations

import os

import pytest
import yaml
from deploy_stack import docker
from playbook_runs import run_playbook

pytestmark = pytest.mark.monitoring

PUBLISHED = {'prometheus', 'alertmanager', 'grafana'}
# Their upstream images are FROM scratch: nothing to probe with, and nothing added (docs/security.md).
NO_HEALTH_CHECK = {'redis-exporter', 'nginx-exporter'}
NGINX_IMAGE = 'auraspeak-offline/nginx:1.22'
# Alloy's image is Ubuntu: bash, head and grep, as in the offline Debian base.
UBUNTU_LIKE_IMAGE = 'auraspeak-offline/debian:bookworm'


def render(tmp_path, extra=None):
    config_dir = tmp_path / 'monitoring'
    (config_dir / 'secrets').mkdir(parents=True)
    for name in ('postgres_password', 'grafana_admin_password', 'redis_passwords.json'):
        (config_dir / 'secrets' / name).write_text('x')
    extra_vars = {
        'monitoring_config_dir': str(config_dir),
        'monitoring_textfile_dir': str(tmp_path / 'metrics'),
        'monitoring_grafana_enabled': True,
        'monitoring_loki_enabled': True,
        'monitoring_alloy_enabled': True,
        'monitoring_cadvisor_enabled': True,
        **(extra or {}),
    }
    run = run_playbook('tests/integration/playbooks/monitoring_compose.yml', extra_vars)
    compose_file = config_dir / 'compose.yaml'
    return run, compose_file


def test_every_service_is_accepted_by_compose(tmp_path):
    run, compose_file = render(tmp_path)
    assert run.rc == 0, run.failures()
    compose = yaml.safe_load(compose_file.read_text())
    services = compose['services']
    assert set(services) == {
        'prometheus', 'alertmanager', 'node-exporter', 'blackbox-exporter', 'postgres-exporter',
        'redis-exporter', 'nginx-exporter', 'cadvisor', 'grafana', 'loki', 'alloy', 'docker-api-proxy',
    }  # fmt: skip
    for name, service in services.items():
        ports = service.get('ports', [])
        if name in PUBLISHED:
            assert ports and all(port.startswith('127.0.0.1:') for port in ports), (name, ports)
        else:
            assert ports == [], (name, ports)
        assert service['read_only'] is True, name
        assert 'no-new-privileges:true' in service['security_opt'], name
        assert set(service['deploy']['resources']['limits']) == {'memory', 'cpus', 'pids'}, name
        if name in NO_HEALTH_CHECK:
            assert 'healthcheck' not in service, name
        else:
            assert service['healthcheck']['test'][0] == 'CMD', name
    # Only the Docker API proxy mounts the engine's socket, of the services that can run without it.
    socket = '/var/run/docker.sock:/var/run/docker.sock:ro'
    assert {name for name, service in services.items() if socket in service.get('volumes', [])} == {
        'docker-api-proxy',
        'alloy',
    }
    assert (
        services['grafana']['environment']['GF_SECURITY_ADMIN_PASSWORD__FILE'] == '/run/secrets/grafana_admin_password'
    )
    assert set(compose['volumes']) == {
        'prometheus-data',
        'alertmanager-data',
        'grafana-data',
        'loki-data',
        'alloy-data',
    }


def test_compose_refuses_a_broken_file_and_nothing_is_written(tmp_path):
    # Valid YAML, but no port: compose's own check must stop it before it is written.
    run, compose_file = render(tmp_path, {'monitoring_prometheus_port': 'ninety'})
    assert run.rc != 0
    assert 'failed to validate' in str(run.failures()), run.failures()
    assert not os.path.exists(compose_file)


def test_a_health_check_can_be_added_to_an_image_without_one(tmp_path):
    probe = ['CMD', '/probe', 'http://127.0.0.1:9121/']
    run, compose_file = render(tmp_path, {'monitoring_healthchecks': {'redis-exporter': probe, 'prometheus': []}})
    assert run.rc == 0, run.failures()
    services = yaml.safe_load(compose_file.read_text())['services']
    assert services['redis-exporter']['healthcheck']['test'] == probe
    assert 'healthcheck' not in services['prometheus']


@pytest.mark.parametrize('answer, healthy', [(200, True), (503, False), (None, False)])
def test_alloys_health_check_asks_its_ready_endpoint(tmp_path, answer, healthy):
    """Alloy cannot run here: its probe runs in a shell like its image's, beside a stand-in of its HTTP server."""
    run, compose_file = render(tmp_path)
    assert run.rc == 0, run.failures()
    test = yaml.safe_load(compose_file.read_text())['services']['alloy']['healthcheck']['test']
    assert test[0] == 'CMD', test
    # Alloy answers on 127.0.0.1:12345 inside its container by default; /-/ready is 200 once its
    # components run, 503 before.
    conf = tmp_path / 'nginx.conf'
    conf.write_text(
        'events {}\nhttp { server { listen 127.0.0.1:12345; location = /-/ready { return %s; } } }\n' % answer
    )
    server = 'itest-alloy-standin-%s' % answer
    if answer is None:
        conf.write_text('events {}\nhttp { server { listen 127.0.0.1:8080; } }\n')
    docker('run', '-d', '--name', server, '-v', '%s:/etc/nginx/nginx.conf:ro' % conf, NGINX_IMAGE)
    try:
        probe = docker('run', '--rm', '--network', 'container:' + server, UBUNTU_LIKE_IMAGE, *test[1:], check=False)
    finally:
        docker('rm', '-f', server)
    assert (probe.returncode == 0) is healthy, (answer, probe.returncode, probe.stderr)
