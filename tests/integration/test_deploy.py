"""deploy.yml, rollback.yml and site.yml against the real engine.

One stack (project, edge, network, port, directories of its own) is stood up
with site.yml at release 1.0.0 and then taken through the release life cycle
in order: second run, new release under load, check mode, a release whose
health fails, rollback, a concurrent deploy, a deploy killed midway, bad
input. The tests of this module depend on that order.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import os
import resource
import signal
import socket
import subprocess
import threading
import time

import pytest
from awx_jobs import run_job, survey_answers
from deploy_stack import (
    APP_IMAGE,
    POSTGRES_PASSWORD,
    REDIS_PASSWORD,
    STACK_SECRETS,
    VAULTED,
    VERSIONS,
    Stack,
    assert_serving_files_are_back,
    build_app_images,
    descendants,
    docker,
    kill_tree,
    remove_app_images,
    secrets_in_container_config,
    write_inventory,
)
from playbook_runs import ENV, ROOT, Run, leaked, playbook_command, run_playbook, run_verbose

pytestmark = pytest.mark.deploy


@pytest.fixture(scope='module')
def stack(tmp_path_factory):
    build_app_images()
    workdir = str(tmp_path_factory.mktemp('stack'))
    stack = Stack('itest-d1', workdir)
    stack.inventory = write_inventory(os.path.join(workdir, 'hosts.yml'), [stack])
    stack.destroy()
    first = run_playbook('playbooks/site.yml', {'app_version': '1.0.0'}, inventory=stack.inventory)
    assert first.rc == 0, first.failures(stack.name) or first.stderr[-3000:]
    yield stack
    stack.destroy()
    remove_app_images()


def deploy(stack, version, **extra):
    return run_playbook('playbooks/deploy.yml', dict(app_version=version, **extra), inventory=stack.inventory)


def start_deploy(stack, version, extra=None, **popen):
    """deploy.yml in the background, for what happens while it runs."""
    cmd = playbook_command('playbooks/deploy.yml', dict(app_version=version, **extra or {}), inventory=stack.inventory)
    return subprocess.Popen(cmd, cwd=ROOT, env=ENV, **popen)


class Load:
    """Requests to the edge in a background thread, counting every outcome."""

    def __init__(self, stack, interval=0.02, path='/version'):
        self.stack = stack
        self.interval = interval
        self.path = path  # /readyz: every request needs a database connection and Redis
        self.outcomes = collections.Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                status, body = self.stack.get(self.path)
                self.outcomes[status if status != 200 else 'ok ' + str(body.get('version', self.path))] += 1
            except OSError as exc:
                self.outcomes[type(exc).__name__] += 1
            time.sleep(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def failed(self):
        return sum(n for key, n in self.outcomes.items() if not str(key).startswith('ok '))


def test_site_deploys_the_first_release_behind_the_edge(stack):
    assert stack.served_version() == '1.0.0'
    assert len(stack.containers('app')) == 2
    entries = stack.ledger()
    assert [(e['version'], e['status']) for e in entries] == [('1.0.0', 'active')]


def test_second_run_changes_nothing(stack):
    run = deploy(stack, '1.0.0')
    assert run.rc == 0
    assert run.host_stats(stack.name)['changed'] == 0


def test_the_edge_keeps_3000_slow_clients_connected_and_answers_each(stack):
    # A client that connects and is slow to send its request (a TLS handshake on a busy host, a phone
    # on a bad network) holds a connection. With 1024 connections per nginx worker the edge closed such
    # connections to make room ("worker_connections are not enough, reusing connections"), and their
    # clients saw a reset: bench/edge_bench.py over HTTPS during deploys, thousands of ECONNRESET.
    request = b'GET /version HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 3200:  # this test's own files: one per connection
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    held, outcomes = [], collections.Counter()
    try:
        for _n in range(3000):
            held.append(socket.create_connection(('127.0.0.1', stack.port), timeout=10))
        time.sleep(2)
        assert stack.get('/version')[0] == 200
        # Then each asks, a hundred at a time (the app answers them; the others still wait).
        for start in range(0, len(held), 100):
            batch = held[start : start + 100]
            for sock in batch:
                sock.sendall(request)
            for sock in batch:
                outcomes[answer_status(sock)] += 1
    finally:
        for sock in held:
            sock.close()
    assert outcomes == {'200': 3000}, outcomes


def answer_status(sock):
    """The status code of the answer on sock, or what happened instead."""
    try:
        head = sock.recv(64)
    except OSError as exc:
        return type(exc).__name__
    return head.split(b' ')[1].decode() if head.startswith(b'HTTP/') else 'closed: %r' % head[:20]


def test_new_release_goes_live_with_no_failed_request(stack):
    before = stack.containers('app')
    with Load(stack) as load:
        # As AWX and Automation Controller launch a job: they pass who launched it, and its id.
        run = deploy(stack, '2.0.0', awx_user_name='alice', awx_job_id=42)
        time.sleep(1)
    assert run.rc == 0, run.failures(stack.name)
    assert stack.served_version() == '2.0.0'
    assert load.failed == 0, load.outcomes
    assert load.outcomes['ok 2.0.0'] > 0
    after = stack.containers('app')
    assert len(after) == 2 and not set(before) & set(after)
    assert [(e['version'], e['status']) for e in stack.ledger()] == [('1.0.0', 'superseded'), ('2.0.0', 'active')]
    assert stack.ledger()[-1]['deployed_by'] == 'alice (AWX job 42)'


def test_check_mode_predicts_and_changes_nothing(stack):
    before = stack.containers('app') + stack.containers('postgres')
    run = run_playbook('playbooks/deploy.yml', {'app_version': '1.0.0'}, check=True, inventory=stack.inventory)
    assert run.rc == 0, run.failures(stack.name)
    deploy_task = next(r for r in run.task_results(stack.name) if 'plan' in r)
    assert deploy_task['changed'] is True and deploy_task['plan']['app']['action'] == 'update'
    assert deploy_task['canary_steps'] == {'app': [10, 50]}
    assert deploy_task['files']['state'] == 'to_install' and 'compose.yaml' in deploy_task['files']['changed_paths']
    assert stack.containers('app') + stack.containers('postgres') == before
    assert stack.served_version() == '2.0.0'


def test_release_whose_health_fails_leaves_the_old_one_serving(stack):
    before, tree = stack.containers('app'), stack.project_tree()
    with Load(stack) as load:
        run = deploy(stack, '3.0.0', app_env={'FAULT_HEALTH_FAIL': '1'}, app_health_timeout=25)
    assert run.rc != 0
    message = ' '.join(run.failures(stack.name))
    assert 'not healthy' in message and 'previous release keeps serving' in message
    assert load.failed == 0, load.outcomes
    assert stack.served_version() == '2.0.0'
    assert stack.containers('app') == before
    last = stack.ledger()[-1]
    assert (last['version'], last['status']) == ('3.0.0', 'failed')
    assert_serving_files_are_back(stack, run, tree)


def test_a_migration_that_cannot_log_in_leaves_the_serving_files(stack):
    # A database URL of the user's own with a wrong password: the role changes no password for it.
    tree = stack.project_tree()
    run = deploy(stack, '2.0.0', app_database_url='postgres://app:itest-wrong-password@postgres:5432/app')
    assert run.rc != 0
    assert 'the migration' in ' '.join(run.failures(stack.name))
    assert stack.served_version() == '2.0.0'
    assert_serving_files_are_back(stack, run, tree)
    assert stack.get('/api/notes')[0] == 200


def test_a_release_that_is_alive_but_not_ready_never_takes_traffic(stack):
    # The new containers are alive (/healthz) but not ready (/readyz answers 503), so they get no traffic.
    tree = stack.project_tree()
    with Load(stack) as load:
        run = deploy(stack, '2.0.0', app_env={'FAULT_READY_FAIL': '1'}, app_health_timeout=20)
    assert run.rc != 0
    message = ' '.join(run.failures(stack.name))
    assert 'not ready' in message and '/readyz' in message and 'previous release keeps serving' in message
    assert load.failed == 0, load.outcomes
    assert stack.served_version() == '2.0.0'
    assert len(stack.containers('app')) == 2
    assert_serving_files_are_back(stack, run, tree)


def redis_takes(stack, password):
    """Whether the project's Redis lets a new connection in with password."""
    ping = docker('exec', '-e', 'REDISCLI_AUTH=' + password, stack.name + '-redis-1', 'redis-cli', 'ping', check=False)
    return ping.stdout.strip() == 'PONG'


def test_a_new_redis_password_goes_live_with_no_failed_request(stack):
    # Redis takes both passwords while the release rolls, then only the new one.
    rotated = 'itest-redis-rotated-\u00e9#1'
    redis = docker('inspect', '--format', '{{.Id}}', stack.name + '-redis-1').stdout
    with Load(stack) as load:
        run = deploy(stack, '2.0.0', app_redis_password=rotated)
        time.sleep(1)
    assert run.rc == 0, run.failures(stack.name)
    assert load.failed == 0, load.outcomes
    assert redis_takes(stack, rotated) and not redis_takes(stack, REDIS_PASSWORD)
    assert docker('inspect', '--format', '{{.Id}}', stack.name + '-redis-1').stdout == redis  # not restarted
    assert 'itest-redis-rotated' not in run.stdout + run.stderr  # nor its URL-encoded or JSON-escaped form
    # And back, the same way: the inventory's password.
    with Load(stack) as load:
        back = deploy(stack, '2.0.0')
    assert back.rc == 0, back.failures(stack.name)
    assert load.failed == 0, load.outcomes
    assert redis_takes(stack, REDIS_PASSWORD) and not redis_takes(stack, rotated)
    assert deploy(stack, '2.0.0').host_stats(stack.name)['changed'] == 0


def test_a_new_redis_password_whose_release_fails_is_taken_back(stack):
    rotated = 'itest-redis-rotated-for-a-bad-release'
    with Load(stack) as load:
        run = deploy(
            stack, '2.0.0', app_redis_password=rotated, app_env={'FAULT_HEALTH_FAIL': '1'}, app_health_timeout=20
        )
    assert run.rc != 0
    assert 'not healthy' in ' '.join(run.failures(stack.name))
    assert load.failed == 0, load.outcomes
    assert redis_takes(stack, REDIS_PASSWORD) and not redis_takes(stack, rotated)
    assert stack.get('/api/notes')[0] == 200


def postgres_takes(stack, role, password):
    """Whether the project's PostgreSQL lets role in with password over the network, where pg_hba asks for it."""
    env = dict(ENV, PGPASSWORD=password)
    script = 'psql -X -A -t -w -h "$(hostname)" -U "$0" -d app -c "SELECT current_user"'
    login = subprocess.run(
        ['docker', 'exec', '-e', 'PGPASSWORD', stack.name + '-postgres-1', 'sh', '-c', script, role],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    # A second login role acts as the owner, so what it creates belongs to the owner.
    return login.returncode == 0 and login.stdout.strip() == 'app'


def app_logins(stack):
    sql = (
        "SELECT DISTINCT usename FROM pg_stat_activity WHERE backend_type = 'client backend'"
        ' AND client_addr IS NOT NULL'  # the replicas, not the health check on the socket
    )
    answer = docker('exec', stack.name + '-postgres-1', 'psql', '-X', '-A', '-t', '-U', 'app', '-d', 'app', '-c', sql)
    return set(answer.stdout.split())


def test_a_new_postgres_password_goes_live_with_no_failed_request(stack):
    # The new release logs in as the other role, which takes the new password while the serving
    # replicas keep their role and password; once live, both roles take only the new one.
    rotated = 'itest-pg-rotated-\u00e9#1'
    postgres = docker('inspect', '--format', '{{.Id}}', stack.name + '-postgres-1').stdout
    with Load(stack, path='/readyz') as load:
        run = deploy(stack, '2.0.0', app_postgres_password=rotated)
        time.sleep(1)
    assert run.rc == 0, run.failures(stack.name)
    assert load.failed == 0, load.outcomes
    assert postgres_takes(stack, 'app_alt', rotated) and postgres_takes(stack, 'app', rotated)
    assert not postgres_takes(stack, 'app_alt', POSTGRES_PASSWORD) and not postgres_takes(
        stack, 'app', POSTGRES_PASSWORD
    )
    assert app_logins(stack) == {'app_alt'}
    assert docker('inspect', '--format', '{{.Id}}', stack.name + '-postgres-1').stdout == postgres  # not restarted
    assert 'itest-pg-rotated' not in run.stdout + run.stderr
    assert deploy(stack, '2.0.0', app_postgres_password=rotated).host_stats(stack.name)['changed'] == 0
    # And back, the same way, through the owner: the inventory's password.
    with Load(stack, path='/readyz') as load:
        back = deploy(stack, '2.0.0')
    assert back.rc == 0, back.failures(stack.name)
    assert load.failed == 0, load.outcomes
    assert postgres_takes(stack, 'app', POSTGRES_PASSWORD) and postgres_takes(stack, 'app_alt', POSTGRES_PASSWORD)
    assert not postgres_takes(stack, 'app', rotated)
    assert app_logins(stack) == {'app'}
    assert deploy(stack, '2.0.0').host_stats(stack.name)['changed'] == 0


def test_a_new_postgres_password_whose_release_fails_is_taken_back(stack):
    rotated = 'itest-pg-rotated-for-a-bad-release'
    with Load(stack, path='/readyz') as load:
        run = deploy(
            stack, '2.0.0', app_postgres_password=rotated, app_env={'FAULT_HEALTH_FAIL': '1'}, app_health_timeout=20
        )
    assert run.rc != 0
    assert 'not healthy' in ' '.join(run.failures(stack.name))
    assert load.failed == 0, load.outcomes
    assert postgres_takes(stack, 'app', POSTGRES_PASSWORD) and postgres_takes(stack, 'app_alt', POSTGRES_PASSWORD)
    assert not postgres_takes(stack, 'app_alt', rotated)
    assert app_logins(stack) == {'app'}
    assert stack.get('/api/notes')[0] == 200


def test_a_missing_image_leaves_the_serving_files(stack):
    tree = stack.project_tree()
    run = deploy(stack, '9.9.9')
    assert run.rc != 0
    assert 'images not on the host: itest-deploy/app:9.9.9' in ' '.join(run.failures(stack.name))
    assert_serving_files_are_back(stack, run, tree)
    assert stack.served_version() == '2.0.0'


def test_rollback_returns_to_the_previous_release(stack):
    run = run_verbose('playbooks/rollback.yml', inventory=stack.inventory)
    assert run.returncode == 0, run.stdout[-3000:]
    assert leaked(run, STACK_SECRETS) == []
    assert stack.served_version() == '1.0.0'
    last = stack.ledger()[-1]
    assert (last['version'], last['kind'], last['status']) == ('1.0.0', 'rollback', 'active')


def test_a_second_rollback_does_not_return_to_the_release_rolled_back(stack):
    run = run_playbook('playbooks/rollback.yml', inventory=stack.inventory)
    assert run.rc != 0
    assert 'No earlier release is recorded' in ' '.join(run.failures(stack.name))
    assert stack.served_version() == '1.0.0'
    assert stack.ledger()[-1]['kind'] == 'rollback'


def test_a_database_rollback_to_another_release_than_the_replaced_one_is_refused(stack):
    before = host_fingerprint(stack)
    run = run_playbook(
        'playbooks/rollback.yml',
        {'rollback_to_version': '3.0.0', 'rollback_database': True, 'rollback_database_force': True},
        inventory=stack.inventory,
    )
    assert run.rc != 0
    message = ' '.join(run.failures(stack.name))
    assert 'puts back the database as it was before release 1.0.0 migrated it' in message, message
    assert host_fingerprint(stack) == before


def test_rollback_to_a_release_without_image_says_so(stack):
    run = run_playbook('playbooks/rollback.yml', {'rollback_to_version': '9.9.9'}, inventory=stack.inventory)
    assert run.rc != 0
    assert 'itest-deploy/app:9.9.9 is not on' in ' '.join(run.failures(stack.name))
    assert stack.served_version() == '1.0.0'


def test_an_error_after_the_switch_keeps_the_new_release_live(stack):
    old, path = stack.containers('app'), upstream_file(stack)
    text = read_text(path)
    process = start_deploy(
        stack,
        '2.0.0',
        {'app_drain_timeout': 6, 'app_analysis': False},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 300
        while read_text(path) == text and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.1)
        assert read_text(path) != text, 'the deploy never switched the edge'
        # Switched: the old replicas drain. One disappears meanwhile, so stopping them fails.
        docker('rm', '--force', old[0])
    finally:
        out = process.communicate(timeout=600)[0]
    # Before: the live release was recorded failed and the edge put back on the old, stopped replicas.
    assert process.returncode == 0, out[-3000:]
    assert stack.served_version() == '2.0.0'
    assert (stack.ledger()[-1]['version'], stack.ledger()[-1]['status']) == ('2.0.0', 'active')
    after = stack.containers('app')
    assert len(after) == 2 and not set(old) & set(after)
    assert docker('ps', '--all', '--quiet', '--filter', 'id=' + old[1]).stdout.strip() == ''


def test_a_rollback_runs_the_image_the_release_ran_even_when_its_tag_moved(stack, tmp_path):
    ran = stack.ledger()
    recorded = next(e for e in reversed(ran) if e['version'] == '1.0.0' and e['status'] == 'superseded')
    # The tag now names another build (a rebuild, a re-tag): the one of 2.0.0.
    docker('tag', 'itest-deploy/app:2.0.0', 'itest-deploy/app:1.0.0')
    # As the "Roll back" job template runs it: the survey's version, and AWX's audit fields.
    job = run_job(
        tmp_path,
        'rollback',
        stack.inventory,
        {**survey_answers('rollback', rollback_to_version='1.0.0'), 'awx_user_name': 'bob', 'awx_job_id': 42},
        vaulted=VAULTED,
    )
    job.assert_ran_unattended(stack.name)
    assert stack.served_version() == '1.0.0'
    assert stack.ledger()[-1]['images']['app']['id'] == recorded['images']['app']['id']
    assert stack.ledger()[-1]['deployed_by'] == 'bob (AWX job 42)'
    tagged = docker('image', 'inspect', '--format', '{{.Id}}', 'itest-deploy/app:1.0.0').stdout.strip()
    assert tagged == recorded['images']['app']['id']
    back = deploy(stack, '2.0.0')
    assert back.rc == 0, back.failures(stack.name)


def running_command(argv):
    """The PID of a process running exactly argv, or None."""
    wanted = ('\0'.join(argv) + '\0').encode()
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            with contextlib.suppress(OSError), open('/proc/%s/cmdline' % entry, 'rb') as handle:
                if handle.read() == wanted:
                    return int(entry)
    return None


def wait_for_command(argv, process, seconds=120):
    deadline = time.monotonic() + seconds
    while running_command(argv) is None and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
    assert running_command(argv) is not None, 'the deploy never ran %s' % ' '.join(argv)


# A stand-in for a long pre-migration dump: the first deploy is still working while the test acts.
LONG_DUMP = ['sleep', '14.5']


def another_version(stack):
    """A test version that is not the one serving and whose image is still on the host (release
    retention prunes the images of old releases): deploying it migrates."""
    serving = stack.served_version()
    on_host = [v for v in VERSIONS if docker('image', 'inspect', '%s:%s' % (APP_IMAGE, v), check=False).returncode == 0]
    return next(v for v in on_host if v != serving)


def start_deploy_in_a_long_dump(stack, version):
    """deploy.yml in the background, once it runs LONG_DUMP before its migration; and its lock file."""
    extra = {'app_pre_migration_command': LONG_DUMP}
    run = start_deploy(stack, version, extra, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for_command(LONG_DUMP, run)
    except AssertionError as exc:
        kill_tree(run)
        out = run.stdout.read()
        failed = Run(subprocess.CompletedProcess(run.args, run.returncode, out, '')).failures(stack.name)
        raise AssertionError('%s; the deploy (rc %s) failed with %s' % (exc, run.returncode, failed)) from None
    return run, os.path.join(stack.state_dir, stack.name, 'deploy.lock')


def rewrite_lock(lock, mtime=None, **changes):
    """Replace the lock file with its content changed, as deploy_lock would (one rename)."""
    with open(lock + '.new', 'w') as handle:
        json.dump(dict(json.loads(read_text(lock)), **changes), handle)
    if mtime is not None:
        os.utime(lock + '.new', (mtime, mtime))
    os.replace(lock + '.new', lock)


def test_concurrent_deploy_is_refused_even_when_the_first_outlasts_stale_after(stack):
    version = another_version(stack)
    first, lock = start_deploy_in_a_long_dump(stack, version)
    try:
        # As if the dump had run for 2,000 s, past the default stale_after; the first
        # deploy's heartbeat must show it still works.
        long_ago = time.time() - 2000
        rewrite_lock(lock, long_ago, acquired_at=time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(long_ago)))
        time.sleep(3)
        second = deploy(stack, version)
        assert second.rc != 0, 'a second deploy ran beside the first'
        assert 'is held by' in ' '.join(second.failures(stack.name))
    finally:
        out = first.communicate(timeout=600)[0]
    assert first.returncode == 0, out[-3000:]
    assert stack.served_version() == version
    assert not os.path.exists(lock)


def test_a_deploy_whose_lock_is_taken_over_stops_before_it_migrates(stack):
    serving = stack.served_version()
    first, lock = start_deploy_in_a_long_dump(stack, another_version(stack))
    try:
        # What deploy_lock force=true does, from another controller.
        rewrite_lock(lock, holder='forced@elsewhere:run-1', controller={'host': 'elsewhere'})
    finally:
        out = first.communicate(timeout=600)[0]
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)
    assert first.returncode != 0
    assert 'taken over' in out and 'forced@elsewhere:run-1' in out, out[-3000:]
    assert stack.served_version() == serving
    assert 'nothing was migrated or switched' in out
    assert len(stack.containers('app')) == 2


def test_deploy_killed_midway_converges_on_the_next_run(stack):
    if stack.served_version() == '1.0.0':
        # The killed deploy must bring a new release, and the tests after it expect 1.0.0.
        moved = deploy(stack, another_version(stack))
        assert moved.rc == 0, moved.failures(stack.name)
    serving = stack.served_version()
    before = stack.project_tree()
    process = start_deploy(stack, '1.0.0', stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while len(stack.containers('app')) <= 2 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
    assert process.poll() is None, 'the deploy finished before it could be killed'
    # Ansible's workers start sessions of their own: kill the whole tree,
    # the compose_deploy module included, as a crash of the machine would.
    for pid in [process.pid, *descendants(process.pid)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.wait()
    assert len(stack.containers('app')) > 2  # killed with old and new containers side by side
    killed = stack.project_tree()

    # Back to the live release first: the same release, so no new entry, but the killed one is closed.
    live = deploy(stack, serving)
    assert live.rc == 0, live.failures(stack.name)
    assert stack.served_version() == serving
    assert len(stack.containers('app')) == 2
    assert [e['status'] for e in stack.ledger()].count('deploying') == 0
    assert (stack.ledger()[-1]['version'], stack.ledger()[-1]['status']) == ('1.0.0', 'interrupted')

    run = deploy(stack, '1.0.0')
    assert run.rc == 0, run.failures(stack.name)
    # Killed, the files were the old set or the new one, never a mix; the next run put them right.
    assert killed in (before, stack.project_tree())
    assert not os.path.exists(os.path.join(stack.state_dir, stack.name, 'files-journal.json'))
    assert stack.served_version() == '1.0.0'
    assert len(stack.containers('app')) == 2
    statuses = [(e['version'], e['status']) for e in stack.ledger()]
    assert ('1.0.0', 'interrupted') in statuses
    assert statuses[-1] == ('1.0.0', 'active')
    assert sum(1 for _v, status in statuses if status in ('active', 'deploying')) == 1


def host_fingerprint(stack):
    """Container ids and the deployed files, to show a failed run changed nothing."""
    digest = hashlib.sha256()
    for root, _dirs, files in sorted(os.walk(stack.config_dir)):
        for name in sorted(files):
            with open(os.path.join(root, name), 'rb') as handle:
                digest.update(name.encode() + handle.read())
    return stack.containers('app') + stack.containers('postgres') + stack.containers('redis'), digest.hexdigest()


@pytest.mark.parametrize(
    'extra, message',
    [
        ({'app_jwt_secret': ''}, 'app_jwt_secret must have at least 32 characters'),
        ({'app_postgres_password': ''}, 'app_postgres_password is not set'),
        ({'app_version': 'v1 beta'}, "app_version 'v1 beta' must be a valid image tag"),
        ({'app_replicas': 0}, 'app_replicas (0) a whole number of at least 1'),
        ({'app_replicas': -1}, 'app_replicas (-1) a whole number of at least 1'),
        ({'app_drain_timeout': -5}, 'app_drain_timeout (-5) from 0 to 3600'),
        ({'app_compose_files': ['tests/integration/files/invalid-compose.yaml']}, 'services.app.ports'),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(stack, extra, message):
    before = host_fingerprint(stack)
    extra = dict(extra)
    if 'app_compose_files' in extra:
        extra['app_compose_files'] = [os.path.join(ROOT, extra['app_compose_files'][0])]
    run = deploy(stack, extra.pop('app_version', '1.0.0'), **extra)
    assert run.rc != 0
    assert message in ' '.join(run.failures(stack.name))
    assert host_fingerprint(stack) == before
    assert stack.served_version() == '1.0.0'


def test_failing_test_command_stops_the_release_before_any_change(stack):
    before = host_fingerprint(stack)
    run = deploy(
        stack,
        '4.0.0',
        app_build_context=os.path.join(ROOT, 'examples', 'app'),
        app_build_args={'BASE_IMAGE': 'auraspeak-offline/node:18'},
        app_test_command=['node', '-e', 'console.error("1 test failed"); process.exit(3)'],
    )
    assert run.rc != 0
    failed = [r for r in run.task_results(stack.name) if r.get('failed')]
    assert len(failed) == 1 and failed[0]['status'] == 3, failed
    assert '1 test failed' in failed[0]['msg']
    # The test container is gone, as with `docker run --rm`.
    assert docker('container', 'inspect', stack.name + '-tests', check=False).returncode != 0
    # The test ran in the development stage; the release image was never built.
    assert docker('image', 'inspect', 'itest-deploy/app:test', check=False).returncode == 0
    assert docker('image', 'inspect', 'itest-deploy/app:4.0.0', check=False).returncode != 0
    assert host_fingerprint(stack) == before
    assert stack.served_version() == '1.0.0'
    assert stack.ledger()[-1]['version'] != '4.0.0'


def test_a_build_that_passed_its_tests_is_not_tested_again(stack):
    def gate(command):
        extra = {
            'app_build_context': os.path.join(ROOT, 'examples', 'app'),
            'app_build_args': {'BASE_IMAGE': 'auraspeak-offline/node:18'},
            'app_test_command': command,
        }
        run = run_playbook('tests/integration/playbooks/release_test_gate.yml', extra, inventory=stack.inventory)
        assert run.rc == 0, run.failures(stack.name)
        tasks = {task['task']['name'].split(' : ')[-1]: task for play in run.data['plays'] for task in play['tasks']}
        test = tasks['Run the test command']['hosts'][stack.name]
        return 'skipped' if test.get('skipped') else 'ran'

    passing = ['node', '-e', 'process.exit(0)']
    assert gate(passing) == 'ran'
    assert gate(passing) == 'skipped'  # same build, same command: already passed
    assert gate(['node', '-e', 'process.exit(0) // another command']) == 'ran'
    assert gate(passing) == 'ran'  # the last pass was of the other command


def test_check_mode_plans_a_release_that_is_not_built_yet(stack):
    before = host_fingerprint(stack)
    since = time.time()
    run = run_playbook(
        'playbooks/deploy.yml',
        {
            'app_version': '4.0.0',
            'app_build_context': os.path.join(ROOT, 'examples', 'app'),
            'app_build_args': {'BASE_IMAGE': 'auraspeak-offline/node:18'},
            'app_test_command': ['node', '-e', 'process.exit(0)'],
        },
        check=True,
        inventory=stack.inventory,
    )
    until = time.time()
    assert run.rc == 0, run.failures(stack.name)
    deploy_task = next(r for r in run.task_results(stack.name) if 'plan' in r)
    assert deploy_task['plan']['app']['action'] == 'update'
    assert deploy_task['images_to_build'] == ['itest-deploy/app:4.0.0']
    # Planned, not run: no test container, no release image, nothing on the host changed.
    created = docker(
        'events',
        '--since',
        '%.3f' % since,
        '--until',
        '%.3f' % until,
        '--filter',
        'type=container',
        '--filter',
        'event=create',
        '--format',
        '{{.Actor.Attributes.image}}',
    ).stdout.split()
    assert 'itest-deploy/app:test' not in created
    assert docker('image', 'inspect', 'itest-deploy/app:4.0.0', check=False).returncode != 0
    assert host_fingerprint(stack) == before
    assert stack.served_version() == '1.0.0'


def test_unknown_service_is_named(stack):
    from playbook_runs import run_module

    result = run_module(
        'auraspeak.ops.compose_deploy',
        {
            'project': stack.name,
            'files': [os.path.join(stack.config_dir, 'compose.yaml')],
            'version': '1.0.0',
            'state_dir': stack.state_dir,
            'services': [{'name': 'worker', 'strategy': 'rolling', 'port': 3000}],
        },
    ).result
    assert result['failed'] is True
    assert result['msg'].startswith(
        "services: 'worker' is not in the compose project itest-d1, which has app, postgres, redis"
    )


def test_secrets_never_reach_the_output(stack):
    run = run_playbook(
        'playbooks/deploy.yml', {'app_version': '1.0.0'}, check=True, diff=True, inventory=stack.inventory
    )
    verbose = run_verbose('playbooks/deploy.yml', {'app_version': '1.0.0'}, check=True, inventory=stack.inventory)
    assert run.rc == 0 and verbose.returncode == 0
    assert [secret for secret in STACK_SECRETS if secret in run.stdout] == []
    assert leaked(verbose, STACK_SECRETS) == []


# Secrets under names no pattern knows: only their values say they are secret.
ODD_SECRETS = {
    'STRIPE_SK': 'sk-live-odd-4f1c9e27b3',
    'SMTP_PW': 'smtp-odd-8d2a61f0c5',
    'DB_PWD': 'dbpwd-odd-5e7b3a9d14',
}


def test_secret_env_of_any_name_never_reaches_the_output_or_a_non_secret_file(stack):
    run = run_verbose(
        'playbooks/deploy.yml', {'app_version': '1.0.0', 'app_secret_env': ODD_SECRETS}, inventory=stack.inventory
    )
    assert run.returncode == 0, run.stdout[-3000:]
    assert 'STRIPE_SK' in run.stdout  # the diff names the variable, masked
    leaks = {
        path: [name for name, value in ODD_SECRETS.items() if value in text]
        for path, text in [('output', run.stdout + run.stderr)] + list(state_files(stack))
    }
    assert not any(leaks.values()), leaks
    # Not in any container's environment, labels or command, where `docker inspect` would show
    # them; the application reads them from files that NAME_FILE names.
    assert secrets_in_container_config(stack.name, (*STACK_SECRETS, *ODD_SECRETS.values())) == {}
    app = stack.containers('app')[0]
    env = docker('exec', app, 'env').stdout
    for name, value in ODD_SECRETS.items():
        assert '%s_FILE=/run/secrets/%s' % (name, name) in env
        assert docker('exec', app, 'cat', '/run/secrets/' + name).stdout == value


def state_files(stack):
    """(path, text) of every file compose_deploy keeps beside the secrets: ledger, last config, journal."""
    for root, _dirs, files in os.walk(stack.state_dir):
        for name in files:
            with open(os.path.join(root, name), encoding='utf-8', errors='replace') as handle:
                yield os.path.join(root, name), handle.read()


def test_env_file_is_private(stack):
    info = os.stat(os.path.join(stack.config_dir, 'app.env'))
    assert (info.st_mode & 0o777, info.st_uid) == (0o600, 0)
    assert docker('exec', stack.containers('app')[0], 'id', '-u').stdout.strip() == '1000'


def upstream_file(stack):
    return os.path.join(stack.dir, 'edge', 'upstreams', stack.name + '.conf')


def read_text(path):
    with open(path, encoding='utf-8') as handle:
        return handle.read()


@contextlib.contextmanager
def edge_master_frozen(stack):
    """SIGSTOP on the edge's nginx master: its workers serve on, but it cannot act on a reload."""
    pid = int(docker('inspect', '--format', '{{.State.Pid}}', stack.edge).stdout)
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def test_a_switch_nginx_never_loads_fails_and_leaves_the_old_release_serving(stack):
    before, upstream, tree = stack.containers('app'), read_text(upstream_file(stack)), stack.project_tree()
    with Load(stack) as load:
        with edge_master_frozen(stack):
            run = deploy(stack, '2.0.0', app_analysis=False, app_edge_reload_timeout=5)
        time.sleep(2)
    assert run.rc != 0
    assert 'did not load the new upstreams within 5 s' in ' '.join(run.failures(stack.name))
    # Before the switch was verified, the run stopped the old replicas nginx still sent to: 502s.
    assert load.failed == 0, load.outcomes
    assert stack.containers('app') == before
    assert read_text(upstream_file(stack)) == upstream
    assert stack.project_tree() == tree
    assert stack.served_version() == '1.0.0'
    assert (stack.ledger()[-1]['version'], stack.ledger()[-1]['status']) == ('2.0.0', 'failed')


def test_a_reload_that_fails_puts_the_upstream_file_back(stack):
    before, upstream, tree = stack.containers('app'), read_text(upstream_file(stack)), stack.project_tree()
    # Without its pid file, `nginx -s reload` cannot signal the master and fails.
    docker('exec', stack.edge, 'mv', '/run/nginx.pid', '/run/nginx.pid.held')
    try:
        run = deploy(stack, '2.0.0', app_analysis=False)
    finally:
        docker('exec', stack.edge, 'mv', '/run/nginx.pid.held', '/run/nginx.pid')
    assert run.rc != 0
    message = ' '.join(run.failures(stack.name))
    assert 'nginx.pid' in message and 'the previous file is back in place' in message, message
    assert_serving_files_are_back(stack, run, tree)
    assert stack.containers('app') == before
    # The file names the live replicas, not the removed new ones: the edge starts again from it.
    assert read_text(upstream_file(stack)) == upstream
    docker('restart', stack.edge)
    assert wait_for_version(stack, '1.0.0')


def wait_for_version(stack, version, seconds=20):
    """Whether the edge serves version within seconds (connections fail while it starts)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if stack.served_version() == version:
                return True
        time.sleep(0.5)
    return False


def serving_edge_workers(stack):
    top = docker('container', 'top', stack.edge, '-o', 'pid,args').stdout.splitlines()[1:]
    return {line.split(None, 1)[0] for line in top if line.split(None, 1)[1:] == ['nginx: worker process']}


def reload_edge(stack, seconds=120):
    """Reload the edge and wait until only new workers serve: on a busy machine that can take seconds."""
    before = serving_edge_workers(stack)
    docker('exec', stack.edge, 'nginx', '-s', 'reload')
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        workers = serving_edge_workers(stack)
        if workers and not workers & before:
            return True
        time.sleep(0.2)
    return False


def test_an_edge_that_has_not_loaded_its_file_is_reloaded_by_the_next_run(stack):
    path = upstream_file(stack)
    upstream = read_text(path)
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write('upstream %s_app {\n    server 127.0.0.1:9 down;\n}\n' % stack.name.replace('-', '_'))
    assert reload_edge(stack), 'nginx in %s did not replace its workers' % stack.edge
    assert stack.get()[0] == 502
    # The file is right again but nginx has not read it, as a run killed before its reload leaves it.
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write(upstream)
    assert stack.get()[0] == 502

    run = deploy(stack, '1.0.0')
    assert run.rc == 0, run.failures(stack.name)
    assert stack.served_version() == '1.0.0'
    assert run.host_stats(stack.name)['changed'] >= 1
    again = deploy(stack, '1.0.0')
    assert again.rc == 0 and again.host_stats(stack.name)['changed'] == 0


def test_cache_invalidation_and_retention_after_a_successful_switch(stack):
    # Fill the notes cache in Redis, then release 2.0.0 keeping one release's images.
    status, _body = stack.get('/api/notes')
    assert status == 200
    redis = stack.containers('redis')[0]

    def cached():
        return docker(
            'exec', '-e', 'REDISCLI_AUTH=itest-redis', redis, 'redis-cli', 'exists', 'notes:list'
        ).stdout.strip()

    assert cached() == '1'
    run = deploy(
        stack,
        '2.0.0',
        app_keep_releases=1,
        app_cache_invalidation_enabled=True,
        app_cache_invalidation_redis_patterns=['notes:*'],
    )
    assert run.rc == 0, run.failures(stack.name)
    assert stack.served_version() == '2.0.0'
    assert cached() == '0'
    pruned = next(r for r in run.task_results(stack.name) if 'pruned_images' in r)['pruned_images']
    assert pruned == ['itest-deploy/app:1.0.0']
    assert docker('image', 'inspect', 'itest-deploy/app:2.0.0', check=False).returncode == 0
    # 3.0.0 never served, so it went at the first successful deploy after its failure.
    for gone_image in ('itest-deploy/app:1.0.0', 'itest-deploy/app:3.0.0'):
        assert docker('image', 'inspect', gone_image, check=False).returncode != 0

    # The tag is gone. The image itself stays while another name holds it (the other stacks of
    # this suite build the same image); then a rollback runs it by the id the ledger recorded
    # and tags it again. Held here so it cannot go during the rollback; when it is gone already,
    # the rollback says so.
    recorded = next(e for e in reversed(stack.ledger()) if e['version'] == '1.0.0' and e['status'] == 'superseded')
    image_id = recorded['images']['app']['id']
    held = docker('tag', image_id, 'itest-deploy/hold:1.0.0', check=False).returncode == 0
    try:
        rollback = run_playbook('playbooks/rollback.yml', inventory=stack.inventory)
    finally:
        if held:
            docker('image', 'rm', 'itest-deploy/hold:1.0.0', check=False)
    if held:
        assert rollback.rc == 0, rollback.failures(stack.name)
        assert stack.served_version() == '1.0.0'
        assert docker('image', 'inspect', '--format', '{{.Id}}', 'itest-deploy/app:1.0.0').stdout.strip() == image_id
    else:
        assert rollback.rc != 0
        assert 'itest-deploy/app:1.0.0 (%s' % image_id in ' '.join(rollback.failures(stack.name))
        assert stack.served_version() == '2.0.0'


def test_a_job_run_as_awx_runs_it_decrypts_the_vault_without_a_prompt_and_reports_its_events(stack, tmp_path):
    """ansible-runner from a private data directory, as AWX and Automation Controller run a job
    template: the project, an inventory whose secrets are in vaulted files, the survey's extra
    vars, and the vault credential's password given to the prompt it answers."""
    served = stack.served_version()
    job = run_job(
        tmp_path,
        'deploy',
        stack.inventory,
        {**survey_answers('deploy', app_version=served), 'awx_user_name': 'alice', 'awx_job_id': 7},
        vaulted=VAULTED,
    )
    job.assert_ran_unattended(stack.name)
    assert job.event_names().count('runner_on_ok') > 20
    assert leaked(job, STACK_SECRETS) == []
    assert stack.served_version() == served
