"""The user-facing playbooks, run with the local inventory as users run them."""

from __future__ import annotations

import shutil
import subprocess
import uuid

import pytest
from playbook_runs import ROOT, run_playbook


@pytest.fixture
def app_image():
    name = 'itest-imgbuild/playbook-app-' + uuid.uuid4().hex[:8]
    yield name
    refs = subprocess.run(
        ['docker', 'image', 'ls', '-q', '--filter', 'reference=' + name], capture_output=True, text=True, check=False
    ).stdout.split()
    if refs:
        subprocess.run(['docker', 'image', 'rm', '--force', *set(refs)], capture_output=True, check=False)


def test_build_playbook_builds_once_then_reports_no_change(tmp_path, app_image):
    context = tmp_path / 'app'
    shutil.copytree(ROOT + '/examples/app', context)
    extra_vars = {'app_build_context': str(context), 'app_version': '2.0.0', 'app_image_name': app_image}

    first = run_playbook('playbooks/build.yml', extra_vars)
    assert first.rc == 0, first.stdout[-3000:]
    assert first.stats['changed'] == 1

    second = run_playbook('playbooks/build.yml', extra_vars)
    assert second.rc == 0
    assert second.stats['changed'] == 0

    labels = subprocess.run(
        ['docker', 'image', 'inspect', '--format', '{{json .Config.Labels}}', app_image + ':2.0.0'],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert '"org.opencontainers.image.version":"2.0.0"' in labels


def test_build_playbook_names_the_missing_variables():
    run = run_playbook('playbooks/build.yml', {'app_version': '2.0.0', 'app_build_context': ''})
    assert run.rc != 0
    failed = [r for r in run.task_results() if r.get('failed')]
    assert 'Set app_build_context' in failed[0]['msg']


def test_local_images_playbook_is_idempotent_and_check_mode_predicts_no_change():
    # `make integration` builds the images first, so this is the warm run.
    run = run_playbook('playbooks/local_images.yml')
    assert run.rc == 0, run.stdout[-3000:]
    assert run.stats['changed'] == 0
    checked = run_playbook('playbooks/local_images.yml', check=True)
    assert checked.rc == 0
    assert checked.stats['changed'] == 0


def test_site_yml_refuses_app_backend_swarm_without_a_cluster_in_the_inventory_before_anything_changes():
    run = run_playbook('playbooks/site.yml', {'app_backend': 'swarm'})
    assert run.rc != 0 and run.stats['changed'] == 0, run.stdout[-3000:]
    [message] = run.failures()
    assert 'localhost has app_backend "swarm", and the inventory has no group swarm_managers' in message, message
    assert 'Nothing was changed' in message
    assert [task['task']['name'] for play in run.data['plays'] for task in play['tasks']] == [
        'Refuse an inventory whose backend and groups disagree, before anything changes'
    ]
