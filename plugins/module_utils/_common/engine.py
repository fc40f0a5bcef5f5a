# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to the auraspeak.ops collection: its API may change
# without notice. It is the collection's one client to the Docker Engine API,
# through the Docker SDK for Python: inspect, list, exec, logs, start, stop, signal, remove, tag.
# Compose and buildx have no API and go through their CLIs (docker_cli.py).

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.auraspeak.ops.plugins.module_utils._common.docker_cli import DockerCLIError

try:
    import docker
    from docker.errors import APIError, DockerException, NotFound
    from docker.utils import kwargs_from_env

    # A connection that fails or times out (the engine stopped mid-run): the SDK leaves
    # it as requests' error, so every call below catches both.
    from requests.exceptions import RequestException
except ImportError:
    docker = None

    # Stand-ins while the SDK is missing: Engine() then refuses to start, naming the fix.
    class DockerException(Exception):
        pass

    class APIError(DockerException):
        pass

    class NotFound(APIError):
        pass

    class RequestException(Exception):
        pass


# Seconds an API call may take; a stop adds the container's own grace period to it.
API_TIMEOUT = 120
DEFAULT_SOCKET = 'unix:///var/run/docker.sock'


class EngineError(DockerCLIError):
    """An engine API call failed. One family with the CLI's errors: callers handle both alike."""


class Engine:
    """The engine's API, at docker_host (or DOCKER_HOST, or the default socket)."""

    def __init__(self, docker_host=None, timeout=API_TIMEOUT):
        if docker is None:
            raise EngineError(
                'the Docker SDK for Python (the `docker` package) cannot be imported by %s: install it on the host '
                '(Debian: python3-docker; the docker_host role does) or `pip install docker` into that Python, or '
                'point ansible_python_interpreter at a Python that has it' % sys.executable
            )
        kwargs = kwargs_from_env()
        if docker_host:
            kwargs['base_url'] = docker_host
        self.where = kwargs.get('base_url') or DEFAULT_SOCKET
        if self.where.startswith('ssh://'):
            kwargs['use_ssh_client'] = True  # the host's ssh and its config, as the CLI uses them
        try:
            # version='auto' asks the engine which API version it speaks: the first call, and the engine check.
            self.api = docker.APIClient(version='auto', timeout=timeout, **kwargs)
        except (DockerException, RequestException) as exc:
            raise EngineError(
                "cannot reach the Docker engine at %s: %s. Start the engine (on this project's test "
                'machines `make setup` does) or point docker_host at a running one' % (self.where, _reason(exc))
            ) from None

    @classmethod
    def from_module(cls, module):
        return cls(module.params.get('docker_host'))

    # --- images ---------------------------------------------------------------------------

    def inspect_image(self, ref):
        """The image's inspect data, or None when no local image has that reference."""
        return self._inspect('image inspect', self.api.inspect_image, ref)

    def inspect_images(self, refs):
        return {ref: self.inspect_image(ref) for ref in dict.fromkeys(refs)}

    def tag(self, image, ref):
        repository, _colon, tag = ref.rpartition(':')
        if '/' in tag or not repository:  # a registry port, not a tag
            repository, tag = ref, None
        self._call('tag %s %s' % (image, ref), self.api.tag, image, repository, tag)

    def remove_image(self, ref):
        """Remove a tag (and the image when it was the last); returns None, or the engine's refusal."""
        try:
            self.api.remove_image(ref)
        except NotFound:
            return None
        except (DockerException, RequestException) as exc:
            return _reason(exc)
        return None

    # --- containers -----------------------------------------------------------------------

    def container_ids(self, labels):
        """The ids of the containers, running or not, that carry every label ('key=value' or 'key')."""
        filters = {'label': list(labels)}
        found = self._call('container ls', self.api.containers, all=True, filters=filters, quiet=True)
        return [item['Id'] for item in found]

    def inspect_container(self, container):
        """The container's inspect data, or None when it does not exist (any more)."""
        return self._inspect('container inspect', self.api.inspect_container, container)

    def inspect_containers(self, ids):
        """Inspect data of those that still exist, in the order given."""
        return [data for data in (self.inspect_container(i) for i in ids) if data is not None]

    def top(self, container, ps_args):
        """{'Titles': [...], 'Processes': [[...], ...]}, or None when the container is not running.

        ps_args as `docker top` passes them to ps: '-o pid,args'.
        """
        try:
            return self.api.top(container, ps_args=ps_args)
        except (DockerException, RequestException):
            return None

    def logs(self, container, since=None, tail=None, timestamps=False):
        """Standard output and error of the container, as one text (None when it cannot be read: gone,
        or the engine failed; callers report with it, so its failure must not hide theirs).

        since (epoch seconds) counts in whole seconds: the SDK of Debian bookworm (5.0) takes no
        fraction, so a little more is read, and callers that need a finer cut read the timestamps.
        """
        try:
            raw = self.api.logs(
                container, timestamps=timestamps, since=_whole(since), tail='all' if tail is None else tail
            )
        except (DockerException, RequestException):
            return None
        return raw.decode('utf-8', 'replace')

    def follow_logs(self, container, since, timestamps=True):
        """A stream of the container's log lines from since (epoch seconds); close() ends it."""
        try:
            stream = self.api.logs(container, timestamps=timestamps, since=_whole(since), stream=True, follow=True)
        except (DockerException, RequestException) as exc:
            raise self._error('logs --follow %s' % container, exc) from None
        return LogLines(stream)

    def exec(self, container, argv):
        """Run argv in the running container; returns (exit code, stdout, stderr)."""
        what = 'exec %s %s' % (container, ' '.join(argv))
        created = self._call(what, self.api.exec_create, container, argv, stdout=True, stderr=True)
        out, err = self._call(what, self.api.exec_start, created['Id'], demux=True)
        code = self._call(what, self.api.exec_inspect, created['Id'])['ExitCode']
        return code, _text(out), _text(err)

    def stop(self, stop_timeouts):
        """Stop containers at once, each given {id: grace seconds}, as `docker stop` does; raises on a failure."""
        self._each(lambda i: self._call('stop %s' % i, self.api.stop, i, timeout=stop_timeouts[i]), stop_timeouts)

    def start(self, ids):
        """Start containers at once; starting a running one changes nothing."""
        self._each(lambda i: self._call('start %s' % i, self.api.start, i), ids)

    def kill(self, container, signal):
        """Send a signal (a name such as HUP, or a number) to the container's main process."""
        self._call('kill --signal %s %s' % (signal, container), self.api.kill, container, signal=signal)

    def remove(self, ids, force=False):
        """Remove containers and their anonymous volumes; those gone already count as removed."""

        def remove_one(container):
            try:
                self.api.remove_container(container, v=True, force=force)
            except NotFound:
                pass
            except (DockerException, RequestException) as exc:
                raise self._error('rm %s' % container, exc) from None

        self._each(remove_one, ids)

    # --- swarm ----------------------------------------------------------------------------

    def info(self):
        """docker info: the engine's data root, its Swarm state and more."""
        return self._call('info', self.api.info)

    def services(self, labels):
        """The Swarm services that carry every one of labels (key=value or key), as the engine inspects them."""
        return self._call('service ls', self.api.services, filters={'label': list(labels)})

    def tasks(self, service_id, running_only=True):
        """The tasks of a service: those Swarm wants running, or all it still keeps."""
        filters = {'service': service_id}
        if running_only:
            filters['desired-state'] = 'running'
        return self._call('service ps %s' % service_id, self.api.tasks, filters=filters)

    def nodes(self):
        return self._call('node ls', self.api.nodes)

    def scale_service(self, service_id, replicas):
        """docker service scale: the service's own definition (no defaults added, so no task restarts), N replicas."""
        service = self._call('service inspect %s' % service_id, self.api.inspect_service, service_id)
        spec = service['Spec']
        self._call(
            'service scale %s=%d' % (service_id, replicas),
            self.api.update_service,
            service_id,
            service['Version']['Index'],
            task_template=spec['TaskTemplate'],
            name=spec['Name'],
            labels=spec.get('Labels'),
            mode={'Replicated': {'Replicas': replicas}},
            update_config=spec.get('UpdateConfig'),
            rollback_config=spec.get('RollbackConfig'),
            endpoint_spec=spec.get('EndpointSpec'),
        )

    def config(self, name):
        """The Swarm config called name as the engine inspects it (Spec.Data in base64), None when there is none."""
        return self._inspect('config inspect', self.api.inspect_config, name)

    def create_config(self, name, data, labels):
        """Create a Swarm config; False when one of that name exists already."""
        try:
            self.api.create_config(name, data, labels=labels)
        except APIError as exc:
            if exc.status_code == 409:
                return False
            raise self._error('config create %s' % name, exc) from None
        except (DockerException, RequestException) as exc:
            raise self._error('config create %s' % name, exc) from None
        return True

    def secrets(self, labels):
        return self._call('secret ls', self.api.secrets, filters={'label': list(labels)})

    def remove_secret(self, secret_id):
        """Remove a Swarm secret; False when a service still uses it (or it is gone already)."""
        try:
            self.api.remove_secret(secret_id)
        except APIError:  # in use (400), or gone already (404)
            return False
        except (DockerException, RequestException) as exc:
            raise self._error('secret rm %s' % secret_id, exc) from None
        return True

    # --- helpers --------------------------------------------------------------------------

    def _each(self, action, ids):
        ids = list(ids)
        if len(ids) < 2:
            for container in ids:
                action(container)
            return
        with ThreadPoolExecutor(max_workers=min(len(ids), 8)) as pool:
            for future in [pool.submit(action, i) for i in ids]:
                future.result()

    def _inspect(self, what, function, name):
        try:
            return function(name)
        except NotFound:
            return None
        except (DockerException, RequestException) as exc:
            raise self._error('%s %s' % (what, name), exc) from None

    def _call(self, what, function, *args, **kwargs):
        try:
            return function(*args, **kwargs)
        except (DockerException, RequestException) as exc:
            raise self._error(what, exc) from None

    def _error(self, what, exc):
        return EngineError('docker %s failed: %s' % (what, _reason(exc)), cmd=['docker'] + what.split(), rc=1)


class LogLines:
    """Lines of a followed log, whole even when the engine's chunks split them."""

    def __init__(self, stream):
        self.stream = stream

    def __iter__(self):
        pending = b''
        for chunk in self.stream:
            pending += chunk
            *lines, pending = pending.split(b'\n')
            for line in lines:
                yield line.decode('utf-8', 'replace') + '\n'
        if pending:
            yield pending.decode('utf-8', 'replace')

    def close(self):
        self.stream.close()


def _whole(since):
    return None if since is None else max(1, int(since))


def _text(data):
    return (data or b'').decode('utf-8', 'replace')


def _reason(exc):
    explanation = getattr(exc, 'explanation', None)
    return str(explanation or exc).strip()
