#!/usr/bin/python
# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: deploy_lock
short_description: Let one deploy of a project run at a time on a host
version_added: 0.1.0
description:
  - Acquires or releases the deploy lock of a project, the file C(<state_dir>/<project>/deploy.lock)
    (or O(path)). The deploy playbook acquires it first and releases it at the end;
    C(auraspeak.ops.compose_deploy) refuses to run without it.
  - The lock file is JSON - the O(holder), the controller host and the PID of the C(ansible-playbook)
    process that took it, when (C(acquired_at), UTC), and the target's host name and the module's PID.
    It is created atomically (C(O_CREAT|O_EXCL), mode C(0600)); a takeover or release checks that the
    file still holds what was read, under an C(flock) of C(<lock>.guard) (a file left in place).
  - Acquiring is re-entrant - a lock already held by the same O(holder) is kept, with no change.
  - The holder's heartbeat is the lock file's modification time. While C(auraspeak.ops.compose_deploy)
    and the C(auraspeak-backup) command work under the lock, they touch it every 2 seconds; so a lock
    goes stale by missed heartbeats, not by the length of a deploy (a long pre-migration dump or
    restore keeps it).
  - A lock held by another holder makes the task fail, naming the holder, its controller, since when,
    and its last heartbeat. It is taken over, with a warning, when O(force=true); and, unless it is on
    a O(lease), when it has had no heartbeat for O(stale_after) seconds, or - through the action plugin
    that runs this module - when it was taken by an C(ansible-playbook) process on this same controller
    host that no longer runs (killed with SIGKILL, say) and no module of that run has beaten for 6
    seconds (the plugin waits up to that long). A lock taken from another controller host is never
    taken over that way.
  - An action plugin of the same name runs on the controller before the module; it adds O(controller)
    and does the automatic takeover described above, re-running the module with O(takeover).
extends_documentation_fragment:
  - auraspeak.ops.attributes
options:
  project:
    description:
      - The compose project name; the lock is C(<state_dir>/<project>/deploy.lock).
      - Exactly one of O(project) and O(path) is required.
    type: str
  state_dir:
    description:
      - The directory holding one state directory per project. Only with O(project).
      - Created (mode C(0755)) when missing and a lock is acquired.
    type: path
    default: /var/lib/auraspeak
  path:
    description:
      - The lock file itself, instead of O(project) and O(state_dir).
    type: path
  state:
    description:
      - V(acquired) takes the lock (or keeps it when O(holder) holds it already).
      - V(released) removes the lock when O(holder) holds it; no change when nobody holds it.
    type: str
    choices: [acquired, released]
    default: acquired
  holder:
    description:
      - Identifies this run; the same value must be used to release the lock. Make it unique per
        run, for example V(alice@controller:run-<uuid>).
    type: str
    required: true
  stale_after:
    description:
      - Seconds without a heartbeat after which a lock held by another holder counts as abandoned and
        is taken over. At least 30.
      - Heartbeats come from the modules that work under the lock, not from the playbook's own tasks;
        set it above the longest stretch of tasks between them (the default leaves minutes).
    type: int
    default: 300
  force:
    description:
      - Take over (V(acquired)) or remove (V(released)) the lock whoever holds it. Only for a run
        that is known to have died; a warning names the holder that lost the lock.
    type: bool
    default: false
  lease:
    description:
      - With O(state=acquired), seconds from now during which the lock cannot be taken over, heartbeat or
        not, except with O(force=true) - for work the holder does where it cannot beat for the lock (on
        Swarm, C(restore.yml) restores on the data node while the lock is the manager's). Stored in the
        lock as C(lease_until); the holder ends it by acquiring again with V(0).
      - Give the longest the work may take, and stop waiting for it then (the task's C(timeout)). A run
        that dies during its lease keeps the lock until the lease ends, unless taken with O(force=true).
    type: int
    default: 0
  takeover:
    description:
      - Internal, set by the action plugin. With O(state=acquired), take over the lock only if its
        holder is exactly this value.
    type: str
  controller:
    description:
      - Internal, set by the action plugin - the controller that runs the deploy. Stored in the lock.
    type: dict
    suboptions:
      host:
        description: Host name of the controller.
        type: str
      pid:
        description: PID of the C(ansible-playbook) (or C(ansible)) process.
        type: int
attributes:
  check_mode:
    support: full
    details:
      - Reports whether the lock would be taken, kept, taken over or removed, and fails as a real run
        would; writes nothing.
  diff_mode:
    support: full
    details: Shows the lock file content before and after.
  idempotent:
    support: full
    details:
      - Acquiring a lock the same holder holds, or releasing a lock nobody holds, reports no change.
notes:
  - A run that loses its lock (O(force=true), or stale) is told so by its next heartbeat, and
    C(auraspeak.ops.compose_deploy) stops before its next step.
  - The automatic takeover relies on the PID of the C(ansible-playbook) process, which the action
    plugin reads as the parent of the worker process that runs the task (true for the strategies of
    ansible-core, which fork workers from the main process). If that PID was reused by another
    process, the lock counts as held; wait for O(stale_after) or use O(force=true).
seealso:
  - module: auraspeak.ops.release_info
author:
  - auraspeak.ops contributors (@auraspeak)
"""

EXAMPLES = r"""
- name: Name this run (one value for every host)
  ansible.builtin.set_fact:
    deploy_holder: >-
      {{ lookup('ansible.builtin.env', 'USER') }}@{{ lookup('ansible.builtin.pipe', 'hostname') }}:run-{{
      lookup('ansible.builtin.password', '/dev/null', chars=['ascii_lowercase', 'digits'], length=12) }}
  run_once: true

# Acquire before the block: when another deploy holds the lock, the play stops here and the
# release below does not run against that other deploy's lock.
- name: Take the deploy lock of the auraspeak project
  auraspeak.ops.deploy_lock:
    project: auraspeak
    holder: "{{ deploy_holder }}"
    force: "{{ deploy_lock_force | default(false) | bool }}"

# Running the same task again in the same run reports changed=false: the lock is re-entrant.

- name: Deploy, and release the lock whatever happens
  block:
    - name: Bring the project to the requested release
      ansible.builtin.debug:
        msg: compose_deploy runs here
  always:
    - name: Release the deploy lock
      auraspeak.ops.deploy_lock:
        project: auraspeak
        holder: "{{ deploy_holder }}"
        state: released

- name: Would the lock be free for us?
  auraspeak.ops.deploy_lock:
    project: auraspeak
    holder: bob@ctl:run-42
  check_mode: true
  register: lock_probe
"""

RETURN = r"""
path:
  description: The lock file.
  returned: always
  type: str
  sample: /var/lib/auraspeak/auraspeak/deploy.lock
holder:
  description: The O(holder) of this run.
  returned: always
  type: str
  sample: alice@ctl:run-5f0c
acquired_at:
  description:
    - With O(state=acquired), when the lock this holder holds was acquired (UTC).
    - With O(state=released), when the removed lock had been acquired; null when there was none.
  returned: success
  type: str
  sample: '2026-11-26T06:00:00Z'
took_over:
  description: Whether a lock held by another holder was taken over (stale, O(force) or O(takeover)).
  returned: always
  type: bool
  sample: false
previous_holder:
  description: The holder that lost the lock (null when its lock file was unreadable).
  returned: when a lock of another holder was taken over or force-released
  type: str
  sample: bob@ctl:run-77aa
held_by:
  description: Content of the lock file that stopped this run.
  returned: when the lock is held by another holder and is not taken over
  type: dict
  sample:
    holder: bob@ctl:run-77aa
    controller: {host: ctl, pid: 4242}
    acquired_at: '2026-11-26T06:00:00Z'
    host: web1
    pid: 4310
age:
  description: Seconds since the lock in RV(held_by) was acquired.
  returned: when the lock is held by another holder and is not taken over
  type: int
  sample: 95
lease_until:
  description: With O(state=acquired), when the lease of this holder's lock ends (UTC); null without one.
  returned: success
  type: str
  sample: '2026-11-26T07:00:00Z'
silence:
  description: Seconds since the last heartbeat of the lock in RV(held_by).
  returned: when the lock is held by another holder and is not taken over
  type: int
  sample: 1
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.auraspeak.ops.plugins.module_utils._deploy.lock import run_deploy_lock


def main():
    module = AnsibleModule(
        argument_spec=dict(
            project=dict(type='str'),
            state_dir=dict(type='path', default='/var/lib/auraspeak'),
            path=dict(type='path'),
            state=dict(type='str', choices=['acquired', 'released'], default='acquired'),
            holder=dict(type='str', required=True),
            stale_after=dict(type='int', default=300),
            force=dict(type='bool', default=False),
            lease=dict(type='int', default=0),
            takeover=dict(type='str'),
            controller=dict(type='dict', options=dict(host=dict(type='str'), pid=dict(type='int'))),
        ),
        mutually_exclusive=[('project', 'path'), ('state_dir', 'path')],
        required_one_of=[('project', 'path')],
        supports_check_mode=True,
    )
    failed, result = run_deploy_lock(module)
    if failed:
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
