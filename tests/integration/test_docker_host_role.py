"""The docker_host role, run with ansible-playbook the way users run it.

Managed mode writes a daemon.json under a temporary directory (never
/etc/docker/daemon.json) with the engine restart off. The tests that need an
engine to load what the role wrote start their own throwaway dockerd with that
file as its --config-file: its own data root, exec root, socket and containerd
namespace, in network and mount namespaces of its own (a dockerd started with
--bridge=none deletes any interface named docker0 it sees, which in the host's
namespace is the machine engine's bridge). The machine's engine is never
stopped, restarted or reconfigured; a guard checks docker0 is still there
afterwards.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import subprocess
import time
import uuid

import pytest
from playbook_runs import ENV, ROOT, run_playbook
from throwaway_engine import ThrowawayEngine, new_root

PLAYBOOK = """---
- name: Run the docker_host role
  hosts: localhost
  gather_facts: false
  environment: "{{ itest_environment | default({}) }}"
  roles:
    - role: auraspeak.ops.docker_host
  tasks:
    - name: Show the report
      ansible.builtin.debug:
        var: docker_host_report
"""

MANAGED_KEYS = {'live-restore', 'log-driver', 'log-opts', 'no-new-privileges', 'userland-proxy'}
PRODUCTION = {
    'live-restore': True,
    'log-driver': 'json-file',
    'log-opts': {'max-file': '3', 'max-size': '10m'},
    'no-new-privileges': True,
    'userland-proxy': False,
}
BASE_IMAGE = 'auraspeak-offline/debian:bookworm'


@pytest.fixture(scope='module')
def playbook(tmp_path_factory):
    path = tmp_path_factory.mktemp('docker-host') / 'docker-host.yml'
    path.write_text(PLAYBOOK, encoding='utf-8')
    return str(path)


def managed(path, **more):
    """Extra vars of the managed mode on a daemon.json at path, without engine restart."""
    return {
        'docker_host_manage_daemon': 'true',
        'docker_host_daemon_json_path': str(path),
        'docker_host_restart_engine': False,
        **more,
    }


def report(run):
    for play in run.data['plays']:
        for task in play['tasks']:
            if task['task']['name'] == 'Show the report':
                return task['hosts']['localhost']['docker_host_report']
    raise AssertionError('no report in the output:\n' + run.stdout[-3000:])


def failure(run):
    """The message of the task that failed."""
    assert run.rc != 0, 'the run did not fail'
    failed = [r for r in run.task_results() if r.get('failed') and not r.get('skipped')]
    assert failed, 'no failed task in the output:\n' + run.stdout[-3000:]
    return failed[-1].get('msg', '')


def read_bytes(path):
    """Content of a file, None when there is none."""
    if not os.path.exists(path):
        return None
    with open(path, 'rb') as handle:
        return handle.read()


def files_in(directory):
    return sorted(p.name for p in directory.iterdir())


def test_managed_mode_check_apply_check_apply(tmp_path, playbook):
    path = tmp_path / 'daemon.json'
    original = {
        'labels': ['io.auraspeak.itest=kept'],
        'max-concurrent-downloads': 2,
        'live-restore': False,
        'log-opts': {'max-size': '1m', 'mode': 'non-blocking'},
    }
    path.write_text(json.dumps(original), encoding='utf-8')
    original_bytes = path.read_bytes()
    extra_vars = managed(path)

    predicted = run_playbook(playbook, extra_vars, check=True)
    assert predicted.rc == 0, predicted.stdout[-3000:]
    assert predicted.stats['changed'] >= 1
    assert path.read_bytes() == original_bytes
    assert files_in(tmp_path) == ['daemon.json']
    assert set(report(predicted)['changes']) == MANAGED_KEYS

    applied = run_playbook(playbook, extra_vars)
    assert applied.rc == 0, applied.stdout[-3000:]
    assert applied.stats['changed'] == 1
    written = json.loads(path.read_text(encoding='utf-8'))
    # Unmanaged keys kept, managed keys replaced as a whole (log-opts included).
    assert written == {'labels': ['io.auraspeak.itest=kept'], 'max-concurrent-downloads': 2, **PRODUCTION}
    result = report(applied)
    assert result['mode'] == 'manage'
    assert result['changes']['live-restore'] == {'before': False, 'after': True}
    assert 'pending' in result['restart']
    backup = result['backup_file']
    assert os.path.dirname(backup) == str(tmp_path)
    with open(backup, 'rb') as handle:
        assert handle.read() == original_bytes
    written_bytes = path.read_bytes()

    check_again = run_playbook(playbook, extra_vars, check=True)
    assert check_again.rc == 0
    assert check_again.stats['changed'] == 0
    assert report(check_again)['changes'] == {}

    again = run_playbook(playbook, extra_vars)
    assert again.rc == 0
    assert again.stats['changed'] == 0
    assert path.read_bytes() == written_bytes
    assert len(files_in(tmp_path)) == 2  # the file and one backup


def test_same_settings_laid_out_differently_are_left_alone(tmp_path, playbook):
    path = tmp_path / 'daemon.json'
    # Same settings as the role writes, in another key order and on one line.
    path.write_text(json.dumps(dict(reversed(list({'debug': False, **PRODUCTION}.items())))), encoding='utf-8')
    before = path.read_bytes()
    run = run_playbook(playbook, managed(path))
    assert run.rc == 0, run.stdout[-3000:]
    assert run.stats['changed'] == 0
    assert path.read_bytes() == before


def test_check_mode_creates_nothing(tmp_path, playbook):
    path = tmp_path / 'etc-docker' / 'daemon.json'
    run = run_playbook(playbook, managed(path), check=True)
    assert run.rc == 0, run.stdout[-3000:]
    assert run.stats['changed'] >= 1
    assert report(run)['daemon_json'] == PRODUCTION
    assert files_in(tmp_path) == []


def test_extra_keys_and_log_options_are_merged(tmp_path, playbook):
    path = tmp_path / 'daemon.json'
    extra_vars = managed(
        path,
        docker_host_log_opts={'compress': 'true'},
        docker_host_daemon_extra={'default-address-pools': [{'base': '10.201.0.0/16', 'size': 24}]},
        docker_host_log_max_file=5,
    )
    run = run_playbook(playbook, extra_vars)
    assert run.rc == 0, run.stdout[-3000:]
    written = json.loads(path.read_text(encoding='utf-8'))
    assert written['log-opts'] == {'max-file': '5', 'max-size': '10m', 'compress': 'true'}
    assert written['default-address-pools'] == [{'base': '10.201.0.0/16', 'size': 24}]
    # A driver that does not rotate gets no max-size or max-file (dockerd would refuse them).
    run = run_playbook(playbook, {**extra_vars, 'docker_host_log_driver': 'journald', 'docker_host_log_opts': {}})
    assert run.rc == 0, run.stdout[-3000:]
    written = json.loads(path.read_text(encoding='utf-8'))
    assert written['log-driver'] == 'journald'
    assert 'log-opts' not in written


@pytest.mark.skipif(os.path.exists('/run/systemd/system'), reason='systemd runs here: auto is the managed mode')
def test_auto_mode_without_systemd_reports_and_touches_nothing(tmp_path, playbook):
    path = tmp_path / 'daemon.json'
    path.write_text('{"labels": ["io.auraspeak.itest=kept"]}', encoding='utf-8')
    before = path.read_bytes()
    real_before = read_bytes('/etc/docker/daemon.json')

    run = run_playbook(playbook, {'docker_host_daemon_json_path': str(path)})
    assert run.rc == 0, run.stdout[-3000:]
    assert run.stats['changed'] == 0
    assert path.read_bytes() == before
    assert files_in(tmp_path) == ['daemon.json']
    assert read_bytes('/etc/docker/daemon.json') == real_before
    result = report(run)
    assert result['mode'] == 'report'
    assert 'not systemd' in result['reason']
    assert result['daemon_json'] == {'labels': ['io.auraspeak.itest=kept'], **PRODUCTION}
    assert set(result['changes']) == MANAGED_KEYS


SYSTEM_PYTHON = '/usr/bin/python3'
SDK_PACKAGE = 'python3-docker'  # brings python3-requests
PACKAGES = (SDK_PACKAGE, 'python3-requests')


def package_installed(name):
    status = subprocess.run(['dpkg-query', '-W', '-f', '${Status}', name], capture_output=True, text=True, check=False)
    return status.stdout.strip() == 'install ok installed'


def imports(python, *modules):
    argv = [python, '-c', 'import ' + ', '.join(modules)]
    return subprocess.run(argv, capture_output=True, check=False).returncode == 0


@pytest.fixture
def system_python_without_the_sdk():
    """Debian's own Python without python3-docker and python3-requests, as a fresh host has it; put back as found."""
    if not (os.path.exists(SYSTEM_PYTHON) and shutil.which('apt-get')):
        pytest.skip('needs a Debian host Python and apt')
    installed_before = {name: package_installed(name) for name in PACKAGES}
    apt = ['apt-get', '-q', '-y', '-o', 'DPkg::Lock::Timeout=120']
    present = [name for name, installed in installed_before.items() if installed]
    if present:
        subprocess.run([*apt, 'remove', *present], check=True, capture_output=True)
    assert not imports(SYSTEM_PYTHON, 'requests')
    yield SYSTEM_PYTHON
    remove = [name for name, was in installed_before.items() if package_installed(name) and not was]
    install = [name for name, was in installed_before.items() if was and not package_installed(name)]
    if remove:
        subprocess.run([*apt, 'remove', *remove], check=True, capture_output=True)
    if install:
        subprocess.run([*apt, 'install', *install], check=True, capture_output=True)


def test_a_host_python_without_the_sdk_gets_the_package_once(system_python_without_the_sdk, playbook, tmp_path):
    """The collection's modules import the Docker SDK, and community.docker's requests, in the host's Python."""
    python = system_python_without_the_sdk
    report_only = {'docker_host_manage_daemon': 'false', 'ansible_python_interpreter': python}

    refused = run_playbook(playbook, dict(report_only, docker_host_python_packages=[]))
    message = failure(refused)
    assert python in message and 'docker_host_python_packages' in message and 'Docker SDK' in message, message
    assert not package_installed(SDK_PACKAGE)

    planned = run_playbook(playbook, report_only, check=True)
    assert planned.rc == 0, planned.stdout[-3000:]
    assert planned.stats['changed'] == 1
    assert not package_installed(SDK_PACKAGE)

    installed = run_playbook(playbook, report_only)
    assert installed.rc == 0, installed.stdout[-3000:]
    assert installed.stats['changed'] == 1
    assert imports(python, 'docker', 'requests')
    # What the package is for: a module of each kind, run in that Python, talks to the engine:
    # community.docker's, and the collection's own through its engine client (an image_build plan).
    (tmp_path / 'Dockerfile').write_text('FROM auraspeak-offline/debian:bookworm\n')
    for module, args, answer in (
        ('community.docker.docker_network_info', 'name=bridge', '"exists": true'),
        ('auraspeak.ops.image_build', 'path=%s tags=itest-sdk/plan:1' % tmp_path, '"operation": "build"'),
    ):
        ran = subprocess.run(
            ['ansible', 'localhost', '-c', 'local', '-i', 'localhost,', '-e', 'ansible_python_interpreter=' + python,
             '--check', '-m', module, '-a', args],
            cwd=ROOT, env=ENV, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert ran.returncode == 0 and answer in ran.stdout, ran.stdout[-2000:]

    again = run_playbook(playbook, report_only)
    assert again.rc == 0 and again.stats['changed'] == 0, again.stdout[-3000:]


def test_strict_fails_on_the_settings_the_running_engine_lacks(playbook):
    live_restore = subprocess.run(
        ['docker', 'info', '--format', '{{json .LiveRestoreEnabled}}'], capture_output=True, text=True, check=False
    ).stdout.strip()
    if live_restore != 'false':
        pytest.skip('the machine engine has live-restore on (or is not reachable)')
    run = run_playbook(playbook, {'docker_host_manage_daemon': 'false', 'docker_host_strict': True})
    message = failure(run)
    assert 'docker_host_strict' in message
    assert 'live-restore' in message


@pytest.mark.parametrize(
    ('extra_vars', 'variable'),
    [
        ({'docker_host_log_max_file': 0}, 'docker_host_log_max_file'),
        ({'docker_host_log_max_file': 'three'}, 'docker_host_log_max_file'),
        ({'docker_host_log_max_size': '10 MB'}, 'docker_host_log_max_size'),
        ({'docker_host_manage_daemon': 'sometimes'}, 'docker_host_manage_daemon'),
        ({'docker_host_log_opts': {'compress': True}}, 'docker_host_log_opts'),
        ({'docker_host_log_opts': {'max-size': '5m'}}, 'docker_host_log_opts'),
        ({'docker_host_daemon_extra': {'userland-proxy': True}}, 'docker_host_daemon_extra'),
        ({'docker_host_log_driver': 'JSON File'}, 'docker_host_log_driver'),
    ],
    ids=lambda value: json.dumps(value) if isinstance(value, dict) else value,
)
def test_bad_input_is_refused_naming_the_variable(tmp_path, playbook, extra_vars, variable):
    path = tmp_path / 'daemon.json'
    path.write_text('{"debug": false}', encoding='utf-8')
    run = run_playbook(playbook, {**managed(path), **extra_vars})
    assert variable in failure(run)
    assert path.read_text(encoding='utf-8') == '{"debug": false}'
    assert files_in(tmp_path) == ['daemon.json']


@pytest.mark.parametrize('content', ['{"debug": false,', '["live-restore"]'], ids=['broken', 'not-an-object'])
def test_unreadable_daemon_json_is_never_overwritten(tmp_path, playbook, content):
    path = tmp_path / 'daemon.json'
    path.write_text(content, encoding='utf-8')
    run = run_playbook(playbook, managed(path))
    message = failure(run)
    assert 'docker_host_daemon_json_path' in message
    assert str(path) in message
    assert path.read_text(encoding='utf-8') == content
    assert files_in(tmp_path) == ['daemon.json']


# --------------------------------------------------------------------------
# A throwaway engine loads what the role wrote
# --------------------------------------------------------------------------


class Engine(ThrowawayEngine):
    """A dockerd of its own under /tmp/itest-dh-*, reading self.config, in namespaces of its own."""

    def __init__(self):
        super().__init__(new_root('itest-dh-'))
        os.mkdir(self.root, 0o700)

    def argv(self):
        return [
            'unshare', '--net', '--mount', '--propagation', 'private', '--',
            'dockerd', *self.dockerd_flags(),
            '--iptables=false',
            '--ip6tables=false',
            '--bridge=none',
        ]  # fmt: skip

    def info(self):
        return json.loads(self.docker('info', '--format', '{{json .}}').stdout)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=60)

    def restart(self):
        self.stop()
        self.start()

    def reload(self):
        self.process.send_signal(1)  # SIGHUP, what `systemctl reload docker` sends

    def destroy(self):
        if self.process and self.process.poll() is None:
            self.remove_containers()
        self.stop()
        self.remove_root()
        # The cgroups of --cgroup-parent (cgroup v1: one per controller), empty once the containers are gone.
        for cgroup in glob.glob('/sys/fs/cgroup/*/' + self.name) + glob.glob('/sys/fs/cgroup/' + self.name):
            with contextlib.suppress(OSError):
                os.rmdir(cgroup)


@pytest.fixture(scope='module')
def engine():
    if shutil.which('dockerd') is None:
        pytest.skip('dockerd not installed')
    if subprocess.run(['docker', 'image', 'inspect', BASE_IMAGE], capture_output=True, check=False).returncode:
        pytest.skip(BASE_IMAGE + ' not built: run `make images` first')
    had_docker0 = os.path.exists('/sys/class/net/docker0')
    box = Engine()
    try:
        with open(box.config, 'w', encoding='utf-8') as handle:
            handle.write('{"labels": ["io.auraspeak.itest=kept"]}\n')
        box.start()
        image = subprocess.run(['docker', 'save', BASE_IMAGE], capture_output=True, check=True, timeout=300).stdout
        subprocess.run(['docker', '-H', box.host, 'load', '-q'], input=image, capture_output=True, check=True)
        yield box
    finally:
        box.destroy()
    # Other interfaces come and go with the machine engine's networks; docker0 must stay.
    assert os.path.exists('/sys/class/net/docker0') or not had_docker0, 'the throwaway engine removed docker0'


def engine_vars(box, **more):
    return {
        **managed(box.config),
        'docker_host_pidfile': box.pidfile,
        'itest_environment': {'DOCKER_HOST': box.host},
        **more,
    }


def sleeper(box, name):
    """A container that ignores SIGTERM, as pid 1 does without a handler; returns its host pid."""
    box.docker('run', '-d', '--name', name, '--network=none', '--restart=on-failure:5', BASE_IMAGE, 'sleep', 'inf')
    return box.docker('inspect', '-f', '{{.State.Pid}}', name).stdout.strip()


def test_engine_loads_the_written_file(engine, playbook):
    written = run_playbook(playbook, engine_vars(engine))
    assert written.rc == 0, written.stdout[-3000:]
    result = report(written)
    assert result['engine_config'] == engine.config
    # Written, not yet loaded: strict mode fails, naming what is missing.
    message = failure(run_playbook(playbook, engine_vars(engine, docker_host_strict=True)))
    assert 'no-new-privileges' in message
    assert 'userland-proxy' in message

    engine.restart()
    info = engine.info()
    assert info['LiveRestoreEnabled'] is True
    assert 'io.auraspeak.itest=kept' in info['Labels']
    probe = engine.docker('run', '--rm', '--network', 'none', BASE_IMAGE, 'grep', 'NoNewPrivs', '/proc/self/status')
    assert probe.stdout.split() == ['NoNewPrivs:', '1']
    name = 'itest-dh-log-' + uuid.uuid4().hex[:6]
    engine.docker('create', '--name', name, '--network', 'none', BASE_IMAGE, 'true')
    log_config = json.loads(engine.docker('inspect', '-f', '{{json .HostConfig.LogConfig}}', name).stdout)
    engine.docker('rm', name)
    assert log_config == {'Type': 'json-file', 'Config': {'max-file': '3', 'max-size': '10m'}}

    # Loaded: strict mode passes, nothing to change, nothing missing.
    checked = run_playbook(playbook, engine_vars(engine, docker_host_strict=True))
    assert checked.rc == 0, checked.stdout[-3000:]
    assert checked.stats['changed'] == 0
    assert report(checked)['not_in_effect'] == {}


def test_reload_turns_live_restore_on_and_the_restart_keeps_containers(engine, playbook):
    # The premise of the role's restart handler, on this engine version.
    off = run_playbook(playbook, engine_vars(engine, docker_host_live_restore=False))
    assert off.rc == 0, off.stdout[-3000:]
    engine.restart()
    assert engine.info()['LiveRestoreEnabled'] is False
    name = 'itest-dh-sleeper-' + uuid.uuid4().hex[:6]
    pid = sleeper(engine, name)

    on = run_playbook(playbook, engine_vars(engine))
    assert on.rc == 0, on.stdout[-3000:]
    assert report(on)['changes'] == {'live-restore': {'before': False, 'after': True}}
    assert engine.info()['LiveRestoreEnabled'] is False  # written, not loaded
    engine.reload()
    deadline = time.monotonic() + 10
    while not engine.info()['LiveRestoreEnabled']:
        assert time.monotonic() < deadline, 'the reload did not turn live-restore on'
        time.sleep(0.2)
    assert engine.docker('inspect', '-f', '{{.State.Pid}}', name).stdout.strip() == pid

    engine.restart()
    assert engine.docker('inspect', '-f', '{{.State.Running}} {{.State.Pid}}', name).stdout.split() == ['true', pid]
    engine.docker('rm', '-f', name)


def test_a_key_that_is_also_a_dockerd_flag_is_refused(engine, playbook):
    before = read_bytes(engine.config)
    run = run_playbook(playbook, engine_vars(engine, docker_host_daemon_extra={'hosts': ['unix:///run/x.sock']}))
    message = failure(run)
    assert 'hosts (-H)' in message
    assert read_bytes(engine.config) == before


BOOT_LABEL = 'io.auraspeak.ops.start-order'
# Exits 0 on SIGTERM, as a graceful app, PostgreSQL or nginx does; healthy 2 s after it starts.
GRACEFUL = 'trap "exit 0" TERM; sleep 2; touch /tmp/up; while :; do sleep 0.2; done'


def boot_member(box, name, order, *more):
    box.docker(
        'run', '-d', '--name', name, '--network=none', '--restart=on-failure:5',
        '--label', '%s=%s' % (BOOT_LABEL, order),
        '--health-cmd', 'test -e /tmp/up', '--health-interval', '1s', '--health-retries', '30', *more,
        BASE_IMAGE, 'sh', '-c', GRACEFUL,
    )  # fmt: skip


def wait_healthy(box, names, timeout=60):
    deadline = time.monotonic() + timeout
    template = '{{slice .Name 1}} {{.State.Health.Status}}'
    while True:
        shown = box.docker('inspect', '--format', template, *names).stdout.split('\n')
        health = dict(line.split() for line in shown if line)
        if set(health.values()) == {'healthy'}:
            return
        assert time.monotonic() < deadline, health
        time.sleep(0.2)


def states(box, names):
    shown = box.docker('inspect', '--format', '{{slice .Name 1}} {{.State.Status}}', *names).stdout.split('\n')
    return dict(line.split() for line in shown if line)


def became_healthy(box, name):
    """When the container's first passing health check ended."""
    log = json.loads(box.docker('inspect', '--format', '{{json .State.Health.Log}}', name).stdout)
    return min(entry['End'] for entry in log if entry['ExitCode'] == 0)


def test_the_boot_unit_starts_what_a_clean_engine_stop_left_down_in_order(engine, playbook, tmp_path):
    # Installed as the role installs it (here under a temporary root, and without systemd: forced).
    (tmp_path / 'sbin').mkdir()
    (tmp_path / 'systemd').mkdir()
    boot = {
        'docker_host_manage_daemon': 'false',
        'itest_environment': {'DOCKER_HOST': engine.host},
        'docker_host_pidfile': engine.pidfile,
        'docker_host_boot_unit': 'true',
        'docker_host_boot_script': str(tmp_path / 'sbin' / 'auraspeak-start-containers'),
        'docker_host_systemd_dir': str(tmp_path / 'systemd'),
        'docker_host_boot_timeout': 120,
    }
    planned = run_playbook(playbook, boot, check=True)
    assert planned.rc == 0, planned.stdout[-3000:]
    assert planned.stats['changed'] > 0
    assert os.listdir(tmp_path / 'systemd') == [] and os.listdir(tmp_path / 'sbin') == []
    installed = run_playbook(playbook, boot)
    assert installed.rc == 0, installed.stdout[-3000:]
    again = run_playbook(playbook, boot)
    assert again.stats['changed'] == 0, again.stdout[-3000:]
    unit = tmp_path / 'systemd' / 'auraspeak-start-containers.service'
    for wanted_by in ('multi-user.target', 'docker.service'):
        link = tmp_path / 'systemd' / (wanted_by + '.wants') / unit.name
        assert os.readlink(link) == str(unit)
    text = unit.read_text(encoding='utf-8')
    assert 'ExecStart=%s\n' % boot['docker_host_boot_script'] in text
    assert 'Environment=AURASPEAK_START_TIMEOUT=120\n' in text
    if shutil.which('systemd-analyze'):
        # It prints what it cannot parse (and exits 0): nothing, for a valid unit.
        verified = subprocess.run(['systemd-analyze', 'verify', str(unit)], capture_output=True, text=True, check=False)
        assert (verified.returncode, verified.stdout + verified.stderr) == (0, '')

    # An engine without live-restore, as at a host's shutdown: the engine stops every container.
    with open(engine.config, 'w', encoding='utf-8') as handle:
        handle.write('{"labels": ["io.auraspeak.itest=kept"]}\n')
    engine.restart()
    tag = uuid.uuid4().hex[:6]
    data, app, edge = ('itest-dh-boot-%s-%s' % (role, tag) for role in ('data', 'app', 'edge'))
    boot_member(engine, edge, 40)
    boot_member(engine, app, 20)
    boot_member(engine, data, 10)
    # Never started again: a one-off Compose run (a migration), a container that never ran.
    oneoff, created = 'itest-dh-boot-oneoff-' + tag, 'itest-dh-boot-created-' + tag
    boot_member(engine, oneoff, 20, '--label', 'com.docker.compose.oneoff=True')
    engine.docker('create', '--name', created, '--network=none', '--label', BOOT_LABEL + '=20', BASE_IMAGE, 'true')
    engine.docker('stop', oneoff)
    # Another project's container, left out by the script's filter argument.
    other = 'itest-dh-other-' + tag
    boot_member(engine, other, 10)
    names = [data, app, edge, oneoff, created, other]
    # Healthy means the shell has set its TERM trap: before that, PID 1 ignores the engine's SIGTERM, is killed
    # after the grace period (exit 137) and on-failure starts it again, which is not the premise below.
    wait_healthy(engine, [data, app, edge, other])

    engine.restart()
    # The premise: on-failure does not start again what exited 0.
    assert states(engine, names) == {
        data: 'exited',
        app: 'exited',
        edge: 'exited',
        oneoff: 'exited',
        created: 'created',
        other: 'exited',
    }
    script = [boot['docker_host_boot_script'], 'name=^itest-dh-boot-']
    env = {**os.environ, 'DOCKER_HOST': engine.host, 'AURASPEAK_START_TIMEOUT': '120'}
    started = subprocess.run(script, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert started.returncode == 0, started.stdout + started.stderr
    assert states(engine, names) == {
        data: 'running',
        app: 'running',
        edge: 'running',
        oneoff: 'exited',
        created: 'created',
        other: 'exited',
    }
    # Each group started once the one before it was healthy.
    started_at = {
        name: engine.docker('inspect', '--format', '{{.State.StartedAt}}', name).stdout.strip() for name in names[:3]
    }
    assert became_healthy(engine, data) < started_at[app]
    assert became_healthy(engine, app) < started_at[edge]
    assert [line.split()[-1] for line in started.stdout.splitlines()] == [data, app, edge]

    # Run again: everything serves, nothing to start.
    second = subprocess.run(script, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert (second.returncode, second.stdout) == (0, '')
    engine.docker('rm', '-f', *names)
