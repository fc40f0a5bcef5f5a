# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to the auraspeak.ops collection: its API may change without notice.
"""Bring a Swarm stack to what the compose project says, and wait until Swarm has done it.

The compose files are read by `docker compose config` (the same parser as the
compose backend), rendered as a stack (stack_render), and deployed with
`docker stack deploy` only when a service's definition changed: each service
carries the hash of its definition in a label. The wait ends when every
changed service runs its replicas, healthy, or fails when Swarm reverted or
paused the update. The stack file is kept in the project directory only once
Swarm has it running.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import time

from ansible_collections.auraspeak.ops.plugins.module_utils._common.clock import utc_now
from ansible_collections.auraspeak.ops.plugins.module_utils._common.docker_cli import DockerCLIError
from ansible_collections.auraspeak.ops.plugins.module_utils._common.files import write_atomic
from ansible_collections.auraspeak.ops.plugins.module_utils._deploy import ledger
from ansible_collections.auraspeak.ops.plugins.module_utils._deploy.stack_render import StackError, StackRender
from ansible_collections.auraspeak.ops.plugins.module_utils._deploy.stack_scale import (
    STOPPED_STATES,
    ScaleError,
    scale_order,
    scaling,
)
from ansible_collections.auraspeak.ops.plugins.module_utils._deploy.stack_spread import Spreader, by_host, skew

HASH_LABEL = 'io.auraspeak.ops.stack-hash'
STACK_LABEL = 'com.docker.stack.namespace'
STACK_FILE = 'stack.json'
# The Swarm config that keeps the project's key for its secrets' names (stack_render.secret_names).
NAMES_KEY_CONFIG = '%s_secret-names-key'
# How each end of a failed update is reported. While Swarm rolls back (rollback_started) the deploy
# waits: it fails once the old definition is back, not while its tasks are still being replaced.
FAILED_UPDATES = {
    'paused': 'paused the update',
    'rollback_completed': 'rolled back the update',
    'rollback_paused': 'paused while rolling the update back',
}


class StackDeployError(DockerCLIError):
    pass


def with_hashes(stack):
    """Label each service with the hash of its definition and of the secrets it uses, by their Swarm names."""
    secrets = stack.get('secrets', {})
    for service in stack['services'].values():
        used = sorted(secrets[entry['source']]['name'] for entry in service.get('secrets', []))
        digest = hashlib.sha256(json.dumps([service, used], sort_keys=True).encode()).hexdigest()
        service['deploy'].setdefault('labels', {})[HASH_LABEL] = digest
    return stack


def keep_first_start_secrets(stack, current, project, keys):
    """The secrets of keys that a running service mounts stay the Swarm secrets it started with (external).

    current: the stack's services as Swarm has them. A service reads such a secret at its first start
    only (PostgreSQL's password): a new name would restart it for nothing.
    """
    secrets = stack.get('secrets', {})
    for key in keys:
        if key not in secrets:
            continue
        prefix = '%s_%s_' % (project, key)
        running = {
            entry['SecretName']
            for service in current.values()
            for entry in service['Spec']['TaskTemplate'].get('ContainerSpec', {}).get('Secrets') or []
            if re.fullmatch(re.escape(prefix) + '[0-9a-f]{12}', entry['SecretName'])
        }
        if len(running) == 1:
            secrets[key] = {'name': running.pop(), 'external': True}
    return stack


def plan(stack, running):
    """{service: create | update | unchanged | remove}, running being {service: its hash label}."""
    actions = {}
    for name, service in stack['services'].items():
        wanted = service['deploy']['labels'][HASH_LABEL]
        if name not in running:
            actions[name] = 'create'
        else:
            actions[name] = 'unchanged' if running[name] == wanted else 'update'
    for name in running:
        actions.setdefault(name, 'remove')
    return actions


def release_hash(stack):
    """The release's configuration: the hashes of its services' definitions, together."""
    hashes = {name: service['deploy']['labels'][HASH_LABEL] for name, service in stack['services'].items()}
    return hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()


def service_state(service, tasks, replicas, earlier_update=None):
    """converged, waiting, or 'failed: <why>', from a service's inspect data and its tasks.

    earlier_update is when the update Swarm reported before this deploy started: that
    state is not this deploy's. Converged means as many tasks running (healthy, where the
    image has a health check) of the service's current definition as it has replicas.
    """
    update = service.get('UpdateStatus') or {}
    if update.get('StartedAt') == earlier_update:
        update = {}
    state = update.get('State')
    if state in FAILED_UPDATES:
        return 'failed: Swarm %s (%s)' % (FAILED_UPDATES[state], update.get('Message') or 'no message')
    if state in ('updating', 'rollback_started'):
        return 'waiting'
    wanted = service['Spec']['TaskTemplate'].get('ContainerSpec')
    current = [
        task
        for task in tasks
        if task.get('Status', {}).get('State') == 'running' and task.get('Spec', {}).get('ContainerSpec') == wanted
    ]
    return 'converged' if len(current) >= replicas else 'waiting'


def last_task_error(tasks):
    """Why the latest task that failed did, as Swarm says it (for example: task: non-zero exit (1))."""
    failed = [task for task in tasks if task.get('Status', {}).get('Err')]
    if not failed:
        return ''
    latest = max(failed, key=lambda task: task['Status'].get('Timestamp', ''))
    return '; its last failed task: %s' % latest['Status']['Err']


def read_file(path):
    with open(path, 'rb') as handle:
        return handle.read()


class StackDeploy:
    def __init__(self, params, cli, engine, check_mode, sleep=time.sleep, clock=time.monotonic):
        self.params = params
        self.cli = cli
        self.engine = engine
        self.check_mode = check_mode
        self.sleep = sleep
        self.clock = clock
        self.project = params['project']
        self.directory = params['project_dir']
        self.stack_path = os.path.join(self.directory, STACK_FILE)
        self.pending = self.stack_path + '.next'
        # The release ledger, as the compose backend keeps it, when a version is given.
        self.ledger = None
        if params.get('version'):
            self.ledger = ledger.ReleaseLedger(ledger.project_file(params['state_dir'], self.project, 'releases.json'))

    def compose_model(self):
        args = ['compose', '--project-name', self.project, '--project-directory', self.directory]
        for path in self.params['files']:
            args += ['--file', os.path.join(self.directory, path)]
        _rc, out, _err = self.cli.run(args + ['config', '--format', 'json', '--no-interpolate'])
        return json.loads(out)

    def render(self, current):
        renderer = StackRender(
            self.project,
            self.params['placement'],
            read_file,
            self.names_key(),
            networks=self.params['networks'],
            update=self.params['update'],
            config_dir=self.directory,
            node_dirs=self.params['node_dirs'],
        )
        try:
            stack = renderer.render(self.compose_model())
        except (StackError, OSError) as exc:
            raise StackDeployError('the project cannot run as a Swarm stack: %s' % exc) from None
        keep_first_start_secrets(stack, current, self.project, self.params['first_start_secrets'])
        return with_hashes(stack), renderer.notes

    def names_key(self):
        """The project's key for its secrets' names, kept by the cluster as a Swarm config, made at the first deploy.

        Any manager reads the same key, so the names stay the same whichever manager deploys. A check run
        before the first deploy plans with a key of its own: every secret would get a new name, as it will.
        """
        name = NAMES_KEY_CONFIG % self.project
        config = self.engine.config(name)
        if config is None:
            key = os.urandom(32)
            if self.check_mode or self.engine.create_config(name, key, {STACK_LABEL: self.project}):
                return key
            config = self.engine.config(name)  # made by another run in between
        return base64.b64decode(config['Spec']['Data'])

    def running(self):
        """The stack's services by their names in the stack file."""
        prefix = self.project + '_'
        services = self.engine.services(['%s=%s' % (STACK_LABEL, self.project)])
        return {s['Spec']['Name'][len(prefix) :]: s for s in services if s['Spec']['Name'].startswith(prefix)}

    def run(self):
        current = self.running()
        stack, notes = self.render(current)
        actions = plan(stack, {name: s['Spec'].get('Labels', {}).get(HASH_LABEL) for name, s in current.items()})
        services_change = any(action != 'unchanged' for action in actions.values())
        try:
            scale = scaling(stack, current, actions, self.params['replicas'])
        except ScaleError as exc:
            raise StackDeployError('%s (stack %s)' % (exc, self.project)) from None
        live = ledger.current(self.ledger.read()) if self.ledger else None
        config_hash = release_hash(stack)
        record = self.ledger is not None and (
            live is None or live['version'] != self.params['version'] or live['config_hash'] != config_hash
        )
        # Services whose definition stays: their tasks' spread now is the spread after this run.
        uneven = self.uneven(stack, current, [name for name, action in actions.items() if action == 'unchanged'])
        result = {
            'changed': services_change or record or bool(uneven) or bool(scale),
            'services': actions,
            'scaled': {name: {'from': have, 'to': want} for name, (have, want) in scale.items()},
            'notes': notes,
            'stack_file': self.stack_path,
            'previous_version': live['version'] if live else None,
            'spread': {name: {'before': tasks} for name, tasks in uneven.items()},
        }
        if not result['changed'] or self.check_mode:
            return result
        release_id = self.start_release(stack, config_hash) if record else None
        try:
            if services_change:
                earlier = {name: (s.get('UpdateStatus') or {}).get('StartedAt') for name, s in current.items()}
                self.deploy(stack)
                self.wait(stack, [name for name, action in actions.items() if action in ('create', 'update')], earlier)
                result['secrets_removed'] = self.remove_unused_secrets(stack)
            self.rescale(stack, current, scale)
        except DockerCLIError as exc:
            self.finish_release(release_id, 'failed', exc.msg)
            raise
        except BaseException as exc:
            self.finish_release(release_id, 'failed', 'unexpected error: %s' % exc)
            raise
        self.finish_release(release_id, 'active')
        result['release_id'] = release_id
        result['spread'] = self.spread_out(stack, notes)
        return result

    def rescale(self, stack, current, scale):
        """Scale the services whose count differs, one after another, each until its tasks run or have stopped."""
        for name in scale_order(stack, scale):
            service_id = current[name]['ID']
            replicas = scale[name][1]
            self.engine.scale_service(service_id, replicas)
            if replicas:
                self.wait_running(service_id, replicas)
            else:
                self.wait_stopped(service_id)

    def wait_stopped(self, service_id):
        """Until every task of the service has stopped its container (its grace period may take a while)."""
        deadline = self.clock() + self.params['timeout']
        while True:
            tasks = self.engine.tasks(service_id, running_only=False)
            left = [task for task in tasks if task.get('Status', {}).get('State') not in STOPPED_STATES]
            if not left:
                return
            if self.clock() > deadline:
                raise StackDeployError(
                    '%d tasks of service %s had not stopped after %d s (docker service ps %s)'
                    % (len(left), service_id, self.params['timeout'], service_id)
                )
            self.sleep(1)

    def spreadable(self, stack):
        """{service: node role} of the stack's services Swarm places by role with more than one replica
        (not those this run gives a count of their own)."""
        if not self.params['spread']:
            return {}
        return {
            name: self.params['placement'][name]
            for name, service in stack['services'].items()
            if name in self.params['placement']
            and name not in self.params['replicas']
            and service['deploy'].get('mode', 'replicated') == 'replicated'
            and service['deploy'].get('replicas', 1) > 1
        }

    def uneven(self, stack, current, names):
        """{service: its running tasks by host} of those of names whose tasks are unevenly spread."""
        spreader = Spreader(self.engine, self.wait_running)
        uneven = {}
        for name, role in self.spreadable(stack).items():
            if name in names and name in current:
                counts, hosts = spreader.placement(current[name], role)
                if skew(counts) > 1:
                    uneven[name] = by_host(counts, hosts)
        return uneven

    def spread_out(self, stack, notes):
        """Spread each placed service's tasks evenly again; {service: {before, after}} of those that moved."""
        spreader = Spreader(self.engine, self.wait_running)
        current = self.running()
        moved = {}
        for name, role in self.spreadable(stack).items():
            replicas = stack['services'][name]['deploy']['replicas']
            try:
                change = spreader.spread(current[name], role, replicas)
            except StackDeployError as exc:
                # The release runs; only the spread is left as it was.
                notes.append('%s: tasks not spread out: %s' % (name, exc.msg))
                continue
            if change:
                moved[name] = change
        return moved

    def wait_running(self, service_id, replicas):
        """Until exactly replicas tasks of the service run (healthy, where it has a health check), after a scale."""
        deadline = self.clock() + self.params['timeout']
        while True:
            tasks = self.engine.tasks(service_id)
            running = [task for task in tasks if task.get('Status', {}).get('State') == 'running']
            if len(running) == len(tasks) == replicas:
                return
            if self.clock() > deadline:
                raise StackDeployError(
                    '%d of %d tasks of service %s ran after %d s (docker service ps %s)'
                    % (len(running), replicas, service_id, self.params['timeout'], service_id)
                )
            self.sleep(1)

    def start_release(self, stack, config_hash):
        images = {name: {'ref': service['image'], 'id': None} for name, service in stack['services'].items()}
        with self.ledger.transaction() as data:
            ledger.mark_interrupted(data, utc_now())
            return ledger.start_release(
                data,
                version=self.params['version'],
                images=images,
                config_hash=config_hash,
                deployed_by=self.params['deployed_by'],
                now=utc_now(),
                kind=self.params['kind'],
            )

    def finish_release(self, release_id, status, reason=None):
        if release_id is None:
            return
        with self.ledger.transaction() as data:
            ledger.finish_release(data, release_id, status=status, now=utc_now(), reason=reason)

    def deploy(self, stack):
        """docker stack deploy from a new file, which becomes the stack file once Swarm runs it."""
        write_atomic(self.pending, json.dumps(stack, indent=2, sort_keys=True).encode() + b'\n')
        args = ['stack', 'deploy', '--prune', '--resolve-image', self.params['resolve_image']]
        self.cli.run(args + ['--compose-file', self.pending, self.project])

    def wait(self, stack, names, earlier):
        deadline = self.clock() + self.params['timeout']
        while True:
            states = self.states(stack, names, earlier)
            failed = sorted(
                (name, state[len('failed: ') :])
                for name, state in states.items()
                if state != 'converged' and state != 'waiting'
            )
            if failed:
                os.unlink(self.pending)
                raise StackDeployError(
                    'the stack %s did not go live: %s' % (self.project, '; '.join('%s: %s' % pair for pair in failed))
                )
            if all(state == 'converged' for state in states.values()):
                os.replace(self.pending, self.stack_path)
                return
            if self.clock() > deadline:
                os.unlink(self.pending)
                waiting = ', '.join(sorted(name for name, state in states.items() if state == 'waiting'))
                raise StackDeployError(
                    'the stack %s did not converge within %d s: %s still waiting (docker service ps %s_<service>)'
                    % (self.project, self.params['timeout'], waiting, self.project)
                )
            self.sleep(2)

    def states(self, stack, names, earlier):
        current = self.running()
        states = {}
        for name in names:
            service = current.get(name)
            if service is None:
                states[name] = 'waiting'
                continue
            replicas = stack['services'][name]['deploy'].get('replicas', 1)
            states[name] = service_state(service, self.engine.tasks(service['ID']), replicas, earlier.get(name))
            if states[name].startswith('failed'):
                states[name] += last_task_error(self.engine.tasks(service['ID'], running_only=False))
        return states

    def remove_unused_secrets(self, stack):
        """The project's Swarm secrets of earlier contents, which no service uses any more."""
        wanted = {secret['name'] for secret in stack.get('secrets', {}).values()}
        removed = []
        for secret in self.engine.secrets(['%s=%s' % (STACK_LABEL, self.project)]):
            name = secret['Spec']['Name']
            if name not in wanted and self.engine.remove_secret(secret['ID']):
                removed.append(name)
        return sorted(removed)
