"""Swarm benchmark: failed requests through the edge of a three-node cluster, in an update and when a worker is lost.

    .venv/bin/python bench/swarm_bench.py                          # 150 req/s, every scenario
    .venv/bin/python bench/swarm_bench.py --rate 150 --only steady,update
    .venv/bin/python bench/swarm_bench.py --output /tmp/swarm.json

The cluster of the integration tests (tests/integration/swarm_stack.py), made
by the collection's own playbooks: swarm.yml, the edge role on n1 (the manager)
with edge_backend swarm, deploy.yml with app_backend swarm. PostgreSQL and
Redis run on n2, the app's --replicas tasks on n2 and n3. The load
(tests/integration/open_load.py: open loop, a new connection per request,
GET /version) runs on the bed's LAN and reaches the edge at n1's address.

steady       --seconds with nothing happening: the baseline of the same run.
update       deploy.yml rolls the app to a new version (start-first, one task
             at a time): failed requests, goal 0.
worker-lost  n3 goes at once, as in a power cut: its link goes down and its
             engine, containerd and the app's tasks get SIGKILL. Failed
             requests (goal: those in flight on n3), the seconds until Swarm
             runs every replica again on the other nodes (full capacity), and
             the window of failed and slow answers, from the loss. Last,
             because n3 stays lost.

Every process of the bed shares this machine's CPUs with the load generator:
the figures are for the bed, and the steady window is their baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'tests', 'integration'))

from netns_engine import cgroup_pids, kill_pids, netns_pids, sh, wait_until  # noqa: E402
from swarm_bed import SwarmBed  # noqa: E402
from swarm_stack import (  # noqa: E402
    DEBIAN,
    NETWORK,
    NGINX,
    PROJECT,
    Cluster,
    Project,
    edge_status,
    load_app_images,
    remove_app_images,
    run_deploy_yml,
    run_edge,
    start_load,
    stop_load,
    write_deploy_inventory,
)

SCENARIOS = ('steady', 'update', 'worker-lost')


def summary(report):
    keys = ('requests', 'failed', 'rate', 'outcomes', 'slow', 'failed_between', 'slow_between', 'first_errors')
    return {key: report[key] for key in keys}


def relative(window, offset):
    """A [first, last] window of the load's seconds, as seconds after an event offset seconds into the load."""
    return [round(value - offset, 2) for value in window] if window else None


class Bench:
    def __init__(self, bed, rate, seconds, replicas):
        self.cluster = Cluster(bed)
        self.project = Project(self.cluster)
        self.rate, self.seconds, self.replicas = rate, seconds, replicas
        self.inventory = None
        self.version = 1

    def setup(self):
        run = self.cluster.run()
        assert run.rc == 0, run.stdout[-3000:]
        load_app_images(self.cluster, versions=('1.0.0', '2.0.0', '3.0.0'))
        edge = run_edge(self.cluster)
        assert edge.rc == 0, edge.stdout[-3000:]
        self.inventory = write_deploy_inventory(
            self.project, app_edge_enabled=True, app_cluster_network=NETWORK, app_replicas=self.replicas
        )
        self.deploy()
        wait_until(lambda: edge_status(self.cluster, '/version') == '200', 60, 'the edge to answer from the app')

    def deploy(self):
        version = '%d.0.0' % self.version
        begun = time.monotonic()
        run = run_deploy_yml(self.inventory, version)
        assert run.rc == 0, run.stdout[-3000:]
        self.version += 1
        return round(time.monotonic() - begun, 1)

    def running_tasks(self, excluding=()):
        listed = self.project.tasks('app')
        return sum(count for node, count in listed.items() if node not in excluding)

    def steady(self):
        load = start_load(self.rate, self.seconds)
        time.sleep(self.seconds)
        return summary(stop_load(load))

    def update(self):
        load = start_load(self.rate, 3600)
        time.sleep(5)
        try:
            seconds = self.deploy()
            time.sleep(5)
        finally:
            report = stop_load(load)
        # Where the tasks ended: stack_deploy spreads them over the app nodes after the update.
        tasks = self.project.tasks('app')
        return dict(summary(report), deploy_seconds=seconds, versions=report['versions'], tasks=tasks)

    def worker_lost(self):
        node = self.cluster.node('n3')
        placement = self.project.tasks('app')
        assert self.running_tasks() == self.replicas and placement.get('n3'), placement
        self.cluster.node_id('n3')  # asked while n3 is there
        load = start_load(self.rate, 3600)
        time.sleep(10)
        lost_at = time.time()
        sh('ip', 'netns', 'exec', node.netns, 'ip', 'link', 'set', 'eth0', 'down')
        kill_pids(netns_pids(node.netns) + cgroup_pids(node.engine.name))
        # Seconds after the loss until: the manager lists n3 down, Swarm's DNS (asked
        # in the edge) no longer lists n3's tasks, every replica runs on the other nodes.
        events = {
            'node_down': lambda: self.cluster.manager_view()['n3'][1] == 'down',
            'dns_without_n3': lambda: self.cluster.edge_dns_without('n3'),
            'full_capacity': lambda: self.running_tasks(excluding=('n3',)) == self.replicas,
        }
        seen = {}
        try:
            deadline = time.monotonic() + 300
            while len(seen) < len(events) and time.monotonic() < deadline:
                for event, happened in events.items():
                    if event not in seen and happened():
                        seen[event] = round(time.time() - lost_at, 1)
                time.sleep(0.5)
            time.sleep(20)
        finally:
            report = stop_load(load)
        offset = lost_at - report['started_at']
        result = summary(report)
        result.update(
            tasks_before_loss=placement,
            seconds_after_loss=seen,
            failed_after_loss=relative(report['failed_between'], offset),
            slow_after_loss=relative(report['slow_between'], offset),
        )
        return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--rate', type=float, default=150)
    parser.add_argument('--seconds', type=float, default=60, help='length of the steady window')
    parser.add_argument('--replicas', type=int, default=4)
    parser.add_argument('--only', default=','.join(SCENARIOS))
    parser.add_argument('--output')
    options = parser.parse_args()
    only = options.only.split(',')
    unknown = set(only) - set(SCENARIOS)
    if unknown:
        parser.error('unknown scenarios: %s (known: %s)' % (', '.join(sorted(unknown)), ', '.join(SCENARIOS)))

    bed = SwarmBed()
    results = {'rate': options.rate, 'replicas': options.replicas, 'project': PROJECT}
    try:
        bed.create()
        bed.load_images(DEBIAN, NGINX)
        bench = Bench(bed, options.rate, options.seconds, options.replicas)
        bench.setup()
        # worker-lost last: n3 stays lost.
        for name in [scenario for scenario in SCENARIOS if scenario in only]:
            results[name] = getattr(bench, name.replace('-', '_'))()
            print(json.dumps({name: results[name]}), flush=True)
    finally:
        bed.destroy()
        remove_app_images()
    text = json.dumps(results, indent=2)
    if options.output:
        with open(options.output, 'w', encoding='utf-8') as handle:
            handle.write(text + '\n')
    print(text)


if __name__ == '__main__':
    main()
