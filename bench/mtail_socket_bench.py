"""The edge's request metrics: lines nginx would send to mtail's socket, and how many mtail counted.

    .venv/bin/python bench/mtail_socket_bench.py                       # 300, 1000 and 5000 lines/s
    .venv/bin/python bench/mtail_socket_bench.py --rates 300 --seconds 20 --image auraspeak-offline/mtail:3.0

mtail runs as the edge role runs it (roles/edge/tasks/metrics.yml: its program
roles/edge/files/edge.mtail, a Unix datagram socket on a tmpfs volume), and this
script sends it the edge's lines the way nginx does: a non-blocking socket, so a
line that does not fit in the socket's queue is dropped (EAGAIN), never waited
for. Each rate runs twice in the same run: with the role's queue of 1024
datagrams (net.unix.max_dgram_qlen) and with the kernel's default of 10, the
baseline. Needs root (the sender opens the socket through the volume's mount
point on the host).

Prints, per rate and queue: lines sent, refused by the socket (EAGAIN), counted
by mtail (edge_http_requests_total after it settles), and counted / sent.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import time
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROGRAM_DIR = os.path.join(ROOT, 'roles', 'edge', 'files')
SOCKET_DIR = '/run/edge-metrics'
LINE = b'<190>Dec  4 01:00:00 edge: upstream="172.20.0.5:3000" status=200 seconds=0.004\n'


def docker(*args):
    return subprocess.run(['docker', *args], capture_output=True, text=True, timeout=120, check=True).stdout.strip()


def start_mtail(name, image, qlen):
    docker('volume', 'create', '--driver', 'local', '--opt', 'type=tmpfs', '--opt', 'device=tmpfs',
           '--opt', 'o=size=1m,mode=0777', name)  # fmt: skip
    docker(
        'run', '-d', '--name', name, '--user', '65534:65534', '--read-only', '--sysctl',
        'net.unix.max_dgram_qlen=%d' % qlen, '-v', '%s:%s' % (name, SOCKET_DIR),
        '-v', '%s:/etc/mtail:ro' % PROGRAM_DIR, image,
        '--progs=/etc/mtail', '--logs=unixgram://%s/access.sock' % SOCKET_DIR, '--logtostderr',
        '--emit_prog_label=false',
    )  # fmt: skip
    path = os.path.join(docker('volume', 'inspect', '-f', '{{.Mountpoint}}', name), 'access.sock')
    deadline = time.monotonic() + 30
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise RuntimeError('mtail made no socket: ' + docker('logs', name))
        time.sleep(0.2)
    address = docker('inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', name)
    return path, 'http://%s:3903/metrics' % address


def counted(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith('edge_http_requests_total{'):
                return int(float(line.rsplit(' ', 1)[1]))
    return 0


def send(path, rate, seconds):
    """Open loop at rate lines a second, non-blocking as nginx: (sent, refused)."""
    sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sender.setblocking(False)
    sender.connect(path)
    total, refused = int(rate * seconds), 0
    start = time.monotonic()
    for index in range(total):
        try:
            sender.send(LINE)
        except BlockingIOError:
            refused += 1
        pause = start + (index + 1) / rate - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    sender.close()
    return total, refused


def settle(url):
    """mtail's count once it stops growing (it reads its socket a second or two behind)."""
    last, stable_since = -1, time.monotonic()
    while time.monotonic() - stable_since < 3:
        now = counted(url)
        if now != last:
            last, stable_since = now, time.monotonic()
        time.sleep(0.5)
    return last


def run(image, rate, seconds, qlen):
    name = 'bench-mtail-' + uuid.uuid4().hex[:8]
    try:
        path, url = start_mtail(name, image, qlen)
        sent, refused = send(path, rate, seconds)
        got = settle(url)
        return {'rate': rate, 'qlen': qlen, 'sent': sent, 'refused': refused, 'counted': got,
                'counted_share': round(got / sent, 4)}  # fmt: skip
    finally:
        subprocess.run(['docker', 'rm', '-f', name], capture_output=True, check=False)
        subprocess.run(['docker', 'volume', 'rm', '-f', name], capture_output=True, check=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--image', default='auraspeak-offline/mtail:3.0')
    parser.add_argument('--rates', default='300,1000,5000', help='lines a second, comma separated')
    parser.add_argument('--seconds', type=float, default=10)
    args = parser.parse_args()
    results = [run(args.image, int(rate), args.seconds, qlen) for rate in args.rates.split(',') for qlen in (1024, 10)]
    print(json.dumps({'image': args.image, 'seconds': args.seconds, 'runs': results}, indent=2))


if __name__ == '__main__':
    main()
