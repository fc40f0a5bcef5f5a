"""The example inventories against the playbooks: which hosts each play runs on, and the Swarm topology.

The playbooks choose their default hosts by the inventory's shape: an inventory with the group
swarm_managers is a Swarm cluster (deploy on its first manager, the edge on edge_nodes, backups on
data_nodes); any other runs everything on the group app. `ansible-playbook --list-hosts` evaluates
those patterns as a real run does, without reaching a host.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
ENV = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'))
SWARM_INVENTORIES = ['production', 'staging']
PLAYBOOKS = ['deploy', 'rollback', 'edge', 'backup', 'verify_backup', 'restore', 'swarm', 'monitoring']


def ansible(tool, *args):
    done = subprocess.run([os.path.join(BIN, tool), *args], cwd=ROOT, env=ENV, capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, (args, done.stdout[-3000:], done.stderr[-3000:])
    return done.stdout


def hosts_by_play(inventory, *playbooks, extra_vars=()):
    """{(playbook, play name): [hosts]} as --list-hosts evaluates the plays' host patterns."""
    args = ['--list-hosts', '-i', os.path.join('inventories', inventory)]
    for extra in extra_vars:
        args += ['-e', extra]
    out = ansible('ansible-playbook', *args, *('playbooks/%s.yml' % name for name in playbooks))
    plays, playbook, play = {}, None, None
    for line in out.splitlines():
        if line.startswith('playbook: '):
            playbook = os.path.basename(line.split(': ', 1)[1])[:-4]
        elif re.match(r'\s+play #\d+ ', line):
            play = (playbook, re.sub(r'^\s+play #\d+ \([^)]*\): (.*?)\tTAGS.*$', r'\1', line))
            plays[play] = []
        elif re.match(r'\s{6}\S', line):
            plays[play].append(line.strip())
    return plays


def inventory(name):
    return json.loads(ansible('ansible-inventory', '-i', os.path.join('inventories', name), '--list'))


def group_hosts(listing, group):
    """The hosts of a group and of its children, as Ansible's groups[group] has them."""
    entry = listing.get(group, {})
    hosts = list(entry.get('hosts', []))
    for child in entry.get('children', []):
        hosts += [host for host in group_hosts(listing, child) if host not in hosts]
    return hosts


@pytest.mark.parametrize('name', SWARM_INVENTORIES)
def test_a_swarm_inventory_runs_each_playbook_where_its_part_of_the_cluster_is(name):
    listing = inventory(name)
    first_manager = group_hosts(listing, 'swarm_managers')[0]
    edge, data = group_hosts(listing, 'edge_nodes'), group_hosts(listing, 'data_nodes')
    every_node = group_hosts(listing, 'swarm_managers') + group_hosts(listing, 'swarm_workers')
    plays = hosts_by_play(name, 'site', *PLAYBOOKS)

    manager = [first_manager]
    expected = {'deploy': manager, 'rollback': manager, 'monitoring': manager, 'edge': edge, 'backup': data,
                'verify_backup': data, 'swarm': sorted(every_node)}  # fmt: skip
    # Plays on every node: site.yml's checks, engines and firewall, the cluster, and node_exporter
    # (monitoring.yml's first play).
    expected_in_site = {
        'Check that site.yml can serve this inventory': every_node,
        'Configure the Docker engine': every_node,
        'Filter the public interface': every_node,
        'Make the Swarm cluster': every_node,
        'Schedule backups and restore drills': data,
        'Run node_exporter on the Swarm nodes': every_node,
    }
    assert set(expected_in_site) <= {play for playbook, play in plays if playbook == 'site'}
    for (playbook, play), hosts in plays.items():
        if play in expected_in_site:
            assert sorted(hosts) == sorted(expected_in_site[play]), (play, hosts)
        elif playbook == 'site':
            # The plays site.yml imports: the edge's on the edge nodes, deploy's and monitoring's on the manager.
            assert sorted(hosts) == sorted(edge if play == 'Run the edge' else manager), (play, hosts)
        elif play == "Back up the Swarm managers' state":
            assert hosts == manager, hosts  # backup.yml's last play: the cluster's state, on the first manager
        elif playbook == 'restore':
            # Its first play runs the backup command where the data is; its second restores from the manager.
            assert hosts == (data if play.startswith('Restore from backups') else [first_manager]), (play, hosts)
        else:
            assert sorted(hosts) == sorted(expected[playbook]), (playbook, play, hosts)


def test_extra_vars_still_choose_the_hosts_on_a_swarm_inventory():
    chosen = [
        'deploy_hosts=mgr2.example.com',
        'backup_hosts=app1.example.com',
        'swarm_raft_backup_hosts=mgr3.example.com',
    ]
    plays = hosts_by_play('production', 'deploy', 'backup', extra_vars=chosen)
    assert {tuple(hosts) for hosts in plays.values()} == {
        ('mgr2.example.com',),
        ('app1.example.com',),
        ('mgr3.example.com',),
    }
    # One kind only: backup_kind=raft runs only the cluster's state, any other kind only the project's.
    raft = hosts_by_play('production', 'backup', extra_vars=['backup_kind=raft'])
    assert sorted(hosts for hosts in raft.values()) == [[], ['mgr1.example.com']], raft
    full = hosts_by_play('production', 'backup', extra_vars=['backup_kind=full'])
    assert sorted(hosts for hosts in full.values()) == [[], ['data1.example.com']], full


@pytest.mark.parametrize('name', ['local', 'single-host'])
def test_a_single_host_inventory_runs_every_playbook_on_the_app_group(name):
    app = group_hosts(inventory(name), 'app')
    plays = hosts_by_play(name, 'site', *[playbook for playbook in PLAYBOOKS if playbook != 'swarm'])
    # The Swarm plays match no host without a cluster: site.yml's cluster, node_exporter on the nodes.
    agents = 'Run node_exporter on the Swarm nodes'
    raft = ('backup', "Back up the Swarm managers' state")
    for swarm_only in [('site', 'Make the Swarm cluster'), ('site', agents), ('monitoring', agents), raft]:
        assert plays.pop(swarm_only) == [], swarm_only
    assert plays and all(hosts == app for hosts in plays.values()), plays


def refused_site_run(inventory_name, *extra_vars):
    """site.yml's failures per host, where its first play (asserts, run on this machine) refuses the inventory."""
    args = ['-i', os.path.join('inventories', inventory_name)]
    for extra in extra_vars:
        args += ['-e', extra]
    env = dict(ENV, ANSIBLE_STDOUT_CALLBACK='ansible.builtin.json')
    done = subprocess.run([os.path.join(BIN, 'ansible-playbook'), *args, 'playbooks/site.yml'], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode != 0, done.stdout[-3000:]
    report = json.loads(done.stdout)
    assert len(report['plays']) == 1, 'site.yml went past its checks'
    return {host: result['msg'] for task in report['plays'][0]['tasks'] for host, result in task['hosts'].items()
            if result.get('failed')}  # fmt: skip


def test_site_yml_refuses_a_firewall_without_swarm_peers_on_swarm_nodes_and_a_backend_the_groups_disagree_with():
    listing = inventory('production')
    nodes = group_hosts(listing, 'swarm_managers') + group_hosts(listing, 'swarm_workers')
    firewall = refused_site_run('production', 'firewall_public_interface=eth0')
    assert sorted(firewall) == sorted(nodes)
    assert all('and firewall_swarm_peers is empty' in message for message in firewall.values()), firewall
    compose = refused_site_run('production', 'app_backend=compose')
    assert sorted(compose) == sorted(nodes)
    assert all('has app_backend "compose", and the inventory has group swarm_managers' in message
               for message in compose.values()), compose  # fmt: skip


@pytest.mark.parametrize('name', SWARM_INVENTORIES)
def test_a_swarm_inventory_gives_the_swarm_role_what_it_checks(name):
    listing = inventory(name)
    hostvars = listing['_meta']['hostvars']
    managers, workers = group_hosts(listing, 'swarm_managers'), group_hosts(listing, 'swarm_workers')
    assert len(managers) % 2 == 1, 'Raft needs an odd number of managers'
    assert not set(managers) & set(workers), 'a node is a manager or a worker, not both'
    # Managers may run nothing but the cluster's control (the role's default: no node role).
    roles = {host: hostvars.get(host, {}).get('swarm_node_roles', []) for host in managers + workers}
    assert all(roles[host] for host in workers), roles
    for role in ('edge', 'app', 'data'):
        labelled = sorted(host for host, its in roles.items() if role in its)
        assert labelled == sorted(group_hosts(listing, role + '_nodes')), role
    assert len(group_hosts(listing, 'data_nodes')) == 1, 'PostgreSQL and Redis are pinned to one data node'
    assert {vars_.get('app_backend') for vars_ in hostvars.values()} == {'swarm'}


@pytest.mark.parametrize('name', ['single-host', 'staging', 'production'])
def test_every_secret_of_an_example_inventory_comes_from_its_vault(name):
    hostvars = inventory(name)['_meta']['hostvars']
    assert hostvars
    for host, vars_ in hostvars.items():
        for key in ('app_jwt_secret', 'app_postgres_password', 'app_redis_password', 'backup_pgbackrest_cipher_pass'):
            assert vars_.get(key) == '{{ vault_%s }}' % key, (host, key)
    folder = 'app' if name == 'single-host' else 'all'
    vault = os.path.join(ROOT, 'inventories', name, 'group_vars', folder, 'vault.yml.example')
    assert os.path.isfile(vault), vault


def role_var(inventory_path, host, vars_file, name, *extra_vars):
    """A role variable as host gets it from the inventory (vars_file: the role's defaults or vars, under roles/)."""
    playbook = os.path.join(ROOT, 'tests', 'unit', 'fixtures', 'role_var.yml')
    args = ['-i', inventory_path, '--limit', host, playbook]
    args += ['-e', 'vars_file=' + os.path.join(ROOT, 'roles', vars_file), '-e', 'var_name=' + name]
    for extra in extra_vars:
        args += ['-e', extra]
    out = ansible('ansible-playbook', *args)
    return json.loads(re.search(r'value: (.*)$', out, re.M).group(1).strip().strip("'"))


def verify_address(inventory_path, host, *extra_vars):
    """The address the release role asks the edge at, from host, as its vars/main.yml computes it."""
    return role_var(inventory_path, host, 'release/vars/main.yml', '__release_verify_address', *extra_vars)


def test_the_monitoring_stack_finds_the_managers_engine_metrics_in_the_inventory():
    targets = role_var('inventories/production', 'mgr1.example.com', 'monitoring/defaults/main.yml',
                       'monitoring_swarm_engine_targets')  # fmt: skip
    assert targets == ['10.0.0.11:9323', '10.0.0.12:9323', '10.0.0.13:9323']
    assert role_var('inventories/single-host', 'app1.example.com', 'monitoring/defaults/main.yml',
                    'monitoring_swarm_engine_targets') == []  # fmt: skip


def test_deploy_asks_the_edge_node_when_the_manager_runs_no_edge(tmp_path):
    # production: the managers are not edge nodes, and edge1 has no ansible_host.
    assert verify_address('inventories/production', 'mgr1.example.com') == 'edge1.example.com'
    assert verify_address('inventories/production', 'mgr1.example.com', 'deploy_verify_address=10.0.0.9') == '10.0.0.9'
    # staging: the manager runs the edge.
    assert verify_address('inventories/staging', 'staging-mgr1.example.com') == '127.0.0.1'
    assert verify_address('inventories/single-host', 'app1.example.com') == '127.0.0.1'
    cluster = tmp_path / 'hosts.yml'
    cluster.write_text(json.dumps({'all': {'vars': {'app_backend': 'swarm'}, 'children': {
        'swarm_managers': {'hosts': {'m1': {'swarm_node_roles': []}}},
        'swarm_workers': {'hosts': {'w1': {'swarm_node_roles': ['app']},
                                    'e1': {'swarm_node_roles': ['edge'], 'ansible_host': '10.1.2.3'}}}}}}))  # fmt: skip
    assert verify_address(str(cluster), 'm1') == '10.1.2.3'
