# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to the auraspeak.ops collection: its API may change
# without notice. It runs `docker compose` for compose_deploy: read the
# normalized configuration and the per-service config hashes (both without
# side effects), and run the few `up`/`run`/`pull` forms the deploy needs.

from __future__ import annotations

import json
import os
import re
import tempfile

from ansible_collections.auraspeak.ops.plugins.module_utils._common.docker_cli import DockerCLIError

MINIMUM_COMPOSE_VERSION = (2, 18)
# Labels Compose puts on the containers it creates.
LABEL_PROJECT = 'com.docker.compose.project'
LABEL_SERVICE = 'com.docker.compose.service'
LABEL_CONFIG_HASH = 'com.docker.compose.config-hash'
LABEL_NUMBER = 'com.docker.compose.container-number'
LABEL_ONEOFF = 'com.docker.compose.oneoff'


def parse_version(text):
    """'2.26.1-4' or 'v2.18.0' -> (2, 26, 1)."""
    match = re.search(r'(\d+)\.(\d+)(?:\.(\d+))?', text or '')
    if not match:
        return None
    return tuple(int(part or 0) for part in match.groups())


class ComposeProject:
    """One compose project: its name, files, directory and env files."""

    def __init__(self, docker, name, files, project_dir=None, env_files=()):
        self.docker = docker
        self.name = name
        self.files = list(files)
        self.project_dir = project_dir
        self.env_files = list(env_files)

    def _args(self, *args):
        base = ['compose', '--project-name', self.name]
        if self.project_dir:
            base += ['--project-directory', self.project_dir]
        for path in self.files:
            base += ['--file', path]
        for path in self.env_files:
            base += ['--env-file', path]
        return base + list(args)

    def ensure_version(self):
        rc, out, err = self.docker.run(['compose', 'version', '--short'], check=False)
        version = parse_version(out) if rc == 0 else None
        if version is None or version[:2] < MINIMUM_COMPOSE_VERSION:
            raise DockerCLIError(
                'Docker Compose v2 >= %d.%d is needed (found: %s): install the compose plugin '
                '(Debian trixie: docker-compose; `make setup` installs it here)'
                % (MINIMUM_COMPOSE_VERSION + ((out or err).strip() or 'none',))
            )
        return version

    def config(self):
        """The normalized project (environment interpolated, env files read). Validates the files."""
        rc, out, err = self.docker.run(self._args('config', '--format', 'json'), check=False)
        if rc != 0:
            raise DockerCLIError(
                'the compose files of project %s do not validate: %s' % (self.name, (err or out).strip()),
                cmd=self._args('config'),
                rc=rc,
                stdout=out,
                stderr=err,
            )
        return json.loads(out)

    def config_hashes(self, config):
        """Service name -> the config hash Compose will put on its containers.

        Hashed from the normalized config: `config --hash` on the original files
        leaves env_file out while `up` reads it in (Compose 2.26), so their
        hashes differ for any service with an env_file.
        """
        with tempfile.TemporaryDirectory(prefix='compose-deploy-') as private:
            path = os.path.join(private, 'normalized.json')  # holds secrets: the directory is 0700
            with open(path, 'w', encoding='utf-8') as handle:
                json.dump(config, handle)
            args = ['compose', '--project-name', self.name, '--project-directory', self.project_dir or private]
            out = self.docker.run([*args, '--file', path, 'config', '--hash', '*'])[1]
        hashes = {}
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 2:
                hashes[parts[0]] = parts[1]
        return hashes

    def pull(self, services):
        self.docker.run(self._args('pull', '--quiet', *services))

    def up(self, services, scale=None, no_recreate=False, wait_timeout=None):
        # Never --no-deps: Compose then hashes the service without its
        # depends_on, and the labels would no longer match `config --hash`.
        # The dependencies are up to date already (recreated first).
        args = ['up', '--detach']
        if no_recreate:
            args.append('--no-recreate')
        if wait_timeout:
            args += ['--wait', '--wait-timeout', str(int(wait_timeout))]
        for service, count in sorted((scale or {}).items()):
            args += ['--scale', '%s=%d' % (service, count)]
        return self.docker.run(self._args(*args, *services))

    def create(self, scale):
        """Create missing containers of the services in scale ({service: count}), stopped; existing ones stay."""
        args = ['up', '--no-start', '--no-recreate']
        for service, count in sorted(scale.items()):
            args += ['--scale', '%s=%d' % (service, count)]
        return self.docker.run(self._args(*args, *sorted(scale)))

    def run_once(self, service, command):
        """Run command in a one-off container of service (its new image and settings)."""
        return self.docker.run(self._args('run', '--rm', '--no-deps', '--no-TTY', service, *command), check=False)
