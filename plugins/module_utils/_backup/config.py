# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to auraspeak.ops (standard library only, see docker.py).
# backup.json, written by the backup role: where everything of one project is.

from __future__ import annotations

import os

from .docker import BackupError, require_service_container, use_engine
from .manifest import read_json
from .state import BackupState

DEFAULT_CONFIG_DIR = '/etc/auraspeak'


def config_path(project, config_dir=DEFAULT_CONFIG_DIR):
    return os.path.join(config_dir, project, 'backup', 'backup.json')


def load(path):
    """The project's configuration; from here on the docker commands go to its engine."""
    cfg = read_json(path)
    if cfg is None:
        raise BackupError('%s does not exist: run the auraspeak.ops.backup role on this host first' % path)
    config = Config(cfg)
    use_engine(config.docker_host)
    return config


class Config:
    """Read access to backup.json with the defaults the role documents."""

    def __init__(self, data):
        self.data = data
        self.project = data['project']
        # The writer every backup is marked with (owner.py): the project on its inventory host.
        self.owner = data.get('owner') or self.project
        self.postgres = data['postgres']
        self.pgbackrest = data.get('pgbackrest') or {'enabled': False}
        self.dump = data.get('dump') or {'enabled': False}
        self.restic = data.get('restic') or {'enabled': False}
        self.state = BackupState(data['state_dir'], self.project, data.get('metrics_dir'))
        self.drill_timeout = int(data.get('drill_timeout', 1800))
        self.job_wait_timeout = int(data.get('job_wait_timeout', 1800))
        # The engine on this host, when not the default socket (DOCKER_HOST of the caller then applies).
        self.docker_host = data.get('docker_host') or ''
        self._live_postgres = None

    def live_postgres(self):
        """The running PostgreSQL container of the project, looked up once per command."""
        if self._live_postgres is None:
            self._live_postgres = require_service_container(self.project, self.postgres['service'])
        return self._live_postgres

    def postgres_volume(self):
        return '%s_%s' % (self.project, self.postgres.get('volume', 'postgres-data'))

    def drill_name(self, kind):
        return 'auraspeak-drill-%s-%s-%d' % (self.project, kind, os.getpid())
