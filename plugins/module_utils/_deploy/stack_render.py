# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to the auraspeak.ops collection: its API may change without notice.
"""The compose project as a Swarm stack: one source, two renderings.

The input is the project as `docker compose config --format json --no-interpolate`
prints it (anchors merged, paths absolute, `$$` kept for the stack's own
interpolation). The output is a compose file of version 3.9, what `docker stack
deploy` of Docker 20.10 reads, with what Swarm needs and compose does not say:

- placement: each service on the nodes labelled for its role (swarm role);
- endpoint_mode dnsrr for every service: Swarm's virtual IPs need IPVS, which
  not every kernel has, and the edge resolves the app's tasks itself;
- each secret under a new name when its content changes (Swarm secrets cannot
  change), so only the services that mount it are updated; and host files the
  services bind-mount as Swarm secrets, since a task may run on a node that
  does not have the file; only the node
  directories named (pgBackRest's, on the data node) stay bind mounts, for a
  service placed on the nodes that have them;
- restart policy, tmpfs and shared memory in the forms Swarm takes;
- an update and rollback order for each service.

What Swarm cannot do is dropped with a note (depends_on, no-new-privileges per
service: the docker_host role sets it for the engine),
or refused when dropping it would change what the service is (network_mode).
"""

from __future__ import annotations

import copy
import hmac
import os
import re

STACK_VERSION = '3.9'

# Keys Swarm ignores or refuses, and what the stack does instead.
DROPPED = {
    'depends_on': 'Swarm starts services in no order; the app waits for PostgreSQL and Redis through its readiness',
    'security_opt': 'no-new-privileges is set for the whole engine by the docker_host role',
    'container_name': 'Swarm names the tasks',
}
UNSUPPORTED = ('network_mode', 'ipc', 'pid', 'devices', 'build', 'links', 'external_links', 'cgroup_parent')
UNITS = {'': 1, 'b': 1, 'k': 1024, 'm': 1024**2, 'g': 1024**3}


class StackError(ValueError):
    pass


def size_bytes(text):
    match = re.fullmatch(r'(\d+)([bkmg]?)', str(text).strip().lower())
    if not match:
        raise StackError('not a size: %r' % text)
    return int(match.group(1)) * UNITS[match.group(2)]


def tmpfs_mount(spec):
    """'/tmp:size=64m,mode=1777' as a Swarm tmpfs mount (Swarm takes a size; the mode is its default, 1777)."""
    target, _sep, options = spec.partition(':')
    mount = {'type': 'tmpfs', 'target': target}
    for option in filter(None, options.split(',')):
        name, _eq, value = option.partition('=')
        if name == 'size':
            mount['tmpfs'] = {'size': size_bytes(value)}
    return mount


def restart_policy(restart):
    """compose's restart as Swarm's restart_policy."""
    if not restart or restart == 'no':
        return {'condition': 'none'}
    if restart.startswith('on-failure'):
        policy = {'condition': 'on-failure', 'delay': '5s'}
        _name, _sep, attempts = restart.partition(':')
        if attempts:
            policy['max_attempts'] = int(attempts)
        return policy
    return {'condition': 'any', 'delay': '5s'}


def service_owner(user):
    """uid and gid of a numeric `user: "999:999"` for Swarm's secret files, {} for any other user."""
    match = re.fullmatch(r'(\d+)(?::(\d+))?', str(user or ''))
    return {'uid': match.group(1), 'gid': match.group(2) or match.group(1)} if match else {}


def secret_names(project, contents, key):
    """Swarm names of the secrets {key: content}: a name changes when its own content changes, and only then.

    So a new JWT secret updates the services that mount it, not PostgreSQL and Redis. The name carries an
    HMAC of the content under the project's key (kept by the cluster: stack_deploy), so it tells nothing
    about a weak secret.
    """
    return {
        name: '%s_%s_%s' % (project, name, hmac.new(key, name.encode() + b'\0' + content, 'sha256').hexdigest()[:12])
        for name, content in contents.items()
    }


class StackRender:
    """Turns one compose model into a stack; read_file(path) -> bytes gives the contents of secret files.

    names_key: the project's key for its secrets' names (secret_names).
    """

    def __init__(
        self, project, placement, read_file, names_key, networks=None, update=None, config_dir=None, node_dirs=()
    ):
        self.project = project
        self.names_key = names_key
        self.placement = placement
        self.node_dirs = {os.path.normpath(path) for path in node_dirs}
        self.read_file = read_file
        self.networks = networks or {}
        self.update = update or {}
        self.config_dir = config_dir
        self.notes = []
        self.secrets = {}  # key: path of its file

    def render(self, model):
        stack = {'version': STACK_VERSION, 'services': {}}
        for key, secret in sorted((model.get('secrets') or {}).items()):
            self.add_secret(key, secret['file'])
        for name, service in sorted(model.get('services', {}).items()):
            stack['services'][name] = self.service(name, service)
        networks = self.render_networks(model.get('networks') or {})
        if networks:
            stack['networks'] = networks
        volumes = {name: self.plain(volume) for name, volume in (model.get('volumes') or {}).items()}
        if volumes:
            stack['volumes'] = volumes
        if self.secrets:
            contents = {key: self.read_file(path) for key, path in self.secrets.items()}
            names = secret_names(self.project, contents, self.names_key)
            stack['secrets'] = {key: {'name': names[key], 'file': path} for key, path in sorted(self.secrets.items())}
        return stack

    def add_secret(self, key, path):
        self.secrets[key] = path

    def plain(self, definition):
        """A network or volume without compose's project-prefixed name: the stack prefixes it the same way."""
        definition = dict(definition or {})
        if not definition.get('external'):
            definition.pop('name', None)
        return definition

    def render_networks(self, networks):
        rendered = {}
        for name, network in networks.items():
            network = self.plain(network)
            external = network.get('name') if network.get('external') else None
            if external is not None:
                # A host's bridge (the edge's) is the cluster's overlay network on Swarm.
                rendered[name] = {'external': True, 'name': self.networks.get(external, external)}
            else:
                rendered[name] = dict(network, driver='overlay', attachable=True)
        return rendered

    def service(self, name, service):
        service = copy.deepcopy(service)
        for key in UNSUPPORTED:
            if key in service:
                raise StackError(
                    'service %s uses %s, which a Swarm service cannot have: '
                    'turn off what needs it for app_backend swarm' % (name, key)
                )
        for key, why in DROPPED.items():
            if service.pop(key, None) is not None:
                self.note('%s: %s dropped (%s)' % (name, key, why))
        deploy = service.pop('deploy', None) or {}
        deploy['restart_policy'] = restart_policy(service.pop('restart', None))
        role = self.placement.get(name)
        if role:
            deploy['placement'] = {'constraints': ['node.labels.auraspeak.%s == true' % role]}
        deploy['endpoint_mode'] = 'dnsrr'
        if name in self.update:
            deploy['update_config'] = dict(self.update[name])
            deploy['rollback_config'] = {
                key: value for key, value in self.update[name].items() if key not in ('failure_action', 'monitor')
            }
        service['deploy'] = deploy

        mounts = [tmpfs_mount(spec) for spec in service.pop('tmpfs', None) or []]
        shm_size = service.pop('shm_size', None)
        if shm_size:
            mounts.append({'type': 'tmpfs', 'target': '/dev/shm', 'tmpfs': {'size': size_bytes(shm_size)}})
        volumes = []
        for volume in service.pop('volumes', None) or []:
            if volume.get('type') == 'bind' and os.path.normpath(volume['source']) in self.node_dirs:
                volumes.append(self.node_dir(name, volume))
                continue
            if volume.get('type') == 'bind':
                service.setdefault('secrets', []).append(self.bind_as_secret(name, volume))
                continue
            volume.pop('volume', None)
            volumes.append(volume)
        if volumes or mounts:
            service['volumes'] = volumes + mounts
        if 'env_file' in service:
            service['env_file'] = [entry['path'] if isinstance(entry, dict) else entry for entry in service['env_file']]
        if 'networks' in service:
            service['networks'] = sorted(service['networks'])
        owner = service_owner(service.get('user'))
        for entry in service.get('secrets', []):
            # Readable by the service's user alone, as the compose backend's files are.
            if owner:
                entry.update(owner, mode=0o400)
            else:
                entry.setdefault('mode', 0o444)
        return service

    def node_dir(self, service, volume):
        """A directory of the nodes the service is placed on, mounted as it is: Swarm does not create it."""
        role = self.placement.get(service)
        if not role:
            raise StackError(
                'service %s bind-mounts the node directory %s but is not placed on a node role: a Swarm task may run '
                'on a node that does not have it; place the service (placement)' % (service, volume['source'])
            )
        self.note('%s: %s stays a bind mount: every node labelled %s must have it' % (service, volume['source'], role))
        volume = dict(volume)
        volume.pop('bind', None)
        return volume

    def bind_as_secret(self, service, volume):
        """A host file the service mounts, as a Swarm secret at the same path: the task may run elsewhere."""
        source = volume['source']
        if self.config_dir and not source.startswith(self.config_dir.rstrip('/') + '/'):
            raise StackError(
                'service %s bind-mounts %s, which is not a file of the project (%s): a Swarm task '
                'may run on a node that does not have it' % (service, source, self.config_dir)
            )
        key = '%s_%s' % (service, re.sub(r'[^A-Za-z0-9_.-]', '_', os.path.basename(source)))
        self.add_secret(key, source)
        return {'source': key, 'target': volume['target']}

    def note(self, text):
        self.notes.append(text)
