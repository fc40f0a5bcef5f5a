"""The firewall role against the real kernel and Docker engine, seen from outside.

The outside world is a network namespace (itest-fw-out) joined to the host by a
veth pair: the host side itest-fw0 (198.51.100.1/24) is the role's public
interface, the namespace (198.51.100.2/24, default route via the host) is the
internet. 198.51.100.0/24 is a documentation range, not RFC 1918: firewalls that
let private ranges through (ufw-docker) cannot pass by accident. Connections
are made from inside the namespace with short timeouts; a dropped SYN shows as
"filtered".

The role runs with its own table (itest_fw), rules file and run directory under
tmp; the machine's interfaces, Docker's tables and other tables are only read.
Everything the module creates is named itest-fw* and removed at the start (what
a killed run left) and at the end, failure or not.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import re
import signal
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

import pytest
from netns_engine import sh, wait_until
from playbook_runs import ENV, ROOT, playbook_command, run_playbook

NETNS = 'itest-fw-out'
HOST_IF = 'itest-fw0'
PEER_IF = 'itest-fw1'
HOST_ADDR = '198.51.100.1'
OUTSIDE_ADDR = '198.51.100.2'
TABLE = 'itest_fw'
PREFIX = 'itest-fw-'
NGINX = 'auraspeak-offline/nginx:1.22'
DEBIAN = 'auraspeak-offline/debian:bookworm'
POSTGRES = 'auraspeak-offline/postgres:15'
REDIS = 'auraspeak-offline/redis:7.0'
REVERT_MARKER = b'auraspeak-firewall-revert'
CONFIRM_TIMEOUT = 6
# Long enough to see the new table live before the revert job restores the old one.
KILLED_RUN_CONFIRM_TIMEOUT = 12

PLAYBOOK = """---
- name: Run the firewall role
  hosts: localhost
  gather_facts: false
  roles:
    - role: auraspeak.ops.firewall
"""

INVENTORY = """---
all:
  hosts:
    localhost:
      ansible_connection: local
      ansible_python_interpreter: %s
""" % json.dumps(sys.executable)

# Stops the controller right after the role loaded the new table, before the
# confirmation: the test then kills ansible-playbook as a lost controller.
FREEZE_CALLBACK = """
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'itest_fw_freeze'
    CALLBACK_NEEDS_ENABLED = True

    def v2_runner_on_ok(self, result):
        if 'Load the validated ruleset' in result.task.get_name():
            with open(os.environ['ITEST_FW_FROZEN'], 'w'):
                pass
            time.sleep(300)
"""

# Runs inside the namespace: connects to each target at once and prints what
# happened. "open:<first line>" (answered), "filtered" (no answer: dropped),
# "refused" (reset), "icmp" targets send one echo request.
PROBE = r"""
import json, os, socket, struct, sys, threading

def checksum(data):
    total = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xFFFF)
    return ~(total + (total >> 16)) & 0xFFFF

def ping(host):
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as sock:
        sock.settimeout(1.5)
        ident = os.getpid() & 0xFFFF
        body = struct.pack('!BBHHH', 8, 0, 0, ident, 1) + b'itest-fw'
        sock.sendto(struct.pack('!BBHHH', 8, 0, checksum(body), ident, 1) + b'itest-fw', (host, 0))
        try:
            while True:
                data, _ = sock.recvfrom(2048)
                icmp = data[(data[0] & 0x0F) * 4:]
                if icmp[0] == 0 and struct.unpack('!H', icmp[4:6])[0] == ident:
                    return 'open:echo-reply'
        except socket.timeout:
            return 'filtered'

def tcp(host, port):
    try:
        sock = socket.create_connection((host, port), timeout=1.5)
    except socket.timeout:
        return 'filtered'
    except ConnectionRefusedError:
        return 'refused'
    except OSError as exc:
        return 'error:%s' % exc
    with sock:
        sock.settimeout(3)
        try:
            sock.sendall(b'GET / HTTP/1.0\r\n\r\n')
            data = sock.recv(256)
        except OSError as exc:
            return 'error:%s' % exc
    return 'open:' + (data.decode('latin-1').splitlines() or [''])[0]

results = {}
def run(target):
    host, port = target
    results['%s:%s' % (host, port)] = ping(host) if port == 'icmp' else tcp(host, port)
threads = [threading.Thread(target=run, args=(tuple(t),)) for t in json.loads(sys.argv[1])]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps(results))
"""


def docker(*args, check=True):
    return sh('docker', *args, check=check)


def probe(*targets, netns=NETNS):
    """What each (host, port) answers, from the namespace (netns=None: from the host)."""
    cmd = [sys.executable, '-I', '-c', PROBE, json.dumps(targets)]
    if netns:
        cmd = ['ip', 'netns', 'exec', netns, *cmd]
    return json.loads(sh(*cmd, timeout=60).stdout)


def answer(host, port, netns=NETNS):
    return probe((host, port), netns=netns)['%s:%s' % (host, port)]


def live_table():
    """The role's live table as nft lists it (no counters), None when there is none."""
    proc = sh('nft', '--stateless', 'list', 'table', 'inet', TABLE, check=False)
    return proc.stdout if proc.returncode == 0 else None


def live_fingerprint():
    found = re.search(r'^\s*comment "(auraspeak\.ops\.firewall [^"]*)"', live_table() or '', re.M)
    return found.group(1) if found else None


def revert_jobs():
    """Pids of revert jobs started for the test's table."""
    pids = []
    for path in glob.glob('/proc/[0-9]*/cmdline'):
        with contextlib.suppress(OSError), open(path, 'rb') as handle:
            cmdline = handle.read()
            if REVERT_MARKER in cmdline and (TABLE + '.revert.pid').encode() in cmdline:
                pids.append(int(path.split('/')[2]))
    return pids


def docker_rules(addresses):
    """Rules of Docker's ip nat and ip filter tables that concern the test's containers, and the chain names.

    Only the test's own containers: other tests may add or remove theirs meanwhile.
    """
    rules, chains = [], []
    for table in ('nat', 'filter'):
        listing = sh('nft', '--stateless', 'list', 'table', 'ip', table).stdout
        chains += ['%s/%s' % (table, name) for name in re.findall(r'^\s*chain (\S+) \{', listing, re.M)]
        rules += [
            '%s: %s' % (table, line.strip())
            for line in listing.splitlines()
            if any(re.search(r'\b%s\b' % re.escape(address), line) for address in addresses)
        ]
    return sorted(rules), sorted(chains)


class _Banner(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.settimeout(2)
        with contextlib.suppress(OSError):
            self.request.recv(1024)
            self.request.sendall(b'itest-fw host %d\n' % self.server.server_address[1])


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def listener(port=0):
    """A TCP service of the host on 0.0.0.0: it answers 'itest-fw host <port>'."""
    server = _Server(('0.0.0.0', port), _Banner)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def free_port():
    with socket.socket() as sock:
        sock.bind(('0.0.0.0', 0))
        return sock.getsockname()[1]


def remove_everything():
    for pid in revert_jobs():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    sh('nft', 'delete', 'table', 'inet', TABLE, check=False)
    sh('ip', 'netns', 'delete', NETNS, check=False)
    sh('ip', 'link', 'delete', HOST_IF, check=False)
    containers = docker('ps', '-aq', '--filter', 'name=^' + PREFIX).stdout.split()
    if containers:
        docker('rm', '--force', '--volumes', *containers, check=False)
    networks = docker('network', 'ls', '-q', '--filter', 'name=^' + PREFIX).stdout.split()
    if networks:
        docker('network', 'rm', *networks, check=False)
    # Candidates of killed runs (the role removes its own otherwise).
    for path in glob.glob(os.path.join(tempfile.gettempdir(), TABLE + '.*.nft')):
        with contextlib.suppress(OSError):
            os.unlink(path)


def container_ip(name, network):
    template = '{{(index .NetworkSettings.Networks "%s").IPAddress}}' % network
    return docker('inspect', '--format', template, name).stdout.strip()


def subnet(network):
    return docker('network', 'inspect', '--format', '{{(index .IPAM.Config 0).Subnet}}', network).stdout.strip()


@dataclass
class World:
    tmp: str
    playbook: str
    inventory: str
    ports: dict
    ips: dict = field(default_factory=dict)
    subnets: dict = field(default_factory=dict)
    listeners: list = field(default_factory=list)
    docker_before: tuple = ()
    base_fingerprint: str | None = None

    @property
    def rules_path(self):
        return os.path.join(self.tmp, 'etc', 'firewall.nft')

    @property
    def run_dir(self):
        return os.path.join(self.tmp, 'run')

    @property
    def pidfile(self):
        return os.path.join(self.run_dir, TABLE + '.revert.pid')

    def base_vars(self, **more):
        """The role's variables for the test: the public interface is itest-fw0."""
        return {
            'firewall_public_interface': HOST_IF,
            'firewall_table': TABLE,
            'firewall_rules_path': self.rules_path,
            'firewall_run_dir': self.run_dir,
            'firewall_allowed_tcp_ports': [self.ports['host_open'], self.ports['web_open']],
            'firewall_container_tcp_ports': [self.ports['host_container_only'], self.ports['web_container_only']],
            'firewall_ssh_port': self.ports['ssh'],
            **more,
        }

    def run(self, extra_vars, check=False):
        return run_playbook(self.playbook, extra_vars, check=check, inventory=self.inventory)

    def rules_file(self):
        if not os.path.exists(self.rules_path):
            return None
        with open(self.rules_path, encoding='utf-8') as handle:
            return handle.read()

    def ensure_base(self):
        """The base ruleset live, applying it when an earlier test left another one."""
        if self.base_fingerprint and live_fingerprint() == self.base_fingerprint:
            return
        run = self.run(self.base_vars())
        assert run.rc == 0, run.stdout[-3000:]
        self.base_fingerprint = report(run)['fingerprint']


def report(run):
    for result in run.task_results():
        if 'firewall_report' in result:
            return result['firewall_report']
    raise AssertionError('no firewall_report in the output:\n' + run.stdout[-3000:])


def failure(run):
    assert run.rc != 0, 'the run did not fail:\n' + run.stdout[-2000:]
    failed = [r for r in run.task_results() if r.get('failed')]
    assert failed, 'no failed task in the output:\n' + run.stdout[-3000:]
    return failed[-1].get('msg', '') + ' ' + ' '.join(failed[-1].get('argument_errors', []))


def run_nginx(name, network, publish=None):
    args = ['run', '-d', '--name', name, '--network', network]
    args += ['--publish', publish] if publish else []
    docker(*args, NGINX)


@pytest.fixture(scope='module')
def world(tmp_path_factory):
    remove_everything()
    tmp = str(tmp_path_factory.mktemp('firewall'))
    playbook = os.path.join(tmp, 'firewall.yml')
    inventory = os.path.join(tmp, 'hosts.yml')
    with open(playbook, 'w', encoding='utf-8') as handle:
        handle.write(PLAYBOOK)
    with open(inventory, 'w', encoding='utf-8') as handle:
        handle.write(INVENTORY)
    ports = {name: free_port() for name in ('web_open', 'web_closed', 'web_container_only', 'web_local')}
    state = World(tmp=tmp, playbook=playbook, inventory=inventory, ports=ports)
    try:
        # The outside world.
        sh('ip', 'netns', 'add', NETNS)
        sh('ip', 'link', 'add', HOST_IF, 'type', 'veth', 'peer', 'name', PEER_IF)
        sh('ip', 'link', 'set', PEER_IF, 'netns', NETNS)
        sh('ip', 'address', 'add', HOST_ADDR + '/24', 'dev', HOST_IF)
        sh('ip', 'link', 'set', HOST_IF, 'up')
        for command in (
            ['ip', 'address', 'add', OUTSIDE_ADDR + '/24', 'dev', PEER_IF],
            ['ip', 'link', 'set', PEER_IF, 'up'],
            ['ip', 'link', 'set', 'lo', 'up'],
            ['ip', 'route', 'add', 'default', 'via', HOST_ADDR],
        ):
            sh('ip', 'netns', 'exec', NETNS, *command)

        # Services of the host (0.0.0.0): an open port, a closed one, one open only
        # for containers, and the SSH port.
        for name in ('host_open', 'host_closed', 'host_container_only', 'ssh'):
            server = listener()
            state.listeners.append(server)
            ports[name] = server.server_address[1]

        # Containers: published on 0.0.0.0 on an allowed, a container-only and a
        # not-allowed port, one published on 127.0.0.1 only; PostgreSQL and Redis
        # on an internal network, Redis on a plain bridge without published ports.
        docker('network', 'create', PREFIX + 'pub')
        docker('network', 'create', '--internal', PREFIX + 'internal')
        docker('network', 'create', PREFIX + 'bridge')
        run_nginx(PREFIX + 'web-open', PREFIX + 'pub', '0.0.0.0:%d:80' % ports['web_open'])
        run_nginx(PREFIX + 'web-closed', PREFIX + 'pub', '0.0.0.0:%d:80' % ports['web_closed'])
        run_nginx(PREFIX + 'web-container-only', PREFIX + 'pub', '0.0.0.0:%d:80' % ports['web_container_only'])
        run_nginx(PREFIX + 'web-local', PREFIX + 'pub', '127.0.0.1:%d:80' % ports['web_local'])
        postgres = ['--name', PREFIX + 'postgres', '--network', PREFIX + 'internal', '-e', 'POSTGRES_PASSWORD=itest']
        docker('run', '-d', *postgres, POSTGRES)
        docker('run', '-d', '--name', PREFIX + 'redis', '--network', PREFIX + 'internal', REDIS)
        docker('run', '-d', '--name', PREFIX + 'redis-bridge', '--network', PREFIX + 'bridge', REDIS)
        for name, network in (
            ('web-open', 'pub'),
            ('web-closed', 'pub'),
            ('web-container-only', 'pub'),
            ('web-local', 'pub'),
            ('postgres', 'internal'),
            ('redis', 'internal'),
            ('redis-bridge', 'bridge'),
        ):
            state.ips[name] = container_ip(PREFIX + name, PREFIX + network)
        for network in ('pub', 'internal', 'bridge'):
            state.subnets[network] = subnet(PREFIX + network)
            # Direct routing: the outside sends traffic for the container subnets to the host.
            sh('ip', 'netns', 'exec', NETNS, 'ip', 'route', 'add', state.subnets[network], 'via', HOST_ADDR)

        # Every service answers on the host before the tests start.
        services = [
            (state.ips['web-open'], 80),
            (state.ips['web-local'], 80),
            ('127.0.0.1', ports['web_closed']),
            (state.ips['postgres'], 5432),
            (state.ips['redis'], 6379),
            (state.ips['redis-bridge'], 6379),
        ]
        wait_until(
            lambda: all(r.startswith('open') for r in probe(*services, netns=None).values()),
            60,
            'the test containers to answer on the host',
        )
        # Docker's rules for the test containers before the role ever ran.
        state.docker_before = docker_rules(state.ips.values())
        assert state.docker_before[0], 'Docker has no rules for the test containers'
        yield state
    finally:
        for server in state.listeners:
            server.shutdown()
            server.server_close()
        remove_everything()


def test_docker_publishes_past_a_host_firewall_before_the_role(world):
    """Without the role, what Docker publishes, and direct routing to containers, reach the outside.

    This is what the role must stop; it also shows that the probes can fail.
    """
    assert live_table() is None
    ports, ips = world.ports, world.ips
    seen = probe(
        (HOST_ADDR, ports['web_open']),
        (HOST_ADDR, ports['web_closed']),
        (HOST_ADDR, ports['host_closed']),
        (ips['web-local'], 80),
    )
    assert seen['%s:%d' % (HOST_ADDR, ports['web_open'])] == 'open:HTTP/1.1 200 OK'
    assert seen['%s:%d' % (HOST_ADDR, ports['web_closed'])] == 'open:HTTP/1.1 200 OK'
    assert seen['%s:%d' % (HOST_ADDR, ports['host_closed'])].startswith('open:itest-fw host')
    # Published on 127.0.0.1 only, and still reachable by routing to the container.
    assert seen['%s:80' % ips['web-local']] == 'open:HTTP/1.1 200 OK'


def test_only_allowed_ports_answer_from_outside(world):
    run = world.run(world.base_vars())
    assert run.rc == 0, run.stdout[-3000:]
    assert run.stats['changed'] >= 1
    result = report(run)
    world.base_fingerprint = result['fingerprint']
    assert live_fingerprint() == result['fingerprint']
    assert result['table'] == 'inet ' + TABLE
    # No systemd here: the role says the rules do not survive a reboot.
    if not os.path.exists('/run/systemd/system'):
        assert result['persistence'].startswith('NOT set up')
        assert any(
            str(r.get('msg', '')).startswith('WARNING: persistence of the firewall is NOT set up')
            for r in run.task_results()
        )
    # SSH is open to anyone by default, with a warning.
    assert any(str(r.get('msg', '')).startswith('WARNING: firewall_ssh_allow') for r in run.task_results())
    with open(world.rules_path, encoding='utf-8') as handle:
        rules = handle.read()
    assert 'flush ruleset' not in rules
    # One transaction that replaces only the role's table.
    statements = [line for line in rules.splitlines() if line and not line.startswith('#')]
    assert statements[:3] == ['table inet %s {}' % TABLE, 'delete table inet %s' % TABLE, 'table inet %s {' % TABLE]

    ports = world.ports
    outside = probe(
        (HOST_ADDR, ports['host_open']),
        (HOST_ADDR, ports['host_closed']),
        (HOST_ADDR, ports['host_container_only']),
        (HOST_ADDR, ports['ssh']),
        (HOST_ADDR, ports['web_open']),
        (HOST_ADDR, ports['web_container_only']),
        (HOST_ADDR, ports['web_closed']),
        (HOST_ADDR, 'icmp'),
    )
    expected = {
        'host_open': 'open:itest-fw host %d' % ports['host_open'],
        'host_closed': 'filtered',
        # Open only for what containers publish: the host's own listener stays unreachable.
        'host_container_only': 'filtered',
        'ssh': 'open:itest-fw host %d' % ports['ssh'],
        'web_open': 'open:HTTP/1.1 200 OK',
        'web_container_only': 'open:HTTP/1.1 200 OK',
        'web_closed': 'filtered',
    }
    assert {name: outside['%s:%d' % (HOST_ADDR, ports[name])] for name in expected} == expected
    assert outside[HOST_ADDR + ':icmp'] == 'open:echo-reply'
    # The closed container port still works from the host itself, on loopback and on the host's address.
    local = probe(('127.0.0.1', ports['web_closed']), (HOST_ADDR, ports['web_closed']), netns=None)
    assert set(local.values()) == {'open:HTTP/1.1 200 OK'}, local


def test_internal_services_and_direct_routing_are_unreachable(world):
    world.ensure_base()
    ips = world.ips
    targets = [
        (ips['postgres'], 5432),
        (ips['redis'], 6379),
        (ips['redis-bridge'], 6379),
        # Published on 127.0.0.1 only: routed to directly, it answered before the role.
        (ips['web-local'], 80),
        # Published on an allowed port, but reached by its container address, not through Docker's DNAT.
        (ips['web-open'], 80),
    ]
    outside = probe(*targets)
    assert set(outside.values()) == {'filtered'}, outside
    # The host still reaches them all (the databases are up, the probes can succeed).
    local = probe(*targets, netns=None)
    assert all(value.startswith('open') for value in local.values()), local


def test_second_run_changes_nothing_and_check_mode_tells_the_truth(world):
    world.ensure_base()
    table, rules = live_table(), world.rules_file()

    again = world.run(world.base_vars())
    assert again.rc == 0, again.stdout[-3000:]
    assert again.stats['changed'] == 0
    assert report(again)['live'] == 'up to date'

    more_ports = world.base_vars(firewall_allowed_tcp_ports=[world.ports['host_open'], world.ports['web_open'], 8443])
    predicted = world.run(more_ports, check=True)
    assert predicted.rc == 0, predicted.stdout[-3000:]
    assert predicted.stats['changed'] >= 1
    assert report(predicted)['live'].startswith('would load: the rules changed')
    assert live_table() == table
    assert world.rules_file() == rules

    # The table gone from the kernel (a reboot without persistence, a flush): loaded again.
    sh('nft', 'delete', 'table', 'inet', TABLE)
    restored = world.run(world.base_vars())
    assert restored.rc == 0, restored.stdout[-3000:]
    assert restored.stats['changed'] >= 1
    assert 'not in the kernel' in report(restored)['live']
    assert live_table() == table
    assert world.rules_file() == rules


def test_ssh_only_from_the_allowlist(world):
    port = world.ports['ssh']
    excluded = world.run(world.base_vars(firewall_ssh_allow=['203.0.113.0/24', '2001:db8::/32']))
    assert excluded.rc == 0, excluded.stdout[-3000:]
    assert not any(str(r.get('msg', '')).startswith('WARNING: firewall_ssh_allow') for r in excluded.task_results())
    assert answer(HOST_ADDR, port) == 'filtered'
    # The allowlist is about SSH only: the open port still answers.
    assert answer(HOST_ADDR, world.ports['host_open']).startswith('open')

    included = world.run(world.base_vars(firewall_ssh_allow=['203.0.113.0/24', OUTSIDE_ADDR]))
    assert included.rc == 0, included.stdout[-3000:]
    assert answer(HOST_ADDR, port) == 'open:itest-fw host %d' % port


def test_docker_keeps_its_tables_and_container_networking(world):
    world.ensure_base()
    again = world.run(world.base_vars())
    assert again.rc == 0 and again.stats['changed'] == 0, again.stdout[-3000:]
    # Docker's rules for the test containers, and Docker's chains, as before the role.
    rules, chains = docker_rules(world.ips.values())
    assert rules == world.docker_before[0]
    nat_before = [rule for rule in world.docker_before[0] if rule.startswith('nat:')]
    assert len([rule for rule in rules if rule.startswith('nat:')]) == len(nat_before) > 0
    assert set(world.docker_before[1]) <= set(chains)
    assert {'nat/DOCKER', 'filter/DOCKER', 'filter/DOCKER-USER', 'filter/FORWARD'} <= set(chains)

    # A new network and containers after the role: one container reaches another,
    # and a published port answers on the host.
    port = free_port()
    docker('network', 'create', PREFIX + 'after')
    run_nginx(PREFIX + 'web-after', PREFIX + 'after', '127.0.0.1:%d:80' % port)
    request = 'exec 3<>/dev/tcp/%sweb-after/80 && printf "GET / HTTP/1.0\\r\\n\\r\\n" >&3 && head -n 1 <&3' % PREFIX
    reached = ''
    for _attempt in range(25):
        client_args = ['--rm', '--name', PREFIX + 'client', '--network', PREFIX + 'after', DEBIAN]
        client = docker('run', *client_args, 'timeout', '5', 'bash', '-c', request, check=False)
        reached = client.stdout.strip()
        if reached.startswith('HTTP/1.1 200'):
            break
        time.sleep(0.3)
    assert reached.startswith('HTTP/1.1 200'), client.stderr
    wait_until(lambda: answer('127.0.0.1', port, netns=None) == 'open:HTTP/1.1 200 OK', 20, 'the new published port')


def test_candidate_that_nft_rejects_is_not_loaded(world):
    world.ensure_base()
    table, rules = live_table(), world.rules_file()
    run = world.run(world.base_vars(firewall_extra_input_rules=['tcp dport 8443 accept', 'tcp dport 99999 accept']))
    message = failure(run)
    assert 'firewall_extra_input_rules[1] "tcp dport 99999 accept" is not a valid nftables rule' in message
    assert 'firewall_extra_input_rules[0]' not in message
    assert 'not loaded' in message
    assert live_table() == table
    assert world.rules_file() == rules


@pytest.mark.parametrize(
    ('bad', 'expected'),
    [
        ({'firewall_public_interface': ''}, ['firewall_public_interface is required', 'eth0']),
        ({'firewall_public_interface': 'itest-fw-none'}, ["'itest-fw-none' is not an interface of this host"]),
        ({'firewall_public_interface': 'lo'}, ["firewall_public_interface 'lo'", 'loopback']),
        ({'firewall_allowed_tcp_ports': [80, 70000]}, ['firewall_allowed_tcp_ports 70000', '1-65535']),
        ({'firewall_container_udp_ports': [0]}, ['firewall_container_udp_ports 0', '1-65535']),
        ({'firewall_allowed_tcp_ports': ['http']}, ['firewall_allowed_tcp_ports', 'int']),
        (
            {'firewall_ssh_allow': [OUTSIDE_ADDR, '10.0.0.300', 'admin.example']},
            ['firewall_ssh_allow', '"10.0.0.300", "admin.example"', 'CIDR'],
        ),
        (
            {'firewall_swarm_peers': [OUTSIDE_ADDR, 'node2.example']},
            ['firewall_swarm_peers', 'these are not: "node2.example"'],
        ),
        (
            {'firewall_swarm_peers': ['10.0.0.0/24', '0.0.0.0/0']},
            ['0.0.0.0/0 would open', '2377 to the whole internet'],
        ),
        (
            {'firewall_extra_forward_rules': ['accept } flush ruleset; table inet x { chain y {']},
            ['firewall_extra_forward_rules[0]', 'one nft rule statement'],
        ),
    ],
    ids=[
        'no-interface',
        'unknown-interface',
        'loopback',
        'port-too-big',
        'port-zero',
        'port-name',
        'allowlist',
        'swarm-peer-name',
        'swarm-peers-anyone',
        'rule-escaping-its-chain',
    ],
)
def test_bad_input_stops_in_the_preflight(world, bad, expected):
    world.ensure_base()
    table, rules = live_table(), world.rules_file()
    run = world.run(world.base_vars(**bad))
    message = failure(run)
    for text in expected:
        assert text in message, message
    assert run.stats['changed'] == 0
    assert live_table() == table
    assert world.rules_file() == rules


def test_commit_confirm_restores_the_rules_when_the_controller_is_lost(world):
    world.ensure_base()
    table, rules = live_table(), world.rules_file()
    open_port = world.ports['host_open']
    assert answer(HOST_ADDR, open_port).startswith('open')

    callbacks = os.path.join(world.tmp, 'callbacks')
    os.makedirs(callbacks, exist_ok=True)
    with open(os.path.join(callbacks, 'itest_fw_freeze.py'), 'w', encoding='utf-8') as handle:
        handle.write(FREEZE_CALLBACK)
    frozen = os.path.join(world.tmp, 'frozen')
    env = dict(
        ENV,
        ANSIBLE_CALLBACK_PLUGINS=callbacks,
        ANSIBLE_CALLBACKS_ENABLED='itest_fw_freeze',
        ITEST_FW_FROZEN=frozen,
    )
    # The new ruleset closes the open port: while it is live, the port does not answer.
    closing = world.base_vars(
        firewall_allowed_tcp_ports=[world.ports['web_open']], firewall_confirm_timeout=KILLED_RUN_CONFIRM_TIMEOUT
    )
    cmd = playbook_command(world.playbook, closing, inventory=world.inventory)
    with open(os.path.join(world.tmp, 'killed-run.log'), 'w', encoding='utf-8') as log:
        controller = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True)
        try:
            wait_until(
                lambda: os.path.exists(frozen) or controller.poll() is not None, 120, 'the new table to be loaded'
            )
            assert controller.poll() is None, 'ansible-playbook ended before the load: see killed-run.log'
            # Loaded and waiting for its confirmation: new table live, revert job armed.
            assert os.path.exists(world.pidfile)
            assert revert_jobs()
            assert live_fingerprint() not in (None, world.base_fingerprint)
            assert answer(HOST_ADDR, open_port) == 'filtered'
        finally:
            # The controller is lost: killed with its whole process group.
            os.killpg(controller.pid, signal.SIGKILL)
            controller.wait()

    # A new run meanwhile is refused: the pending revert job would undo it. The job is held (SIGSTOP) while
    # that run starts, which can take longer than the timeout on a loaded machine; SIGCONT lets it go on.
    held = revert_jobs()
    assert held, 'the revert job is gone after the controller was killed'
    for pid in held:
        os.kill(pid, signal.SIGSTOP)
    try:
        refused = world.run(world.base_vars())
        # Read while the job is held: once it goes on, its timeout may long be over.
        after_refused = live_fingerprint()
    finally:
        for pid in held:
            os.kill(pid, signal.SIGCONT)
    message = failure(refused)
    assert 'A revert job of an earlier run' in message
    assert after_refused not in (None, world.base_fingerprint), 'the refused run changed the live table'

    wait_until(
        lambda: live_table() == table, KILLED_RUN_CONFIRM_TIMEOUT + 15, 'the revert job to restore the previous table'
    )
    wait_until(lambda: not revert_jobs() and not os.path.exists(world.pidfile), 10, 'the revert job to end')
    assert answer(HOST_ADDR, open_port).startswith('open')
    # The rules file is written only after the confirmation: still the previous one.
    assert world.rules_file() == rules


def test_commit_confirm_run_leaves_no_revert_job_behind(world):
    world.ensure_base()
    new = world.base_vars(firewall_allowed_udp_ports=[5353], firewall_confirm_timeout=CONFIRM_TIMEOUT)
    run = world.run(new)
    assert run.rc == 0, run.stdout[-3000:]
    result = report(run)
    assert result['confirm'].startswith('confirmed')
    assert not os.path.exists(world.pidfile)
    assert not os.path.exists(os.path.join(world.run_dir, TABLE + '.rollback.nft'))
    assert revert_jobs() == []
    # Past the timeout, the new rules are still live.
    time.sleep(CONFIRM_TIMEOUT + 1.5)
    assert live_fingerprint() == result['fingerprint']
    assert 'udp dport @host_udp_ports' in live_table()
    assert 'elements = { 5353 }' in live_table()
