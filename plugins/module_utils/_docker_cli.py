# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to the auraspeak.ops collection: its API may change
# without notice. It runs the docker CLI for the collection's modules and turns
# its failures into errors that say what to do.

from __future__ import annotations

import json
import os

from ansible_collections.auraspeak.ops.plugins.module_utils._build_log import tail

DOCKER_CLI_ARGUMENT_SPEC = dict(
    docker_cli=dict(type='path'),
    docker_host=dict(type='str', fallback=(lambda: os.environ.get('DOCKER_HOST'),)),
)


class DockerCLIError(Exception):
    """A docker command failed; carries what the user needs to see."""

    def __init__(self, msg, cmd=None, rc=None, stdout='', stderr=''):
        super().__init__(msg)
        self.msg = msg
        self.cmd = cmd
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr

    def as_result(self):
        result = {'msg': self.msg}
        if self.cmd is not None:
            result.update(cmd=self.cmd, rc=self.rc, stdout_lines=tail(self.stdout), stderr_lines=tail(self.stderr))
        return result


class DockerCLI:
    """Thin wrapper over `docker` commands run through AnsibleModule.run_command."""

    def __init__(self, module):
        self.module = module
        params = module.params
        self.binary = params.get('docker_cli') or module.get_bin_path('docker')
        if not self.binary:
            raise DockerCLIError(
                'the docker CLI was not found on PATH: install it (Debian: docker.io) or set docker_cli to its path'
            )
        self.env = {}
        if params.get('docker_host'):
            self.env['DOCKER_HOST'] = params['docker_host']

    def run(self, args, check=True, extra_env=None):
        cmd = [self.binary] + list(args)
        env = dict(self.env)
        env.update(extra_env or {})
        rc, out, err = self.module.run_command(cmd, environ_update=env)
        if check and rc != 0:
            raise DockerCLIError(
                '%s failed (rc=%d): %s' % (' '.join(cmd[:3]), rc, _last_line(err or out)),
                cmd=cmd,
                rc=rc,
                stdout=out,
                stderr=err,
            )
        return rc, out, err

    def ensure_engine(self):
        """Fail with a clear message when no engine answers."""
        rc, out, err = self.run(['version', '--format', '{{.Server.Version}}'], check=False)
        if rc != 0 or not out.strip():
            where = self.env.get('DOCKER_HOST') or 'the default socket (unix:///var/run/docker.sock)'
            raise DockerCLIError(
                "cannot reach the Docker engine at %s: %s. Start the engine (on this project's test "
                'machines `make setup` does) or point docker_host at a running one'
                % (where, _last_line(err) or 'no answer')
            )
        return out.strip()

    def ensure_buildx(self):
        rc, out, err = self.run(['buildx', 'version'], check=False)
        if rc != 0:
            raise DockerCLIError(
                'docker buildx is not available (%s): install the docker-buildx plugin '
                '(Debian trixie: docker-buildx; `make setup` installs it here)' % _last_line(err or out)
            )
        return out.strip()

    def inspect_image(self, ref):
        """The image's inspect data, or None when no local image has that reference."""
        rc, out, err = self.run(['image', 'inspect', '--format', '{{json .}}', ref], check=False)
        if rc != 0:
            if 'No such image' in err or 'No such object' in err:
                return None
            raise DockerCLIError(
                'docker image inspect %s failed: %s' % (ref, _last_line(err)),
                cmd=[self.binary, 'image', 'inspect', ref],
                rc=rc,
                stdout=out,
                stderr=err,
            )
        return json.loads(out)

    def image_id(self, ref):
        data = self.inspect_image(ref)
        return data['Id'] if data else None


def _last_line(text):
    lines = tail(text, 1)
    return lines[0].strip() if lines else ''
