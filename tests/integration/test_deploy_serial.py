"""deploy.yml across two inventory hosts, rolled one at a time (serial 1).

The two hosts are simulated on this one engine: each has its own compose
project, edge, network, port and directories.
"""

from __future__ import annotations

import os

import pytest
from deploy_stack import Stack, build_app_images, remove_app_images, write_inventory
from playbook_runs import run_playbook

pytestmark = pytest.mark.deploy
# Images of its own: test_deploy.py may run at the same time (another xdist
# worker) and prunes its releases' images.
IMAGE = 'itest-deploy-serial/app'


@pytest.fixture(scope='module')
def hosts(tmp_path_factory):
    build_app_images(IMAGE)
    workdir = str(tmp_path_factory.mktemp('serial'))
    stacks = [Stack('itest-s1', os.path.join(workdir, 's1')), Stack('itest-s2', os.path.join(workdir, 's2'))]
    inventory = write_inventory(os.path.join(workdir, 'hosts.yml'), stacks, {'app_image_name': IMAGE})
    for stack in stacks:
        stack.inventory = inventory
        stack.destroy()
    first = run_playbook('playbooks/site.yml', {'app_version': '1.0.0'}, inventory=inventory)
    assert first.rc == 0, [first.failures(s.name) for s in stacks]
    yield stacks
    for stack in stacks:
        stack.destroy()
    remove_app_images(IMAGE)


def test_release_rolls_host_by_host(hosts):
    run = run_playbook(
        'playbooks/deploy.yml', {'app_version': '2.0.0', 'deploy_serial': 1}, inventory=hosts[0].inventory
    )
    assert run.rc == 0, [run.failures(s.name) for s in hosts]
    assert [s.served_version() for s in hosts] == ['2.0.0', '2.0.0']


def test_first_failed_host_stops_the_run_and_the_rest_are_untouched(hosts):
    first, second = hosts
    before = second.containers('app'), second.ledger()
    extra = {
        'app_version': '3.0.0',
        'app_env': {'FAULT_HEALTH_FAIL': '1'},
        'app_health_timeout': 20,
        'deploy_serial': 1,
    }
    run = run_playbook('playbooks/deploy.yml', extra, inventory=first.inventory)
    assert run.rc != 0
    assert 'not healthy' in ' '.join(run.failures(first.name))
    assert first.served_version() == '2.0.0'
    assert first.ledger()[-1]['status'] == 'failed'
    # The second host was never reached: no task ran there, nothing changed.
    assert run.task_results(second.name) == []
    assert (second.containers('app'), second.ledger()) == before
    assert second.served_version() == '2.0.0'
