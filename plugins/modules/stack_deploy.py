#!/usr/bin/python
# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: stack_deploy
short_description: Run a compose project as a Docker Swarm stack, and wait until Swarm runs it
version_added: 0.1.0
description:
  - Reads the compose project with C(docker compose config), the parser the compose backend uses, and renders it as
    a stack file for C(docker stack deploy) - one source, two renderings.
  - "What the rendering adds for Swarm: each service placed on the nodes labelled for its role (O(placement));
    C(endpoint_mode: dnsrr) for every service, because Swarm's virtual IPs need IPVS, which not every kernel has;
    secrets, and the host files the services bind-mount, as Swarm secrets readable by the service's user alone, under
    names that change when their own contents change (so a new JWT secret updates the app alone, not PostgreSQL and
    Redis); restart policy, tmpfs and shared memory in Swarm's forms; the
    update and rollback order of O(update)."
  - What Swarm cannot do is dropped and reported in RV(notes) (C(depends_on), per-service C(security_opt)); a
    service that needs what a Swarm service cannot have (C(network_mode), devices, a host file outside
    O(project_dir)) stops the module before anything changes.
  - Deploys only when a service's definition changed (a hash in a service label), then waits until every changed
    service runs its replicas of the new definition - healthy, where the image has a health check - or fails when
    Swarm paused the update or has rolled it back (after Swarm's rollback has put the old tasks back, so the old
    release serves when the module returns), or after O(timeout) seconds.
  - "Then, with O(spread), the tasks of each service placed by role with more than one replica are spread evenly over
    the nodes with that role's label that are ready and active: Swarm never moves a running task, so a start-first
    rolling update (which node gets each new task depends on the order Swarm updates them in) or a lost node that
    came back can leave every task on one node, and losing that node would stop the service until Swarm has started
    them elsewhere. One task more (Swarm starts it on the node with the fewest, and its DNS lists it once healthy),
    then one fewer (Swarm takes it from a node with the most): capacity never drops. A run that changes nothing else
    spreads an uneven service too."
  - Once Swarm runs it, the stack file is kept as C(stack.json) in O(project_dir), and secrets of earlier contents
    that no service uses any more are removed.
  - A secret's name carries an HMAC of its content under a random key of the project's, which the first deploy keeps
    in the cluster as the Swarm config C(<project>_secret-names-key). So every manager names the secrets alike, and
    a name tells nothing about a weak secret. C(docker stack rm) removes the key with the stack.
  - Run it on a manager of the cluster.
extends_documentation_fragment:
  - auraspeak.ops.attributes
  - auraspeak.ops.engine
  - auraspeak.ops.docker_cli
options:
  project:
    description: The stack's name; its services are C(<project>_<service>).
    type: str
    required: true
  project_dir:
    description:
      - The directory of the compose project. Every file a service bind-mounts must be under it, but for
        O(node_dirs).
    type: path
    required: true
  files:
    description: The compose files, relative to O(project_dir), in the order C(docker compose) merges them.
    type: list
    elements: str
    default: [compose.yaml]
  placement:
    description:
      - "Which node role each service runs on: C(service: role) places the service's tasks on nodes with the label
        C(auraspeak.<role>=true) (the swarm role sets them). A service not named runs on any node."
    type: dict
    default: {app: app, postgres: data, redis: data}
  networks:
    description:
      - "External networks of the compose project and the Swarm network each one becomes (C(compose name: Swarm
        name)), for example the edge's bridge and the cluster's overlay network."
    type: dict
    default: {}
  node_dirs:
    description:
      - Host directories that stay bind mounts, for services placed on a node role (O(placement)) whose nodes all
        have them - pgBackRest's configuration and repository on the data node, which the app role creates there.
        Swarm does not create a missing one; the task fails to start and the deploy with it.
      - Every other file a service bind-mounts becomes a Swarm secret, and must be under O(project_dir).
    type: list
    elements: path
    default: []
  first_start_secrets:
    description:
      - Secrets (their keys in the compose project) that a service reads at its first start only, such as
        PostgreSQL's C(POSTGRES_PASSWORD_FILE), which it keeps in its database. A service that runs keeps the Swarm
        secret it started with, so a new content does not restart it - the app role changes PostgreSQL's password in
        the running database instead. A service that does not run yet gets the current content.
    type: list
    elements: str
    default: []
  replicas:
    description:
      - "Replica counts for this run instead of the stack's (C(service: count)); V(0) stops a service's tasks and
        waits until their containers have stopped. For a stack whose definition stays: a run that would change a
        service is refused. C(restore.yml) stops the app and PostgreSQL so."
      - A later run without it (or a count changed by hand with C(docker service scale)) finds the count differs from
        the stack's and scales the service back, what the app uses before the app, each until its tasks run
        (healthy); RV(scaled) reports it.
    type: dict
    default: {}
  update:
    description:
      - "Per service, Swarm's C(update_config) (C(order), C(parallelism), C(delay), C(failure_action), C(monitor),
        C(max_failure_ratio)); the rollback uses the same order, parallelism and delay."
    type: dict
    default: {}
  resolve_image:
    description:
      - C(--resolve-image) of C(docker stack deploy). V(always) pins each image to its registry digest; V(never)
        uses the images the nodes have, for clusters without a registry.
    type: str
    choices: [always, changed, never]
    default: always
  timeout:
    description: Seconds to wait for the changed services to run their new definition.
    type: int
    default: 300
  spread:
    description:
      - Spread the tasks of the services placed by role evenly over their nodes after the deploy (see the
        description). A spread that cannot finish (the extra task does not run within O(timeout)) is reported in
        RV(notes) and leaves the release running.
      - The nodes counted are those with the role's label, ready and active; a node among them that Swarm cannot
        place the task on (its resource reservations, for example) leaves the spread uneven, and every run tries
        again and reports a change. Set V(false) for such a cluster, or fix the node.
    type: bool
    default: true
  version:
    description:
      - The release being deployed. When given, the run is recorded in the release ledger the compose backend keeps
        (C(<state_dir>/<project>/releases.json), read with M(auraspeak.ops.release_info)) - V(deploying) before
        C(docker stack deploy), then V(active) once Swarm runs it, or V(failed) with Swarm's reason - when the
        version or the stack's definition differs from the active release. A run killed before it ended is marked
        V(interrupted) by the next recorded run.
      - The images are recorded by reference; Swarm pins them to digests on the nodes.
    type: str
  kind:
    description: Recorded in the ledger - a normal deploy or a rollback to an earlier release.
    type: str
    choices: [deploy, rollback]
    default: deploy
  state_dir:
    description: Directory of the per-project state (the ledger), on this manager.
    type: path
    default: /var/lib/auraspeak
  deployed_by:
    description: Who deploys, for the ledger. By default the remote user and host.
    type: str
attributes:
  check_mode:
    support: full
    details: Renders the stack and reports which services it would create, update or remove.
  diff_mode:
    support: none
  idempotent:
    support: full
seealso:
  - module: auraspeak.ops.compose_deploy
  - module: community.docker.docker_stack
author:
  - auraspeak.ops contributors (@auraspeak)
"""

EXAMPLES = r"""
- name: Run the project as a stack on the cluster
  auraspeak.ops.stack_deploy:
    project: auraspeak
    project_dir: /etc/auraspeak/auraspeak
    networks: {auraspeak_edge: auraspeak_cluster}
    update:
      app: {order: start-first, parallelism: 1, failure_action: rollback, monitor: 15s}
"""

RETURN = r"""
services:
  description: What this run did, or would do in check mode, to each service of the stack.
  returned: always
  type: dict
  sample: {app: update, postgres: unchanged, redis: unchanged}
notes:
  description: What the compose project says that Swarm does not do, and was left out.
  returned: always
  type: list
  elements: str
  sample:
    - "app: depends_on dropped (Swarm starts services in no order; the app waits for PostgreSQL and Redis through
      its readiness)"
stack_file:
  description: The stack file Swarm runs, kept in O(project_dir).
  returned: always
  type: str
spread:
  description:
    - Services whose tasks were spread out again, with their running tasks per node before and after; in check mode,
      the services whose definition stays and whose tasks would be, with C(before) only.
  returned: always
  type: dict
  sample: {app: {before: {node-b: 2}, after: {node-a: 1, node-b: 1}}}
scaled:
  description:
    - Services whose definition stayed and whose replica count this run changed (or would, in check mode), from and
      to (see O(replicas)).
  returned: always
  type: dict
  sample: {app: {from: 2, to: 0}}
previous_version:
  description: The version of the active release in the ledger before this run (null without O(version) or a release).
  returned: always
  type: str
release_id:
  description: Id of the ledger entry this run wrote (null when the release was already recorded or O(version) unset).
  returned: when something changed, outside check mode
  type: int
secrets_removed:
  description: Swarm secrets of earlier contents that no service used any more, removed.
  returned: when the stack changed
  type: list
  elements: str
"""

import getpass
import socket

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.auraspeak.ops.plugins.module_utils._common.docker_cli import (
    DOCKER_CLI_ARGUMENT_SPEC,
    DockerCLI,
    DockerCLIError,
)
from ansible_collections.auraspeak.ops.plugins.module_utils._common.engine import Engine
from ansible_collections.auraspeak.ops.plugins.module_utils._deploy.ledger import LedgerError
from ansible_collections.auraspeak.ops.plugins.module_utils._deploy.stack_deploy import StackDeploy


def main():
    argument_spec = dict(
        project=dict(type='str', required=True),
        project_dir=dict(type='path', required=True),
        files=dict(type='list', elements='str', default=['compose.yaml']),
        placement=dict(type='dict', default={'app': 'app', 'postgres': 'data', 'redis': 'data'}),
        networks=dict(type='dict', default={}),
        node_dirs=dict(type='list', elements='path', default=[]),
        first_start_secrets=dict(type='list', elements='str', default=[], no_log=False),
        replicas=dict(type='dict', default={}),
        update=dict(type='dict', default={}),
        resolve_image=dict(type='str', choices=['always', 'changed', 'never'], default='always'),
        spread=dict(type='bool', default=True),
        timeout=dict(type='int', default=300),
        version=dict(type='str'),
        kind=dict(type='str', choices=['deploy', 'rollback'], default='deploy'),
        state_dir=dict(type='path', default='/var/lib/auraspeak'),
        deployed_by=dict(type='str'),
        **DOCKER_CLI_ARGUMENT_SPEC,
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if not module.params['deployed_by']:
        module.params['deployed_by'] = '%s@%s' % (getpass.getuser(), socket.gethostname())
    try:
        deploy = StackDeploy(module.params, DockerCLI(module), Engine.from_module(module), module.check_mode)
        result = deploy.run()
    except DockerCLIError as exc:
        module.fail_json(**exc.as_result())
    except (LedgerError, ValueError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == '__main__':
    main()
