#!/usr/bin/python
# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: container_state
short_description: Stop, start or signal existing containers, all at once, without showing their configuration
version_added: 0.1.0
description:
  - Stops, starts or sends a signal to a set of existing containers, named or found by their labels, through the
    engine's API.
  - Several containers are stopped or started at once, as C(docker stop a b c) does, each stop waiting that
    container's own grace period (its C(stop_grace_period), else 10 s) before the engine kills it.
  - Returns each container's id, name and state, and never its configuration. C(community.docker.docker_container)
    returns the container's inspect data, whose environment holds the application's secrets, at C(-v).
  - Creates and removes nothing. To run a container, or change one, use C(community.docker.docker_container) or
    C(auraspeak.ops.compose_deploy).
extends_documentation_fragment:
  - auraspeak.ops.attributes
  - auraspeak.ops.engine
  - auraspeak.ops.docker_cli
options:
  containers:
    description:
      - Names or ids of the containers. Every one must exist, or the module fails and changes nothing.
      - Exactly one of O(containers) and O(labels) is required.
    type: list
    elements: str
  labels:
    description:
      - Act on the containers, running or not, that carry every one of these labels, each V(key=value) or V(key).
      - For example V(com.docker.compose.project=auraspeak) and V(com.docker.compose.service=app) select the app
        replicas of a compose project. Finding none is not an error.
    type: list
    elements: str
  state:
    description:
      - V(stopped) stops those that run (a paused or restarting container counts as running).
      - V(started) starts those that do not run.
      - V(signalled) sends O(signal) to each one's main process; they must all run.
    type: str
    required: true
    choices: [stopped, started, signalled]
  signal:
    description:
      - The signal for O(state=signalled), a name such as V(HUP) or V(SIGUSR1), or a number.
    type: str
    default: HUP
attributes:
  check_mode:
    support: full
    details: Finds the containers and reports which it would stop, start or signal, without doing it.
  diff_mode:
    support: none
  idempotent:
    support: partial
    details: Stopping and starting are idempotent. A signal is sent on every run and always reports a change.
seealso:
  - module: community.docker.docker_container
  - module: auraspeak.ops.compose_deploy
author:
  - auraspeak.ops contributors (@auraspeak)
"""

EXAMPLES = r"""
- name: Stop the app replicas of the auraspeak project before a restore
  auraspeak.ops.container_state:
    labels:
      - com.docker.compose.project=auraspeak
      - com.docker.compose.service=app
    state: stopped
  register: stopped_app

- name: Start again exactly those it stopped
  auraspeak.ops.container_state:
    containers: "{{ stopped_app.containers | selectattr('changed') | map(attribute='id') }}"
    state: started

- name: Make Prometheus read its configuration again
  auraspeak.ops.container_state:
    containers: [auraspeak-monitoring-prometheus-1]
    state: signalled
    signal: HUP
"""

RETURN = r"""
containers:
  description: The containers found, in the order given (by name) or the engine's order (by labels).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The container's id.
      type: str
    name:
      description: Its name.
      type: str
    status:
      description: Its state before this run, as the engine names it (V(running), V(exited), V(created), ...).
      type: str
    changed:
      description: Whether this run stopped, started or signalled it (in check mode, whether it would).
      type: bool
  sample:
    - {id: 6f1c0e2d9a7b, name: auraspeak-app-1, status: running, changed: true}
    - {id: 0b5e7c41d2f3, name: auraspeak-app-2, status: exited, changed: false}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.auraspeak.ops.plugins.module_utils._common import container_state
from ansible_collections.auraspeak.ops.plugins.module_utils._common.docker_cli import (
    DOCKER_CLI_ARGUMENT_SPEC,
    DockerCLIError,
)
from ansible_collections.auraspeak.ops.plugins.module_utils._common.engine import Engine


def main():
    argument_spec = dict(
        containers=dict(type='list', elements='str'),
        labels=dict(type='list', elements='str'),
        state=dict(type='str', required=True, choices=list(container_state.STATES)),
        signal=dict(type='str', default='HUP'),
        **DOCKER_CLI_ARGUMENT_SPEC,
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        mutually_exclusive=[('containers', 'labels')],
        required_one_of=[('containers', 'labels')],
        supports_check_mode=True,
    )
    params = module.params
    try:
        engine = Engine.from_module(module)
        targets = container_state.find(engine, params['containers'], params['labels'])
        changing = container_state.to_change(targets, params['state'])
        if not module.check_mode:
            container_state.apply(engine, changing, params['state'], params['signal'])
    except DockerCLIError as exc:
        module.fail_json(**exc.as_result())
    module.exit_json(changed=bool(changing), containers=container_state.report(targets, changing))


if __name__ == '__main__':
    main()
