"""A Docker Swarm test bed on one machine: engines in network namespaces, joined by a bridge.

Each node is a network namespace (itest-sw-<node>) with its own dockerd
(netns_engine: own data root, exec root, socket, containerd namespace, cgroup
parent) and its own host name (a UTS namespace), so `docker node ls` tells the
nodes apart. A LAN namespace (itest-sw-lan) holds the bridge every node's veth
is plugged into, on 192.0.2.0/24 (a documentation range): node N is 192.0.2.N,
the LAN itself 192.0.2.254, where clients such as a load generator run.

Ansible reaches every node as a host of its own: a local connection whose
Python runs inside the node's namespace with DOCKER_HOST at the node's engine
(ansible_python_interpreter is a script that enters the node). So a role sees, like on a real
machine, one engine at the default address and the node's own network.

Swarm needs VXLAN (overlay networks), which this kernel has; it has no IPVS,
so the bed has no routing mesh (docs/scaling.md).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys

import yaml
from netns_engine import NETNS_SYSFS, NetnsEngine, cgroup_pids, kill_pids, netns_pids, remove_cgroups, sh
from throwaway_engine import new_root

PREFIX = 'itest-sw-'
LAN_NS = PREFIX + 'lan'
BRIDGE = 'swbr0'
LAN_ADDR = '192.0.2.254'


class NodeEngine(NetnsEngine):
    """The engine of one node: in the node's network namespace, under the node's host name."""

    def __init__(self, root, netns, hostname):
        super().__init__(root, netns)
        self.hostname = hostname
        # The containerd namespace and cgroup parent: the bed's name and the node's (itest-sw-<hex>-n1).
        self.name = '%s-%s' % (os.path.basename(os.path.dirname(root)), os.path.basename(root))

    def argv(self):
        return [
            'unshare', '--mount', '--uts', '--propagation', 'private', '--',
            'sh', '-c', 'hostname "$0" && exec "$@"', self.hostname,
            'nsenter', '--net=/run/netns/' + self.netns, '--',
            'sh', '-c', NETNS_SYSFS, 'netns-dockerd', self.root,
            'dockerd', *self.dockerd_flags(),
            '--iptables=true',
        ]  # fmt: skip


class Node:
    def __init__(self, name, number, root):
        self.name = name
        self.netns = PREFIX + name
        self.address = '192.0.2.%d' % number
        self.metrics_addr = self.address + ':9323'
        self.engine = NodeEngine(root, self.netns, PREFIX + name)

    def docker(self, *args, check=True, **kwargs):
        return self.engine.docker(*args, check=check, **kwargs)

    def swarm(self):
        """The engine's Swarm section of `docker info`."""
        return json.loads(self.docker('info', '--format', '{{json .Swarm}}').stdout)

    def interpreter(self):
        """A Python for Ansible that runs inside the node: its namespace, its engine at the default address."""
        path = os.path.join(self.engine.root, 'python')
        if not os.path.exists(path):
            with open(path, 'w', encoding='utf-8') as handle:
                handle.write(
                    '#!/bin/sh\nexec ip netns exec %s env DOCKER_HOST=%s %s "$@"\n'
                    % (self.netns, self.engine.host, sys.executable)
                )
            os.chmod(path, 0o755)
        return path


class SwarmBed:
    def __init__(self, names=('n1', 'n2', 'n3')):
        self.root = new_root(PREFIX)
        self.nodes = {name: Node(name, number, os.path.join(self.root, name)) for number, name in enumerate(names, 1)}

    def create(self):
        remove_everything()
        os.makedirs(self.root, mode=0o700)
        sh('ip', 'netns', 'add', LAN_NS)
        self.in_lan('ip', 'link', 'set', 'lo', 'up')
        self.in_lan('ip', 'link', 'add', BRIDGE, 'type', 'bridge')
        self.in_lan('ip', 'address', 'add', LAN_ADDR + '/24', 'dev', BRIDGE)
        self.in_lan('ip', 'link', 'set', BRIDGE, 'up')
        for node in self.nodes.values():
            port = 'sw' + node.name
            sh('ip', 'netns', 'add', node.netns)
            sh('ip', 'link', 'add', 'eth0', 'netns', node.netns, 'type', 'veth', 'peer', 'name', port, 'netns', LAN_NS)
            self.in_lan('ip', 'link', 'set', port, 'master', BRIDGE)
            self.in_lan('ip', 'link', 'set', port, 'up')
            for command in (
                ['ip', 'link', 'set', 'lo', 'up'],
                ['ip', 'address', 'add', node.address + '/24', 'dev', 'eth0'],
                ['ip', 'link', 'set', 'eth0', 'up'],
                ['ip', 'route', 'add', 'default', 'via', LAN_ADDR],
                ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1'],
            ):
                sh('ip', 'netns', 'exec', node.netns, *command)
            os.makedirs(node.engine.root, mode=0o700)
            # Engine metrics on the node's address, as a manager's engine gives them to Prometheus (monitoring role).
            with open(node.engine.config, 'w', encoding='utf-8') as handle:
                json.dump({'metrics-addr': node.metrics_addr}, handle)
            node.engine.start()

    def in_lan(self, *argv, **kwargs):
        return sh('ip', 'netns', 'exec', LAN_NS, *argv, **kwargs)

    def load_images(self, *images, nodes=None):
        """Copy images from the machine's engine into the nodes named, or every node (nothing is pulled)."""
        saved = subprocess.run(['docker', 'save', *images], capture_output=True, check=True, timeout=600)
        for node in [self.nodes[name] for name in nodes] if nodes else self.nodes.values():
            load = ['docker', '-H', node.engine.host, 'load', '-q']
            subprocess.run(load, input=saved.stdout, capture_output=True, check=True, timeout=600)

    def write_inventory(self, path, groups, host_vars=None):
        """An inventory of the nodes: groups maps a group name to node names; host_vars per node name."""
        hosts = {
            name: dict(
                ansible_connection='local',
                ansible_python_interpreter=node.interpreter(),
                **(host_vars or {}).get(name, {}),
            )
            for name, node in self.nodes.items()
        }
        document = {
            'all': {
                'hosts': hosts,
                'children': {group: {'hosts': {name: {} for name in members}} for group, members in groups.items()},
            }
        }
        with open(path, 'w', encoding='utf-8') as handle:
            yaml.safe_dump(document, handle)
        return path

    def destroy(self):
        for node in self.nodes.values():
            node.engine.destroy()
        remove_everything()


def remove_everything():
    """What a bed creates, also what a killed run left behind."""
    for config in glob.glob('/tmp/%s*/*/daemon.json' % PREFIX):
        node_root = os.path.dirname(config)
        NodeEngine(node_root, PREFIX + os.path.basename(node_root), '').destroy()
    kill_pids(cgroup_pids(PREFIX + '*'))
    remove_cgroups(PREFIX + '*')
    for netns in sorted(os.listdir('/run/netns')) if os.path.isdir('/run/netns') else []:
        if netns.startswith(PREFIX):
            kill_pids(netns_pids(netns))
            sh('ip', 'netns', 'delete', netns, check=False)
    for root in glob.glob('/tmp/%s*' % PREFIX):
        shutil.rmtree(root, ignore_errors=True)
