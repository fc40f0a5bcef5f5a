#!/usr/bin/python
# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: backup_verify
short_description: Prove a backup restores - integrity check, restore drill, comparison with its manifest
version_added: 0.1.0
description:
  - Verifies one backup of a project set up by the C(auraspeak.ops.backup) role, for real.
  - V(pgbackrest) - runs C(pgbackrest verify) over the repository, restores the set into a throwaway
    PostgreSQL container up to the restore point taken right after the backup, and compares every
    table's row count with the manifest recorded at that point.
  - V(dump) - checks the dump's sha256 against its manifest, restores it with C(pg_restore) into a
    throwaway container, and compares every table's row count with the manifest, taken from the
    snapshot C(pg_dump) read.
  - V(restic) - runs C(restic check --read-data-subset), restores each snapshot with C(--verify) into a
    throwaway container, and compares the restored files and bytes with the snapshot's.
  - Throwaway containers have no network and never see the live database or its volume; they are
    removed in every case, also when a drill fails. Drills left by a killed run are removed first.
  - A verified backup is recorded as such, and retention keeps the last verified backup of each kind
    (restic snapshots get the tag C(verified)).
  - The outcome goes to the project's C(backup-state.json) and its Prometheus textfile metrics
    (job C(verify-<kind>)).
extends_documentation_fragment:
  - auraspeak.ops.attributes
options:
  project:
    description:
      - The compose project; its backup configuration is C(/etc/auraspeak/<project>/backup/backup.json).
    type: str
    default: auraspeak
  config:
    description:
      - The backup configuration file, when the C(backup_config_dir) of the role is not the default.
    type: path
  kind:
    description: What kind of backup to verify.
    type: str
    required: true
    choices: [pgbackrest, dump, restic]
  backup:
    description:
      - Which backup - a pgBackRest set label (V(20261126-030000F)), a dump id or path, or a restic
        snapshot id. V(latest) is the newest one (for V(restic), the newest snapshot of every volume; for
        V(dump), the newest scheduled dump, never a pre-migration snapshot).
      - A drill of a pre-migration snapshot (named by its id) proves it but does not move the verified mark
        that dump retention keeps.
    type: str
    default: latest
attributes:
  check_mode:
    support: full
    details: Check mode resolves which backup would be verified and reports it, without a drill.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: A drill changes no backup and no live service; it reports no change.
notes:
  - Needs the Docker engine and the images of the backup configuration (PostgreSQL with pgBackRest, restic).
  - The C(auraspeak.ops.backup) role writes the configuration and schedules the same drills weekly;
    C(playbooks/verify_backup.yml) runs this module for every kind of backup the project has.
  - A mismatch fails the module with the list of differences; RV(report) still says what was checked.
author:
  - auraspeak.ops contributors (@auraspeak)
"""

EXAMPLES = r"""
- name: Restore drill of the newest pgBackRest set
  auraspeak.ops.backup_verify:
    project: auraspeak
    kind: pgbackrest

- name: Verify a given dump
  auraspeak.ops.backup_verify:
    kind: dump
    backup: auraspeak-20261126T023000Z
"""

RETURN = r"""
report:
  description: What was verified and how.
  returned: always
  type: dict
  contains:
    kind:
      description: The kind of backup.
      type: str
    id:
      description: The backup that was verified (set label, dump id, or snapshot ids).
      type: str
    checked:
      description: The checks that ran, in order.
      type: list
      elements: str
    steps:
      description: Each step with its duration in seconds.
      type: list
      elements: dict
    tables:
      description: Tables found in the restored database (V(pgbackrest), V(dump)).
      type: int
    rows:
      description: Rows found in the restored database (V(pgbackrest), V(dump)).
      type: int
    mismatches:
      description: Differences from the manifest; empty when the backup verified.
      type: list
      elements: str
    seconds:
      description: Duration of the whole verification.
      type: float
    snapshots:
      description: The restic snapshots restored, with their paths, files and bytes (V(restic)).
      type: list
      elements: dict
    verified_as:
      description:
        - The ids the verified restic snapshots have now (V(restic)) - tagging a snapshot
          C(verified), which retention keeps, makes restic store it under a new id.
      type: str
  sample:
    kind: dump
    id: auraspeak-20261126T023000Z
    checked: [sha256, pg_restore drill, row counts]
    steps: [{step: integrity, seconds: 0.2}, {step: restore, seconds: 4.1}, {step: compare, seconds: 0.3}]
    tables: 3
    rows: 1200
    mismatches: []
    seconds: 4.7
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.auraspeak.ops.plugins.module_utils._backup import dump, pgbackrest, restic
from ansible_collections.auraspeak.ops.plugins.module_utils._backup.config import config_path, load
from ansible_collections.auraspeak.ops.plugins.module_utils._backup.docker import BackupError
from ansible_collections.auraspeak.ops.plugins.module_utils._backup.drill import dump_to_drill
from ansible_collections.auraspeak.ops.plugins.module_utils._backup.jobs import run_verify


def planned(cfg, kind, backup):
    """The backup a drill would verify, for check mode."""
    if kind == 'pgbackrest':
        return pgbackrest.resolve_set(cfg, backup)['label']
    if kind == 'dump':
        return dump.dump_id(dump_to_drill(cfg, backup))
    return ','.join(snap['short_id'] for snap in restic.resolve(cfg, backup))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            project=dict(type='str', default='auraspeak'),
            config=dict(type='path'),
            kind=dict(type='str', required=True, choices=['pgbackrest', 'dump', 'restic']),
            backup=dict(type='str', default='latest'),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        cfg = load(params['config'] or config_path(params['project']))
        if module.check_mode:
            backup_id = planned(cfg, params['kind'], params['backup'])
            module.exit_json(
                changed=False,
                report={'kind': params['kind'], 'id': backup_id, 'checked': [], 'mismatches': []},
                msg='would verify %s backup %s' % (params['kind'], backup_id),
            )
        report = run_verify(cfg, params['kind'], params['backup'])
    except BackupError as exc:
        module.fail_json(msg=str(exc), report=exc.report or {'kind': params['kind'], 'mismatches': []})
    report.pop('outcome', None)
    module.exit_json(changed=False, report=report)


if __name__ == '__main__':
    main()
