#!/usr/bin/python
# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: swarm_raft_backup
short_description: Back up a Swarm manager's state (Raft log, certificates) while the engine runs
version_added: 0.1.0
description:
  - Copies the manager's Swarm state, C(<data root>/swarm) (its Raft log and snapshots, which hold the cluster's
    services, networks, configs and secrets, and the node's certificates and keys), into a new archive
    C(<dest>/swarm-raft-<engine host name>-<UTC time>.tar.gz), mode C(0600), written atomically.
  - Docker's documented procedure stops the engine for the copy; on a cluster of one manager that stops the
    cluster's control and the tasks on the manager. This module copies while the engine runs, and keeps the copy
    only if no file changed while it was read (sizes, modification times and inodes compared before and after),
    which is what a power cut at that instant would have left, the state the engine itself restarts from.
    Otherwise it copies again, up to O(attempts) times. The node's C(worker/) task cache is left out; the managers
    hand out the tasks again.
  - The archive is read back in full and must hold a manager's state (C(state.json), the node's certificate and
    key, the cluster's root CA and a Raft log). Only then are this node's archives beyond the O(keep) newest
    removed; a backup that fails leaves every older archive in place.
  - Runs on the manager itself, whose engine it asks for its data root; the engine must be reachable and the
    module must be able to read its data root (root).
  - The archive is as secret as the cluster's secrets. Unless the cluster is locked (C(docker swarm update
    --autolock)), it holds the key that decrypts the Raft log, and so every Swarm secret. With autolock on, the
    restore needs the unlock key, which the archive does not hold.
  - Restore with Docker's procedure - on a stopped engine, replace C(<data root>/swarm) with the archive's
    C(swarm/), start the engine, then C(docker swarm init --force-new-cluster) - as the collection's
    C(docs/scaling.md) describes.
extends_documentation_fragment:
  - auraspeak.ops.attributes
  - auraspeak.ops.engine
options:
  dest:
    description: The directory the archives go into; created with mode C(0700) when missing.
    type: path
    required: true
  keep:
    description: How many archives of this node to keep in O(dest), the newest. At least 1.
    type: int
    default: 14
  attempts:
    description: How many copies to try while the state keeps changing, one second apart.
    type: int
    default: 5
attributes:
  check_mode:
    support: full
    details: Checks that the node is a manager and reports the archive it would write and those it would remove.
  diff_mode:
    support: none
  idempotent:
    support: none
    details: Each run takes a new backup and reports a change, as C(auraspeak-backup) does.
author:
  - auraspeak.ops contributors (@auraspeak)
"""

EXAMPLES = r"""
- name: Back up the Swarm state of the first manager, keeping two weeks of daily archives
  auraspeak.ops.swarm_raft_backup:
    dest: /var/backups/auraspeak/swarm-raft
    keep: 14
"""

RETURN = r"""
archive:
  description: The archive written (or, in check mode, that would be).
  returned: always
  type: str
  sample: /var/backups/auraspeak/swarm-raft/swarm-raft-manager1-20261207T101500Z.tar.gz
files:
  description: How many files of the Swarm state the archive holds.
  returned: always
  type: int
bytes:
  description: The archive's size.
  returned: success, not in check mode
  type: int
attempts:
  description: How many copies it took until one was taken while nothing changed.
  returned: success, not in check mode
  type: int
verified:
  description: The archive was read back in full and holds a manager's state.
  returned: success, not in check mode
  type: bool
removed:
  description: This node's older archives removed (or that would be) to keep O(keep).
  returned: always
  type: list
  elements: str
autolock:
  description: The cluster is locked; restoring the archive needs its unlock key (C(docker swarm unlock-key)).
  returned: always
  type: bool
cluster_id:
  description: The cluster's id, as C(docker info) gives it.
  returned: always
  type: str
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.auraspeak.ops.plugins.module_utils._backup.swarm_raft import RaftBackupError, back_up
from ansible_collections.auraspeak.ops.plugins.module_utils._common.engine import Engine, EngineError


def main():
    module = AnsibleModule(
        argument_spec=dict(
            dest=dict(type='path', required=True),
            keep=dict(type='int', default=14),
            attempts=dict(type='int', default=5),
            docker_host=dict(type='str'),
        ),
        supports_check_mode=True,
    )
    params = module.params
    for name in ('keep', 'attempts'):
        if params[name] < 1:
            module.fail_json(msg='%s must be at least 1, not %d' % (name, params[name]))
    try:
        info = Engine.from_module(module).info()
    except EngineError as exc:
        module.fail_json(**exc.as_result())
    swarm = info.get('Swarm') or {}
    if swarm.get('LocalNodeState') != 'active' or not swarm.get('ControlAvailable'):
        module.fail_json(
            msg='%s is not a manager of a Swarm cluster (node state %s, manager: %s): run the backup on a manager '
            '(swarm_raft_backup_hosts)' % (info.get('Name'), swarm.get('LocalNodeState'), swarm.get('ControlAvailable'))
        )
    cluster = swarm.get('Cluster') or {}
    try:
        result = back_up(
            os.path.join(info['DockerRootDir'], 'swarm'),
            params['dest'],
            info['Name'],
            params['keep'],
            params['attempts'],
            check_mode=module.check_mode,
        )
    except (RaftBackupError, OSError) as exc:
        module.fail_json(msg=str(exc))
    autolock = bool(((cluster.get('Spec') or {}).get('EncryptionConfig') or {}).get('AutoLockManagers'))
    module.exit_json(changed=True, autolock=autolock, cluster_id=cluster.get('ID', ''), **result)


if __name__ == '__main__':
    main()
