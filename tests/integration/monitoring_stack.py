"""A deploy-test stack with the monitoring role on top, for the monitoring tests.

The app stack is a deploy-test Stack (its own project, edge and network) with
HTTPS on a CA of its own; the monitoring stack is its own Compose project with
Prometheus and Alertmanager on free loopback ports and short intervals (the
test profile), so an alert fires within seconds instead of minutes.
"""

from __future__ import annotations

import json
import os
import ssl
import time
import urllib.parse
import urllib.request

from deploy_stack import Stack, docker, free_port, write_inventory
from playbook_runs import run_playbook

from ansible_collections.auraspeak.ops.plugins.module_utils._backup.state import render_metrics

OFFLINE_IMAGES = {
    'monitoring_prometheus_image': 'auraspeak-offline/prometheus:2.42',
    'monitoring_alertmanager_image': 'auraspeak-offline/alertmanager:0.25',
    'monitoring_node_exporter_image': 'auraspeak-offline/node-exporter:1.5',
    'monitoring_postgres_exporter_image': 'auraspeak-offline/postgres-exporter:0.11',
    'monitoring_redis_exporter_image': 'auraspeak-offline/redis-exporter:1.45',
    'monitoring_nginx_exporter_image': 'auraspeak-offline/nginx-exporter:0.11',
    'monitoring_blackbox_exporter_image': 'auraspeak-offline/blackbox-exporter:0.23',
}

# The test profile: the offline images only (no Grafana, Loki, Alloy or cAdvisor here), and seconds
# where production waits minutes.
TEST_PROFILE = {
    'monitoring_pull': 'never',
    'monitoring_grafana_enabled': False,
    'monitoring_loki_enabled': False,
    'monitoring_alloy_enabled': False,
    'monitoring_cadvisor_enabled': False,
    'monitoring_scrape_interval': '2s',
    'monitoring_scrape_timeout': '2s',
    'monitoring_evaluation_interval': '2s',
    'monitoring_discovery_refresh_interval': '2s',
    'monitoring_alertmanager_group_wait': '1s',
    'monitoring_alertmanager_group_interval': '2s',
}


class MonitoredStack(Stack):
    def __init__(self, name, workdir, image):
        super().__init__(name, workdir)
        self.image = image
        self.https_port = free_port()
        self.prometheus_port = free_port()
        self.alertmanager_port = free_port()
        self.monitoring_project = name + '-monitoring'
        self.monitoring_dir = os.path.join(workdir, 'monitoring')
        self.textfile_dir = os.path.join(workdir, 'metrics')
        self.tls_dir = os.path.join(workdir, 'tls')

    def host_vars(self):
        values = super().host_vars()
        values.update(
            {
                'edge_tls_mode': 'selfsigned',
                'edge_tls_dir': self.tls_dir,
                'edge_tls_server_names': ['localhost'],
                'edge_https_port': self.https_port,
                'monitoring_config_dir': self.monitoring_dir,
                'monitoring_textfile_dir': self.textfile_dir,
                'monitoring_prometheus_port': self.prometheus_port,
                'monitoring_alertmanager_port': self.alertmanager_port,
                'monitoring_probe_urls': ['https://%s/healthz' % self.edge],
                'monitoring_probe_tls_server_name': 'localhost',
                'monitoring_probe_ca_file': os.path.join(self.tls_dir, 'ca.crt'),
            }
        )
        return values

    def group_vars(self):
        return {
            'app_image_name': self.image,
            'monitoring_enabled': True,
            **OFFLINE_IMAGES,
            **TEST_PROFILE,
            'monitoring_alert_instance_down_for': '6s',
        }

    # -- set up and tear down ----------------------------------------------------

    def create(self, version='1.0.0'):
        """The app stack with site.yml, then the monitoring stack (site.yml's last play)."""
        self.destroy()
        os.makedirs(self.textfile_dir, exist_ok=True)
        self.write_backup_metrics()
        self.inventory = write_inventory(os.path.join(self.dir, 'hosts.yml'), [self], self.group_vars())
        run = run_playbook('playbooks/site.yml', {'app_version': version}, inventory=self.inventory)
        assert run.rc == 0, run.failures(self.name) or run.stderr[-3000:]
        return run

    def create_or_clean_up(self, version='1.0.0'):
        try:
            return self.create(version)
        except BaseException:
            self.destroy()
            raise

    def destroy(self):
        compose_file = os.path.join(self.monitoring_dir, 'compose.yaml')
        if os.path.exists(compose_file):
            docker(
                'compose', '--project-directory', self.monitoring_dir, '--file', compose_file,
                'down', '--volumes', '--remove-orphans', check=False,
            )  # fmt: skip
        ids = docker(
            'ps', '-aq', '--filter', 'label=com.docker.compose.project=%s' % self.monitoring_project, check=False
        ).stdout.split()
        if ids:
            docker('rm', '--force', '--volumes', *ids, check=False)
        docker('network', 'rm', self.monitoring_project + '_monitoring', check=False)
        super().destroy()

    def monitoring(self, extra_vars=None, check=False, diff=False):
        return run_playbook('playbooks/monitoring.yml', extra_vars, check=check, diff=diff, inventory=self.inventory)

    def write_backup_metrics(self):
        """What the backup role's jobs write after a good dump, rendered by the backup code itself."""
        now = int(time.time())
        jobs = {'dump': {'last_success': now, 'last_attempt': now, 'result': 'success', 'duration': 3, 'size': 1024}}
        with open(os.path.join(self.textfile_dir, 'auraspeak_backup.prom'), 'w', encoding='utf-8') as handle:
            handle.write(render_metrics(self.name, jobs))

    def get_https(self, path='/version'):
        """An HTTPS request through the edge, verified against the stack's own CA."""
        return self._https(path)[0]

    def served_version(self):
        """The release the edge serves (over HTTPS: plain HTTP redirects on this stack)."""
        status, body = self._https('/version')
        return json.loads(body)['version'] if status == 200 else None

    def _https(self, path):
        context = ssl.create_default_context(cafile=os.path.join(self.tls_dir, 'ca.crt'))
        url = 'https://localhost:%d%s' % (self.https_port, path)
        with urllib.request.urlopen(url, timeout=10, context=context) as response:
            return response.status, response.read()

    # -- Prometheus and Alertmanager ------------------------------------------------

    def api(self, port, path, params=None):
        query = ('?' + urllib.parse.urlencode(params)) if params else ''
        with urllib.request.urlopen('http://127.0.0.1:%d%s%s' % (port, path, query), timeout=10) as response:
            return json.loads(response.read())

    def targets(self):
        return self.api(self.prometheus_port, '/api/v1/targets', {'state': 'active'})['data']['activeTargets']

    def query(self, expr):
        return self.api(self.prometheus_port, '/api/v1/query', {'query': expr})['data']['result']

    def rules(self):
        groups = self.api(self.prometheus_port, '/api/v1/rules')['data']['groups']
        return {rule['name']: rule for group in groups for rule in group['rules']}

    def alerts(self, name):
        """Alerts of this project Alertmanager holds under alertname name."""
        alerts = self.api(self.alertmanager_port, '/api/v2/alerts', {'filter': 'alertname="%s"' % name})
        return [a for a in alerts if a['labels'].get('project') == self.name]

    def container(self, service):
        ids = docker(
            'ps', '-q', '--filter', 'label=com.docker.compose.project=%s' % self.monitoring_project,
            '--filter', 'label=com.docker.compose.service=%s' % service,
        ).stdout.split()  # fmt: skip
        assert len(ids) == 1, (service, ids)
        return ids[0]

    def started_at(self, service):
        return docker('inspect', '--format', '{{.State.StartedAt}}', self.container(service)).stdout.strip()


def wait_for(predicate, timeout, interval=1.0, what='condition'):
    """predicate()'s first truthy value within timeout seconds; its last value in the error otherwise."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError('%s did not hold within %ss; last: %r' % (what, timeout, value))
