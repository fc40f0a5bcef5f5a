"""stack_spread: which nodes count, how uneven a spread is, and the one-more-one-fewer rounds.

The rounds run here against a small model of Swarm's two placement rules (a new
task on the eligible node with the fewest, a scale-down from a node with the
most); test_swarm.py runs them on a real cluster.
"""

import pytest

from ansible_collections.auraspeak.ops.plugins.module_utils._deploy.stack_spread import (
    Spreader,
    eligible_nodes,
    skew,
    task_counts,
)


def node(node_id, labels=None, availability='active', state='ready'):
    spec = {'Labels': labels if labels is not None else {'auraspeak.app': 'true'}, 'Availability': availability}
    return {'ID': node_id, 'Description': {'Hostname': 'host-' + node_id}, 'Spec': spec, 'Status': {'State': state}}


def task(node_id, state='running'):
    return {'NodeID': node_id, 'Status': {'State': state}}


def test_only_labelled_ready_active_nodes_are_eligible():
    nodes = [
        node('a'),
        node('b', labels={'auraspeak.data': 'true'}),
        node('c', availability='drain'),
        node('d', state='down'),
        node('e', labels={'auraspeak.app': 'false'}),
        node('f', labels={}),
    ]
    assert eligible_nodes(nodes, 'app') == {'a': 'host-a'}
    assert eligible_nodes(nodes, 'data') == {'b': 'host-b'}


def test_counts_fill_in_eligible_nodes_without_tasks_and_skip_tasks_not_running():
    counts = task_counts([task('a'), task('a'), task('b', state='starting'), task('x')], {'a': 'ha', 'b': 'hb'})
    assert counts == {'a': 2, 'b': 0, 'x': 1}
    assert skew(counts) == 2
    assert skew({'a': 2, 'b': 1}) == 1
    assert skew({}) == 0


class SwarmModel:
    """Tasks per node under Swarm's placement rules, behind the engine calls the spreader makes."""

    def __init__(self, placed, nodes):
        self.placed = dict(placed)
        self.node_list = nodes
        self.scaled = []

    def nodes(self):
        return self.node_list

    def tasks(self, _service_id):
        return [task(node_id) for node_id, count in self.placed.items() for _copy in range(count)]

    def scale_service(self, _service_id, replicas):
        self.scaled.append(replicas)
        eligible = eligible_nodes(self.node_list, 'app')
        while sum(self.placed.values()) < replicas:
            fewest = min(eligible, key=lambda n: (self.placed.get(n, 0), n))
            self.placed[fewest] = self.placed.get(fewest, 0) + 1
        while sum(self.placed.values()) > replicas:
            most = max(self.placed, key=lambda n: (self.placed[n], n))
            self.placed[most] -= 1


def spreader(model, fail_at=None):
    def wait_running(_service_id, replicas):
        if replicas == fail_at:
            raise RuntimeError('task did not run')

    return Spreader(model, wait_running)


def test_all_tasks_on_one_node_are_spread_without_dropping_below_the_replicas():
    model = SwarmModel({'b': 2}, [node('a'), node('b')])
    change = spreader(model).spread({'ID': 's'}, 'app', 2)
    assert change == {'before': {'host-b': 2}, 'after': {'host-a': 1, 'host-b': 1}}
    # Up first, then down: never fewer tasks than the service's replicas.
    assert model.scaled == [3, 2]


def test_several_rounds_until_even_on_three_nodes():
    model = SwarmModel({'c': 4}, [node('a'), node('b'), node('c')])
    change = spreader(model).spread({'ID': 's'}, 'app', 4)
    assert sorted(change['after'].values()) == [1, 1, 2]
    assert model.scaled == [5, 4, 5, 4]


def test_an_even_spread_and_a_node_that_is_down_change_nothing():
    even = SwarmModel({'a': 1, 'b': 1}, [node('a'), node('b')])
    assert spreader(even).spread({'ID': 's'}, 'app', 2) is None and even.scaled == []
    # The other app node is down: two tasks on the one left is as even as it gets.
    lost = SwarmModel({'b': 2}, [node('a', state='down'), node('b')])
    assert spreader(lost).spread({'ID': 's'}, 'app', 2) is None and lost.scaled == []


def test_a_task_that_does_not_run_scales_back_and_the_error_goes_up():
    model = SwarmModel({'b': 2}, [node('a'), node('b')])
    with pytest.raises(RuntimeError):
        spreader(model, fail_at=3).spread({'ID': 's'}, 'app', 2)
    assert model.scaled == [3, 2]
