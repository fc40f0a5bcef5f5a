# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to auraspeak.ops. The backup code runs in two places: inside the
# backup_verify module and as the host's scheduled `auraspeak-backup` command,
# for which the backup role installs this package as it lies here (with the
# collection's _common/files.py and _common/lock_heartbeat.py beside it). So these files
# use the standard library only and import each other relatively.

from __future__ import annotations

import os
import subprocess
import time

# Every container the backup tools start carries this label, set to the project.
TOOL_LABEL = 'io.auraspeak.ops.backup-tool'


class BackupError(Exception):
    """A backup step failed; the message says what and what to do, report what was checked."""

    def __init__(self, msg, report=None):
        super().__init__(msg)
        self.report = report


class CommandTimeout(BackupError):
    """A command ran out of its time limit (and was stopped)."""


def use_engine(docker_host):
    """Point every docker command this process runs at docker_host (an address as in DOCKER_HOST).

    Empty leaves the caller's DOCKER_HOST, or the default socket, as it is.
    """
    if docker_host:
        os.environ['DOCKER_HOST'] = docker_host


def run(argv, input_text=None, check=True, timeout=None):
    """Run a command; return (rc, stdout, stderr). Raise BackupError when check and rc != 0."""
    try:
        proc = subprocess.run(argv, input=input_text, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise BackupError('%s is not installed on this host' % argv[0]) from None
    except subprocess.TimeoutExpired:
        raise CommandTimeout('%s did not finish within %s s' % (' '.join(argv[:4]), timeout)) from None
    if check and proc.returncode != 0:
        raise BackupError(
            '%s failed (exit %d): %s' % (' '.join(argv[:6]), proc.returncode, _last_lines(proc.stderr or proc.stdout))
        )
    return proc.returncode, proc.stdout, proc.stderr


def _last_lines(text, count=6):
    lines = [line for line in (text or '').strip().splitlines() if line.strip()]
    return ' | '.join(lines[-count:]) or 'no output'


def service_labels(project, service):
    """The labels that find a service's containers: the compose project's, or the Swarm stack's task on this node."""
    return (
        ('com.docker.compose.project=%s' % project, 'com.docker.compose.service=%s' % service),
        ('com.docker.stack.namespace=%s' % project, 'com.docker.swarm.service.name=%s_%s' % (project, service)),
    )


def service_container(project, service):
    """The id of the running container of a service on this engine (compose or Swarm), or None."""
    for labels in service_labels(project, service):
        argv = ['docker', 'ps', '--quiet']
        for label in labels:
            argv += ['--filter', 'label=' + label]
        ids = run(argv)[1].split()
        if ids:
            return ids[0]
    return None


def require_service_container(project, service):
    container = service_container(project, service)
    if not container:
        raise BackupError(
            'the %s service of the %s project is not running: start it (deploy.yml) and retry' % (service, project)
        )
    return container


def psql_argv(container, user, database):
    """docker exec of psql in a container: unaligned rows, no psqlrc, stop at the first error."""
    return (
        ['docker', 'exec', '-i', container]
        + ['psql', '-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1']
        + ['--username', user, '--dbname', database]
    )


def psql(container, user, database, sql, timeout=600):
    """Run SQL through psql in a container; return stdout rows split on '|'."""
    _rc, out, _err = run(psql_argv(container, user, database), input_text=sql, timeout=timeout)
    return [line.split('|') for line in out.splitlines() if line]


def throwaway_argv(project, name=None, detach=False, network='none'):
    """docker run of a PostgreSQL-image container of the backup tools: uid 999, labelled.

    No network unless it must reach a remote repository. The label lets a later
    run remove what a killed one left behind.
    """
    argv = [
        'docker',
        'run',
        '--user',
        '999:999',
        '--network',
        network,
        '--tmpfs',
        '/tmp',
        '--tmpfs',
        '/var/run/postgresql:uid=999,gid=999',
        '--label',
        '%s=%s' % (TOOL_LABEL, project),
    ]
    argv += ['--detach'] if detach else ['--rm']
    return argv + (['--name', name] if name else [])


def remove_container(name):
    """Remove a container and its anonymous volumes, if it exists."""
    run(['docker', 'rm', '--force', '--volumes', name], check=False)


def remove_volume(name):
    run(['docker', 'volume', 'rm', '--force', name], check=False)


def container_status(name):
    _rc, out, _err = run(['docker', 'inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', name], check=False)
    return out.strip()


def container_log(name, lines=8):
    _rc, out, err = run(['docker', 'logs', '--tail', str(lines), name], check=False)
    return ' | '.join((out + err).strip().splitlines()[-lines:])


def wait_postgres(name, user, database, timeout, what='the restore drill'):
    """Wait until a restored server accepts queries and has left recovery."""
    deadline = time.time() + timeout
    while True:
        status = container_status(name)
        if not status.startswith('running'):
            raise BackupError('%s stopped (%s): %s' % (what, status or 'gone', container_log(name)))
        rc, out, _err = run(
            [
                'docker',
                'exec',
                name,
                'psql',
                '-X',
                '-At',
                '--username',
                user,
                '--dbname',
                database,
                '-c',
                'SELECT pg_is_in_recovery()',
            ],
            check=False,
        )
        if rc == 0 and out.strip() == 'f':
            return
        if time.time() > deadline:
            raise BackupError('%s was not serving within %d s: %s' % (what, timeout, container_log(name)))
        time.sleep(0.2)
