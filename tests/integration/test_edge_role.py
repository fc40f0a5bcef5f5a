"""The edge role against the real engine, as tests/integration/playbooks/edge_role.yml runs it.

Each test gets its own edge (container, network, config directory under /tmp,
all named itest-edge-<id>, and a free port on 127.0.0.1) and removes it
afterwards. The image is the offline nginx; nothing is pulled.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import time
import uuid
from typing import NamedTuple

import pytest
from playbook_runs import run_playbook

PLAYBOOK = 'tests/integration/playbooks/edge_role.yml'
NGINX_IMAGE = 'auraspeak-offline/nginx:1.22'
NODE_IMAGE = 'auraspeak-offline/node:18'
PLACEHOLDER = 'upstreams/itest_app.placeholder.conf'
SITE = {'name': 'app', 'server_names': ['_'], 'upstream': 'itest_app'}

# A fake app replica: JSON naming itself, 404 for /missing, and headers the
# edge must hide or replace.
BACKEND_JS = """
const http = require('http');
const server = http.createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.setHeader('x-powered-by', 'itest-backend');
  res.setHeader('x-frame-options', 'SAMEORIGIN');
  res.statusCode = req.url === '/missing' ? 404 : 200;
  res.end(JSON.stringify({backend: process.env.BACKEND_NAME, path: req.url}));
}).listen(3000);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
"""


def docker(*args, check=True):
    proc = subprocess.run(['docker', *args], capture_output=True, text=True, timeout=120, check=False)
    if check and proc.returncode != 0:
        raise AssertionError('docker %s: %s%s' % (' '.join(args), proc.stdout, proc.stderr))
    return proc


def exists(kind, name):
    return docker(kind, 'inspect', name, check=False).returncode == 0


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class Response(NamedTuple):
    status: int
    headers: dict
    body: str


def get(port, path='/', attempts=20):
    """GET through the edge. Retries while the port is not answering yet."""
    for attempt in range(attempts):
        conn = http.client.HTTPConnection('127.0.0.1', port, timeout=5)
        try:
            conn.request('GET', path)
            response = conn.getresponse()
            return Response(response.status, dict(response.getheaders()), response.read().decode())
        except OSError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.5)
        finally:
            conn.close()
    raise AssertionError('attempts must be at least 1')


def tree(path):
    """Every file under path with its sha256: what is on disk."""
    files = {}
    for root, _dirs, names in os.walk(path):
        for name in names:
            full = os.path.join(root, name)
            with open(full, 'rb') as handle:
                files[os.path.relpath(full, path)] = hashlib.sha256(handle.read()).hexdigest()
    return files


def failure_text(run):
    """The messages of the failed tasks (and of their failed loop items)."""
    failed = [r for r in run.task_results() if r.get('failed')]
    failed += [item for r in failed for item in r.get('results', []) if item.get('failed')]
    return '\n'.join(str(r.get('msg', '')) for r in failed)


class Edge:
    """Names and variables of one test's edge, and what it takes to fake a deploy."""

    def __init__(self):
        self.id = 'itest-edge-' + uuid.uuid4().hex[:8]
        self.base_dir = '/tmp/' + self.id
        self.config_dir = self.base_dir + '/config'
        self.network = self.id + '-net'
        self.port = free_port()
        self.vars = {
            'edge_image': NGINX_IMAGE,
            'edge_container_name': self.id,
            'edge_network': self.network,
            'edge_config_dir': self.config_dir,
            'edge_bind_address': '127.0.0.1',
            'edge_http_port': self.port,
            'edge_sites': [SITE],
            # HTTP only here; test_edge_tls.py covers TLS.
            'edge_tls_mode': 'none',
            'edge_tls_dir': self.base_dir + '/tls',
        }

    def run(self, check=False, **overrides):
        return run_playbook(PLAYBOOK, dict(self.vars, **overrides), check=check)

    def path(self, relative):
        return os.path.join(self.config_dir, relative)

    def start_backend(self, name):
        docker('network', 'create', self.network, check=not exists('network', self.network))
        docker(
            'run', '-d', '--name', '%s-%s' % (self.id, name), '--network', self.network,
            '-e', 'BACKEND_NAME=' + name, NODE_IMAGE, 'node', '-e', BACKEND_JS,
        )  # fmt: skip

    def write_deploy_upstream(self, backend):
        """What compose_deploy writes for project 'itest', service 'app' (docs/deploy.md)."""
        os.makedirs(self.path('upstreams'), exist_ok=True)
        with open(self.path('upstreams/itest.conf'), 'w', encoding='utf-8') as handle:
            handle.write('upstream itest_app {\n    server %s-%s:3000;\n    keepalive 16;\n}\n' % (self.id, backend))

    def reload(self):
        docker('exec', self.id, 'nginx', '-t')
        docker('exec', self.id, 'nginx', '-s', 'reload')
        time.sleep(1)

    def container_state(self):
        return json.loads(docker('inspect', '--format', '{{json .State}}', self.id).stdout)

    def remove(self):
        names = docker('ps', '-aq', '--filter', 'name=^' + self.id).stdout.split()
        if names:
            docker('rm', '--force', *names, check=False)
        docker('volume', 'rm', '--force', self.id + '-metrics-socket', check=False)
        docker('network', 'rm', self.network, check=False)
        shutil.rmtree(self.base_dir, ignore_errors=True)


@pytest.fixture
def edge():
    if not exists('image', NGINX_IMAGE) or not exists('image', NODE_IMAGE):
        pytest.skip('build the offline images first (make images)')
    created = Edge()
    yield created
    created.remove()


def test_check_mode_on_a_fresh_host_then_apply_then_nothing_more_to_do(edge):
    checked = edge.run(check=True)
    assert checked.rc == 0, failure_text(checked) or checked.stdout[-3000:]
    assert checked.stats['changed'] > 0
    assert not os.path.exists(edge.config_dir)
    assert not exists('network', edge.network)
    assert not exists('container', edge.id)

    applied = edge.run()
    assert applied.rc == 0, failure_text(applied)
    assert applied.stats['changed'] > 0
    status, headers, body = get(edge.port, '/anything')
    assert status == 503
    assert json.loads(body)['error'] == 'no_release'
    assert headers['Content-Type'] == 'application/json'
    assert headers['Server'] == 'nginx'
    assert os.path.exists(edge.path(PLACEHOLDER))
    with open(edge.path('nginx.conf'), encoding='utf-8') as handle:
        assert handle.readline().startswith('#')  # ansible_managed

    rechecked = edge.run(check=True)
    assert rechecked.rc == 0
    assert rechecked.stats['changed'] == 0
    again = edge.run()
    assert again.rc == 0
    assert again.stats['changed'] == 0


def test_placeholder_gives_way_to_the_deploy_upstream_in_both_orders(edge):
    # Edge role first: placeholder. Then the deploy writes its file and deletes the placeholder.
    assert edge.run().rc == 0
    edge.start_backend('a')
    edge.write_deploy_upstream('a')
    os.remove(edge.path(PLACEHOLDER))
    edge.reload()
    response = get(edge.port)
    assert (response.status, json.loads(response.body)['backend']) == (200, 'a')

    # The role again: the upstream is defined, no placeholder comes back, nothing changes.
    rerun = edge.run()
    assert rerun.rc == 0, failure_text(rerun)
    assert rerun.stats['changed'] == 0
    assert not os.path.exists(edge.path(PLACEHOLDER))

    # A deploy that left the placeholder behind (a duplicate upstream): the role removes it.
    with open(edge.path(PLACEHOLDER), 'w', encoding='utf-8') as handle:
        handle.write('upstream itest_app {\n    server unix:/run/nginx-edge-no-release.sock;\n}\n')
    assert 'duplicate upstream' in docker('exec', edge.id, 'nginx', '-t', check=False).stderr
    fixed = edge.run()
    assert fixed.rc == 0, failure_text(fixed)
    assert fixed.stats['changed'] > 0
    assert not os.path.exists(edge.path(PLACEHOLDER))
    docker('exec', edge.id, 'nginx', '-t')
    assert get(edge.port).status == 200

    # The project's upstream file is gone: the role puts the placeholder back.
    os.remove(edge.path('upstreams/itest.conf'))
    restored = edge.run()
    assert restored.rc == 0, failure_text(restored)
    assert os.path.exists(edge.path(PLACEHOLDER))
    assert get(edge.port).status == 503


def test_deploy_first_then_the_role_writes_no_placeholder(edge):
    edge.start_backend('a')
    edge.write_deploy_upstream('a')
    run = edge.run()
    assert run.rc == 0, failure_text(run)
    assert not os.path.exists(edge.path(PLACEHOLDER))
    response = get(edge.port, '/hello')
    assert (response.status, json.loads(response.body)) == (200, {'backend': 'a', 'path': '/hello'})


BROKEN_CONFIGS = [
    ({'edge_extra_http_config': 'this_is_not_a_directive on;'}, 'unknown directive "this_is_not_a_directive"'),
    (
        {'edge_sites': [dict(SITE, extra_config='proxy_buffering maybe;')]},
        'invalid value "maybe" in "proxy_buffering" directive',
    ),
]


def test_a_config_nginx_rejects_fails_the_play_and_never_goes_live(edge):
    # Both broken configurations against one running edge, in check mode and for real.
    assert edge.run().rc == 0
    before_files = tree(edge.config_dir)
    before_state = edge.container_state()

    for broken, nginx_says in BROKEN_CONFIGS:
        for check in (True, False):
            run = edge.run(check=check, **broken)
            assert run.rc != 0
            failed = failure_text(run)
            assert 'nginx -t rejected the new edge configuration' in failed
            assert nginx_says in failed

    assert tree(edge.config_dir) == before_files
    after_state = edge.container_state()
    assert after_state['StartedAt'] == before_state['StartedAt']
    assert after_state['Running']
    response = get(edge.port)
    assert response.status == 503
    assert json.loads(response.body)['error'] == 'no_release'
    assert not exists('container', edge.id + '-nginx-t')


@pytest.mark.parametrize(
    ('bad', 'named'),
    [
        ({'edge_http_port': 70000}, 'edge_http_port'),
        ({'edge_status_port': 80}, 'edge_status_port'),
        ({'edge_sites': [{'name': 'app', 'server_names': ['_'], 'upstream': 'a'}] * 2}, 'edge_sites'),
        ({'edge_sites': [{'name': 'app', 'server_names': [], 'upstream': 'a'}]}, 'server_names'),
        ({'edge_sites': [{'name': 'app', 'server_names': ['_'], 'upstream': 'my-app!'}]}, 'upstream'),
        ({'edge_run_as': 'root'}, 'edge_run_as'),
    ],
    ids=['port-range', 'status-port', 'duplicate-site', 'no-server-names', 'upstream-name', 'run-as-root'],
)
def test_bad_input_names_the_variable_and_changes_nothing(edge, bad, named):
    run = edge.run(**bad)
    assert run.rc != 0
    assert named in failure_text(run)
    assert run.stats['changed'] == 0
    assert not os.path.exists(edge.config_dir)
    assert not exists('network', edge.network)
    assert not exists('container', edge.id)


# --------------------------------------------------------------------------
# Request metrics (mtail beside nginx)
# --------------------------------------------------------------------------


def container_ip(name):
    return docker('inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', name).stdout.strip()


def edge_counts(edge):
    """{(upstream, status): count} of edge_http_requests_total, read from mtail over the edge network."""
    conn = http.client.HTTPConnection(container_ip(edge.id + '-metrics'), 3903, timeout=5)
    try:
        conn.request('GET', '/metrics')
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    counts = {}
    for line in text.splitlines():
        if line.startswith('edge_http_requests_total{'):
            labels, value = line[len('edge_http_requests_total{') :].rsplit('} ', 1)
            pairs = dict(item.split('=', 1) for item in labels.split(','))
            counts[(pairs['upstream'].strip('"'), pairs['status'].strip('"'))] = float(value)
    return counts


def wait_for_counts(edge, expected, timeout=30):
    """mtail hands lines to its programs a second or two after they arrive."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            counts = edge_counts(edge)
        except OSError:
            counts = None
        if counts == expected or time.monotonic() > deadline:
            return counts
        time.sleep(0.5)


def kill_main_process(container):
    """kill -9 from the host, as a crash would: unlike `docker kill`, the restart policy applies."""
    pid = docker('inspect', '-f', '{{.State.Pid}}', container).stdout.strip()
    subprocess.run(['kill', '-9', pid], check=True)


def test_every_answer_is_counted_per_upstream_and_status_and_a_crashed_mtail_costs_no_request(edge):
    assert edge.run().rc == 0
    assert docker('inspect', '-f', '{{.State.Health.Status}}', edge.id + '-metrics').stdout.strip() == 'healthy'
    # Before any release: nginx answers from the placeholder's socket.
    assert [get(edge.port).status for _request in range(3)] == [503] * 3
    edge.start_backend('a')
    edge.write_deploy_upstream('a')
    os.remove(edge.path(PLACEHOLDER))
    edge.reload()
    backend = container_ip(edge.id + '-a') + ':3000'
    statuses = [get(edge.port, '/missing' if n % 4 == 0 else '/ok').status for n in range(20)]
    assert statuses.count(200) == 15 and statuses.count(404) == 5
    expected = {
        ('unix:/run/nginx-edge-no-release.sock', '503'): 3,
        (backend, '200'): 15,
        (backend, '404'): 5,
    }
    assert wait_for_counts(edge, expected) == expected

    # mtail crashes: nginx serves on while the engine restarts it, then counting resumes.
    kill_main_process(edge.id + '-metrics')
    assert [get(edge.port, '/ok').status for _request in range(30)] == [200] * 30
    deadline = time.monotonic() + 30
    while docker('inspect', '-f', '{{.State.Health.Status}}', edge.id + '-metrics').stdout.strip() != 'healthy':
        assert time.monotonic() < deadline, 'mtail did not come back'
        time.sleep(0.5)
    time.sleep(3)  # lines of the 30 that reached the new mtail are counted by now
    before = edge_counts(edge).get((backend, '200'), 0)
    assert [get(edge.port, '/ok').status for _request in range(10)] == [200] * 10
    assert wait_for_counts(edge, {(backend, '200'): before + 10}) == {(backend, '200'): before + 10}
    assert edge.run().stats['changed'] == 0


def test_metrics_off_removes_mtail_and_nginx_sends_nothing_without_a_restart(edge):
    assert edge.run().rc == 0
    assert exists('container', edge.id + '-metrics')
    started = edge.container_state()['StartedAt']
    off = edge.run(edge_metrics_enabled=False)
    assert off.rc == 0, failure_text(off)
    assert not exists('container', edge.id + '-metrics')
    assert edge.container_state()['StartedAt'] == started
    with open(edge.path('nginx.conf'), encoding='utf-8') as handle:
        assert 'syslog:' not in handle.read()
    assert get(edge.port).status == 503
    assert edge.run(edge_metrics_enabled=False).stats['changed'] == 0
