"""Deploy benchmarks: requests lost during a release, and the no-op re-run time.

    make bench                                  # everything in bench/
    .venv/bin/python bench/deploy_bench.py --only zero-downtime --rate 200
    .venv/bin/python bench/deploy_bench.py --only noop --runs 7

zero-downtime: a stack (as site.yml deploys it, 2 replicas) is released under
an open-loop load through the edge, three ways: deploy.yml (rolling), a
release whose health check fails (deploy.yml), and for comparison a plain
`docker compose up -d` of the new image followed by an nginx reload. Each
window holds at least 5,000 requests.
noop: deploy.yml's app role re-run on an unchanged stack against the same
play with community.docker.docker_compose_v2 instead of compose_deploy, and
the whole deploy.yml without and with the build and the test gate (as the
local inventory runs it), interleaved, medians and their ratio to the
docker_compose_v2 play.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'tests', 'integration'))

from deploy_stack import Stack, build_app_images, docker, remove_app_images, write_inventory  # noqa: E402
from open_load import Load  # noqa: E402
from playbook_runs import ENV, ROOT, playbook_command, run_playbook  # noqa: E402

MIN_REQUESTS = 5000
BUILD_AND_TEST = {
    'app_build_context': os.path.join(ROOT, 'examples', 'app'),
    'app_build_args': {'BASE_IMAGE': 'auraspeak-offline/node:18'},
    'app_test_command': ['node', '--test'],
}


def timed_playbook(stack, playbook, extra_vars):
    started = time.monotonic()
    run = run_playbook(playbook, extra_vars, inventory=stack.inventory)
    return run, time.monotonic() - started


def under_load(stack, rate, action):
    """Run action() while the load runs; the window holds at least MIN_REQUESTS."""
    load = Load('http://127.0.0.1:%d/version' % stack.port, rate).start()
    time.sleep(2)
    started = time.monotonic()
    outcome = action()
    elapsed = time.monotonic() - started
    remaining = MIN_REQUESTS / rate - (time.monotonic() - load.started)
    time.sleep(max(remaining, 0) + 2)
    report = load.stop().report()
    report['action_seconds'] = round(elapsed, 1)
    return outcome, report


def plain_compose_up(stack, version):
    """What a team without a rolling deploy does: new tag, `up -d`, reload the proxy."""
    compose_file = os.path.join(stack.config_dir, 'compose.yaml')
    with open(compose_file, encoding='utf-8') as handle:
        text = handle.read()
    current = stack.served_version()
    with open(compose_file, 'w', encoding='utf-8') as handle:
        handle.write(text.replace(':%s"' % current, ':%s"' % version).replace('"%s"' % current, '"%s"' % version))
    compose = ['compose', '--project-name', stack.name, '--project-directory', stack.config_dir, '--file', compose_file]
    up = docker(*compose, 'up', '--detach', check=False)
    docker('exec', stack.edge, 'nginx', '-s', 'reload', check=False)
    return up.returncode


def zero_downtime(stack, rate):
    results = {}
    run, report = under_load(
        stack, rate, lambda: run_playbook('playbooks/deploy.yml', {'app_version': '2.0.0'}, inventory=stack.inventory)
    )
    report['deploy_rc'] = run.rc
    results['deploy.yml, new release (rolling)'] = report

    def failing():
        extra = {'app_version': '3.0.0', 'app_env': {'FAULT_HEALTH_FAIL': '1'}, 'app_health_timeout': 25}
        return run_playbook('playbooks/deploy.yml', extra, inventory=stack.inventory)

    run, report = under_load(stack, rate, failing)
    report['deploy_rc'] = run.rc
    results['deploy.yml, release whose health fails'] = report

    rc, report = under_load(stack, rate, lambda: plain_compose_up(stack, '3.0.0'))
    report['deploy_rc'] = rc
    results['docker compose up -d + nginx reload (baseline)'] = report
    return results


def noop(stack, runs):
    plays = {
        'compose_deploy (app role)': ('bench/plays/noop-compose-deploy.yml', {}),
        'docker_compose_v2 (same play otherwise)': ('bench/plays/noop-compose-v2.yml', {}),
        'deploy.yml (whole playbook)': ('playbooks/deploy.yml', {}),
        # As the local inventory runs it: the image built from the checkout and the test gate.
        'deploy.yml with build and test gate': ('playbooks/deploy.yml', BUILD_AND_TEST),
    }
    samples = {name: [] for name in plays}
    # The first build from the checkout is a new image (other build arguments than the
    # stack's), rolled out once; from then on every play below finds nothing to do.
    first = run_playbook('playbooks/deploy.yml', dict(BUILD_AND_TEST, app_version='1.0.0'), inventory=stack.inventory)
    assert first.rc == 0, first.failures(stack.name)
    for name, (play, extra) in plays.items():  # warm-up, and proof that each is a no-op
        run = run_playbook(play, dict(extra, app_version='1.0.0'), inventory=stack.inventory)
        assert run.rc == 0 and run.host_stats(stack.name)['changed'] == 0, (
            name,
            run.failures(stack.name),
            run.host_stats(stack.name),
        )
    for _run in range(runs):
        for name, (play, extra) in plays.items():
            started = time.monotonic()
            completed = subprocess.run(
                playbook_command(play, dict(extra, app_version='1.0.0'), inventory=stack.inventory),
                cwd=ROOT,
                env=ENV,
                capture_output=True,
                check=False,
            )
            samples[name].append(time.monotonic() - started)
            assert completed.returncode == 0, completed.stdout[-2000:]
    baseline = statistics.median(samples['docker_compose_v2 (same play otherwise)'])
    return {
        name: {
            'median_s': round(statistics.median(values), 2),
            'ratio_to_compose_v2': round(statistics.median(values) / baseline, 2),
        }
        for name, values in samples.items()
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--only', choices=['zero-downtime', 'noop'])
    parser.add_argument('--rate', type=float, default=200)
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--output', default=os.path.join(HERE, 'results', 'deploy_bench.json'))
    options = parser.parse_args()
    build_app_images()
    results = {}
    with tempfile.TemporaryDirectory(prefix='deploy-bench-') as workdir:
        stack = Stack('bench-deploy', workdir)
        stack.inventory = write_inventory(os.path.join(workdir, 'hosts.yml'), [stack])
        stack.destroy()
        try:
            first = run_playbook('playbooks/site.yml', {'app_version': '1.0.0'}, inventory=stack.inventory)
            assert first.rc == 0, first.failures(stack.name)
            if options.only in (None, 'noop'):
                results['noop'] = noop(stack, options.runs)
            if options.only in (None, 'zero-downtime'):
                results['zero_downtime'] = zero_downtime(stack, options.rate)
        finally:
            stack.destroy()
            remove_app_images()
    os.makedirs(os.path.dirname(options.output), exist_ok=True)
    with open(options.output, 'w', encoding='utf-8') as handle:
        json.dump(results, handle, indent=2)
    print(json.dumps(results, indent=2))


if __name__ == '__main__':
    main()
