# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to the auraspeak.ops collection: its API may change
# without notice. It runs the docker CLI for what has no engine API, Compose and
# buildx, and turns its failures into errors that say what to do. The engine's
# API itself is reached through engine.py.

from __future__ import annotations

import os


def tail(text, lines=30):
    """The last lines of a command's output, for error reports."""
    return (text or '').rstrip('\n').splitlines()[-lines:]


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
    """Thin wrapper over `docker compose` and `docker buildx` commands run through AnsibleModule.run_command."""

    def __init__(self, module):
        self.module = module
        params = module.params
        self.binary = params.get('docker_cli') or module.get_bin_path('docker')
        if params.get('docker_cli') and not os.access(self.binary, os.X_OK):
            raise DockerCLIError("docker_cli '%s' is not an executable file: point it at the docker CLI" % self.binary)
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

    def ensure_buildx(self):
        rc, out, err = self.run(['buildx', 'version'], check=False)
        if rc != 0:
            raise DockerCLIError(
                'docker buildx is not available (%s): install the docker-buildx plugin '
                '(Debian trixie: docker-buildx; `make setup` installs it here)' % _last_line(err or out)
            )
        return out.strip()


def _last_line(text):
    lines = tail(text, 1)
    return lines[0].strip() if lines else ''
