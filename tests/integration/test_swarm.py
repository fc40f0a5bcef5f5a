"""The swarm role (playbooks/swarm.yml) on a cluster of three engines (swarm_bed).

n1 is the manager, n2 and n3 the workers. The tests run in order on one bed:
the kernel check of the encrypted network, the check-mode plan, the cluster,
its re-runs, traffic across the overlay, labels that follow the inventory, a
node promoted by a run limited to it, and bad input. Then the app on it
(swarm_stack): the stack, its secrets, Swarm's rollback recorded in the
ledger, deploy.yml, the edge on n1 with an update under load, rollback.yml by
version under load, deploy.yml spreading tasks left on one node, backup.yml
and the restore drill on the data node n2, the manager's Raft state backed up
by backup.yml and restored on an engine of the test's own, restore.yml to a
point in time from the manager (its lock a lease no rival deploy takes),
site.yml with the firewall on every node and monitoring, and, last, n3's engine
killed under load (n3 stays down). The docker_host role on the nodes comes
before the app: live-restore stays off on Swarm nodes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import tarfile
import time
from hashlib import sha256

import pytest
from netns_engine import sh, wait_until
from playbook_runs import run_verbose
from swarm_bed import LAN_NS, PREFIX, NodeEngine, SwarmBed
from swarm_stack import (
    APP_IMAGE,
    DEBIAN,
    GROUPS,
    JWT,
    MONITORING_IMAGES,
    NETWORK,
    NGINX,
    PGBACKREST_PASS,
    PLAIN,
    PLAYBOOK,
    PROJECT,
    ROLES,
    SECRETS,
    Cluster,
    Project,
    active_targets,
    archive_settings,
    backup_settings,
    docker_host_settings,
    edge_status,
    finish_on_cluster,
    firing_alerts,
    load_app_images,
    prometheus_query,
    release_image,
    remove_app_images,
    run_deploy_yml,
    run_edge,
    run_on_cluster,
    start_load,
    start_on_cluster,
    stop_load,
    tcp_connects,
    under_load,
    write_deploy_inventory,
    write_site_inventory,
)


def leaked_secrets(text):
    return [secret for secret in (*SECRETS, PGBACKREST_PASS) if secret in text]


def changed(run):
    return {host: stats['changed'] for host, stats in run.data['stats'].items()}


# The role's probe: the SA an encrypted overlay needs, added in a throwaway network namespace.
ESP_PROBE = ['unshare', '--net', 'ip', 'xfrm', 'state', 'add', 'src', '192.0.2.1', 'dst', '192.0.2.2', 'proto', 'esp']
ESP_PROBE += ['spi', '0x100', 'mode', 'transport', 'aead', 'rfc4106(gcm(aes))', '0x' + '00' * 20, '64']


def esp_supported():
    return sh(*ESP_PROBE, check=False).returncode == 0


@pytest.fixture(scope='module')
def cluster():
    if shutil.which('dockerd') is None:
        pytest.skip('dockerd not installed')
    for image in (DEBIAN, NGINX):
        if sh('docker', 'image', 'inspect', image, check=False).returncode:
            pytest.skip(image + ' not built: run `make images` first')
    bed = SwarmBed()
    try:
        bed.create()
        bed.load_images(DEBIAN, NGINX)
        yield Cluster(bed)
    finally:
        bed.destroy()


def test_encrypted_network_is_refused_where_the_kernel_cannot_encrypt(cluster):
    """Docker would create the encrypted network and drop its traffic between nodes: the role stops first."""
    if esp_supported():
        pytest.skip('this kernel has IPsec ESP with AES-GCM: encrypted overlays work here')
    run = cluster.run({'swarm_network_encrypted': True})
    assert run.rc != 0
    messages = {host: run.failures(host) for host in cluster.bed.nodes}
    # The kernel's own answer to the role's probe, quoted in the message.
    kernel_says = sh(*ESP_PROBE, check=False).stderr.strip()
    assert kernel_says
    for host, failures in messages.items():
        assert len(failures) == 1 and 'swarm_network_encrypted' in failures[0], messages
        assert 'The kernel of %s cannot add the IPsec ESP' % host in failures[0], messages
        assert '(%s)' % kernel_says in failures[0], messages
    assert {node.swarm()['LocalNodeState'] for node in cluster.bed.nodes.values()} == {'inactive'}


def test_check_mode_plans_the_cluster_and_changes_nothing(cluster):
    run = cluster.run(check=True)
    assert run.rc == 0, run.stdout[-3000:]
    # n1 would create the cluster, n2 and n3 would join it.
    assert all(count > 0 for count in changed(run).values()), changed(run)
    plans = [result['msg'] for result in run.task_results('n2') if 'would join' in str(result.get('msg', ''))]
    assert plans == ['n2 would join the new cluster as a worker.'], plans
    assert {node.swarm()['LocalNodeState'] for node in cluster.bed.nodes.values()} == {'inactive'}


def test_cluster_from_the_inventory_and_a_second_run_changes_nothing(cluster):
    run = cluster.run()
    assert run.rc == 0, run.stdout[-3000:]
    assert cluster.manager_view() == {
        'n1': ('manager', 'ready', {'auraspeak.edge': 'true'}),
        'n2': ('worker', 'ready', {'auraspeak.data': 'true', 'auraspeak.app': 'true'}),
        'n3': ('worker', 'ready', {'auraspeak.app': 'true'}),
    }
    network = json.loads(cluster.node('n1').docker('network', 'inspect', NETWORK).stdout)[0]
    assert (network['Driver'], network['Scope'], network['Attachable']) == ('overlay', 'swarm', True)

    # Again, with -vvv and --diff: nothing to change, and the join tokens are never printed.
    again = run_verbose(PLAYBOOK, PLAIN, inventory=cluster.inventory)
    assert again.returncode == 0, again.stdout[-3000:]
    recap = dict(re.findall(r'^(n\d)\s+: ok=\d+\s+changed=(\d+)', again.stdout, re.M))
    assert recap == {'n1': '0', 'n2': '0', 'n3': '0'}, again.stdout[-3000:]
    tokens = [
        cluster.node('n1').docker('swarm', 'join-token', '-q', kind).stdout.strip() for kind in ('worker', 'manager')
    ]
    # Neither in the run that joined n2 and n3, nor in this one.
    output = run.stdout + run.stderr + again.stdout + again.stderr
    assert [token for token in tokens if token in output] == []
    # Its own secret part too (SWMTKN-1-<cluster>-<secret>), the part that admits a node.
    assert [token for token in tokens if token.rsplit('-', 1)[1] in output] == []

    checked = cluster.run(check=True)
    assert checked.rc == 0 and set(changed(checked).values()) == {0}, changed(checked)


def test_the_overlay_network_carries_traffic_between_nodes(cluster):
    n2, n3 = cluster.node('n2'), cluster.node('n3')
    n2.docker('run', '-d', '--name', 'itest-sw-web', '--network', NETWORK, NGINX)
    try:
        request = 'exec 3<>/dev/tcp/itest-sw-web/80 && printf "GET / HTTP/1.0\\r\\n\\r\\n" >&3 && head -n 1 <&3'
        client = n3.docker(
            'run', '--rm', '--network', NETWORK, DEBIAN, 'timeout', '20', 'bash', '-c',
            'for i in $(seq 40); do (%s) 2>/dev/null && exit 0; sleep 0.5; done; exit 1' % request,
            check=False,
        )  # fmt: skip
        assert client.stdout.startswith('HTTP/1.1 200'), client.stdout + client.stderr
    finally:
        n2.docker('rm', '-f', 'itest-sw-web', check=False)


def test_labels_follow_the_inventory(cluster):
    """A role taken away loses its label; labels of the user's own are set, and kept when dropped."""
    roles = dict(ROLES, n3=['edge'])
    cluster.write_inventory(GROUPS, roles, labels={'n3': {'rack': 'b2'}})
    run = cluster.run()
    assert run.rc == 0, run.stdout[-3000:]
    assert changed(run)['n3'] == 1 and changed(run)['n2'] == 0, changed(run)
    assert cluster.manager_view()['n3'][2] == {'auraspeak.edge': 'true', 'rack': 'b2'}

    cluster.write_inventory(GROUPS, roles)
    run = cluster.run()
    assert run.rc == 0 and set(changed(run).values()) == {0}, changed(run)
    assert cluster.manager_view()['n3'][2] == {'auraspeak.edge': 'true', 'rack': 'b2'}


def test_a_run_limited_to_one_node_promotes_it(cluster):
    """--limit to the node alone: the role reads the cluster through the managers of the inventory."""
    groups = {'swarm_managers': ['n1', 'n3'], 'swarm_workers': ['n2']}
    cluster.write_inventory(groups, dict(ROLES, n3=['edge']))
    run = cluster.run(limit='n3')
    assert run.rc == 0, run.stdout[-3000:]
    assert set(run.data['stats']) == {'n3'}
    warnings = [result['msg'] for result in run.task_results('n3') if 'even number' in str(result.get('msg', ''))]
    assert warnings, 'no warning about two managers'
    assert cluster.manager_view()['n3'][0] == 'manager'
    # Promoted: it takes its seat in Raft a moment later.
    wait_until(lambda: cluster.node('n3').swarm()['ControlAvailable'], 60, 'n3 to manage the cluster')


def test_a_host_in_both_groups_is_refused_before_anything_changes(cluster):
    before = cluster.manager_view()
    groups = {'swarm_managers': ['n1', 'n3'], 'swarm_workers': ['n2', 'n3']}
    cluster.write_inventory(groups, {'n1': ['edge'], 'n2': ['app'], 'n3': ['edge']})
    run = cluster.run()
    assert run.rc != 0
    failures = [message for host in cluster.bed.nodes for message in run.failures(host)]
    assert failures == [
        'n3 in both swarm_managers and swarm_workers (swarm_managers_group, swarm_workers_group): '
        'put each host in exactly one of them.'
    ]
    assert set(changed(run).values()) == {0}
    assert cluster.manager_view() == before


def test_docker_host_keeps_live_restore_off_on_swarm_nodes_so_a_restarted_engine_stays_in_the_cluster(cluster):
    """Docker does not start its cluster component with live-restore on: dockerd would exit at its next start."""
    n2 = cluster.node('n2')
    playbook = 'tests/integration/playbooks/docker_host_role.yml'
    inventory = os.path.join(cluster.bed.root, 'docker-host.yml')
    settings = {name: docker_host_settings(node) for name, node in cluster.bed.nodes.items()}
    cluster.bed.write_inventory(inventory, GROUPS, settings)
    with open(n2.engine.config, encoding='utf-8') as handle:
        before = handle.read()

    refused = run_on_cluster(playbook, inventory, docker_host_live_restore=True)
    assert refused.rc != 0
    assert {name: refused.host_stats(name)['changed'] for name in ('n1', 'n2', 'n3')} == {'n1': 0, 'n2': 0, 'n3': 0}
    assert any('incompatible with swarm mode' in m for m in refused.failures('n2')), refused.failures('n2')
    with open(n2.engine.config, encoding='utf-8') as handle:
        assert handle.read() == before

    run = run_on_cluster(playbook, inventory)
    assert run.rc == 0, run.stdout[-3000:]
    with open(n2.engine.config, encoding='utf-8') as handle:
        written = json.load(handle)
    assert (written['live-restore'], written['no-new-privileges']) == (False, True), written
    again = run_on_cluster(playbook, inventory)
    assert again.rc == 0 and set(changed(again).values()) == {0}, again.stdout[-3000:]

    # The engine reads the file at its next start, and is back in the cluster.
    n2.engine.stop()
    n2.engine.start()
    wait_until(lambda: n2.swarm()['LocalNodeState'] == 'active', 60, 'n2 to be in the swarm again')
    wait_until(lambda: cluster.manager_view()['n2'][1] == 'ready', 60, 'the manager to list n2 ready')
    assert n2.docker('info', '--format', '{{.LiveRestoreEnabled}}').stdout.strip() == 'false'


# --- The app role's compose project as a stack (stack_deploy), on the same cluster -----------


@pytest.fixture(scope='module')
def project(cluster):
    # Back to the inventory of the first tests: n3 is demoted to a worker and runs the app again.
    cluster.write_inventory(GROUPS, ROLES)
    run = cluster.run()
    assert run.rc == 0, run.stdout[-3000:]
    assert cluster.manager_view()['n3'][:2] == ('worker', 'ready')
    try:
        load_app_images(cluster)
        yield Project(cluster)
    finally:
        remove_app_images()


def test_the_app_roles_project_runs_as_a_stack_across_the_nodes(project):
    project.render()
    planned = project.deploy(check=True)
    assert planned.rc == 0 and planned.result['changed'], planned.stdout[-3000:]
    assert planned.result['services'] == {'app': 'create', 'postgres': 'create', 'redis': 'create'}
    assert project.secret_names() == []

    run = project.deploy()
    assert run.rc == 0, run.stdout[-3000:]
    # PostgreSQL and Redis on the data node, the two app replicas on the app nodes.
    assert project.tasks('postgres') == {'n2': 1} and project.tasks('redis') == {'n2': 1}
    assert sum(project.tasks('app').values()) == 2 and set(project.tasks('app')) <= {'n2', 'n3'}
    # Asked from n1 over the overlay network: the app reads its database and Redis on n2.
    status, body = project.get('/readyz')
    assert status == 'HTTP/1.1 200 OK', body
    assert json.loads(body)['checks'] == {'database': 'ok', 'redis': 'ok'}
    assert any(note.startswith('app: depends_on dropped') for note in run.result['notes'])
    # The limits of the compose project, process limit included (app role defaults).
    template = '{{json .Spec.TaskTemplate.Resources.Limits}}'
    limits = json.loads(project.cluster.node('n1').docker('service', 'inspect', '--format', template,
                                                          PROJECT + '_app').stdout)  # fmt: skip
    assert limits == {'NanoCPUs': 1000000000, 'MemoryBytes': 512 * 1024**2, 'Pids': 256}

    # The secrets are Swarm secrets (files in the tasks), never in the stack file or the services' definitions.
    with open(run.result['stack_file'], encoding='utf-8') as handle:
        stack_file = handle.read()
    inspected = (
        project.cluster.node('n1')
        .docker('service', 'inspect', PROJECT + '_app', PROJECT + '_postgres', PROJECT + '_redis')
        .stdout
    )
    assert [secret for secret in SECRETS if secret in stack_file + inspected + run.stdout] == []
    assert len(project.secret_names()) == 5

    again = project.deploy()
    assert again.rc == 0 and not again.result['changed'], again.stdout[-3000:]
    assert set(again.result['services'].values()) == {'unchanged'}


def test_a_changed_secret_becomes_a_new_swarm_secret_and_only_the_services_that_use_it_restart(project):
    before = project.secret_names()
    data_tasks = {service: project.task_ids(service) for service in ('postgres', 'redis')}
    project.render(jwt=JWT + '-rotated')
    run = project.deploy()
    assert run.rc == 0, run.stdout[-3000:]
    # A new JWT secret is the app's alone: PostgreSQL and Redis keep running, their tasks untouched.
    assert run.result['services'] == {'app': 'update', 'postgres': 'unchanged', 'redis': 'unchanged'}
    assert {service: project.task_ids(service) for service in data_tasks} == data_tasks
    after = project.secret_names()
    [renamed] = set(before) - set(after)
    assert len(after) == 5 and len(set(after) - set(before)) == 1, (before, after)
    assert renamed.startswith(PROJECT + '_app_JWT_SECRET_') and run.result['secrets_removed'] == [renamed]
    assert project.get('/readyz')[0] == 'HTTP/1.1 200 OK'

    # The names do not come from the contents alone: a key of the project's, kept by the cluster, is in them.
    assert [name for name in after if name.endswith(sha256((JWT + '-rotated').encode()).hexdigest()[:12])] == []


def test_an_update_whose_health_check_fails_is_rolled_back_by_swarm(project):
    project.render(jwt=JWT + '-rotated')
    hash_before = project.service_labels('app')['io.auraspeak.ops.stack-hash']
    with open(os.path.join(project.directory, 'stack.json'), encoding='utf-8') as handle:
        stack_before = handle.read()
    project.render(jwt=JWT + '-rotated', app_env={'FAULT_HEALTH_FAIL': '1'})
    run = project.deploy(version='1.0.1-unhealthy')
    assert run.rc != 0
    assert 'the stack itswarm did not go live: app: Swarm rolled back the update' in run.result['msg']
    # Recorded failed, with Swarm's reason: the ledger has no active release yet (the runs above gave no version).
    [entry] = project.releases()
    assert (entry['version'], entry['status']) == ('1.0.1-unhealthy', 'failed'), entry
    assert 'Swarm rolled back the update' in entry['reason']
    # Swarm's rollback brought the serving definition back, which keeps answering.
    assert project.service_labels('app')['io.auraspeak.ops.stack-hash'] == hash_before
    assert sum(project.tasks('app').values()) == 2
    assert project.get('/readyz')[0] == 'HTTP/1.1 200 OK'
    with open(os.path.join(project.directory, 'stack.json'), encoding='utf-8') as handle:
        assert handle.read() == stack_before
    assert not os.path.exists(os.path.join(project.directory, 'stack.json.next'))


def test_deploy_yml_runs_the_app_on_the_cluster_with_app_backend_swarm(project):
    """The user's entry point: deploy.yml on a manager, with the files the role renders (same as above)."""
    cluster = project.cluster
    release_image(cluster, '2.0.0')
    inventory = write_deploy_inventory(project)

    def deploy(version, check=False, **extra):
        return run_deploy_yml(inventory, version, check, **extra)

    serving = project.service_labels('app').get('io.auraspeak.ops.stack-hash')
    # Secrets in the environment would be in every manager's store and in docker service inspect: refused.
    refused = deploy('2.0.0', app_secrets_as_files=False)
    assert refused.rc != 0 and refused.host_stats('n1')['changed'] == 0
    assert any('app_secrets_as_files is false' in message for message in refused.failures('n1')), refused.failures('n1')
    assert project.service_labels('app').get('io.auraspeak.ops.stack-hash') == serving
    planned = deploy('2.0.0', check=True)
    assert planned.rc == 0 and (planned.host_stats('n1') or {}).get('changed'), planned.stdout[-5000:]
    assert project.service_labels('app').get('io.auraspeak.ops.stack-hash') == serving

    run = deploy('2.0.0')
    assert run.rc == 0, run.stdout[-3000:]
    latest = project.releases()[-1]
    assert (latest['version'], latest['kind'], latest['status']) == ('2.0.0', 'deploy', 'active'), latest
    assert latest['images']['app']['ref'] == APP_IMAGE + ':2.0.0'
    status, body = project.get('/version')
    assert status == 'HTTP/1.1 200 OK' and json.loads(body)['version'] == '2.0.0', body
    assert sum(project.tasks('app').values()) == 2
    stack = [r for r in run.task_results('n1') if 'services' in r and 'stack_file' in r]
    # After the tests above, the stack runs 1.0.0 with the same files: only the app changes.
    stateful = 'unchanged' if serving else 'create'
    expected = {'app': 'update' if serving else 'create', 'postgres': stateful, 'redis': stateful}
    assert stack and stack[0]['services'] == expected

    again = deploy('2.0.0')
    assert again.rc == 0 and again.host_stats('n1')['changed'] == 0, again.stdout[-3000:]
    assert project.releases()[-1] == latest


def test_the_edge_sends_requests_to_the_healthy_tasks_and_a_rolling_update_under_load_fails_none(project):
    """The edge on n1 asks Swarm's DNS for the app's tasks: an update under load through it loses no request."""
    cluster = project.cluster
    check = run_edge(cluster, check=True)
    assert check.rc == 0, check.stdout[-3000:]
    assert cluster.node('n1').docker('container', 'inspect', 'auraspeak-edge', check=False).returncode != 0
    first = run_edge(cluster)
    assert first.rc == 0, first.stdout[-3000:]
    again = run_edge(cluster)
    assert again.rc == 0 and again.host_stats('n1')['changed'] == 0, again.stdout[-3000:]
    # The app's service is not on the cluster's network yet: its name does not resolve there.
    assert edge_status(cluster, '/version') == '502'

    # With the edge on, the app's service joins the cluster's network, where the edge finds it.
    inventory = write_deploy_inventory(project, app_edge_enabled=True, app_cluster_network=NETWORK)
    joined = run_deploy_yml(inventory, '2.0.0')
    assert joined.rc == 0, joined.stdout[-3000:]
    wait_until(lambda: edge_status(cluster, '/version') == '200', 30, 'the edge to answer from the app')

    release_image(cluster, '3.0.0')
    data_tasks = {service: project.task_ids(service) for service in ('postgres', 'redis')}
    # The release rotates the JWT secret too: the app's tasks alone take it.
    run, report = under_load(lambda: run_deploy_yml(inventory, '3.0.0', app_jwt_secret=JWT + '-3.0.0'))
    assert run.rc == 0, run.stdout[-3000:]
    # Both releases answered through the edge while Swarm replaced the tasks one by one, and nothing failed.
    assert report['failed'] == 0, json.dumps(report)
    assert {service: project.task_ids(service) for service in data_tasks} == data_tasks
    assert report['versions'].get('2.0.0') and report['versions'].get('3.0.0'), report
    assert report['requests'] >= 50 * 10, report
    # Whichever order Swarm updated the tasks in, they end one on each app node.
    assert project.tasks('app') == {'n2': 1, 'n3': 1}
    assert [(e['version'], e['status']) for e in project.releases()[-2:]] == [
        ('2.0.0', 'superseded'),
        ('3.0.0', 'active'),
    ]


def test_rollback_yml_goes_back_to_a_version_under_load_and_records_it(project):
    cluster = project.cluster
    inventory = write_deploy_inventory(project, app_edge_enabled=True, app_cluster_network=NETWORK)
    refused = run_on_cluster('playbooks/rollback.yml', inventory, rollback_database=True)
    assert refused.rc != 0 and refused.host_stats('n1')['changed'] == 0
    assert any('not available with app_backend swarm' in m for m in refused.failures('n1')), refused.failures('n1')

    run, report = under_load(lambda: run_on_cluster('playbooks/rollback.yml', inventory, rollback_to_version='2.0.0'))
    assert run.rc == 0, run.stdout[-3000:]
    assert report['failed'] == 0, json.dumps(report)
    assert report['versions'].get('2.0.0') and report['versions'].get('3.0.0'), report
    assert edge_status(cluster, '/version') == '200' and json.loads(project.get('/version')[1])['version'] == '2.0.0'
    assert project.tasks('app') == {'n2': 1, 'n3': 1}
    latest = project.releases()[-1]
    assert (latest['version'], latest['kind'], latest['status'], latest['previous']) == (
        '2.0.0',
        'rollback',
        'active',
        '3.0.0',
    ), latest


def test_deploy_yml_spreads_tasks_left_on_one_node_under_load_and_a_second_run_changes_nothing(project):
    """Swarm never moves a running task: deploy.yml spreads them again, one more then one fewer, losing no request."""
    cluster = project.cluster
    manager = cluster.node('n1')
    inventory = write_deploy_inventory(project, app_edge_enabled=True, app_cluster_network=NETWORK)
    # Every task on n3, as a rolling update can leave them (it depends on the order Swarm updates them in):
    # n2 takes no new task while Swarm restarts them.
    manager.docker('node', 'update', '--availability', 'pause', 'itest-sw-n2')
    try:
        manager.docker('service', 'update', '--force', '--detach=false', '-q', PROJECT + '_app')
    finally:
        manager.docker('node', 'update', '--availability', 'active', 'itest-sw-n2')
    assert project.tasks('app') == {'n3': 2}
    releases = project.releases()

    planned = run_deploy_yml(inventory, '2.0.0', check=True)
    assert planned.rc == 0 and planned.host_stats('n1')['changed'], planned.stdout[-3000:]
    [plan] = [r['spread'] for r in planned.task_results('n1') if 'spread' in r]
    assert plan == {'app': {'before': {'itest-sw-n3': 2}}}
    assert project.tasks('app') == {'n3': 2}

    run, report = under_load(lambda: run_deploy_yml(inventory, '2.0.0'))
    assert run.rc == 0, run.stdout[-3000:]
    assert report['failed'] == 0, json.dumps(report)
    [spread] = [r['spread'] for r in run.task_results('n1') if 'spread' in r]
    assert spread == {'app': {'before': {'itest-sw-n3': 2}, 'after': {'itest-sw-n2': 1, 'itest-sw-n3': 1}}}
    assert project.tasks('app') == {'n2': 1, 'n3': 1}
    # Not a release: the ledger stays as it was.
    assert project.releases() == releases

    again = run_deploy_yml(inventory, '2.0.0')
    assert again.rc == 0 and again.host_stats('n1')['changed'] == 0, again.stdout[-3000:]


def redis_container(project):
    """The container of Redis's task on the data node n2."""
    n2 = project.cluster.node('n2')
    [redis] = n2.docker('ps', '-q', '--filter', 'label=com.docker.swarm.service.name=%s_redis' % PROJECT).stdout.split()
    return redis


def redis_cli(project, password, *args):
    """redis-cli in Redis's task on the data node n2, logged in with password."""
    auth = 'REDISCLI_AUTH=' + password
    return (
        project.cluster.node('n2')
        .docker('exec', '-e', auth, redis_container(project), 'redis-cli', *args)
        .stdout.strip()
    )


def test_new_postgres_and_redis_passwords_go_live_under_load_and_neither_restarts(project):
    """The running tasks take the new passwords (PostgreSQL: the second login role; Redis: a second password).

    Redis keeps the redis.conf it started with; a Redis task that starts again takes the live password from
    its ACL file. The same deploy deletes the Redis keys of the cache invalidation pattern.
    """
    cluster = project.cluster
    inventory = write_deploy_inventory(project, app_edge_enabled=True, app_cluster_network=NETWORK)
    data_tasks = {service: project.task_ids(service) for service in ('postgres', 'redis')}
    passwords = {'app_postgres_password': SECRETS[1] + '-new', 'app_redis_password': SECRETS[2] + '-new'}
    invalidation = {'app_cache_invalidation_enabled': True, 'app_cache_invalidation_redis_patterns': ['notes:*']}

    # The invalidation command runs in a one-off compose container, which Swarm has not: refused.
    refused = run_deploy_yml(inventory, '2.0.0', app_cache_invalidation_command=['true'], **invalidation)
    assert refused.rc != 0 and refused.host_stats('n1')['changed'] == 0
    assert any('app_cache_invalidation_command is set' in m for m in refused.failures('n1')), refused.failures('n1')

    # Keys as the app's caches have them: those of the pattern go after the switch, the others stay.
    for key in ('notes:list', 'notes:7', 'sessions:7'):
        assert redis_cli(project, SECRETS[2], 'set', key, 'cached') == 'OK'
    # /readyz asks PostgreSQL and Redis at every request.
    run, report = under_load(lambda: run_deploy_yml(inventory, '2.0.0', **passwords, **invalidation), path='/readyz')
    assert run.rc == 0, run.failures('n1') + run.failures('n2')
    assert report['failed'] == 0, json.dumps(report)
    assert {service: project.task_ids(service) for service in data_tasks} == data_tasks
    with open(os.path.join(project.directory, 'postgres-login'), encoding='utf-8') as handle:
        assert handle.read() == 'app_alt\n'
    assert project.sql("SELECT rolname FROM pg_roles WHERE rolname LIKE 'app%' ORDER BY 1") == [['app'], ['app_alt']]
    assert redis_cli(project, passwords['app_redis_password'], 'exists', 'notes:list', 'notes:7', 'sessions:7') == '1'
    assert redis_cli(project, passwords['app_redis_password'], 'exists', 'sessions:7') == '1'
    assert edge_status(cluster, '/readyz') == '200'
    assert [password for password in passwords.values() if password in run.stdout] == []
    assert leaked_secrets(run.stdout) == []

    # Swarm starts a killed Redis task again from its old redis.conf: the app still logs in.
    cluster.node('n2').docker('kill', redis_container(project))

    def restarted():
        return project.task_ids('redis') not in ([], data_tasks['redis']) and project.tasks('redis') == {'n2': 1}

    wait_until(restarted, 90, 'Swarm to start Redis again')
    wait_until(lambda: edge_status(cluster, '/readyz') == '200', 60, 'the app to log in to the restarted Redis')

    again = run_deploy_yml(inventory, '2.0.0', **passwords, **invalidation)
    assert again.rc == 0 and again.host_stats('n1')['changed'] == 0, again.stdout[-3000:]


def test_backup_yml_and_the_restore_drill_run_next_to_postgresql_on_the_data_node(project):
    """PostgreSQL on n2 archives its WAL to pgBackRest; the backup role, backup.yml and the drill run on n2."""
    cluster = project.cluster
    os.makedirs(os.path.join(cluster.bed.root, 'cron'), exist_ok=True)
    inventory = backup_inventory(project)
    run = run_deploy_yml(inventory, '2.0.0')
    assert run.rc == 0, run.failures('n1')
    assert project.tasks('postgres') == {'n2': 1}
    [[archive_command]] = project.sql('SHOW archive_command')
    assert archive_command.startswith('pgbackrest --stanza=%s archive-push' % PROJECT), archive_command
    project.sql("CREATE TABLE facts (id serial PRIMARY KEY, body text); INSERT INTO facts (body) VALUES ('a'), ('b');")

    backup = run_on_cluster('playbooks/backup.yml', inventory, backup_hosts='data')
    assert backup.rc == 0, backup.failures('n2')
    [stored] = [r['msg'] for r in backup.task_results('n2') if isinstance(r.get('msg'), list)]
    # The role took the first full backup; backup.yml a differential one on top, and a dump.
    assert [report['status'] for report in stored] == ['success', 'success'], stored
    assert stored[0]['id'].endswith('D'), stored

    drill = run_on_cluster('playbooks/verify_backup.yml', inventory, backup_hosts='data')
    assert drill.rc == 0, drill.failures('n2')
    reports = {r['item']: r['report'] for t in drill.task_results('n2') for r in t.get('results', []) if 'report' in r}
    assert sorted(reports) == ['dump', 'pgbackrest']
    assert [report['mismatches'] for report in reports.values()] == [[], []]
    assert reports['dump']['rows'] >= 2

    again = run_on_cluster('tests/integration/playbooks/backup_role.yml', inventory, backup_hosts='data')
    assert again.rc == 0 and again.host_stats('n2')['changed'] == 0, again.stdout[-3000:]
    assert leaked_secrets(backup.stdout + drill.stdout + again.stdout) == []


def test_backup_yml_copies_the_managers_swarm_state_while_it_runs_and_a_new_engine_starts_the_cluster_from_it(
    project,
):
    """backup_kind=raft on n1, twice with a keep of 1; then the drill: a new engine, the copy as its Swarm state."""
    cluster = project.cluster
    inventory = backup_inventory(project)
    dest = os.path.join(cluster.bed.root, 'raft')
    raft = {'backup_kind': 'raft', 'swarm_raft_backup_dir': dest, 'swarm_raft_backup_keep': 1}
    # The deploy inventory has no swarm_managers group: the manager is named, as on an inventory that does.
    raft['swarm_raft_backup_hosts'] = 'n1'

    planned = run_on_cluster('playbooks/backup.yml', inventory, check=True, **raft)
    assert planned.rc == 0, planned.failures('n1')
    assert not os.path.exists(dest)

    runs = [run_on_cluster('playbooks/backup.yml', inventory, **raft) for _attempt in range(2)]
    stored = []
    for run in runs:
        assert run.rc == 0, run.failures('n1')
        # n1 only: with backup_kind raft, the data node backs up no database.
        assert sorted(run.data['stats']) == ['n1'], run.data['stats']
        stored += [r['msg'] for r in run.task_results('n1') if isinstance(r.get('msg'), dict) and 'archive' in r['msg']]
    first, second = stored
    assert second['verified'] and second['removed'] == [os.path.basename(first['archive'])], stored
    assert os.listdir(dest) == [os.path.basename(second['archive'])]
    assert oct(os.stat(second['archive']).st_mode & 0o777) == '0o600'
    assert leaked_secrets(planned.stdout + runs[0].stdout + runs[1].stdout) == []

    # The drill, Docker's restore procedure: an engine whose data root holds the copy's swarm/, on a host with the
    # manager's address (a namespace of its own, cut off from the bed), forced into a new cluster of one manager.
    manager = cluster.bed.nodes['n1']
    drill = NodeEngine(os.path.join(cluster.bed.root, 'drill'), PREFIX + 'drill', manager.engine.hostname)
    os.makedirs(os.path.join(drill.root, 'data'), mode=0o700)
    with open(drill.config, 'w', encoding='utf-8') as handle:
        json.dump({}, handle)
    with tarfile.open(second['archive']) as archive:
        archive.extractall(os.path.join(drill.root, 'data'), filter='fully_trusted')
    sh('ip', 'netns', 'add', drill.netns)
    try:
        # The manager's address on an interface of the namespace's own (a veth pair within it: no dummy driver here).
        for command in (
            ['ip', 'link', 'set', 'lo', 'up'],
            ['ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0-peer'],
            ['ip', 'address', 'add', manager.address + '/24', 'dev', 'eth0'],
            ['ip', 'link', 'set', 'eth0-peer', 'up'],
            ['ip', 'link', 'set', 'eth0', 'up'],
        ):
            sh('ip', 'netns', 'exec', drill.netns, *command)
        drill.start()
        drill.docker('swarm', 'init', '--force-new-cluster')

        def names(engine, what, *filters):
            return sorted(engine.docker(what, 'ls', *filters, '--format', '{{.Name}}').stdout.split())

        live = manager.engine
        for what, filters in (('service', ()), ('secret', ()), ('network', ('--filter', 'scope=swarm'))):
            assert names(drill, what, *filters) == names(live, what, *filters), what
        assert PROJECT + '_app' in names(drill, 'service') and names(drill, 'secret')
        restored, running = (json.loads(e.docker('info', '--format', '{{json .Swarm}}').stdout) for e in (drill, live))
        assert restored['Cluster']['ID'] == running['Cluster']['ID']
        assert restored['NodeID'] == running['NodeID'] and restored['ControlAvailable']
    finally:
        drill.destroy()
        sh('ip', 'netns', 'delete', drill.netns, check=False)


def backup_inventory(project):
    """The settings of the manager and the data node alike, as group_vars/all would give them."""
    cluster = project.cluster
    settings = dict(backup_settings(cluster), **archive_settings(cluster))
    return write_deploy_inventory(
        project, data_vars=settings, app_edge_enabled=True, app_cluster_network=NETWORK, **settings
    )


def test_restore_yml_recovers_the_database_to_a_point_in_time_on_the_data_node_and_runs_the_stack_again(project):
    """From the manager: the app and PostgreSQL stopped, the restore on n2, the stack back, the edge answering."""
    cluster = project.cluster
    inventory = backup_inventory(project)
    project.sql("INSERT INTO facts (body) VALUES ('kept')")
    time.sleep(1.5)
    target = time.strftime('%Y-%m-%d %H:%M:%S+00:00', time.gmtime())
    time.sleep(1.5)
    project.sql("INSERT INTO facts (body) VALUES ('after the target')")
    # A new password after the target: the restored roles do not know it, and restore.yml gives it to them.
    password = {'app_postgres_password': SECRETS[1] + '-after-the-target'}
    changed_password = run_deploy_yml(inventory, '2.0.0', **password)
    assert changed_password.rc == 0, changed_password.failures('n1') + changed_password.failures('n2')
    restore = {'restore_confirm': PROJECT, 'restore_target_time': target, 'backup_hosts': 'data', **password}

    planned = run_on_cluster('playbooks/restore.yml', inventory, check=True, **restore)
    assert planned.rc == 0, planned.failures('n1') + planned.failures('n2')
    assert project.tasks('app') == {'n2': 1, 'n3': 1} and project.tasks('postgres') == {'n2': 1}

    # The restore runs on n2, where nothing can beat for the manager's deploy lock: restore.yml holds it as a lease.
    # While the restore command is stopped and the lock's last heartbeat is an hour old, a deploy.yml that takes a
    # lock silent for 30 s is refused.
    restoring = start_on_cluster('playbooks/restore.yml', inventory, **restore)
    try:
        pid = wait_for_process(' restore-database', 600, restoring)
        os.kill(pid, signal.SIGSTOP)
        try:
            an_hour_ago = time.time() - 3600
            os.utime(os.path.join(project.state_dir, PROJECT, 'deploy.lock'), (an_hour_ago, an_hour_ago))
            rival = run_deploy_yml(inventory, '3.0.0', deploy_lock_stale_after=30, **password)
        finally:
            os.kill(pid, signal.SIGCONT)
    finally:
        run = finish_on_cluster(restoring)
    assert rival.rc != 0 and rival.host_stats('n1')['changed'] == 0, rival.stdout[-3000:]
    assert any('on a lease' in message for message in rival.failures('n1')), rival.failures('n1')
    assert run.rc == 0, run.failures('n1') + run.failures('n2')
    assert [row[0] for row in project.sql('SELECT body FROM facts ORDER BY id')] == ['a', 'b', 'kept']
    assert project.tasks('postgres') == {'n2': 1} and project.tasks('app') == {'n2': 1, 'n3': 1}
    assert edge_status(cluster, '/readyz') == '200'
    assert leaked_secrets(run.stdout) == [] and password['app_postgres_password'] not in run.stdout

    again = run_deploy_yml(inventory, '2.0.0', **password)
    assert again.rc == 0 and again.host_stats('n1')['changed'] == 0, again.stdout[-3000:]


def wait_for_process(pattern, timeout, run):
    """The pid of the oldest process whose command line has pattern, once there is one (while run runs)."""
    found = []

    def running():
        assert run.poll() is None, 'the playbook ended before a process ran ' + pattern.strip()
        listed = sh('pgrep', '-o', '-f', '--', pattern, check=False).stdout.split()
        found[:] = [int(pid) for pid in listed]
        return bool(found)

    try:
        wait_until(running, timeout, 'a process running ' + pattern.strip())
    except AssertionError as exc:
        run.terminate()
        out, _err = run.communicate(timeout=60)
        raise AssertionError('%s; the playbook so far:\n%s' % (exc, out[-6000:])) from None
    return found[0]


@pytest.fixture(scope='module')
def site(project):
    """site.yml's first run on the cluster the tests above built, with the monitoring images on n1."""
    project.cluster.bed.load_images(*MONITORING_IMAGES.values(), nodes=['n1'])
    project.cluster.bed.load_images(MONITORING_IMAGES['monitoring_node_exporter_image'], nodes=['n2', 'n3'])
    inventory = write_site_inventory(project)
    # Before the firewall, the manager's gossip port answers anyone on the LAN (the test below sees it closed).
    assert tcp_connects(LAN_NS, project.cluster.node('n1').address, 7946)
    return inventory, run_on_cluster('playbooks/site.yml', inventory, app_version='2.0.0')


def test_site_yml_runs_every_part_on_its_nodes_brings_up_monitoring_and_a_second_run_changes_nothing(project, site):
    """Each part ran on its own above (the cluster from bare engines, the edge, deploys, backups): site.yml runs them
    all, from the production inventory's groups, and adds the monitoring stack on the manager."""
    inventory, run = site
    assert run.rc == 0, run.stdout[-3000:]
    ran, batches = {}, {}
    for play in run.data['plays']:
        name = play['play']['name']
        ran.setdefault(name, set()).update(host for task in play['tasks'] for host in task['hosts'])
        batches[name] = batches.get(name, 0) + 1
    assert ran['Configure the Docker engine'] == ran['Make the Swarm cluster'] == {'n1', 'n2', 'n3'}, ran
    # The engines one node at a time: no two restart together.
    assert batches['Configure the Docker engine'] == 3, batches
    assert ran['Run node_exporter on the Swarm nodes'] == {'n1', 'n2', 'n3'}, ran
    assert ran['Schedule backups and restore drills'] == {'n2'}, ran
    assert ran['Run the monitoring stack'] == {'n1'}, ran
    assert run.host_stats('n1')['changed'], 'site.yml started no monitoring stack'
    assert project.tasks('app') == {'n2': 1, 'n3': 1} and project.tasks('postgres') == {'n2': 1}
    # Through the firewall on every node: the edge on n1 reaches the app's tasks on n2 and n3 over the overlay.
    assert ran['Filter the public interface'] == {'n1', 'n2', 'n3'}, ran
    assert edge_status(project.cluster, '/readyz') == '200'
    assert leaked_secrets(run.stdout) == []
    # Swarm's gossip port on the manager: open to the other nodes, closed to the LAN's other hosts.
    manager = project.cluster.node('n1')
    assert tcp_connects(project.cluster.node('n2').netns, manager.address, 7946)
    assert not tcp_connects(LAN_NS, manager.address, 7946)
    assert not tcp_connects(LAN_NS, manager.address, 2377)

    again = run_on_cluster('playbooks/site.yml', inventory, app_version='2.0.0')
    assert again.rc == 0 and set(changed(again).values()) == {0}, again.stdout[-3000:]


def test_monitoring_on_the_manager_scrapes_the_app_tasks_and_node_exporter_on_every_node_and_the_nodes_states(
    project, site
):
    """Prometheus on n1 finds the app's tasks on n2 and n3 through the manager, scrapes each node's node_exporter
    (the data node's with the backup jobs' metrics), and reads the nodes from the engine."""
    cluster = project.cluster
    assert site[1].rc == 0, 'site.yml failed'

    def scraped():
        jobs = active_targets(cluster)
        wanted = ('app', 'app-ready', 'postgres', 'redis', 'engine', 'node')
        return all(jobs.get(job) and all(t['health'] == 'up' for t in jobs[job]) for job in wanted) and jobs

    jobs = wait_until(scraped, 90, 'every target of the app, the datastores and the engine to be up')
    # One target per running task, named as Swarm names it, on the node it runs on, with its release.
    labels = sorted((t['labels'] for t in jobs['app']), key=lambda found: found['node'])
    assert [found['node'] for found in labels] == ['itest-sw-n2', 'itest-sw-n3'], labels
    assert {found['instance'].rsplit('.', 1)[0] for found in labels} == {PROJECT + '_app'}, labels
    assert {found['service'] for found in labels} == {'app'}, labels
    live = json.loads(project.get('/version')[1])['version']
    assert {t['labels']['version'] for t in jobs['app']} == {live}, jobs['app']
    assert [t['labels']['job'] for t in jobs['engine']] == ['engine']
    # node_exporter on each node, by its name on the stack's network; the data node's backup metrics through its own.
    assert sorted(t['labels']['instance'] for t in jobs['node']) == ['node-exporter-n%d:9100' % i for i in (1, 2, 3)]
    backups = prometheus_query(cluster, 'auraspeak_backup_last_status{job="node"}')
    assert {(s['metric']['instance'], s['metric']['project']) for s in backups} == {('node-exporter-n2:9100', PROJECT)}
    assert {s['metric']['backup'] for s in backups} >= {'full', 'diff'}, backups


def test_a_workers_engine_killed_under_load_its_replica_comes_back_on_the_other_node(project, site):
    """Last: n3 stays down. Swarm runs its replica on n2, the edge's DNS leaves n3's task out; no request fails.

    And SwarmNodeDown reaches Alertmanager on n1.
    """
    cluster = project.cluster
    # The spread the deploys keep: with both tasks on n3, nothing would answer until Swarm restarted them on n2.
    assert project.tasks('app') == {'n2': 1, 'n3': 1}
    cluster.node_id('n3')  # asked while n3 is there
    load = start_load(rate=50, seconds=600)
    try:
        time.sleep(3)
        cluster.node('n3').engine.stop(signal.SIGKILL)
        # The manager lists n3 down and starts its replica on n2; Swarm's DNS stops giving the edge n3's task.
        wait_until(lambda: project.tasks('app') == {'n2': 2}, 180, "n3's replica to run on n2")
        wait_until(lambda: cluster.edge_dns_without('n3'), 60, "the edge's DNS to leave n3's task out")
        assert cluster.manager_view()['n3'][1] == 'down'
        assert site[1].rc == 0, 'site.yml did not start the monitoring stack'
        [alert] = wait_until(lambda: firing_alerts(cluster, 'SwarmNodeDown'), 90, 'SwarmNodeDown in Alertmanager')
        assert (alert['labels']['project'], alert['labels']['severity']) == (PROJECT, 'critical'), alert
        assert alert['annotations']['summary'] == '%s: 1 Swarm node(s) down' % PROJECT, alert
        time.sleep(5)
    finally:
        report = stop_load(load)
    assert report['failed'] == 0, json.dumps(report)
    assert report['requests'] >= 50 * 20, report
    assert json.loads(project.get('/version')[1])['version'] == '2.0.0'
