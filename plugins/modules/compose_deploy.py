#!/usr/bin/python
# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: compose_deploy
short_description: Bring a Docker Compose project to a release with zero-downtime rolling updates
version_added: 0.1.0
description:
  - Brings a compose project to the requested release and records it in a release ledger on the host.
  - Plans from what the engine reports - the config hash Compose computes for each service
    (C(docker compose config --hash), no side effects) against the C(com.docker.compose.config-hash)
    label and image id of each container. Check mode returns that plan and changes nothing.
  - C(recreate) services (stateful ones such as PostgreSQL and Redis) go through C(docker compose up --wait).
  - C(rolling) services (stateless ones behind the edge) get new containers beside the old ones; each
    must become healthy (Docker health status) within O(health_timeout). Then the edge's nginx
    upstream file is rewritten to name only the new containers, validated with C(nginx -t) and reloaded
    gracefully; after O(drain_timeout) the old containers are stopped with their stop signal and
    C(stop_grace_period), and removed. The replica count is kept.
  - The health gate is the automatic rollback on failed health checks - when a new container is not
    healthy in time, the new containers are removed, the old release keeps serving (the edge never
    pointed at the new ones), the release is recorded as V(failed), and the module fails with the
    health log and last log lines.
  - A migration (O(migrate)) runs once, in a one-off container of the new release, after the stateful
    services and before any new container takes traffic; if it fails, nothing is switched.
  - The ledger (C(<state_dir>/<project>/releases.json), read with M(auraspeak.ops.release_info)) records
    version, image ids, config hash, timestamps, status and who deployed; it is written atomically under a lock.
  - Images of releases beyond O(keep_releases) are removed, and so are those of failed releases, which
    never served; an image a retained release or any container uses is never removed.
  - Uses the C(docker) CLI and its Compose v2 plugin for everything, inspection included, so the managed
    host needs no Python library and every C(DOCKER_HOST) form (including C(ssh://)) works.
extends_documentation_fragment:
  - auraspeak.ops.attributes
  - auraspeak.ops.engine
  - auraspeak.ops.docker_cli
options:
  project:
    description: Compose project name. Also names the state directory and the edge upstream file.
    type: str
    required: true
  files:
    description:
      - Compose files on the managed host, applied in order (later files override earlier ones), for
        example the application's own C(docker-compose.prod.yaml) followed by an override with this
        collection's settings.
      - Mutually exclusive with O(definition).
    type: list
    elements: path
  definition:
    description:
      - The compose project as data, written to C(<state_dir>/<project>/compose.json) (mode 0600).
      - Mutually exclusive with O(files).
    type: dict
  project_dir:
    description: Project directory, for relative paths in the compose files. By default the directory of the first file.
    type: path
  stage_dir:
    description:
      - A directory holding the project's files as this release needs them (compose files, environment
        file, secrets), rendered and validated by the caller. Needs O(project_dir).
      - The files are installed into O(project_dir) as one set - a copy under C(.generations/) that the
        link C(.release) points at, with C(<name> -> .release/<name>) links - and switched in one rename.
        Paths, content, modes and owners stay those of the staged files.
      - If the deploy fails before the release goes live (bad input, a missing image, the migration,
        the health gate, the release analysis), the set that served before is switched back, byte for
        byte, and RV(files) says C(state=restored). A run killed meanwhile leaves the old set or the new one;
        the next run puts the old one back before it starts (a journal in O(state_dir) says which).
      - O(files) name the installed paths (under O(project_dir)); check mode reads them from the stage.
      - The first install adopts plain files already in O(project_dir) under the same names.
    type: path
  env_files:
    description: Files of variables for interpolation in the compose files (C(docker compose --env-file)).
    type: list
    elements: path
    default: []
  version:
    description: The release being deployed, recorded in the ledger. Same characters as an image tag.
    type: str
    required: true
  kind:
    description: Recorded in the ledger - a normal deploy or a rollback to an earlier release.
    type: str
    choices: [deploy, rollback]
    default: deploy
  services:
    description:
      - Strategy per service. Services not listed are V(recreate).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Service name in the compose project.
        type: str
        required: true
      strategy:
        description:
          - V(rolling) - new containers beside the old, health gate, edge switch, drain. For stateless
            services; needs a health check and no C(container_name).
          - V(recreate) - C(docker compose up --wait). For stateful services.
        type: str
        choices: [rolling, recreate]
        default: recreate
      port:
        description: Container port the edge sends traffic to. Required for rolling services when O(edge) is set.
        type: int
      upstream:
        description: nginx upstream name. Default C(<project>_<service>), non-alphanumerics as C(_).
        type: str
      health_path:
        description:
          - Rolling services only. For images without a health check of their own (no C(HEALTHCHECK)
            and no C(healthcheck) in the compose file), the health gate probes C(GET <path>) on
            O(services[].port) itself - from the host at the container's addresses, a new connection
            per request - and a new container is healthy once it runs and answers 200 within
            O(health_timeout) seconds. A container with a health check is judged by it alone.
          - Unset, a rolling service whose containers have no health check is refused.
        type: str
      readiness_path:
        description:
          - Rolling services only. After the health gate, each new container must answer C(GET <path>)
            on O(services[].port) with 200 - probed from the host at the container's addresses, a new
            connection per request, every second for up to O(health_timeout) seconds - before any
            traffic reaches it. Otherwise the new containers are removed and the previous release
            keeps serving.
          - A health check says the process lives; readiness says it can serve (its database and cache
            answer with the credentials it was given). Unset, the health gate alone decides.
        type: str
  health_timeout:
    description: Seconds new containers have to become healthy, from 1 to 3600.
    type: int
    default: 120
  drain_timeout:
    description: Seconds between switching the edge to the new containers and stopping the old ones, from 0 to 3600.
    type: int
    default: 10
  keep_releases:
    description: How many releases keep their images for rollback.
    type: int
    default: 5
  state_dir:
    description: Directory of the per-project state (ledger, lock, last deployed config).
    type: path
    default: /var/lib/auraspeak
  pull:
    description:
      - V(missing) pulls images that are not on the host; V(never) fails instead (offline hosts).
    type: str
    choices: [missing, never]
    default: missing
  images_to_build:
    description:
      - Image references the play builds before this deploy (for example with M(auraspeak.ops.image_build)).
      - In check mode the build only plans, so these images may not be on the host yet; they count as new
        images in the plan instead of failing the run, and RV(images_to_build) lists them. Outside check
        mode they must exist like any other image.
    type: list
    elements: str
    default: []
  migrate:
    description: A command to run once in a one-off container of the new release before traffic switches.
    type: dict
    suboptions:
      service:
        description: Service whose new image and settings the one-off container uses.
        type: str
        required: true
      command:
        description: The command, as a list.
        type: list
        elements: str
        required: true
      before:
        description:
          - A command run on the managed host right before the migration, and only when a migration runs,
            for example the backup role's pre-migration snapshot (C(auraspeak-backup snapshot <version>)),
            which C(deploy.yml) passes. If it fails, nothing is migrated or switched.
          - Its standard output is returned in RV(actions) as C(before_migration).
        type: list
        elements: str
      after:
        description:
          - A command run on the managed host right after a successful migration, before the new containers
            start, for example the backup role's C(auraspeak-backup snapshot-migrated <version>), which records
            the write count a database rollback is measured against (C(deploy.yml) passes it). A failure is
            a warning; the deploy goes on.
          - Its standard output is returned in RV(actions) as C(after_migration).
        type: list
        elements: str
  edge:
    description: The nginx edge in front of the rolling services (see the collection's docs/deploy.md).
    type: dict
    suboptions:
      container:
        description: Name of the edge's nginx container.
        type: str
        required: true
      upstream_dir:
        description: Host directory the edge includes upstream files from; this module owns C(<project>.conf) in it.
        type: path
        required: true
      upstream_directives:
        description:
          - Directives at the top of each upstream block, for example V(least_conn) or V(ip_hash).
          - During a canary step V(least_conn) is left out, so each release gets the share its weight names.
        type: list
        elements: str
        default: [least_conn]
      server_options:
        description:
          - Parameters of each C(server) line. nginx takes a replica out after C(max_fails) errors within
            C(fail_timeout); with O(edge.fallback) it never takes out the last one.
        type: str
        default: max_fails=3 fail_timeout=10s
      fallback:
        description:
          - List every replica a second time as a C(backup) server that nginx never takes out, so that
            errors on all replicas at once (a restart, a blip) are retried instead of answered with
            C(502 no live upstreams).
          - Ignored with C(hash), C(ip_hash) and C(random), with which nginx refuses backup servers.
        type: bool
        default: true
      keepalive:
        description: Idle keep-alive connections each nginx worker keeps to the replicas (0 turns keep-alive off).
        type: int
        default: 32
      keepalive_timeout:
        description:
          - Seconds an idle keep-alive connection to a replica stays open. B(Must be shorter than the
            application's own keep-alive idle timeout) (Node.js closes idle connections after 5 s by
            default), or requests race the application closing the connection and fail with 502.
        type: int
        default: 4
      reload_timeout:
        description:
          - Seconds nginx has to load the new upstream file after its reload (1 to 300). The switch counts
            only when every nginx worker that takes requests is new, so the old replicas are never stopped
            while nginx still sends to them; when it does not happen in time, the previous file is put back
            and the deploy fails with nginx's own error.
        type: int
        default: 10
  analysis:
    description:
      - Release analysis (canary) for the rolling services behind O(edge). After the new replicas pass
        the health gate, the edge sends O(analysis.steps) per cent of the traffic to them, the old
        replicas still serving the rest, and judges the new release against the old one over the
        same window from the edge's own access log (upstream, status and response time of every
        request) - every O(analysis.poll) seconds, so a bad release is sent back within seconds -
        or from the edge's counts in Prometheus (O(analysis.source)).
      - On a breach all traffic goes back to the old replicas in one validated reload, the new ones
        are stopped, the release is recorded as V(rolled_back) with the figures, and the module fails
        with the reason. After the last step passes, the release is promoted as without analysis.
      - Runs only when the old release still serves (not on a first deploy, nor on a re-run that only
        changes the replica count). A run killed during the analysis leaves both releases running;
        the next run judges them again.
    type: dict
    suboptions:
      enabled:
        description: Whether to analyse.
        type: bool
        default: true
      steps:
        description:
          - Shares of the traffic (per cent, 1 to 99, increasing) the new release gets in turn.
          - 100 % after the last step is the promotion.
        type: list
        elements: int
        default: [10, 50]
      interval:
        description: Seconds each step lasts when the release passes.
        type: int
        default: 30
      max_interval:
        description:
          - Seconds a step waits at most for O(analysis.min_requests); then O(analysis.low_traffic) decides.
          - By default O(analysis.interval), so a quiet host waits no longer than a busy one.
        type: int
      poll:
        description: Seconds between two verdicts of a step.
        type: float
        default: 1.0
      warmup:
        description:
          - Seconds of the first step whose requests are left out of the verdicts (both releases'),
            while the new replicas open their connections and warm up.
        type: int
        default: 5
      failure_limit:
        description:
          - Failed verdicts in a row that fail a step, each drawn on the requests served since the one
            before it (so at least O(analysis.min_requests) new ones each), so a moment of noise on a busy
            host is not taken for a bad release.
        type: int
        default: 3
      low_traffic:
        description:
          - What a step with too few requests for a verdict does at O(analysis.max_interval) -
            V(promote) (recorded as C(inconclusive)) or V(rollback) (fail closed).
        type: str
        choices: [promote, rollback]
        default: promote
      source:
        description:
          - Where the figures come from. V(edge_log) is the edge's own JSON access log, read as it is
            written - it needs nothing else and gives a verdict every O(analysis.poll) seconds.
          - V(prometheus) is the counts the edge role's mtail keeps per upstream address, as Prometheus
            scraped them (the monitoring role's job C(edge)). A window is counted exactly between two
            scrapes of the edge inside it, so a verdict waits for the edge's next scrapes instead of
            drawing on data that does not include the new release yet - at the default 15 s scrape
            interval, about 15 to 30 s per verdict. Releases are told apart by their containers'
            addresses, so the verdict does not wait for Prometheus to discover the new replicas.
        type: str
        choices: [edge_log, prometheus]
        default: edge_log
      prometheus_url:
        description: Prometheus' HTTP API as the managed host reaches it, for O(analysis.source=prometheus).
        type: str
        default: http://127.0.0.1:9090
      min_requests:
        description: Requests the new release must have served in a step before a verdict.
        type: int
        default: 50
      max_error_rate:
        description:
          - Share of 5xx answers (0 to 1) above which the new release fails, when it is also that much
            above the old release's share over the same window.
        type: float
        default: 0.01
      latency_quantile:
        description: The latency quantile compared (0.95 is p95).
        type: float
        default: 0.95
      max_latency_ratio:
        description: The new release fails when its latency quantile exceeds this multiple of the old release's...
        type: float
        default: 1.5
      latency_floor:
        description: ...and exceeds this many seconds.
        type: float
        default: 0.1
  lock_holder:
    description:
      - The holder that acquired the deploy lock with M(auraspeak.ops.deploy_lock); the module fails if
        someone else holds it.
      - Without it the module takes the lock itself for the duration of its run.
    type: str
  lock_stale_after:
    description:
      - Seconds without a heartbeat after which a lock taken by another run counts as stale (only when
        O(lock_holder) is not set). At least 30.
      - Whoever holds the lock, the module touches the lock file every 2 seconds while it works (the
        pre-migration command, the migration, the health gate, the analysis, the drain), and stops
        before its next step - the migration, new containers, traffic to them - when the lock was
        taken over meanwhile.
    type: int
    default: 300
  deployed_by:
    description: Who deploys, for the ledger. By default the remote user and host.
    type: str
  secret_env_patterns:
    description:
      - Extra regular expressions of environment variable names whose values are masked in diff mode and
        in the saved configuration (names containing PASS, SECRET, TOKEN, KEY, DSN, CREDENTIAL, PRIVATE,
        AUTH, COOKIE or SESSION, and passwords in URLs, always are).
    type: list
    elements: str
    default: []
  secret_values:
    description:
      - Values that are secret whatever the name of the variable holding them (the app role passes every
        secret variable, C(app_secret_env) included). They are masked wherever they appear - in the diff,
        in C(last-config.json) and, as C(no_log) values, in every result and error message of the module.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    support: full
    details: Returns the plan per service; starts, stops and writes nothing.
  diff_mode:
    support: full
    details: The compose configuration last deployed and the new one, secrets masked.
  idempotent:
    support: full
    details: A project already at the release reports no change and touches no container.
notes:
  - Compose v2.18 or newer. Never uses C(docker compose up --dry-run).
author:
  - auraspeak.ops contributors (@auraspeak)
"""

EXAMPLES = r"""
- name: Deploy release 1.4.0 with rolling app replicas behind the edge
  auraspeak.ops.compose_deploy:
    project: auraspeak
    files:
      - /etc/auraspeak/auraspeak/compose.yaml
    version: 1.4.0
    services:
      - {name: app, strategy: rolling, port: 3000}
      - {name: postgres, strategy: recreate}
      - {name: redis, strategy: recreate}
    migrate:
      service: app
      command: [node, src/migrate.js, up]
    edge:
      container: auraspeak-edge
      upstream_dir: /etc/auraspeak/edge/upstreams
  register: deploy

# Running it again: changed=false, every service's plan action is "none".

- name: What would a deploy of 1.5.0 do?
  auraspeak.ops.compose_deploy:
    project: auraspeak
    files: [/etc/auraspeak/auraspeak/compose.yaml]
    version: 1.5.0
    services: [{name: app, strategy: rolling, port: 3000}]
  check_mode: true
  diff: true
  register: plan
"""

RETURN = r"""
version:
  description: The release requested.
  returned: always
  type: str
  sample: 1.4.0
previous_version:
  description: The release that was active before (null on a first deploy).
  returned: always
  type: str
  sample: 1.3.2
plan:
  description:
    - Per service - strategy, action (V(none), V(create), V(update), V(scale)), reason, replicas, the
      containers kept and removed, how many are added.
  returned: always
  type: dict
  sample: {app: {strategy: rolling, action: update, reason: the image changed, replicas: 2,
                 keep: [], add: 2, remove: [auraspeak-app-1, auraspeak-app-2]}}
images_to_build:
  description: Check mode - the images of O(images_to_build) that are not on the host yet, planned as new.
  returned: always
  type: list
  elements: str
  sample: [auraspeak/server:1.5.0]
files:
  description:
    - With O(stage_dir) - what happened to the project's files. C(state) is V(unchanged), V(to_install)
      (check mode), V(installed) (the release went live from them) or V(restored) (the release did not go
      live; the set that served before is back). C(changed_paths) lists the paths that differ (names only,
      never content); C(serving) names the set in C(.generations/) that serves, C(previous) the one before.
      C(recreated_from_new_files) names stateful services (strategy V(recreate)) the failed run had already
      recreated from the new files; they keep running that way until the next deploy (a warning says so).
    - Also returned when the module fails.
  returned: when O(stage_dir) is set
  type: dict
  sample: {state: restored, changed_paths: [app.env, secrets/postgres_password], serving: 20261202T070102-3f2a9c1d0b4e}
canary_steps:
  description:
    - Per rolling service whose old release still serves, the canary steps (per cent) the release analysis
      will take it through; empty when no analysis will run (a first deploy, O(analysis.enabled) off).
  returned: always
  type: dict
  sample: {app: [10, 50]}
actions:
  description:
    - What was done per service (containers started, stopped, removed), and the migration's last output lines.
    - C(before_migration) holds the standard output of O(migrate.before) when it ran.
  returned: when not in check mode
  type: dict
  sample: {app: {started: [auraspeak-app-3, auraspeak-app-4], stopped: [auraspeak-app-1, auraspeak-app-2], removed: []}}
containers:
  description: The live containers of each rolling service after the run.
  returned: success, when not in check mode
  type: dict
  sample: {app: [auraspeak-app-3, auraspeak-app-4]}
durations:
  description: Seconds per phase (recreate, migrate, rolling:<service>) and in total.
  returned: always
  type: dict
  sample: {recreate: 3.1, migrate: 1.2, 'rolling:app': 17.9, total: 24.0}
release_id:
  description: Id of the ledger entry written (null when the release was already recorded).
  returned: when not in check mode
  type: int
  sample: 7
pruned_images:
  description: Image references removed because their releases fell out of O(keep_releases).
  returned: success, when not in check mode
  type: list
  elements: str
  sample: [auraspeak/server:1.2.0]
failed_containers:
  description:
    - The new containers that failed the health gate - status, health, last health check outputs, last log lines.
  returned: when the health gate fails
  type: list
  elements: dict
  sample: [{container: auraspeak-app-3, status: running, health: unhealthy,
            health_log: ['{"status":"failing"}'], log_tail: ['{"level":"error","msg":"..."}']}]
stopped_recreated:
  description:
    - Services whose replicas were all stopped before the run (C(rollback.yml) stops the app for a database
      rollback), with how many. The run removed them to start the new release, which did not go live; they
      were created again, stopped, from the files that serve, for the caller to start once their data is back.
  returned: when a release that replaced stopped replicas did not go live
  type: dict
  sample: {app: 2}
analysis:
  description:
    - The verdict of each canary step - weight (per cent), result (V(pass), V(fail), V(inconclusive)),
      reason, seconds, the figures of the new release (C(canary)) and the old one (C(baseline)) over the
      same window, the breaches (metric, value, threshold, the old release's figure), and the
      C(source) the figures came from (O(analysis.source)).
    - Also in RV(actions) and in the release's ledger entry.
  returned: when a release analysis ran
  type: list
  elements: dict
  sample: [{weight: 10, result: fail, seconds: 3.0,
            reason: error rate 24.6 % of 65 requests on the new release, above the threshold of 1.0 %
              (the old release 0.0 % of 590),
            canary: {requests: 65, errors: 16, error_rate: 0.246, latency_p95: 0.004},
            baseline: {requests: 590, errors: 0, error_rate: 0.0, latency_p95: 0.003},
            breaches: [{metric: error_rate, value: 0.246, threshold: 0.01, baseline: 0.0}],
            source: edge_log}]
migration_output:
  description: Last lines the failed migration printed.
  returned: when the migration fails
  type: list
  elements: str
  sample: ['migration 0004 failed (SQLSTATE 42P07); it was rolled back']
before_migration_output:
  description: Last lines the failed O(migrate.before) command printed.
  returned: when the command before the migration fails
  type: list
  elements: str
  sample: ['{"failed": true, "msg": "the postgres service of auraspeak is not running"}']
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.auraspeak.ops.plugins.module_utils._analysis.sources import SOURCE_ARGUMENT_SPEC
from ansible_collections.auraspeak.ops.plugins.module_utils._analysis.verdict import THRESHOLD_ARGUMENT_SPEC
from ansible_collections.auraspeak.ops.plugins.module_utils._common.docker_cli import DOCKER_CLI_ARGUMENT_SPEC
from ansible_collections.auraspeak.ops.plugins.module_utils._deploy.compose_deploy import run_compose_deploy


def main():
    argument_spec = dict(
        project=dict(type='str', required=True),
        files=dict(type='list', elements='path'),
        definition=dict(type='dict'),
        project_dir=dict(type='path'),
        stage_dir=dict(type='path'),
        env_files=dict(type='list', elements='path', default=[]),
        version=dict(type='str', required=True),
        kind=dict(type='str', choices=['deploy', 'rollback'], default='deploy'),
        services=dict(
            type='list',
            elements='dict',
            default=[],
            options=dict(
                name=dict(type='str', required=True),
                strategy=dict(type='str', choices=['rolling', 'recreate'], default='recreate'),
                port=dict(type='int'),
                health_path=dict(type='str'),
                readiness_path=dict(type='str'),
                upstream=dict(type='str'),
            ),
        ),
        health_timeout=dict(type='int', default=120),
        drain_timeout=dict(type='int', default=10),
        keep_releases=dict(type='int', default=5),
        state_dir=dict(type='path', default='/var/lib/auraspeak'),
        pull=dict(type='str', choices=['missing', 'never'], default='missing'),
        images_to_build=dict(type='list', elements='str', default=[]),
        migrate=dict(
            type='dict',
            options=dict(
                service=dict(type='str', required=True),
                command=dict(type='list', elements='str', required=True),
                before=dict(type='list', elements='str'),
                after=dict(type='list', elements='str'),
            ),
        ),
        edge=dict(
            type='dict',
            options=dict(
                container=dict(type='str', required=True),
                upstream_dir=dict(type='path', required=True),
                upstream_directives=dict(type='list', elements='str', default=['least_conn']),
                server_options=dict(type='str', default='max_fails=3 fail_timeout=10s'),
                fallback=dict(type='bool', default=True),
                keepalive=dict(type='int', default=32),
                keepalive_timeout=dict(type='int', default=4),
                reload_timeout=dict(type='int', default=10),
            ),
        ),
        analysis=dict(
            type='dict',
            options=dict(
                enabled=dict(type='bool', default=True),
                steps=dict(type='list', elements='int', default=[10, 50]),
                interval=dict(type='int', default=30),
                max_interval=dict(type='int'),
                poll=dict(type='float', default=1.0),
                warmup=dict(type='int', default=5),
                failure_limit=dict(type='int', default=3),
                low_traffic=dict(type='str', choices=['promote', 'rollback'], default='promote'),
                **SOURCE_ARGUMENT_SPEC,
                **THRESHOLD_ARGUMENT_SPEC,
            ),
        ),
        lock_holder=dict(type='str'),
        lock_stale_after=dict(type='int', default=300),
        deployed_by=dict(type='str'),
        secret_env_patterns=dict(type='list', elements='str', default=[], no_log=False),
        secret_values=dict(type='list', elements='str', default=[], no_log=True),
    )
    argument_spec.update(DOCKER_CLI_ARGUMENT_SPEC)
    module = AnsibleModule(
        argument_spec=argument_spec,
        mutually_exclusive=[('files', 'definition')],
        required_one_of=[('files', 'definition')],
        supports_check_mode=True,
    )
    failed, result = run_compose_deploy(module)
    if failed:
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
