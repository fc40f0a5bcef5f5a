"""A dockerd of a test's own, beside the machine's engine.

Everything it owns lives under one root in /tmp (data, exec root, socket, pid
file, config, log) and carries the root's name (containerd namespace, cgroup
parent), so it never meets the machine's engine and leaves nothing behind.
Subclasses say how the daemon is started (argv) and with which network.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid


def new_root(prefix):
    # containerd namespaces allow [A-Za-z0-9] runs joined by single '.', '_' or '-':
    # a hex uuid suffix keeps the name valid (a mkdtemp suffix may not).
    return os.path.join('/tmp', prefix + uuid.uuid4().hex[:10])


class ThrowawayEngine:
    def __init__(self, root):
        self.root = root
        self.name = os.path.basename(root)
        self.config = os.path.join(root, 'daemon.json')
        self.pidfile = os.path.join(root, 'docker.pid')
        self.host = 'unix://' + os.path.join(root, 'docker.sock')
        self.log = os.path.join(root, 'dockerd.log')
        self.process = None

    def argv(self):
        raise NotImplementedError

    def dockerd_flags(self):
        """The flags that keep this daemon apart from the machine's engine."""
        return [
            '--data-root', os.path.join(self.root, 'data'),
            '--exec-root', os.path.join(self.root, 'exec'),
            '--pidfile', self.pidfile,
            '-H', self.host,
            '--config-file', self.config,
            '--containerd-namespace', self.name,
            '--containerd-plugins-namespace', self.name + '-plugins',
            '--cgroup-parent', '/' + self.name,
        ]  # fmt: skip

    def docker(self, *args, check=True, **kwargs):
        proc = subprocess.run(
            ['docker', '-H', self.host, *args], capture_output=True, text=True, timeout=120, check=False, **kwargs
        )
        if check and proc.returncode != 0:
            raise AssertionError('docker %s: %s%s' % (' '.join(args), proc.stdout, proc.stderr))
        return proc

    def start(self):
        with open(self.log, 'ab') as log:
            self.process = subprocess.Popen(self.argv(), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while self.docker('version', check=False).returncode != 0:
            if self.process.poll() is not None or time.monotonic() > deadline:
                with open(self.log, encoding='utf-8', errors='replace') as handle:
                    tail = handle.read()[-2000:]
                raise AssertionError('the throwaway dockerd did not start:\n' + tail)
            time.sleep(0.2)

    def remove_containers(self):
        ids = self.docker('ps', '-aq', check=False).stdout.split()
        if ids:
            self.docker('rm', '-f', *ids, check=False)

    def remove_root(self):
        """The root, once the daemon is gone: dockerd leaves bind mounts under it."""
        with open('/proc/mounts', encoding='utf-8') as handle:
            mounts = [line.split()[1] for line in handle if line.split()[1].startswith(self.root + '/')]
        for mount in sorted(mounts, reverse=True):
            subprocess.run(['umount', '-l', mount], capture_output=True, check=False)
        shutil.rmtree(self.root, ignore_errors=True)
