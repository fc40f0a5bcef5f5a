# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to the auraspeak.ops collection: its API may change without notice.
"""Keep a replicated service's tasks spread over the nodes it may run on.

Swarm starts a new task on the eligible node with the fewest tasks of the
service, counting the old tasks a start-first update still runs, and never
moves a running task. So a rolling update can end with every task on one node
(which node depends on the order Swarm updates them in), and so does a lost
node that comes back. Losing that node then stops the service until Swarm has
started its tasks elsewhere, tens of seconds.

The spread comes back without losing capacity: one task more, which Swarm
starts on the eligible node with the fewest (and, once healthy, Swarm's DNS
lists it), then one task fewer, which Swarm takes from a node with the most.
"""

from __future__ import annotations

ROLE_LABEL = 'auraspeak.%s'


def eligible_nodes(nodes, role):
    """{node id: host name} of the nodes Swarm may place the role's tasks on now: labelled, ready, active."""
    label = ROLE_LABEL % role
    return {
        node['ID']: node['Description']['Hostname']
        for node in nodes
        if (node['Spec'].get('Labels') or {}).get(label) == 'true'
        and node['Spec'].get('Availability') == 'active'
        and node['Status'].get('State') == 'ready'
    }


def task_counts(tasks, eligible):
    """{node id: running tasks there}, every eligible node counted, tasks elsewhere too."""
    counts = dict.fromkeys(eligible, 0)
    for task in tasks:
        if task.get('Status', {}).get('State') == 'running' and task.get('NodeID'):
            counts[task['NodeID']] = counts.get(task['NodeID'], 0) + 1
    return counts


def skew(counts):
    """How uneven the spread is: the most tasks on a node less the fewest (0 or 1 is as even as it gets)."""
    return max(counts.values()) - min(counts.values()) if counts else 0


def by_host(counts, names):
    """The counts keyed by host name, for people; nodes without tasks left out."""
    return {names.get(node, node): count for node, count in sorted(counts.items()) if count}


class Spreader:
    """Spreads a service's tasks by scaling it up by one and back, until the spread is even or stops improving.

    wait_running(service_id, replicas) returns once exactly that many tasks run
    (healthy, where the image has a health check) or raises; the engine scales and lists.
    """

    def __init__(self, engine, wait_running):
        self.engine = engine
        self.wait_running = wait_running

    def placement(self, service, role):
        """(counts, host names) of the service's running tasks over the role's eligible nodes."""
        nodes = self.engine.nodes()
        names = {node['ID']: node['Description']['Hostname'] for node in nodes}
        eligible = eligible_nodes(nodes, role)
        return task_counts(self.engine.tasks(service['ID']), eligible), names

    def spread(self, service, role, replicas):
        """Even out the service's tasks; {before, after} by host name when it moved any, else None."""
        counts, names = self.placement(service, role)
        before = counts
        # Each round moves at most one task; a round that does not lower the skew ends it.
        for _round in range(replicas):
            if skew(counts) < 2:
                break
            self.engine.scale_service(service['ID'], replicas + 1)
            try:
                self.wait_running(service['ID'], replicas + 1)
            finally:
                self.engine.scale_service(service['ID'], replicas)
                self.wait_running(service['ID'], replicas)
            after, names = self.placement(service, role)
            if skew(after) >= skew(counts):
                counts = after
                break
            counts = after
        if counts == before:
            return None
        return {'before': by_host(before, names), 'after': by_host(counts, names)}
