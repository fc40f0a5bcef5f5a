"""Integration tests share one Docker engine: start from a clean slate.

Containers with restart policies come back when the engine restarts, and a
killed run leaves its objects behind, so everything named by the test
prefixes is removed once before the tests start.
"""

import subprocess

import pytest

PREFIXES = ('itest-',)
IMAGE_REPOSITORIES = ('itest-imgbuild/*',)


def _docker(*args):
    return subprocess.run(['docker', *args], capture_output=True, text=True, check=False, timeout=300).stdout.split()


@pytest.fixture(scope='session', autouse=True)
def remove_leftovers_of_earlier_runs():
    for prefix in PREFIXES:
        containers = _docker('ps', '-aq', '--filter', 'name=^' + prefix)
        if containers:
            _docker('rm', '--force', '--volumes', *containers)
        networks = _docker('network', 'ls', '-q', '--filter', 'name=^' + prefix)
        if networks:
            _docker('network', 'rm', *networks)
        volumes = _docker('volume', 'ls', '-q', '--filter', 'name=^' + prefix)
        if volumes:
            _docker('volume', 'rm', '--force', *volumes)
    for repository in IMAGE_REPOSITORIES:
        images = _docker('image', 'ls', '-q', '--filter', 'reference=' + repository)
        if images:
            _docker('image', 'rm', '--force', *set(images))
