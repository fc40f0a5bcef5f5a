"""The monitoring stack's Compose file with every service on, Grafana, Loki, Alloy and
cAdvisor included: their images cannot run here, so this is how far they are checked.
The role's own task renders it, and `docker compose config` (its validation) must accept it.
"""

from __future__ import annotations

import os

import pytest
import yaml
from deploy_stack import docker
from monitoring_stack import wait_for
from playbook_runs import run_playbook

pytestmark = pytest.mark.monitoring

PUBLISHED = {'prometheus', 'alertmanager', 'grafana'}
# Their upstream images are FROM scratch: the host's static busybox, mounted read-only, is their probe.
PROBED_WITH_THE_HOSTS_BUSYBOX = {'redis-exporter', 'nginx-exporter'}
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
        assert service['healthcheck']['test'][0] == 'CMD', name
        assert service['restart'] == 'on-failure:5', name
        assert service['labels'] == {'io.auraspeak.ops.start-order': '50'}, name
        probe = '/bin/busybox:/probe/busybox:ro'
        assert (probe in service.get('volumes', [])) == (name in PROBED_WITH_THE_HOSTS_BUSYBOX), name
        if name in PROBED_WITH_THE_HOSTS_BUSYBOX:
            assert service['healthcheck']['test'][:3] == ['CMD', '/probe/busybox', 'wget'], name
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


def test_a_health_check_can_be_replaced_or_turned_off(tmp_path):
    probe = ['CMD', '/probe', 'http://127.0.0.1:9121/']
    run, compose_file = render(tmp_path, {'monitoring_healthchecks': {'redis-exporter': probe, 'prometheus': []}})
    assert run.rc == 0, run.failures()
    services = yaml.safe_load(compose_file.read_text())['services']
    assert services['redis-exporter']['healthcheck']['test'] == probe
    assert 'healthcheck' not in services['prometheus']


def test_without_a_probe_binary_the_scratch_exporters_run_without_a_check_or_a_mount(tmp_path):
    run, compose_file = render(tmp_path, {'monitoring_probe_binary': ''})
    assert run.rc == 0, run.failures()
    services = yaml.safe_load(compose_file.read_text())['services']
    for name in PROBED_WITH_THE_HOSTS_BUSYBOX:
        assert 'healthcheck' not in services[name] and 'volumes' not in services[name], name


@pytest.fixture(scope='module')
def alloy_probe(tmp_path_factory):
    """The health check the role renders for Alloy, without its leading CMD."""
    run, compose_file = render(tmp_path_factory.mktemp('alloy'))
    assert run.rc == 0, run.failures()
    test = yaml.safe_load(compose_file.read_text())['services']['alloy']['healthcheck']['test']
    assert test[0] == 'CMD', test
    return test[1:]


# Alloy answers on 127.0.0.1:12345 inside its container by default: /-/ready is 200 once it has
# loaded its configuration, 503 before. The last stand-in listens elsewhere: nothing on 12345.
STANDINS = {
    'ready': (12345, 'location = /-/ready { return 200; }', True),
    'not ready': (12345, 'location = /-/ready { return 503; }', False),
    'not listening': (8080, '', False),
}


@pytest.mark.parametrize('standin', STANDINS)
def test_alloys_health_check_asks_its_ready_endpoint(alloy_probe, tmp_path, standin):
    """Alloy cannot run here: its probe runs in a shell like its image's, beside a stand-in of its HTTP server."""
    port, location, healthy = STANDINS[standin]
    conf = tmp_path / 'nginx.conf'
    conf.write_text('events {}\nhttp { server { listen 127.0.0.1:%d; %s } }\n' % (port, location))
    server = 'itest-alloy-standin-%d' % os.getpid()
    docker('run', '-d', '--name', server, '-v', '%s:/etc/nginx/nginx.conf:ro' % conf, NGINX_IMAGE)
    try:
        # Probe only once the stand-in listens, so "unhealthy" never means "not started yet".
        listening = ['bash', '-c', 'exec 3<>/dev/tcp/127.0.0.1/%d' % port]
        wait_for(lambda: docker('exec', server, *listening, check=False).returncode == 0, 30, 0.2, 'the stand-in')
        probe = docker('run', '--rm', '--network', 'container:' + server, UBUNTU_LIKE_IMAGE, *alloy_probe, check=False)
    finally:
        docker('rm', '-f', server)
    assert (probe.returncode == 0) is healthy, (standin, probe.returncode, probe.stderr)
