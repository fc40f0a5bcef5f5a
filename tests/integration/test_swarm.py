"""The swarm role (playbooks/swarm.yml) on a cluster of three engines (swarm_bed).

n1 is the manager, n2 and n3 the workers. The tests run in order on one bed:
the kernel check of the encrypted network, the check-mode plan, the cluster,
its re-runs, traffic across the overlay, labels that follow the inventory, a
node promoted by a run limited to it, and bad input.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest
from netns_engine import wait_until
from playbook_runs import ENV, ROOT, Run, playbook_command, run_verbose
from swarm_bed import SwarmBed, sh

PLAYBOOK = 'playbooks/swarm.yml'
DEBIAN = 'auraspeak-offline/debian:bookworm'
NGINX = 'auraspeak-offline/nginx:1.22'
NETWORK = 'itest_sw_cluster'
GROUPS = {'swarm_managers': ['n1'], 'swarm_workers': ['n2', 'n3']}
ROLES = {'n1': ['edge'], 'n2': ['data', 'app'], 'n3': ['app']}
# The kernel here has no IPsec ESP (docs/scaling.md): the bed's network is not encrypted.
PLAIN = {'swarm_network_encrypted': False, 'swarm_network_name': NETWORK}


class Cluster:
    def __init__(self, bed):
        self.bed = bed
        self.inventory = os.path.join(bed.root, 'hosts.yml')
        self.write_inventory(GROUPS, ROLES)

    def write_inventory(self, groups, roles, labels=None):
        host_vars = {
            name: {'swarm_node_roles': roles.get(name, []), 'swarm_node_labels': (labels or {}).get(name, {})}
            for name in self.bed.nodes
        }
        self.bed.write_inventory(self.inventory, groups, host_vars)

    def run(self, extra_vars=None, check=False, limit=None):
        cmd = playbook_command(PLAYBOOK, dict(PLAIN, **(extra_vars or {})), check=check, inventory=self.inventory)
        cmd += ['--limit', limit] if limit else []
        completed = subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=900, check=False)
        return Run(completed)

    def node(self, name):
        return self.bed.nodes[name]

    def manager_view(self):
        """{host name: (role, state, labels)} as the manager n1 sees the nodes."""
        n1 = self.node('n1')
        ids = n1.docker('node', 'ls', '-q').stdout.split()
        nodes = json.loads(n1.docker('node', 'inspect', *ids).stdout)
        return {
            node['Description']['Hostname'].replace('itest-sw-', ''): (
                node['Spec']['Role'],
                node['Status']['State'],
                node['Spec'].get('Labels') or {},
            )
            for node in nodes
        }


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
    output = again.stdout + again.stderr
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
