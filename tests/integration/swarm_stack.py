"""The three-node Swarm cluster of the tests and benchmarks (swarm_bed), with the app and the edge on it.

n1 is the manager and runs the edge, n2 (the data node) and n3 run the app's
tasks. The collection's playbooks run against the nodes as Ansible hosts; the
load generator runs on the bed's LAN and reaches the edge at n1's address.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.parse

from monitoring_stack import OFFLINE_IMAGES, TEST_PROFILE
from netns_engine import sh
from playbook_runs import ENV, ROOT, Run, playbook_command, run_module, run_playbook
from swarm_bed import LAN_NS

PLAYBOOK = 'playbooks/swarm.yml'
DEBIAN = 'auraspeak-offline/debian:bookworm'
NGINX = 'auraspeak-offline/nginx:1.22'
NETWORK = 'itest_sw_cluster'
GROUPS = {'swarm_managers': ['n1'], 'swarm_workers': ['n2', 'n3']}
ROLES = {'n1': ['edge'], 'n2': ['data', 'app'], 'n3': ['app']}
# The kernel here has no IPsec ESP (docs/scaling.md): the bed's network is not encrypted.
PLAIN = {'swarm_network_encrypted': False, 'swarm_network_name': NETWORK}
APP_IMAGE = 'itest-swarm/app'
PROJECT = 'itswarm'
JWT = 'itest-swarm-jwt-0123456789abcdef0123'
SECRETS = (JWT, 'itest-swarm-pg', 'itest-swarm-redis')
PGBACKREST_PASS = 'itest-swarm-pgbackrest-0123456789'
UPDATE = {'app': {'order': 'start-first', 'parallelism': 1, 'failure_action': 'rollback', 'monitor': '5s'}}
# The edge on n1 (the manager, with the edge label), published on n1's address;
# clients and the load generator run on the bed's LAN.
EDGE_URL = 'http://192.0.2.1'
EDGE_CONTAINER = 'auraspeak-edge'


class Cluster:
    def __init__(self, bed):
        self.bed = bed
        self.inventory = os.path.join(bed.root, 'hosts.yml')
        self.node_ids = {}
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

    def node_id(self, name):
        """The node's Swarm id (kept: a lost node is asked about before it goes)."""
        if name not in self.node_ids:
            inspected = self.node('n1').docker('node', 'inspect', '--format', '{{.ID}}', 'itest-sw-' + name)
            self.node_ids[name] = inspected.stdout.strip()
        return self.node_ids[name]

    def edge_dns_addresses(self):
        """The addresses Swarm's DNS gives the edge on n1 for the app's service."""
        name = '%s_app' % PROJECT
        listed = self.node('n1').docker('exec', EDGE_CONTAINER, 'getent', 'ahostsv4', name, check=False)
        return {line.split()[0] for line in listed.stdout.splitlines() if line.strip()}

    def edge_dns_without(self, name):
        """Whether Swarm's DNS gives the edge app tasks, none of them on the node name."""
        addresses = self.edge_dns_addresses()
        return bool(addresses) and addresses <= self.app_addresses_off(name)

    def app_addresses_off(self, name):
        """The cluster-network addresses of the app's running tasks on the nodes other than name."""
        template = '{{.NodeID}} {{range .NetworksAttachments}}{{if eq .Network.Spec.Name "%s"}}'
        template += '{{json .Addresses}}{{end}}{{end}}'
        manager = self.node('n1')
        listed = manager.docker('service', 'ps', '-q', '--filter', 'desired-state=running', '%s_app' % PROJECT)
        addresses = set()
        for task in listed.stdout.split():
            node_id, attached = manager.docker('inspect', '--format', template % NETWORK, task).stdout.split(' ', 1)
            if node_id != self.node_id(name) and attached.strip():
                addresses.update(address.split('/')[0] for address in json.loads(attached))
        return addresses

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


class Project:
    """The app role's files for PROJECT under the bed, rendered by the role, deployed by stack_deploy from n1."""

    def __init__(self, cluster):
        self.cluster = cluster
        self.directory = os.path.join(cluster.bed.root, PROJECT)
        # The role renders on this machine, as it would on the manager.
        self.inventory = os.path.join(cluster.bed.root, 'local.ini')
        with open(self.inventory, 'w', encoding='utf-8') as handle:
            handle.write('localhost ansible_connection=local ansible_python_interpreter=%s\n' % sys.executable)

    def render(self, jwt=JWT, **app_vars):
        extra = {
            'scratch_dir': self.directory,
            'app_config_dir': self.directory,
            'app_project': PROJECT,
            'app_jwt_secret': jwt,
            'app_postgres_password': SECRETS[1],
            'app_redis_password': SECRETS[2],
            'app_image_name': APP_IMAGE,
            'app_version': '1.0.0',
            'app_postgres_image': 'auraspeak-offline/postgres:15',
            'app_redis_image': 'auraspeak-offline/redis:7.0',
            'app_edge_enabled': False,
            'app_backend': 'swarm',
            **app_vars,
        }
        os.makedirs(self.directory, exist_ok=True)
        run = run_playbook('tests/integration/playbooks/app_render.yml', extra, inventory=self.inventory)
        assert run.rc == 0, run.stdout[-3000:]

    def deploy(self, check=False, **recorded):
        """stack_deploy from n1; recorded: version (and kind) to record the run in the ledger under state_dir."""
        args = {
            'project': PROJECT,
            'project_dir': self.directory,
            'resolve_image': 'never',
            'timeout': 240,
            'update': UPDATE,
            **({'state_dir': self.state_dir, **recorded} if recorded else {}),
        }
        host = {'DOCKER_HOST': self.cluster.node('n1').engine.host}
        return run_module('auraspeak.ops.stack_deploy', args, check=check, env=host)

    @property
    def state_dir(self):
        """common_state_dir of deploy.yml's runs on n1 (write_deploy_inventory)."""
        return os.path.join(self.cluster.bed.root, 'state')

    def releases(self):
        """The entries of the project's release ledger on n1."""
        path = os.path.join(self.state_dir, PROJECT, 'releases.json')
        if not os.path.exists(path):
            return []
        with open(path, encoding='utf-8') as handle:
            return json.load(handle)['releases']

    def tasks(self, service):
        """{node: running tasks of the service there}."""
        listed = self.cluster.node('n1').docker(
            'service', 'ps', '--filter', 'desired-state=running', '--format', '{{.Node}} {{.CurrentState}}',
            '%s_%s' % (PROJECT, service),
        ).stdout.split('\n')  # fmt: skip
        nodes = [line.split()[0].replace('itest-sw-', '') for line in listed if ' Running ' in ' %s ' % line]
        return {node: nodes.count(node) for node in nodes}

    def task_ids(self, service):
        """IDs of the service's tasks that Swarm wants running."""
        return sorted(
            self.cluster.node('n1')
            .docker('service', 'ps', '-q', '--filter', 'desired-state=running', '%s_%s' % (PROJECT, service))
            .stdout.split()
        )

    def get(self, path):
        """status line and body of the app at path, asked from n1 (which runs none of its tasks) over the overlay."""
        script = 'exec 3<>/dev/tcp/app/3000 && printf "GET %s HTTP/1.0\\r\\n\\r\\n" >&3 && cat <&3' % path
        reply = self.cluster.node('n1').docker(
            'run', '--rm', '--network', PROJECT + '_internal', DEBIAN, 'timeout', '10', 'bash', '-c', script,
            check=False,
        ).stdout  # fmt: skip
        # Text mode: the reply's CRLFs arrive as newlines.
        return reply.split('\n', 1)[0], reply.rsplit('\n\n', 1)[-1]

    def service_labels(self, service):
        """The service's labels, {} when there is no such service."""
        name = '%s_%s' % (PROJECT, service)
        template = '{{json .Spec.Labels}}'
        inspected = self.cluster.node('n1').docker('service', 'inspect', '--format', template, name, check=False)
        return json.loads(inspected.stdout) if inspected.returncode == 0 else {}

    def sql(self, statements):
        """Rows of psql in the PostgreSQL task on the data node n2 (as the app's database user)."""
        n2 = self.cluster.node('n2')
        [container] = n2.docker(
            'ps', '-q', '--filter', 'label=com.docker.swarm.service.name=%s_postgres' % PROJECT
        ).stdout.split()
        out = n2.docker('exec', '-i', container, 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-U', 'app', '-d', 'app',
                        input=statements).stdout  # fmt: skip
        return [line.split('|') for line in out.splitlines() if line]

    def secret_names(self):
        return sorted(self.cluster.node('n1').docker('secret', 'ls', '--format', '{{.Name}}').stdout.split())


def load_app_images(cluster, versions=('1.0.0',)):
    """Build the example app as APP_IMAGE:1.0.0, tag it as the other versions, and copy the images to the nodes."""
    # The label gives the image an id of its own: test_deploy builds the same source, and its image
    # pruning must not meet a second tag on its image (the suites run side by side).
    build = ['docker', 'buildx', 'build', '--quiet', '--target', 'production', '--label', 'io.auraspeak.test=swarm']
    build += ['--build-arg', 'BASE_IMAGE=auraspeak-offline/node:18', '--build-arg', 'APP_VERSION=1.0.0']
    sh(*build, '--tag', APP_IMAGE + ':1.0.0', os.path.join(ROOT, 'examples', 'app'), timeout=600)
    for version in versions[1:]:
        sh('docker', 'tag', APP_IMAGE + ':1.0.0', APP_IMAGE + ':' + version)
    cluster.bed.load_images(*('%s:%s' % (APP_IMAGE, version) for version in versions), nodes=['n2', 'n3'])
    cluster.bed.load_images('auraspeak-offline/postgres:15', 'auraspeak-offline/redis:7.0', nodes=['n2'])


def remove_app_images():
    sh('docker', 'image', 'rm', *('%s:%s' % (APP_IMAGE, v) for v in ('1.0.0', '2.0.0', '3.0.0')), check=False)


def write_deploy_inventory(project, data_vars=None, **host_vars):
    """deploy.yml's inventory: n1, the manager, in the app group, with the app role's settings of the tests above.

    Every node has its swarm_node_roles, as in the swarm role's inventory. data_vars: n2, the data node, joins the
    data group (backup_hosts) with the same settings and these.
    """
    cluster = project.cluster
    inventory = os.path.join(cluster.bed.root, 'deploy-hosts.yml')
    settings = deploy_settings(project, **host_vars)
    nodes = {name: {'swarm_node_roles': roles} for name, roles in ROLES.items()}
    nodes['n1'].update(settings)
    groups = {'app': ['n1']}
    if data_vars is not None:
        nodes['n2'].update(settings, **data_vars)
        groups['data'] = ['n2']
    cluster.bed.write_inventory(inventory, groups, nodes)
    return inventory


def deploy_settings(project, **host_vars):
    """The app role's settings of the tests (deploy.yml on n1), and host_vars."""
    cluster = project.cluster
    return {
        'app_backend': 'swarm',
        'app_swarm_resolve_image': 'never',
        'app_swarm_update_monitor': '5s',
        'app_edge_enabled': False,
        'common_config_root': os.path.join(cluster.bed.root, 'etc'),
        'common_state_dir': project.state_dir,
        'app_config_dir': project.directory,
        'app_project': PROJECT,
        'app_image_name': APP_IMAGE,
        'app_jwt_secret': JWT + '-rotated',
        'app_postgres_password': SECRETS[1],
        'app_redis_password': SECRETS[2],
        'app_postgres_image': 'auraspeak-offline/postgres:15',
        'app_redis_image': 'auraspeak-offline/redis:7.0',
        **host_vars,
    }


def backup_settings(cluster):
    """The backup role's settings on the data node: everything under the bed, jobs in a cron file nobody runs."""
    root = cluster.bed.root
    return {
        'backup_root': os.path.join(root, 'backups'),
        'backup_lib_dir': os.path.join(root, 'lib'),
        'backup_bin_dir': os.path.join(root, 'bin'),
        'backup_pgbackrest_cipher_pass': PGBACKREST_PASS,
        'backup_scheduler': 'cron',
        'backup_cron_file': os.path.join(root, 'cron', 'auraspeak-backup'),
        'backup_log_file': os.path.join(root, 'backup.log'),
    }


def archive_settings(cluster):
    """PostgreSQL archiving its WAL to pgBackRest, its repository under the bed (deploy.yml and the backup role)."""
    return {
        'app_postgres_wal_archive': True,
        'app_postgres_pgbackrest_repo_path': os.path.join(cluster.bed.root, 'backups', 'pgbackrest'),
    }


def run_deploy_yml(inventory, version, check=False, **extra):
    return run_on_cluster('playbooks/deploy.yml', inventory, check, app_version=version, **extra)


def run_on_cluster(playbook, inventory, check=False, **extra_vars):
    cmd = playbook_command(playbook, extra_vars, check=check, inventory=inventory)
    completed = subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=900, check=False)
    return Run(completed)


def start_on_cluster(playbook, inventory, **extra_vars):
    """run_on_cluster in the background: finish_on_cluster waits for it and gives its Run."""
    cmd = playbook_command(playbook, extra_vars, inventory=inventory)
    return subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish_on_cluster(process):
    out, err = process.communicate(timeout=900)
    return Run(subprocess.CompletedProcess(process.args, process.returncode, out, err))


def release_image(cluster, version):
    """The 1.0.0 image under another tag, on the app nodes: a new release to roll out."""
    sh('docker', 'tag', APP_IMAGE + ':1.0.0', APP_IMAGE + ':' + version)
    cluster.bed.load_images(APP_IMAGE + ':' + version, nodes=['n2', 'n3'])


def edge_settings(cluster):
    """The edge role on n1: plain HTTP to the app's Swarm service on the cluster's network."""
    return {
        'edge_backend': 'swarm',
        'edge_cluster_network': NETWORK,
        'edge_image': NGINX,
        'edge_tls_mode': 'none',
        'edge_metrics_enabled': False,
        'common_config_root': os.path.join(cluster.bed.root, 'etc'),
        'edge_sites': [{'name': 'app', 'server_names': ['_'], 'upstream': PROJECT + '_app'}],
    }


def run_edge(cluster, check=False):
    inventory = os.path.join(cluster.bed.root, 'edge-hosts.yml')
    cluster.bed.write_inventory(inventory, {'edge': ['n1']}, {'n1': edge_settings(cluster)})
    playbook = 'playbooks/edge.yml'
    cmd = playbook_command(playbook, {'edge_hosts': 'edge'}, check, inventory=inventory)
    return Run(subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=900, check=False))


def edge_status(cluster, path):
    reply = cluster.bed.in_lan('curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '-m', '5', EDGE_URL + path,
                               check=False)  # fmt: skip
    return reply.stdout


def start_load(rate, seconds, path='/version'):
    """open_load on the bed's LAN, a new connection per request to the edge; stop_load ends it and reports."""
    script = os.path.join(ROOT, 'tests', 'integration', 'open_load.py')
    argv = ['ip', 'netns', 'exec', LAN_NS, sys.executable, script, EDGE_URL + path]
    argv += ['--rate', str(rate), '--seconds', str(seconds)]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def under_load(action, rate=50, path='/version'):
    """action() while open_load sends rate requests a second through the edge: (its result, the load's report)."""
    load = start_load(rate=rate, seconds=600, path=path)
    try:
        result = action()
    finally:
        report = stop_load(load)
    return result, report


def stop_load(load):
    load.terminate()
    out, err = load.communicate(timeout=120)
    assert out, err
    return json.loads(out)


# The monitoring stack on the manager n1 (monitoring role, app_backend swarm): its images, its
# published ports in n1's namespace; with the monitoring tests' profile (short intervals).
# The edge runs on n1 but is not monitored on Swarm: no nginx exporter.
MONITORING_IMAGES = {
    **{name: image for name, image in OFFLINE_IMAGES.items() if name != 'monitoring_nginx_exporter_image'},
    'monitoring_docker_api_proxy_image': NGINX,
}
PROMETHEUS_PORT, ALERTMANAGER_PORT = 19090, 19093


def monitoring_settings(project):
    """The monitoring role's settings on n1, with the monitoring tests' short intervals."""
    cluster = project.cluster
    n1 = cluster.node('n1')
    root = cluster.bed.root
    return {
        'app_backend': 'swarm',
        'app_project': PROJECT,
        'app_postgres_password': SECRETS[1],
        'app_redis_password': SECRETS[2],
        'common_config_root': os.path.join(root, 'etc'),
        'common_state_dir': project.state_dir,
        'docker_host_daemon_extra': {'metrics-addr': n1.metrics_addr},
        'monitoring_docker_socket': n1.engine.host.replace('unix://', ''),
        'monitoring_prometheus_port': PROMETHEUS_PORT,
        'monitoring_alertmanager_port': ALERTMANAGER_PORT,
        'monitoring_probe_urls': [],
        **TEST_PROFILE,
        'monitoring_alert_swarm_node_down_for': '4s',
        **MONITORING_IMAGES,
    }


def write_site_inventory(project):
    """site.yml's inventory: the production example's groups on the bed, each part's settings as the tests above had.

    Every node gets all the settings (group_vars/all in a real inventory) and its own engine's files; n1 is the
    manager and the edge node, n2 the data node.
    """
    cluster = project.cluster
    shared = dict(PLAIN, **backup_settings(cluster), **archive_settings(cluster), **edge_settings(cluster))
    shared.update(deploy_settings(project, app_edge_enabled=True, app_cluster_network=NETWORK))
    shared.update(monitoring_settings(project))
    host_vars = {
        name: dict(
            shared, **docker_host_settings(node), **firewall_settings(cluster, node), swarm_node_roles=ROLES[name]
        )
        for name, node in cluster.bed.nodes.items()
    }
    # Each node's node_exporter reads a directory of its own (the nodes share this machine's files): the data node's
    # is where its backup jobs write (the role's default), the others' are empty.
    for name in ('n1', 'n3'):
        host_vars[name]['monitoring_textfile_dir'] = os.path.join(cluster.bed.root, 'metrics-' + name)
    groups = dict(GROUPS, edge_nodes=['n1'], data_nodes=['n2'], app_nodes=['n2', 'n3'])
    return cluster.bed.write_inventory(os.path.join(cluster.bed.root, 'site-hosts.yml'), groups, host_vars)


def firewall_settings(cluster, node):
    """The firewall role on a bed node: eth0 (the LAN) filtered, Swarm's ports open to the nodes only, no SSH."""
    return {
        'firewall_public_interface': 'eth0',
        'firewall_swarm_peers': [other.address for other in cluster.bed.nodes.values()],
        'firewall_swarm_peer_tcp_ports': [9323],
        'firewall_ssh_allow': [],
        # The nodes share this machine's files: each node's rules file of its own.
        'firewall_rules_path': os.path.join(node.engine.root, 'firewall.nft'),
    }


def tcp_connects(netns, address, port):
    """Whether a TCP connection from the namespace netns to address:port is accepted within 3 s."""
    code = 'import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3).close()'
    return sh('ip', 'netns', 'exec', netns, sys.executable, '-c', code, address, str(port), check=False).returncode == 0


def docker_host_settings(node):
    """The docker_host role on a bed node: its engine's own daemon.json, pid file and metrics address, no restart."""
    return {
        'docker_host_daemon_extra': {'metrics-addr': node.metrics_addr},
        'docker_host_manage_daemon': 'true',
        'docker_host_daemon_json_path': node.engine.config,
        'docker_host_pidfile': node.engine.pidfile,
        'docker_host_restart_engine': False,
        'docker_host_boot_unit': 'false',
    }


def monitoring_api(cluster, port, path):
    """The JSON answer of Prometheus or Alertmanager, published on 127.0.0.1 in n1's namespace."""
    reply = sh('ip', 'netns', 'exec', cluster.node('n1').netns, 'curl', '-sf', '-m', '5',
               'http://127.0.0.1:%d%s' % (port, path), check=False)  # fmt: skip
    return json.loads(reply.stdout) if reply.returncode == 0 else None


def prometheus_query(cluster, query):
    """The series of an instant query to Prometheus on n1 ([] while it has none)."""
    answer = monitoring_api(cluster, PROMETHEUS_PORT, '/api/v1/query?' + urllib.parse.urlencode({'query': query}))
    return answer['data']['result'] if answer else []


def active_targets(cluster):
    """{job: [target, ...]} of Prometheus on n1, each with its labels and health."""
    answer = monitoring_api(cluster, PROMETHEUS_PORT, '/api/v1/targets?state=active') or {'data': {'activeTargets': []}}
    jobs = {}
    for target in answer['data']['activeTargets']:
        jobs.setdefault(target['labels']['job'], []).append(target)
    return jobs


def firing_alerts(cluster, name):
    """The alerts called name that Alertmanager on n1 has received and holds active."""
    answer = monitoring_api(cluster, ALERTMANAGER_PORT, '/api/v2/alerts?active=true') or []
    return [alert for alert in answer if alert['labels'].get('alertname') == name]
