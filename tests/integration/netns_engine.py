"""A throwaway dockerd inside a network namespace of the test's own.

The namespace plays a Docker host: the engine's bridges, iptables rules,
published ports and (for Swarm) its overlay traffic stay in it. The engine's
files live under its root in /tmp (throwaway_engine), and what a killed run
left (daemons, shims, containers, cgroups) is found again by namespace and by
cgroup parent, so the next run can remove it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import signal
import subprocess
import time

from throwaway_engine import ThrowawayEngine

# `ip netns exec` mounts a sysfs of the namespace over /sys, which hides the
# cgroup hierarchies mounted under /sys/fs/cgroup (dockerd then stops at "Devices
# cgroup isn't mounted"). In a private mount namespace of its own, this does the
# same sysfs mount but keeps the cgroup hierarchies, then runs dockerd.
NETNS_SYSFS = """
set -e
root=$1
shift
mkdir -p "$root/cgroup"
mount --rbind /sys/fs/cgroup "$root/cgroup"
mount -t sysfs sysfs /sys
mount --rbind "$root/cgroup" /sys/fs/cgroup
umount -l "$root/cgroup"
exec "$@"
"""


def sh(*argv, check=True, timeout=120, **kwargs):
    """Run argv; with check, a failure raises with its output."""
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False, **kwargs)
    if check and proc.returncode != 0:
        raise AssertionError('%s: rc=%d\n%s%s' % (' '.join(argv), proc.returncode, proc.stdout, proc.stderr))
    return proc


def alive(pid):
    """Whether pid runs (a zombie does not)."""
    try:
        with open('/proc/%d/stat' % pid, encoding='utf-8') as handle:
            return handle.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except (OSError, IndexError):
        return False


def kill_pids(pids):
    """SIGKILL to each of pids, then wait for them to end."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)


def netns_pids(netns):
    """Processes in the network namespace (dockerd, its containerd and shims, docker-proxy)."""
    proc = subprocess.run(['ip', 'netns', 'pids', netns], capture_output=True, text=True, check=False)
    return [int(pid) for pid in proc.stdout.split()] if proc.returncode == 0 else []


def cgroups(name):
    """The cgroups under the cgroup parent(s) matching name, deepest first (cgroup v1: one tree per controller)."""
    found = glob.glob('/sys/fs/cgroup/*/%s/**/' % name, recursive=True)
    found += glob.glob('/sys/fs/cgroup/%s/**/' % name, recursive=True)
    return sorted(found, key=len, reverse=True)


def cgroup_pids(name):
    """Processes in those cgroups: the containers of an engine that is gone."""
    pids = set()
    for cgroup in cgroups(name):
        with contextlib.suppress(OSError, ValueError), open(cgroup + 'cgroup.procs', encoding='utf-8') as handle:
            pids.update(int(pid) for pid in handle.read().split())
    return sorted(pids)


def remove_cgroups(name):
    """Remove those cgroups, empty once their processes are gone."""
    for cgroup in cgroups(name):
        with contextlib.suppress(OSError):
            os.rmdir(cgroup)


def wait_until(predicate, timeout, what):
    """predicate's first true value, asked every 0.2 s; after timeout seconds without one, a failure naming what."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError('timed out waiting for ' + what)


class NetnsEngine(ThrowawayEngine):
    """A dockerd of its own under root, inside the network namespace netns, with iptables on."""

    def __init__(self, root, netns):
        super().__init__(root)
        self.netns = netns

    def argv(self):
        return [
            'unshare', '--mount', '--propagation', 'private', '--',
            'nsenter', '--net=/run/netns/' + self.netns, '--',
            'sh', '-c', NETNS_SYSFS, 'netns-dockerd', self.root,
            'dockerd', *self.dockerd_flags(),
            '--iptables=true',
        ]  # fmt: skip

    def running(self):
        return self.docker('ps', '-q', '--filter', 'status=running').stdout.split()

    def daemon_pid(self):
        """The pid of this engine's dockerd (also one that a killed run left), None when it is not running."""
        if self.process is not None:
            return self.process.pid if self.process.poll() is None else None
        try:
            with open(self.pidfile, encoding='utf-8') as handle:
                pid = int(handle.read().strip())
            with open('/proc/%d/cmdline' % pid, 'rb') as handle:
                cmdline = handle.read()
        except (OSError, ValueError):
            return None
        return pid if b'dockerd' in cmdline and self.root.encode() in cmdline else None

    def stop(self, sig=signal.SIGTERM):
        """SIGTERM (what `systemctl stop docker` sends) by default; wait for the daemon to end."""
        pid = self.daemon_pid()
        if pid is None:
            return
        os.kill(pid, sig)
        if self.process is not None:
            self.process.wait(timeout=90)
        else:
            wait_until(lambda: not alive(pid), 90, 'the leftover dockerd to end')

    def destroy(self):
        if self.daemon_pid() is not None:
            self.remove_containers()
        with contextlib.suppress(subprocess.TimeoutExpired, AssertionError):
            self.stop()
        # What a daemon that could not stop, or a killed run, left: its containers
        # (in its cgroup parent) and its containerd and shims (in the namespace).
        kill_pids(cgroup_pids(self.name))
        kill_pids(netns_pids(self.netns))
        self.remove_root()
        remove_cgroups(self.name)
