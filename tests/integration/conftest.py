"""Integration tests share one Docker engine: start from a clean slate.

Containers with restart policies come back when the engine restarts, and a
killed run leaves its objects behind, so everything named by the test
prefixes is removed once before the tests start (by the controller when
pytest-xdist runs workers, before any of them starts).

`make integration` runs two pytest-xdist workers with --dist loadfile: each
module stays whole on one worker, in its order (module fixtures and ordered
life cycles rely on it). Modules that may run at the same time therefore use
names of their own (containers, networks, images, ports, namespaces).
"""

import collections
import subprocess

PREFIXES = ('itest-',)
IMAGE_REPOSITORIES = ('itest-imgbuild/*',)


def _docker(*args):
    return subprocess.run(['docker', *args], capture_output=True, text=True, check=False, timeout=300).stdout.split()


# Seconds per module (setup, call and teardown of its tests), summed where the
# reports arrive (the controller under xdist): what decides how the two workers
# share the modules, and which module sets the run's length.
MODULE_SECONDS = collections.Counter()


def pytest_runtest_logreport(report):
    MODULE_SECONDS[report.nodeid.split('::')[0]] += report.duration


def pytest_terminal_summary(terminalreporter):
    if MODULE_SECONDS:
        terminalreporter.section('seconds per module')
        for module, seconds in MODULE_SECONDS.most_common():
            terminalreporter.write_line('%8.1f  %s' % (seconds, module))


def pytest_sessionstart(session):
    if not hasattr(session.config, 'workerinput'):
        remove_leftovers_of_earlier_runs()


def unmount_leftover_tmpfs():
    """The backup tests mount a tmpfs in their pytest directory; a killed run leaves it mounted."""
    with open('/proc/mounts', encoding='utf-8') as handle:
        mounts = [line.split()[1] for line in handle if line.split()[0] == 'tmpfs']
    for mount in mounts:
        if mount.startswith('/tmp/pytest-of-'):
            subprocess.run(['umount', mount], capture_output=True, check=False, timeout=60)


def remove_leftovers_of_earlier_runs():
    unmount_leftover_tmpfs()
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
