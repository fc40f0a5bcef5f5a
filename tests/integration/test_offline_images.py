"""Smoke tests of the offline service images built from images/<name>/.

Each test starts real containers from the locally built images (nothing is
pulled) through the docker CLI, checks one behaviour the deployment relies
on, and removes everything it created (containers, networks and volumes
named itest-img-*) even when it fails. A test whose image is missing is
skipped: build the images first with `make images`.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

# Image key (the directory under images/) -> tag built from it.
IMAGES = {
    'postgres': 'auraspeak-offline/postgres:15',
    'redis': 'auraspeak-offline/redis:7.0',
    'nginx': 'auraspeak-offline/nginx:1.22',
    'prometheus': 'auraspeak-offline/prometheus:2.42',
    'alertmanager': 'auraspeak-offline/alertmanager:0.25',
    'node-exporter': 'auraspeak-offline/node-exporter:1.5',
    'postgres-exporter': 'auraspeak-offline/postgres-exporter:0.11',
    'redis-exporter': 'auraspeak-offline/redis-exporter:1.45',
    'nginx-exporter': 'auraspeak-offline/nginx-exporter:0.11',
    'blackbox-exporter': 'auraspeak-offline/blackbox-exporter:0.23',
    'restic': 'auraspeak-offline/restic:0.14',
    'mtail': 'auraspeak-offline/mtail:3.0',
}

PREFIX = 'itest-img-'
DOCKER_TIMEOUT = 120  # seconds for one docker CLI call
START_TIMEOUT = 60  # seconds for a service to become ready
PG_PASSWORD = "itest pw with 'quotes' & spaces"

T = TypeVar('T')


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def docker(
    *args: str,
    check: bool = True,
    timeout: float = DOCKER_TIMEOUT,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the docker CLI; with check, fail the test with its output."""
    proc = subprocess.run(
        ['docker', *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f'docker {" ".join(args)} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}'
        )
    return proc


def image_ref(key: str) -> str:
    """The tag of an image, skipping the test when it is not built."""
    ref = IMAGES[key]
    if docker('image', 'inspect', ref, check=False).returncode != 0:
        pytest.skip(f'image {ref} not found: run `make images` first')
    return ref


def wait_until(
    check: Callable[[], T],
    what: str,
    timeout: float = START_TIMEOUT,
    container: str | None = None,
    interval: float = 0.2,
) -> T:
    """Poll check() until it returns something truthy, with a deadline.

    Exceptions from check() count as "not yet". If container is given and
    it stops running, fail at once with its logs.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            result = check()
            if result:
                return result
            last = result
        except (AssertionError, OSError, subprocess.SubprocessError) as exc:
            last = exc
        if container is not None and not is_running(container):
            raise AssertionError(f'{container} stopped while waiting for {what}:\n{logs(container)}')
        if time.monotonic() > deadline:
            extra = f'\nlogs of {container}:\n{logs(container)}' if container else ''
            raise AssertionError(f'timed out after {timeout}s waiting for {what} (last: {last!r}){extra}')
        time.sleep(interval)


def is_running(container: str) -> bool:
    proc = docker('inspect', '-f', '{{.State.Running}}', container, check=False)
    return proc.stdout.strip() == 'true'


def logs(container: str) -> str:
    proc = docker('logs', container, check=False)
    return proc.stdout + proc.stderr


def published_url(container: str, port: int) -> str:
    """http://127.0.0.1:<host port> for a port published with -p 127.0.0.1::PORT."""
    proc = docker('port', container, f'{port}/tcp', check=False)
    if proc.returncode != 0:
        raise AssertionError(f'{proc.stderr.strip()}\nlogs of {container}:\n{logs(container)}')
    out = proc.stdout.split()
    host_port = out[0].rsplit(':', 1)[1]
    return f'http://127.0.0.1:{host_port}'


def http_get(url: str, timeout: float = 5) -> tuple[int, str]:
    """(status, body) of a GET; HTTP errors are returned, not raised."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read().decode('utf-8', 'replace')
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode('utf-8', 'replace')


def wait_http(url: str, container: str, what: str, predicate=None) -> str:
    """Poll url until it answers 200 (and predicate(body), if given)."""

    def ok() -> str | None:
        status, body = http_get(url)
        if status == 200 and (predicate is None or predicate(body)):
            return body or '(empty)'
        return None

    return wait_until(ok, what, container=container)


def metric_value(body: str, name: str) -> float | None:
    """Value of the first sample of an unlabelled metric in exposition text."""
    for line in body.splitlines():
        if line.startswith(name + ' '):
            return float(line.split()[1])
    return None


def proc_uid(container: str, pid: int = 1) -> int:
    """Real uid of a process in a running container."""
    status = docker('exec', container, 'cat', f'/proc/{pid}/status').stdout
    for line in status.splitlines():
        if line.startswith('Uid:'):
            return int(line.split()[1])
    raise AssertionError(f'no Uid line in /proc/{pid}/status of {container}')


class Sandbox:
    """Creates uniquely named containers, networks and volumes; cleanup()
    removes all of them."""

    def __init__(self) -> None:
        self.token = uuid.uuid4().hex[:8]
        self.containers: list[str] = []
        self.networks: list[str] = []
        self.volumes: list[str] = []
        self._count = 0

    def name(self, kind: str) -> str:
        self._count += 1
        return f'{PREFIX}{kind}-{self.token}-{self._count}'

    def network(self) -> str:
        name = self.name('net')
        self.networks.append(name)
        docker('network', 'create', name)
        return name

    def volume(self) -> str:
        name = self.name('vol')
        self.volumes.append(name)
        docker('volume', 'create', name)
        return name

    def start(self, key: str, *args: str, opts: tuple[str, ...] = ()) -> str:
        """docker run -d IMAGE ARGS; returns the container name."""
        ref = image_ref(key)
        name = self.name(key)
        self.containers.append(name)
        docker('run', '-d', '--name', name, *opts, ref, *args)
        return name

    def run(
        self, key: str, *args: str, opts: tuple[str, ...] = (), check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """docker run --rm IMAGE ARGS to completion."""
        ref = image_ref(key)
        name = self.name(key + '-run')
        self.containers.append(name)
        return docker('run', '--rm', '--name', name, *opts, ref, *args, check=check)

    def cleanup(self) -> None:
        for name in reversed(self.containers):
            docker('rm', '-f', '-v', name, check=False)
        for name in self.networks:
            docker('network', 'rm', name, check=False)
        for name in self.volumes:
            docker('volume', 'rm', '-f', name, check=False)


@pytest.fixture(scope='module', autouse=True)
def _docker_available() -> None:
    if shutil.which('docker') is None:
        pytest.skip('docker CLI not installed')
    if docker('version', check=False, timeout=30).returncode != 0:
        pytest.skip('Docker daemon not reachable')


@pytest.fixture
def sandbox():
    box = Sandbox()
    try:
        yield box
    finally:
        box.cleanup()


def start_postgres(
    box: Sandbox,
    *args: str,
    opts: tuple[str, ...] = (),
    password: str | None = PG_PASSWORD,
) -> str:
    """A postgres container (superuser password from POSTGRES_PASSWORD unless
    None), waited for until it accepts TCP connections: the setup server of
    the first start listens on the Unix socket only."""
    pw_opts = ('-e', f'POSTGRES_PASSWORD={password}') if password is not None else ()
    name = box.start('postgres', *args, opts=(*pw_opts, *opts))
    wait_postgres(name)
    return name


def wait_postgres(container: str) -> None:
    """Wait until postgres in the container accepts TCP connections."""
    wait_until(
        lambda: docker('exec', container, 'pg_isready', '-q', '-h', '127.0.0.1', check=False).returncode == 0,
        'postgres to accept TCP connections',
        container=container,
    )


def psql_local(container: str, sql: str, db: str = 'postgres') -> str:
    """Run SQL over the container's Unix socket; unaligned tuples only."""
    psql = ['psql', '-v', 'ON_ERROR_STOP=1', '-X', '-At', '-U', 'postgres']
    return docker('exec', container, *psql, '-d', db, '-c', sql).stdout.strip()


def start_redis(box: Sandbox, *args: str, opts: tuple[str, ...] = ()) -> str:
    """A redis container, waited for until redis-cli gets any answer."""
    name = box.start('redis', *args, opts=opts)

    def answers():
        return docker('exec', name, 'redis-cli', 'ping', check=False).stdout.strip()

    wait_until(
        answers,
        'redis to answer',
        container=name,
    )
    return name


# --------------------------------------------------------------------------
# Every image
# --------------------------------------------------------------------------

# Images whose upstream sets a non-root USER: same here (nobody:nogroup).
NOBODY_IMAGES = [
    'prometheus',
    'alertmanager',
    'node-exporter',
    'postgres-exporter',
    'redis-exporter',
    'nginx-exporter',
    'blackbox-exporter',
    'mtail',
]


@pytest.mark.parametrize('key', NOBODY_IMAGES)
def test_image_user_is_nobody(key: str) -> None:
    ref = image_ref(key)
    user = docker('image', 'inspect', '-f', '{{.Config.User}}', ref).stdout.strip()
    assert user in ('65534:65534', 'nobody', 'nobody:nogroup'), user


@pytest.mark.parametrize('key', list(IMAGES))
def test_image_has_no_apt_lists_or_debs(sandbox: Sandbox, key: str) -> None:
    # Files left in apt's lists (its lock aside) or package cache.
    find_args = [
        '/var/lib/apt/lists',
        '/var/cache/apt',
        '-type',
        'f',
        '(',
        '-path',
        '/var/lib/apt/lists/*',
        '!',
        '-name',
        'lock',
        '-o',
        '-name',
        '*.deb',
        '-o',
        '-name',
        '*.bin',
        ')',
    ]
    out = sandbox.run(key, *find_args, opts=('--user', '0', '--entrypoint', 'find')).stdout
    assert out.strip() == ''


@pytest.mark.parametrize('key', list(IMAGES))
def test_image_has_no_docs_or_man_pages(sandbox: Sandbox, key: str) -> None:
    out = sandbox.run(
        key,
        *[
            '/usr/share/doc',
            '/usr/share/man',
            '/usr/share/info',
            '-type',
            'f',
            '!',
            '-name',
            'copyright',
        ],
        opts=('--user', '0', '--entrypoint', 'find'),
    ).stdout
    assert out.strip() == ''


# --------------------------------------------------------------------------
# postgres
# --------------------------------------------------------------------------


def test_postgres_scram_over_tcp_with_password_file(sandbox: Sandbox, tmp_path: Path) -> None:
    secret = tmp_path / 'pg_password'
    secret.write_text(PG_PASSWORD + '\n')
    secret.chmod(0o444)
    net = sandbox.network()
    server = start_postgres(
        sandbox,
        opts=(
            '--network',
            net,
            '--network-alias',
            'db',
            '-v',
            f'{secret}:/run/secrets/pg_password:ro',
            '-e',
            'POSTGRES_PASSWORD_FILE=/run/secrets/pg_password',
            '-e',
            'POSTGRES_DB=app',
        ),
        password=None,
    )
    assert (
        psql_local(
            server,
            "SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = 'postgres'",
        )
        == 't'
    )

    def client(password: str, sql: str) -> subprocess.CompletedProcess[str]:
        return sandbox.run(
            'postgres',
            *[
                'psql',
                '-X',
                '-At',
                '-v',
                'ON_ERROR_STOP=1',
                '-h',
                'db',
                '-U',
                'postgres',
                '-d',
                'app',
            ],
            *('-c', sql),
            opts=('--network', net, '-e', f'PGPASSWORD={password}'),
            check=False,
        )

    denied = client('wrong', 'SELECT 1')
    assert denied.returncode != 0
    assert 'password authentication failed' in denied.stderr

    result = client(
        PG_PASSWORD,
        'CREATE TABLE t (id int PRIMARY KEY, v text);'
        "INSERT INTO t VALUES (1, 'one'), (2, 'two');"
        "SELECT string_agg(v, ',' ORDER BY id) FROM t;",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == 'one,two'


def test_postgres_pgbackrest_available(sandbox: Sandbox) -> None:
    out = sandbox.run('postgres', 'pgbackrest', 'version').stdout
    assert out.startswith('pgBackRest 2.'), out


def test_postgres_keeps_data_across_restart_without_initdb(sandbox: Sandbox) -> None:
    server = start_postgres(sandbox)
    psql_local(server, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('survived')")
    docker('restart', '-t', '30', server)
    wait_postgres(server)
    assert psql_local(server, 'SELECT v FROM kept') == 'survived'
    out = logs(server)
    assert out.count('PostgreSQL init process complete') == 1
    assert 'Skipping initialization' in out


def test_postgres_runs_init_scripts_once(sandbox: Sandbox, tmp_path: Path) -> None:
    initdb = tmp_path / 'initdb'
    initdb.mkdir(mode=0o755)
    insert = (
        'psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" -c "INSERT INTO init_runs VALUES (\'{}\')"\n'
    )
    (initdb / '01-schema.sql').write_text('CREATE TABLE init_runs (source text);\n')
    (initdb / '02-sourced.sh').write_text(insert.format('sourced'))
    (initdb / '03-executed.sh').write_text('#!/bin/sh\nset -e\n' + insert.format('executed'))
    (initdb / '03-executed.sh').chmod(0o755)
    (initdb / '04-data.sql.gz').write_bytes(gzip.compress(b"INSERT INTO init_runs VALUES ('gzipped');\n"))
    (initdb / '05-ignored.txt').write_text('not run\n')
    server = start_postgres(
        sandbox,
        opts=(
            '-e',
            'POSTGRES_DB=app',
            '-v',
            f'{initdb}:/docker-entrypoint-initdb.d:ro',
        ),
    )
    query = "SELECT string_agg(source, ',' ORDER BY source) FROM init_runs"
    assert psql_local(server, query, db='app') == 'executed,gzipped,sourced'
    docker('restart', '-t', '30', server)
    wait_postgres(server)
    assert psql_local(server, query, db='app') == 'executed,gzipped,sourced'


def test_postgres_read_only_root_filesystem(sandbox: Sandbox) -> None:
    server = start_postgres(
        sandbox,
        opts=('--read-only', '--tmpfs', '/tmp', '--tmpfs', '/var/run/postgresql'),
    )
    assert psql_local(server, "SELECT current_setting('data_directory')") == ('/var/lib/postgresql/data')


def test_postgres_runs_with_user_999(sandbox: Sandbox) -> None:
    server = start_postgres(sandbox, opts=('--user', '999:999'))
    assert psql_local(server, 'SELECT 1') == '1'
    assert proc_uid(server) == 999


def test_postgres_server_process_is_postgres_user(sandbox: Sandbox) -> None:
    server = start_postgres(sandbox, 'postgres', '-c', 'archive_mode=on')
    assert proc_uid(server) == 999
    assert psql_local(server, 'SHOW archive_mode') == 'on'
    assert psql_local(server, 'SHOW listen_addresses') == '*'


# --------------------------------------------------------------------------
# redis
# --------------------------------------------------------------------------


def test_redis_requirepass_refuses_unauthenticated(sandbox: Sandbox) -> None:
    server = start_redis(sandbox, '--requirepass', 'itest-secret')
    anon = docker('exec', server, 'redis-cli', 'ping').stdout
    assert 'NOAUTH' in anon
    authed = docker('exec', '-e', 'REDISCLI_AUTH=itest-secret', server, 'redis-cli', 'ping').stdout
    assert authed.strip() == 'PONG'


def test_redis_set_get_from_other_container(sandbox: Sandbox) -> None:
    net = sandbox.network()
    start_redis(
        sandbox,
        'redis-server',
        '--requirepass',
        'itest-secret',
        opts=('--network', net, '--network-alias', 'cache'),
    )
    out = sandbox.run(
        'redis',
        'sh',
        '-c',
        'redis-cli -h cache SET k itest-value && redis-cli -h cache GET k',
        opts=('--network', net, '-e', 'REDISCLI_AUTH=itest-secret'),
    ).stdout.split()
    assert out == ['OK', 'itest-value']


def test_redis_default_command_accepts_remote_clients(sandbox: Sandbox) -> None:
    # Protected mode is off, as in the official image: a client on another
    # host (container) gets PONG, not a DENIED error.
    net = sandbox.network()
    server = start_redis(sandbox, opts=('--network', net, '--network-alias', 'cache'))
    out = sandbox.run('redis', 'redis-cli', '-h', 'cache', 'ping', opts=('--network', net)).stdout
    assert out.strip() == 'PONG'
    assert proc_uid(server) == 999


# --------------------------------------------------------------------------
# nginx
# --------------------------------------------------------------------------


def test_nginx_serves_default_page(sandbox: Sandbox) -> None:
    web = sandbox.start('nginx', opts=('-p', '127.0.0.1::80'))
    body = wait_http(published_url(web, 80), web, 'nginx on port 80')
    assert 'Welcome to nginx' in body


def test_nginx_config_test_passes(sandbox: Sandbox) -> None:
    result = sandbox.run('nginx', 'nginx', '-t')
    assert 'test is successful' in result.stderr


def test_nginx_access_log_goes_to_docker_logs(sandbox: Sandbox) -> None:
    web = sandbox.start('nginx', opts=('-p', '127.0.0.1::80'))
    url = published_url(web, 80)
    wait_http(url, web, 'nginx on port 80')
    marker = f'/itest-{uuid.uuid4().hex}'
    status = http_get(url + marker)[0]
    assert status == 404
    wait_until(
        lambda: f'"GET {marker} HTTP/1.1" 404' in logs(web),
        'the access log line in docker logs',
    )


def test_nginx_workers_run_as_nginx_user(sandbox: Sandbox) -> None:
    web = sandbox.start('nginx', opts=('-p', '127.0.0.1::80'))
    wait_http(published_url(web, 80), web, 'nginx on port 80')
    pids = docker('exec', web, 'sh', '-c', "ls /proc | grep -E '^[0-9]+$'").stdout.split()
    uids = {}
    for pid in pids:
        comm = docker('exec', web, 'cat', f'/proc/{pid}/cmdline', check=False).stdout
        if comm.startswith('nginx: worker'):
            uids[pid] = proc_uid(web, int(pid))
    assert uids and set(uids.values()) == {101}, uids


# --------------------------------------------------------------------------
# prometheus and alertmanager
# --------------------------------------------------------------------------


def test_prometheus_ready(sandbox: Sandbox) -> None:
    prom = sandbox.start('prometheus', opts=('-p', '127.0.0.1::9090'))
    wait_http(published_url(prom, 9090) + '/-/ready', prom, 'prometheus /-/ready')


def test_promtool_on_path(sandbox: Sandbox) -> None:
    out = sandbox.run('prometheus', '--version', opts=('--entrypoint', 'promtool'))
    assert 'promtool, version 2.' in out.stdout + out.stderr


def test_prometheus_default_config_is_valid(sandbox: Sandbox) -> None:
    sandbox.run(
        'prometheus',
        'check',
        'config',
        '/etc/prometheus/prometheus.yml',
        opts=('--entrypoint', 'promtool'),
    )


def test_alertmanager_ready(sandbox: Sandbox) -> None:
    am = sandbox.start('alertmanager', opts=('-p', '127.0.0.1::9093'))
    wait_http(published_url(am, 9093) + '/-/ready', am, 'alertmanager /-/ready')


def test_amtool_checks_default_config(sandbox: Sandbox) -> None:
    out = sandbox.run(
        'alertmanager',
        'check-config',
        '/etc/alertmanager/alertmanager.yml',
        opts=('--entrypoint', 'amtool'),
    ).stdout
    assert 'SUCCESS' in out


# --------------------------------------------------------------------------
# exporters
# --------------------------------------------------------------------------


def test_node_exporter_metrics_with_host_rootfs(sandbox: Sandbox) -> None:
    exporter = sandbox.start(
        'node-exporter',
        '--path.rootfs=/host',
        opts=('-p', '127.0.0.1::9100', '-v', '/:/host:ro'),
    )
    body = wait_http(published_url(exporter, 9100) + '/metrics', exporter, 'node exporter /metrics')
    assert 'node_uname_info{' in body
    assert 'node_cpu_seconds_total{' in body


def test_blackbox_exporter_probes_prometheus(sandbox: Sandbox) -> None:
    net = sandbox.network()
    sandbox.start('prometheus', opts=('--network', net, '--network-alias', 'prom'))
    exporter = sandbox.start('blackbox-exporter', opts=('--network', net, '-p', '127.0.0.1::9115'))
    url = published_url(exporter, 9115) + '/probe?module=http_2xx&target=http://prom:9090/-/ready'
    # Poll until the probe succeeds: prometheus may still be starting.
    wait_http(
        url,
        exporter,
        'probe_success 1',
        predicate=lambda body: metric_value(body, 'probe_success') == 1,
    )


def test_blackbox_exporter_has_tcp_connect_module(sandbox: Sandbox) -> None:
    exporter = sandbox.start('blackbox-exporter', opts=('-p', '127.0.0.1::9115'))
    url = published_url(exporter, 9115)
    wait_http(url + '/metrics', exporter, 'blackbox exporter /metrics')
    body = wait_http(
        url + '/probe?module=tcp_connect&target=127.0.0.1:9115',
        exporter,
        'a tcp_connect probe',
        predicate=lambda body: metric_value(body, 'probe_success') is not None,
    )
    assert metric_value(body, 'probe_success') == 1


def test_postgres_exporter_reports_pg_up(sandbox: Sandbox) -> None:
    # postgres_exporter 0.11 (upstream too) rejects DSNs whose password
    # holds a blank or '=' ("malformed dsn"): use a plain one here.
    password = 'itest-exporter-pw'
    net = sandbox.network()
    start_postgres(sandbox, opts=('--network', net, '--network-alias', 'db'), password=password)
    dsn = f'postgresql://postgres:{password}@db:5432/postgres?sslmode=disable'
    exporter = sandbox.start(
        'postgres-exporter',
        opts=(
            '--network',
            net,
            '-p',
            '127.0.0.1::9187',
            '-e',
            f'DATA_SOURCE_NAME={dsn}',
        ),
    )
    wait_http(
        published_url(exporter, 9187) + '/metrics',
        exporter,
        'pg_up 1',
        predicate=lambda body: metric_value(body, 'pg_up') == 1,
    )


def test_redis_exporter_reports_redis_up(sandbox: Sandbox) -> None:
    net = sandbox.network()
    start_redis(
        sandbox,
        '--requirepass',
        'itest-secret',
        opts=('--network', net, '--network-alias', 'cache'),
    )
    exporter = sandbox.start(
        'redis-exporter',
        opts=(
            '--network',
            net,
            '-p',
            '127.0.0.1::9121',
            '-e',
            'REDIS_ADDR=redis://cache:6379',
            '-e',
            'REDIS_PASSWORD=itest-secret',
        ),
    )
    wait_http(
        published_url(exporter, 9121) + '/metrics',
        exporter,
        'redis_up 1',
        predicate=lambda body: metric_value(body, 'redis_up') == 1,
    )


def test_nginx_exporter_reports_nginx_up(sandbox: Sandbox, tmp_path: Path) -> None:
    status_conf = tmp_path / 'status.conf'
    status_conf.write_text('server {\n    listen 8080;\n    location = /stub_status { stub_status; }\n}\n')
    status_conf.chmod(0o644)
    net = sandbox.network()
    web = sandbox.start(
        'nginx',
        opts=(
            '--network',
            net,
            '--network-alias',
            'web',
            '-p',
            '127.0.0.1::8080',
            '-v',
            f'{status_conf}:/etc/nginx/conf.d/status.conf:ro',
        ),
    )
    # The exporter gives up at start when stub_status does not answer yet.
    wait_http(published_url(web, 8080) + '/stub_status', web, 'nginx stub_status')
    exporter = sandbox.start(
        'nginx-exporter',
        '-nginx.scrape-uri=http://web:8080/stub_status',
        opts=('--network', net, '-p', '127.0.0.1::9113'),
    )
    wait_http(
        published_url(exporter, 9113) + '/metrics',
        exporter,
        'nginx_up 1',
        predicate=lambda body: metric_value(body, 'nginx_up') == 1,
    )


# --------------------------------------------------------------------------
# restic
# --------------------------------------------------------------------------


def test_restic_version(sandbox: Sandbox) -> None:
    out = sandbox.run('restic', 'version').stdout
    assert out.startswith('restic 0.14'), out


def test_restic_backup_and_restore_roundtrip(sandbox: Sandbox, tmp_path: Path) -> None:
    src = tmp_path / 'src'
    src.mkdir()
    payload = os.urandom(256 * 1024)
    (src / 'data.bin').write_bytes(payload)
    repo = sandbox.volume()
    restored = sandbox.volume()
    env = ('-e', 'RESTIC_PASSWORD=itest-restic', '-e', 'RESTIC_REPOSITORY=/repo')
    repo_mount = ('-v', f'{repo}:/repo')

    sandbox.run('restic', 'init', opts=(*env, *repo_mount))
    sandbox.run('restic', 'backup', '/src', opts=(*env, *repo_mount, '-v', f'{src}:/src:ro'))
    sandbox.run(
        'restic',
        'restore',
        'latest',
        '--target',
        '/out',
        opts=(*env, *repo_mount, '-v', f'{restored}:/out'),
    )
    digest = sandbox.run(
        'restic',
        '/out/src/data.bin',
        opts=('--entrypoint', 'sha256sum', '-v', f'{restored}:/out:ro'),
    ).stdout.split()[0]
    assert digest == hashlib.sha256(payload).hexdigest()
