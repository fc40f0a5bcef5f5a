#!/usr/bin/python
# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: release_info
short_description: Read the release ledger of a project deployed with compose_deploy
version_added: 0.1.0
description:
  - Reads the release ledger C(releases.json) that C(auraspeak.ops.compose_deploy) keeps on each host
    and returns the release serving now, the one to roll back to, and the history.
  - The ledger is at C(<state_dir>/<project>/releases.json), or at O(path). Its format and the
    release statuses (V(deploying), V(active), V(superseded), V(failed), V(rolled_back),
    V(interrupted)) are described
    in C(docs/deploy.md) of the collection.
  - Reads only; takes no lock (the ledger is replaced atomically, so a read never sees a partial file).
  - A host that was never deployed to has no ledger - that is not an error, RV(exists) is V(false).
    A ledger that is not valid JSON fails, naming the file; it is never replaced automatically.
extends_documentation_fragment:
  - auraspeak.ops.attributes
options:
  project:
    description:
      - The compose project name; the ledger is C(<state_dir>/<project>/releases.json).
      - Letters, digits, V(_), V(.), V(-), starting with a letter or digit.
      - Exactly one of O(project) and O(path) is required.
    type: str
  state_dir:
    description:
      - The directory holding one state directory per project. Only with O(project).
    type: path
    default: /var/lib/auraspeak
  path:
    description:
      - The ledger file itself, instead of O(project) and O(state_dir).
    type: path
  limit:
    description:
      - How many entries RV(history) returns, newest first. V(0) returns none.
    type: int
    default: 20
attributes:
  check_mode:
    support: full
    details: The module only reads; it runs the same in check mode.
  diff_mode:
    support: N/A
    details: The module changes nothing.
  idempotent:
    support: full
    details: The module changes nothing and always reports no change.
notes:
  - The ledger keeps at most 100 entries. Beyond that the oldest are dropped - first those that are not
    active and hold no image of the newest retained versions - so RV(history) never reaches further back.
seealso:
  - module: auraspeak.ops.deploy_lock
author:
  - auraspeak.ops contributors (@auraspeak)
"""

EXAMPLES = r"""
- name: Read the releases of the auraspeak project
  auraspeak.ops.release_info:
    project: auraspeak
  register: releases

- name: Show what serves and what a rollback would go back to
  ansible.builtin.debug:
    msg: >-
      serving {{ releases.current.version | default('nothing') }},
      rollback target {{ releases.previous.version | default('none') }}

- name: Read a ledger copied off a host, last 5 entries
  auraspeak.ops.release_info:
    path: /srv/backup/web1/releases.json
    limit: 5
  register: copied_releases
"""

RETURN = r"""
path:
  description: The ledger file that was read (or looked for).
  returned: always
  type: str
  sample: /var/lib/auraspeak/auraspeak/releases.json
exists:
  description: Whether the ledger file exists.
  returned: always
  type: bool
  sample: true
project:
  description: The project the ledger names (the name of its directory when there is no ledger yet).
  returned: success
  type: str
  sample: auraspeak
current:
  description: The V(active) release, the one serving; null when none is.
  returned: success
  type: dict
  sample:
    id: 3
    version: 1.1.0
    kind: deploy
    status: active
    images:
      app:
        ref: auraspeak/server:1.1.0
        id: sha256:5b1a1c3f9d2e4e0c0d1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f
    config_hash: sha256:0c7d58d1b9b0a6a5e8f5e9d1d1e1bb0e7a4f2d3c8a9b0c1d2e3f405162738495
    started_at: '2026-11-26T06:00:00Z'
    finished_at: '2026-11-26T06:02:13Z'
    deployed_by: alice@ctl
    previous: 1.0.0
    reason: null
  contains:
    id:
      description: Increasing number of the entry in this ledger.
      type: int
    version:
      description: The release version (the application image tag).
      type: str
    kind:
      description: V(deploy) or V(rollback).
      type: str
    status:
      description: V(deploying), V(active), V(superseded), V(failed), V(rolled_back) or V(interrupted).
      type: str
    images:
      description: Per service, the image reference and the image id deployed.
      type: dict
    config_hash:
      description: Hash of the compose configuration deployed.
      type: str
    started_at:
      description: When the deploy started, UTC, C(YYYY-MM-DDTHH:MM:SSZ).
      type: str
    finished_at:
      description: When it finished; null while deploying.
      type: str
    deployed_by:
      description: Who ran the deploy.
      type: str
    previous:
      description: The version that was active when this deploy started; null for the first one.
      type: str
    reason:
      description: Why a release failed, was rolled back or was interrupted; null otherwise.
      type: str
    analysis:
      description:
        - The verdict of each canary step of the release analysis (weight, result, reason, seconds, the
          figures of both releases, breaches), when one ran. See M(auraspeak.ops.compose_deploy).
      type: list
      elements: dict
      returned: when a release analysis ran
previous:
  description:
    - The newest V(superseded) release of another version than RV(current) - what a rollback goes
      back to; null when there is none. Same fields as RV(current).
    - A version a rollback went away from is skipped until it is deployed again, so two rollbacks in a
      row go further back instead of returning to the release rolled back.
  returned: success
  type: dict
  sample:
    id: 2
    version: 1.0.0
    kind: deploy
    status: superseded
history:
  description: The last O(limit) entries, newest first, of any status. Same fields as RV(current).
  returned: success
  type: list
  elements: dict
  sample:
    - id: 3
      version: 1.1.0
      status: active
    - id: 2
      version: 1.0.0
      status: superseded
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.auraspeak.ops.plugins.module_utils._deploy.release_info import release_info


def main():
    module = AnsibleModule(
        argument_spec=dict(
            project=dict(type='str'),
            state_dir=dict(type='path', default='/var/lib/auraspeak'),
            path=dict(type='path'),
            limit=dict(type='int', default=20),
        ),
        mutually_exclusive=[('project', 'path'), ('state_dir', 'path')],
        required_one_of=[('project', 'path')],
        supports_check_mode=True,
    )
    failed, result = release_info(module.params)
    if failed:
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
