"""The firewall role across a restart of the Docker engine, on a throwaway engine.

The README promises that Docker's chains and the role's table live side by side:
Docker can restart and rewrite its tables without touching the role's table, and
container networking keeps working. test_firewall shows the re-run of the role on
the machine's engine, which a test must not restart; this module restarts an
engine of its own.

Two network namespaces: itest-fwr-host plays the Docker host, itest-fwr-out the
internet, joined by a veth pair (itest-fwr0 198.51.100.1/24 on the host, the
role's public interface; itest-fwr1 198.51.100.2/24 outside, default route via
the host). A throwaway dockerd runs inside the host namespace with its iptables
rules on (--iptables=true, unlike test_docker_host_role's engine), its own data and exec roots, socket,
containerd namespace and cgroup parent, and its own bridges (docker0 of the
namespace on 10.123.0.0/24, networks from 10.124.0.0/16). The role runs with
ansible-playbook under `ip netns exec itest-fwr-host`, so its nft commands see
and change only that namespace's tables (its own table itest_fwr, files under
the engine's directory).

Two nginx containers publish 8081 (opened, with firewall_container_tcp_ports)
and 8082 (not opened), with restart policy unless-stopped: a daemon that shuts
down stops them, and the same daemon starting again starts them again (what
`systemctl restart docker` does to them on a production host).

Nothing outside the two namespaces is changed: the machine's engine is only
read (docker save of the offline images). Everything is named itest-fwr* and
removed at the start (what a killed run left) and at the end, failure or not.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import re
import shutil
import subprocess
import time

import pytest
from netns_engine import NetnsEngine, cgroup_pids, kill_pids, netns_pids, remove_cgroups, sh, wait_until
from playbook_runs import ENV, ROOT, Run, playbook_command
from test_firewall import INVENTORY, PLAYBOOK, probe, report
from throwaway_engine import new_root

HOST_NS = 'itest-fwr-host'
OUT_NS = 'itest-fwr-out'
HOST_IF = 'itest-fwr0'
PEER_IF = 'itest-fwr1'
HOST_ADDR = '198.51.100.1'
OUTSIDE_ADDR = '198.51.100.2'
TABLE = 'itest_fwr'
PREFIX = 'itest-fwr-'
NGINX = 'auraspeak-offline/nginx:1.22'
DEBIAN = 'auraspeak-offline/debian:bookworm'
OPEN_PORT = 8081
CLOSED_PORT = 8082
BRIDGE_ADDR = '10.123.0.1/24'
DAEMON_CONFIG = {
    'bip': BRIDGE_ADDR,
    'default-address-pools': [{'base': '10.124.0.0/16', 'size': 24}],
}
OK = 'open:HTTP/1.1 200 OK'


def in_host(*argv, check=True, timeout=120):
    """A command in the namespace that plays the Docker host."""
    return sh('ip', 'netns', 'exec', HOST_NS, *argv, check=check, timeout=timeout)


def out_probe(*targets):
    return probe(*targets, netns=OUT_NS)


def from_outside(port):
    return out_probe((HOST_ADDR, port))['%s:%d' % (HOST_ADDR, port)]


def role_table():
    """The role's table in the host namespace (no counters), and its handle; (None, None) when there is none."""
    proc = in_host('nft', '--handle', '--stateless', 'list', 'table', 'inet', TABLE, check=False)
    if proc.returncode:
        return None, None
    handle = re.search(r'^table inet %s \{ # handle (\d+)$' % TABLE, proc.stdout, re.M).group(1)
    return re.sub(r' # handle \d+$', '', proc.stdout, flags=re.M), handle


def docker_nat():
    """Docker's nat DOCKER chain in the host namespace: its handle and its DNATs {published port: target}."""
    proc = in_host('nft', '--handle', 'list', 'chain', 'ip', 'nat', 'DOCKER', check=False)
    if proc.returncode:
        return None, {}
    handle = re.search(r'^\s*chain DOCKER \{ # handle (\d+)$', proc.stdout, re.M).group(1)
    dnats = {int(port): target for port, target in re.findall(r'tcp dport (\d+) .*dnat to (\S+)', proc.stdout)}
    return handle, dnats


def host_pids():
    """Processes in the host namespace (dockerd, its containerd and shims, docker-proxy)."""
    return netns_pids(HOST_NS)


class HostEngine(NetnsEngine):
    """A dockerd of its own under /tmp/itest-fwr-<hex>, inside the host namespace, with iptables on."""

    def __init__(self, root=None):
        super().__init__(root or new_root(PREFIX), HOST_NS)


def remove_everything():
    """What this module creates, also what a killed run left behind."""
    for root in glob.glob('/tmp/%s*' % PREFIX):
        if re.fullmatch(re.escape(PREFIX) + '[0-9a-f]{10}', os.path.basename(root)):
            HostEngine(root).destroy()
    kill_pids(cgroup_pids(PREFIX + '*'))
    remove_cgroups(PREFIX + '*')
    kill_pids(host_pids())
    for netns in (HOST_NS, OUT_NS):
        sh('ip', 'netns', 'delete', netns, check=False)
    # Candidates of killed role runs (the role removes its own otherwise).
    for path in glob.glob('/tmp/%s.*.nft' % TABLE):
        with contextlib.suppress(OSError):
            os.unlink(path)


class World:
    def __init__(self, engine):
        self.engine = engine
        self.playbook = os.path.join(engine.root, 'firewall.yml')
        self.inventory = os.path.join(engine.root, 'hosts.yml')
        self.rules_path = os.path.join(engine.root, 'role', 'etc', 'firewall.nft')
        self.run_dir = os.path.join(engine.root, 'role', 'run')

    def role_vars(self):
        return {
            'firewall_public_interface': HOST_IF,
            'firewall_table': TABLE,
            'firewall_rules_path': self.rules_path,
            'firewall_run_dir': self.run_dir,
            'firewall_allowed_tcp_ports': [],
            # Open only for what containers publish: the connection must have been DNATed by Docker.
            'firewall_container_tcp_ports': [OPEN_PORT],
            'firewall_ssh_allow': [],
        }

    def run_role(self):
        """ansible-playbook inside the host namespace: the role's nft sees only that namespace's tables."""
        playbook = playbook_command(self.playbook, self.role_vars(), inventory=self.inventory)
        cmd = ['ip', 'netns', 'exec', HOST_NS, *playbook]
        completed = subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600, check=False)
        run = Run(completed)
        assert run.rc == 0, run.stdout[-3000:] + completed.stderr[-2000:]
        return run

    def nginx(self, name, port):
        self.engine.docker(
            'run', '-d', '--name', PREFIX + name, '--network', PREFIX + 'pub',
            '--restart', 'unless-stopped', '--publish', '0.0.0.0:%d:80' % port, NGINX,
        )  # fmt: skip

    def container_ips(self):
        template = '{{(index .NetworkSettings.Networks "%spub").IPAddress}}' % PREFIX
        return {
            port: self.engine.docker('inspect', '--format', template, PREFIX + name).stdout.strip()
            for name, port in (('open', OPEN_PORT), ('closed', CLOSED_PORT))
        }

    def wait_until_served(self):
        """Both containers answer on the host itself (through Docker's DNAT or its proxy)."""
        targets = [(HOST_ADDR, OPEN_PORT), (HOST_ADDR, CLOSED_PORT)]
        wait_until(
            lambda: set(probe(*targets, netns=HOST_NS).values()) == {OK}, 60, 'the containers to answer on the host'
        )


@pytest.fixture(scope='module')
def world():
    if shutil.which('dockerd') is None:
        pytest.skip('dockerd not installed')
    if os.path.exists('/run/systemd/system'):
        # Under systemd the role installs and starts its boot unit, which would load
        # the test's table into the machine's own namespace.
        pytest.skip('the role installs a systemd unit on this host; the test runs only where systemd does not')
    for image in (NGINX, DEBIAN):
        if subprocess.run(['docker', 'image', 'inspect', image], capture_output=True, check=False).returncode:
            pytest.skip(image + ' not built: run `make images` first')
    remove_everything()
    had_docker0 = os.path.exists('/sys/class/net/docker0')
    engine = HostEngine()
    os.mkdir(engine.root, 0o700)
    state = World(engine)
    try:
        with open(engine.config, 'w', encoding='utf-8') as handle:
            json.dump(DAEMON_CONFIG, handle)
        with open(state.playbook, 'w', encoding='utf-8') as handle:
            handle.write(PLAYBOOK)
        with open(state.inventory, 'w', encoding='utf-8') as handle:
            handle.write(INVENTORY)

        # The Docker host and the outside, joined by a veth pair created right in the namespaces.
        sh('ip', 'netns', 'add', HOST_NS)
        sh('ip', 'netns', 'add', OUT_NS)
        sh('ip', 'link', 'add', HOST_IF, 'netns', HOST_NS, 'type', 'veth', 'peer', 'name', PEER_IF, 'netns', OUT_NS)
        for netns, commands in (
            (
                HOST_NS,
                [
                    ['ip', 'link', 'set', 'lo', 'up'],
                    ['ip', 'address', 'add', HOST_ADDR + '/24', 'dev', HOST_IF],
                    ['ip', 'link', 'set', HOST_IF, 'up'],
                    ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1'],
                ],
            ),
            (
                OUT_NS,
                [
                    ['ip', 'link', 'set', 'lo', 'up'],
                    ['ip', 'address', 'add', OUTSIDE_ADDR + '/24', 'dev', PEER_IF],
                    ['ip', 'link', 'set', PEER_IF, 'up'],
                    ['ip', 'route', 'add', 'default', 'via', HOST_ADDR],
                ],
            ),
        ):
            for command in commands:
                sh('ip', 'netns', 'exec', netns, *command)

        engine.start()
        # The engine's docker0 is the namespace's own, on its own range.
        bridge = in_host('ip', '-o', '-4', 'address', 'show', 'dev', 'docker0').stdout
        assert ' inet %s ' % BRIDGE_ADDR in bridge, bridge
        images = subprocess.run(['docker', 'save', NGINX, DEBIAN], capture_output=True, check=True, timeout=300)
        load = ['docker', '-H', engine.host, 'load', '-q']
        subprocess.run(load, input=images.stdout, capture_output=True, check=True, timeout=300)

        engine.docker('network', 'create', PREFIX + 'pub')
        state.nginx('open', OPEN_PORT)
        state.nginx('closed', CLOSED_PORT)
        state.wait_until_served()
        yield state
    finally:
        engine.destroy()
        remove_everything()
    # The machine's docker0 and the machine's nftables were left alone.
    assert os.path.exists('/sys/class/net/docker0') or not had_docker0, 'the test removed the machine docker0'
    assert sh('nft', 'list', 'table', 'inet', TABLE, check=False).returncode != 0, 'the table reached the machine'


def test_published_ports_bypass_the_host_before_the_role(world):
    """Without the role, both published ports answer from outside: Docker's DNAT bypasses the host's input path."""
    assert role_table() == (None, None)
    _handle, dnats = docker_nat()
    ips = world.container_ips()
    assert dnats == {OPEN_PORT: ips[OPEN_PORT] + ':80', CLOSED_PORT: ips[CLOSED_PORT] + ':80'}
    seen = out_probe((HOST_ADDR, OPEN_PORT), (HOST_ADDR, CLOSED_PORT))
    assert set(seen.values()) == {OK}, seen


def test_role_filters_the_port_it_does_not_open(world):
    run = world.run_role()
    assert report(run)['table'] == 'inet ' + TABLE
    assert role_table()[0] is not None
    assert from_outside(OPEN_PORT) == OK
    assert from_outside(CLOSED_PORT) == 'filtered'
    # Only the namespace's tables: the machine has no such table.
    assert sh('nft', 'list', 'table', 'inet', TABLE, check=False).returncode != 0


def test_engine_restart_keeps_the_role_and_container_networking(world):
    engine = world.engine
    world.run_role()  # nothing to change after the test before; applies the role when this test runs alone
    table, table_handle = role_table()
    assert table is not None
    nat_handle, dnats = docker_nat()
    assert set(dnats) == {OPEN_PORT, CLOSED_PORT}
    assert from_outside(OPEN_PORT) == OK
    assert from_outside(CLOSED_PORT) == 'filtered'

    # Stop the engine (SIGTERM): it stops the containers and takes their DNATs away.
    first_daemon = engine.process.pid
    engine.stop()
    assert docker_nat()[1] == {}, 'the stopped engine left its DNAT rules'
    assert role_table() == (table, table_handle)

    # Start it again: the containers come back by their restart policy (unless-stopped).
    engine.start()
    assert engine.process.pid != first_daemon
    wait_until(lambda: len(engine.running()) == 2, 60, 'the containers to be started again by the engine')
    # Both answer on the host itself again, the closed port included: what follows is the firewall.
    world.wait_until_served()

    # Docker re-created its chains: 20.10 deletes its nat DOCKER chain at start and creates it
    # again (a new handle), with the DNATs of the containers, wherever they are now.
    new_nat_handle, new_dnats = docker_nat()
    assert new_nat_handle is not None and new_nat_handle != nat_handle, 'the engine did not re-create nat DOCKER'
    ips = world.container_ips()
    assert new_dnats == {OPEN_PORT: ips[OPEN_PORT] + ':80', CLOSED_PORT: ips[CLOSED_PORT] + ':80'}
    # The role's table was neither touched nor reloaded (same rules, same handle).
    assert role_table() == (table, table_handle)

    # From outside: the opened port answers, the other is still dropped.
    assert from_outside(OPEN_PORT) == OK
    assert from_outside(CLOSED_PORT) == 'filtered'

    # A new network and containers after the restart: one reaches the other by name.
    engine.docker('network', 'create', PREFIX + 'after')
    engine.docker('run', '-d', '--name', PREFIX + 'after-web', '--network', PREFIX + 'after', NGINX)
    request = 'exec 3<>/dev/tcp/%safter-web/80 && printf "GET / HTTP/1.0\\r\\n\\r\\n" >&3 && head -n 1 <&3' % PREFIX
    reached, client = '', None
    for _attempt in range(25):
        client_args = ['--rm', '--name', PREFIX + 'client', '--network', PREFIX + 'after', DEBIAN]
        client = engine.docker('run', *client_args, 'timeout', '5', 'bash', '-c', request, check=False)
        reached = client.stdout.strip()
        if reached.startswith('HTTP/1.1 200'):
            break
        time.sleep(0.3)
    assert reached.startswith('HTTP/1.1 200'), client.stderr

    # The role again: nothing to change.
    again = world.run_role()
    assert again.stats['changed'] == 0, again.stdout[-3000:]
    assert report(again)['live'] == 'up to date'
    assert role_table() == (table, table_handle)
