# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to the auraspeak.ops collection: its API may change
# without notice. It runs the docker CLI for the collection's modules and turns
# its failures into errors that say what to do.

from __future__ import annotations

import json
import os
import re
import subprocess


def tail(text, lines=30):
    """The last lines of a command's output, for error reports."""
    return (text or '').rstrip('\n').splitlines()[-lines:]


DOCKER_CLI_ARGUMENT_SPEC = dict(
    docker_cli=dict(type='path'),
    docker_host=dict(type='str', fallback=(lambda: os.environ.get('DOCKER_HOST'),)),
)


# What the CLI prints when no engine answers.
_ENGINE_DOWN = re.compile(r'Cannot connect to the Docker daemon|error during connect|connection refused', re.IGNORECASE)


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

    def stream(self, args):
        """A running `docker <args>` whose standard output is read line by line (docker logs --follow)."""
        env = dict(os.environ)
        env.update(self.env)
        return subprocess.Popen(
            [self.binary] + list(args),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            universal_newlines=True,
            env=env,
        )

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

    def inspect_images(self, refs):
        """Inspect data of each reference (None when absent), in one CLI call.

        Also the engine check of the fast path: an unreachable engine raises.
        """
        refs = list(dict.fromkeys(refs))
        if not refs:
            return {}
        rc, out, err = self.run(['image', 'inspect', '--format', '{{json .}}', *refs], check=False)
        if rc != 0 and _ENGINE_DOWN.search(err or ''):
            raise DockerCLIError(self._engine_down_message(err))
        missing = {ref for ref in refs if missing_in(err, ref)}
        found = [line for line in out.splitlines() if line.strip()]
        present = [ref for ref in refs if ref not in missing]
        if (rc != 0 and not missing) or len(found) != len(present):
            raise DockerCLIError(
                'docker image inspect failed: %s' % _last_line(err or out),
                cmd=[self.binary, 'image', 'inspect', *refs],
                rc=rc,
                stdout=out,
                stderr=err,
            )
        result = dict.fromkeys(refs)
        result.update(zip(present, (json.loads(line) for line in found)))
        return result

    def inspect_image(self, ref):
        """The image's inspect data, or None when no local image has that reference."""
        return self.inspect_images([ref])[ref]

    def _engine_down_message(self, err):
        where = self.env.get('DOCKER_HOST') or 'the default socket (unix:///var/run/docker.sock)'
        return (
            "cannot reach the Docker engine at %s: %s. Start the engine (on this project's test "
            'machines `make setup` does) or point docker_host at a running one'
            % (where, _last_line(err) or 'no answer')
        )


def missing_in(stderr, ref):
    """True when the CLI's stderr says ref does not exist (formats of CLI 20.10 to 28)."""
    pattern = r'no such (?:image|object): %s(?:: |$)' % re.escape(ref)
    return re.search(pattern, stderr or '', re.IGNORECASE | re.MULTILINE) is not None


def _last_line(text):
    lines = tail(text, 1)
    return lines[0].strip() if lines else ''
