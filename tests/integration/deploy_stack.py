"""A throwaway copy of the production stack on this machine, for the deploy tests.

Each Stack is one inventory host (local connection) with its own compose
project, edge container, network, port and directories, so several can run
side by side and none touches the demo stack. Images come from examples/app,
built once per test session as itest-deploy/app:<version>.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request

import yaml
from playbook_runs import ROOT

APP_IMAGE = 'itest-deploy/app'
JWT_SECRET = 'itest-jwt-secret-0123456789abcdef0123'
POSTGRES_PASSWORD = 'itest-postgres'
REDIS_PASSWORD = 'itest-redis'
# What no output and no non-secret file may ever show.
STACK_SECRETS = (JWT_SECRET, POSTGRES_PASSWORD, REDIS_PASSWORD)
# Their inventory variables, which a user keeps in a vault (AWX: a vault credential).
VAULTED = ('app_jwt_secret', 'app_postgres_password', 'app_redis_password')
VERSIONS = ('1.0.0', '2.0.0', '3.0.0')


def docker(*args, check=True):
    return subprocess.run(['docker', *args], capture_output=True, text=True, check=check, timeout=300)


def inspect_project(project):
    """`docker inspect` of every container of a Compose project, stopped ones included."""
    ids = docker('ps', '--all', '--quiet', '--filter', 'label=com.docker.compose.project=%s' % project).stdout.split()
    assert ids, 'project %s has no containers' % project
    return json.loads(docker('inspect', *ids).stdout)


def secrets_in_container_config(project, secrets):
    """{container: [secret, ...]} of the project's containers whose configuration, as `docker inspect`
    shows it to anyone who may inspect (environment, labels, command), holds a secret."""
    found = {}
    for container in inspect_project(project):
        shown = json.dumps([container['Config'], container['Args'], container['Path']])
        leaks = [secret for secret in secrets if secret in shown]
        if leaks:
            found[container['Name'].lstrip('/')] = leaks
    return found


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class Stack:
    def __init__(self, name, workdir):
        self.name = name  # compose project and inventory host name
        self.dir = workdir
        self.port = free_port()
        self.edge = name + '-edge'
        self.network = name.replace('-', '_') + '_edge'
        self.state_dir = os.path.join(workdir, 'state')
        self.config_dir = os.path.join(workdir, 'etc')

    def host_vars(self):
        return {
            'ansible_connection': 'local',
            'ansible_python_interpreter': sys.executable,
            'app_project': self.name,
            'app_config_dir': self.config_dir,
            'app_state_dir': self.state_dir,
            'edge_container_name': self.edge,
            'edge_network': self.network,
            'edge_config_dir': os.path.join(self.dir, 'edge'),
            'edge_http_port': self.port,
            'edge_bind_address': '127.0.0.1',
            # Plain HTTP keeps the load generator simple; test_edge_tls.py covers HTTPS.
            'edge_tls_mode': 'none',
            'edge_sites': [{'name': 'app', 'server_names': ['_'], 'upstream': self.name.replace('-', '_') + '_app'}],
        }

    # -- what the stack looks like from outside ------------------------------

    def get(self, path='/version'):
        try:
            with urllib.request.urlopen('http://127.0.0.1:%d%s' % (self.port, path), timeout=5) as response:
                return response.status, json.loads(response.read() or b'null')
        except urllib.error.HTTPError as exc:
            return exc.code, None

    def served_version(self):
        status, body = self.get()
        return body['version'] if status == 200 else None

    def ledger(self):
        path = os.path.join(self.state_dir, self.name, 'releases.json')
        if not os.path.exists(path):
            return []
        with open(path, encoding='utf-8') as handle:
            return json.load(handle)['releases']

    def containers(self, service='app'):
        out = docker(
            'ps',
            '--filter',
            'label=com.docker.compose.project=%s' % self.name,
            '--filter',
            'label=com.docker.compose.service=%s' % service,
            # Not the migration's one-off container, which carries the service's label too.
            '--filter',
            'label=com.docker.compose.oneoff=False',
            '--format',
            '{{.ID}} {{.Names}}',
        ).stdout
        return sorted(line.split()[0] for line in out.splitlines())

    def project_tree(self):
        """{path: (mode, sha256)} of the project directory as Compose and users see it, through its links.

        The .release link and the .generations it points into are how the files are switched, not part
        of what they say.
        """
        tree = {}
        for root, dirs, files in os.walk(self.config_dir, followlinks=True):
            if root == self.config_dir:
                dirs[:] = [d for d in dirs if d not in ('.release', '.generations')]
            for name in sorted(dirs + files):
                path = os.path.join(root, name)
                info = os.stat(path)
                digest = None
                if os.path.isfile(path):
                    with open(path, 'rb') as handle:
                        digest = hashlib.sha256(handle.read()).hexdigest()
                tree[os.path.relpath(path, self.config_dir)] = (oct(info.st_mode & 0o7777), info.st_uid, digest)
        return tree

    def compose_up_from_files(self):
        """`docker compose up -d --wait` from the installed files, as an operator or a recovery script would."""
        names = sorted(n for n in os.listdir(self.config_dir) if n.startswith('base-')) + ['compose.yaml']
        files = [arg for n in names for arg in ('--file', os.path.join(self.config_dir, n))]
        return docker(
            'compose',
            '--project-name',
            self.name,
            '--project-directory',
            self.config_dir,
            *files,
            'up',
            '--detach',
            '--wait',
            '--wait-timeout',
            '60',
            check=False,
        )

    def destroy(self):
        project = ['compose', '--project-name', self.name, '--project-directory', self.config_dir]
        compose_file = os.path.join(self.config_dir, 'compose.yaml')
        if os.path.exists(compose_file):
            docker(*project, '--file', compose_file, 'down', '--volumes', '--remove-orphans', check=False)
        ids = docker(
            'ps', '-aq', '--filter', 'label=com.docker.compose.project=%s' % self.name, check=False
        ).stdout.split()
        if ids:
            docker('rm', '--force', '--volumes', *ids, check=False)
        docker('rm', '--force', self.edge, self.edge + '-metrics', check=False)
        docker('volume', 'rm', '--force', self.edge + '-metrics-socket', check=False)
        docker('network', 'rm', self.network, check=False)


def assert_serving_files_are_back(stack, run, tree):
    """The failed run says its files went back, and they did: byte for byte, and Compose runs them."""
    assert stack.project_tree() == tree
    result = next(r for r in run.task_results(stack.name) if r.get('failed') and 'files' in r)
    assert result['files']['state'] == 'restored', result['files']
    assert 'the files of the serving release are back' in result['msg']
    assert len(os.listdir(os.path.join(stack.config_dir, '.generations'))) == 1
    before = stack.containers('app')
    up = stack.compose_up_from_files()
    assert up.returncode == 0, up.stderr[-2000:]
    # The files describe what runs: Compose had nothing to recreate.
    assert stack.containers('app') == before


def write_inventory(path, stacks, group_vars=None):
    common = {
        'app_image_name': APP_IMAGE,
        'app_pull': 'never',
        'app_postgres_image': 'auraspeak-offline/postgres:15',
        'app_redis_image': 'auraspeak-offline/redis:7.0',
        'edge_image': 'auraspeak-offline/nginx:1.22',
        'app_jwt_secret': JWT_SECRET,
        'app_postgres_password': POSTGRES_PASSWORD,
        'app_redis_password': REDIS_PASSWORD,
        'app_health_timeout': 40,
        'app_drain_timeout': 2,
        # Release analysis stays on (the default) with short steps and no
        # warm-up: the stacks of most tests get too little traffic for a verdict,
        # so each step promotes after a second (test_release_analysis.py judges
        # real traffic with the default warm-up).
        'app_analysis_interval': 1,
        'app_analysis_warmup': 0,
        # site.yml's monitoring play: only the monitoring tests' stacks run it.
        'monitoring_enabled': False,
    }
    common.update(group_vars or {})
    inventory = {'all': {'children': {'app': {'hosts': {s.name: s.host_vars() for s in stacks}, 'vars': common}}}}
    with open(path, 'w', encoding='utf-8') as handle:
        yaml.safe_dump(inventory, handle)
    return path


def build_app_images(image=APP_IMAGE):
    """<image>:<version> for each test version (cached layers: seconds)."""
    for version in VERSIONS:
        subprocess.run(
            [
                'docker',
                'buildx',
                'build',
                '--quiet',
                '--target',
                'production',
                '--build-arg',
                'BASE_IMAGE=auraspeak-offline/node:18',
                '--build-arg',
                'APP_VERSION=' + version,
                '--tag',
                '%s:%s' % (image, version),
                os.path.join(ROOT, 'examples', 'app'),
            ],
            check=True,
            capture_output=True,
            timeout=600,
        )


def remove_app_images(image=APP_IMAGE):
    """Untag <image>:*. By tag, not by id: other tests' tags of the same build share the id."""
    listed = docker(
        'image', 'ls', '--format', '{{.Repository}}:{{.Tag}}', '--filter', 'reference=%s' % image, check=False
    )
    refs = [ref for ref in listed.stdout.split() if not ref.endswith(':<none>')]
    if refs:
        docker('image', 'rm', *refs, check=False)


def descendants(pid):
    children = collections.defaultdict(list)
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            with contextlib.suppress(OSError), open('/proc/%s/stat' % entry, encoding='utf-8') as handle:
                parent = int(handle.read().rsplit(')', 1)[1].split()[1])
                children[parent].append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children[todo.pop()]:
            found.append(child)
            todo.append(child)
    return found


def kill_tree(process):
    """SIGKILL a playbook run and every process under it, as a crash of the machine would."""
    for pid in [process.pid, *descendants(process.pid)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.wait()
