"""docker-bench-security's container checks (CIS Docker Benchmark sections 4.1 and 5), written as
assertions on `docker inspect`, so they run without the tool and name what they find.

findings(containers) gives {(service, check)}: service is the Compose service (or the collection's
io.auraspeak.ops.role label, e.g. `edge`), check the benchmark's number. docs/security.md lists
each finding the collection accepts, with the reason; documented_exceptions() reads that table.
"""

from __future__ import annotations

import os
import re

SENSITIVE_HOST_DIRS = ('/', '/boot', '/dev', '/etc', '/lib', '/proc', '/sys', '/usr')
DOCKER_SOCKETS = ('/var/run/docker.sock', '/run/docker.sock', '/var/run', '/run')
DOCS = os.path.join(os.path.dirname(__file__), '..', '..', 'docs', 'security.md')


def _host(container):
    return container['HostConfig']


def _bindings(container):
    return [binding for bound in (_host(container).get('PortBindings') or {}).values() for binding in bound or []]


def _options(container):
    return _host(container).get('SecurityOpt') or []


def _mounts(container):
    return container.get('Mounts') or []


def _root(container):
    return (container['Config'].get('User') or '').split(':')[0] in ('', '0', 'root')


def _capabilities(container):
    return bool(_host(container).get('CapAdd')) or 'ALL' not in (_host(container).get('CapDrop') or [])


def _no_cpu_bound(container):
    # docker-bench asks for CPU shares; a hard limit (cpus) bounds a container more strictly.
    return not any(_host(container).get(key) for key in ('NanoCpus', 'CpuQuota', 'CpuShares'))


def _restarts_forever(container):
    policy = _host(container)['RestartPolicy']
    return policy.get('Name') != 'on-failure' or policy.get('MaximumRetryCount', 0) > 5


def _no_health_check(container):
    return (container['Config'].get('Healthcheck') or {}).get('Test', ['NONE']) == ['NONE']


def _host_mode(key):
    return lambda container: _host(container).get(key) == 'host'


# check number -> (what it asks, predicate that is true when the container fails it)
CHECKS = {
    '4.1': ('runs as a user other than root', _root),
    '5.3': ('adds no Linux capability and drops all others', _capabilities),
    '5.4': ('is not privileged', lambda c: bool(_host(c).get('Privileged'))),
    '5.5': (
        'mounts no sensitive host directory read-write',
        lambda c: any(m.get('RW') and m.get('Source') in SENSITIVE_HOST_DIRS for m in _mounts(c)),
    ),
    '5.7': (
        'publishes no privileged host port',
        lambda c: any(int(b.get('HostPort') or 0) < 1024 for b in _bindings(c)),
    ),
    '5.9': ("does not share the host's network", _host_mode('NetworkMode')),
    '5.10': ('has a memory limit', lambda c: not _host(c).get('Memory')),
    '5.11': ('has a CPU limit or CPU shares', _no_cpu_bound),
    '5.12': ('has a read-only root file system', lambda c: not _host(c).get('ReadonlyRootfs')),
    '5.13': (
        'binds published ports to one host address',
        lambda c: any(b.get('HostIp') in ('', '0.0.0.0', '::') for b in _bindings(c)),
    ),
    '5.14': ('restarts on failure at most 5 times', _restarts_forever),
    '5.15': ("does not share the host's process namespace", _host_mode('PidMode')),
    '5.16': ("does not share the host's IPC namespace", _host_mode('IpcMode')),
    '5.17': ('is given no host device', lambda c: bool(_host(c).get('Devices'))),
    '5.19': ('mounts nothing shared', lambda c: any('shared' in m.get('Propagation', '') for m in _mounts(c))),
    '5.20': ("does not share the host's UTS namespace", _host_mode('UTSMode')),
    '5.21': ('keeps a seccomp profile', lambda c: any(re.match('seccomp[:=]unconfined', o) for o in _options(c))),
    '5.24': ('uses the default cgroup parent', lambda c: bool(_host(c).get('CgroupParent'))),
    '5.25': ('cannot gain privileges (no-new-privileges)', lambda c: not any('no-new-priv' in o for o in _options(c))),
    '5.26': ('has a health check', _no_health_check),
    '5.28': ('has a PIDs limit', lambda c: (_host(c).get('PidsLimit') or 0) <= 0),
    '5.29': ("is not on the engine's default bridge", lambda c: 'bridge' in c['NetworkSettings']['Networks']),
    '5.30': ("does not share the host's user namespace", _host_mode('UsernsMode')),
    '5.31': ('does not mount the Docker socket', lambda c: any(m.get('Source') in DOCKER_SOCKETS for m in _mounts(c))),
}


def apparmor_enabled():
    """5.1 (an AppArmor profile) can be met only where the kernel has AppArmor."""
    try:
        with open('/sys/module/apparmor/parameters/enabled', encoding='ascii') as handle:
            return handle.read().strip() == 'Y'
    except OSError:
        return False


def service(container):
    labels = container['Config'].get('Labels') or {}
    named = labels.get('com.docker.compose.service') or labels.get('io.auraspeak.ops.role')
    return named or container['Name'].lstrip('/')


def findings(containers):
    """{(service, check)} for every check a container fails."""
    found = set()
    for container in containers:
        for check, (_asks, fails) in CHECKS.items():
            if fails(container):
                found.add((service(container), check))
        if apparmor_enabled() and container.get('AppArmorProfile') in ('', 'unconfined'):
            found.add((service(container), '5.1'))
    return found


def documented_exceptions(path=DOCS):
    """{(service, check)} from the table under "Container hardening" in docs/security.md; `every container`
    rows give the service '*'."""
    with open(path, encoding='utf-8') as handle:
        text = handle.read()
    section = text.split('## Container hardening', 1)[1].split('\n## ', 1)[0]
    rows = set()
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip('|').split('|')]
        if len(cells) < 3 or not re.match(r'[0-9]+\.[0-9]+ ', cells[1]):
            continue
        names = re.findall(r'`([^`]+)`', cells[0]) or (['*'] if cells[0].startswith('every container') else [])
        rows.update((name, cells[1].split()[0]) for name in names)
    return rows
