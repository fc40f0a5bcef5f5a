"""An open-loop HTTP(S) load generator: requests start at a fixed rate whatever
the answers take, each on a new connection (a new TLS handshake over HTTPS), so
a server that stalls or drops connections shows up as failures instead of a
slower client. Used by the integration tests and the benchmarks in bench/.

    python tests/integration/open_load.py https://localhost:8443 --cafile /etc/auraspeak/tls/ca.crt \\
        --rate 300 --seconds 60 --mix api

Mixes: `version` (GET /version only) and `api` (GET /version, GET /api/notes
and an authenticated POST /api/notes in turn; the token comes from POST /api/login).
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import http.client
import itertools
import json
import signal
import ssl
import threading
import time
import urllib.parse

MIXES = {
    'version': [('GET', '/version')],
    'api': [('GET', '/version'), ('GET', '/api/notes'), ('POST', '/api/notes')],
}


class Load:
    def __init__(self, url, rate=150.0, mix='version', workers=96, timeout=10.0, cafile=None, slow=0.25):
        parts = urllib.parse.urlsplit(url)
        self.scheme, self.host = parts.scheme, parts.hostname
        self.port = parts.port or (443 if self.scheme == 'https' else 80)
        self.mix = MIXES[mix] if parts.path in ('', '/') else [('GET', parts.path)]
        self.requests = itertools.cycle(self.mix)
        self.rate = rate
        self.timeout = timeout
        self.context = ssl.create_default_context(cafile=cafile) if self.scheme == 'https' else None
        self.token = None
        self.outcomes = collections.Counter()
        self.by_request = collections.Counter()
        self.versions = collections.Counter()
        self.errors = []  # (seconds since start, method path, outcome)
        self.failure_times = []  # monotonic time of every failed request
        self.finish_times = []  # ... of every request
        self.slow = slow
        self.slow_times = []  # ... of every answer that took more than `slow` seconds
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers)
        self._thread = threading.Thread(target=self._schedule, daemon=True)
        self.started = self.stopped = self.started_at = None

    def _connection(self):
        if self.context:
            return http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout, context=self.context)
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def call(self, method, path, body=None):
        headers = {'Connection': 'close', 'Host': self.host}
        if body is not None:
            headers['Content-Type'] = 'application/json'
            if self.token:
                headers['Authorization'] = 'Bearer ' + self.token
        connection = self._connection()
        try:
            connection.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def login(self):
        status, body = self.call('POST', '/api/login', {'username': 'load'})
        if status != 200:
            raise RuntimeError('POST /api/login answered %s: %s' % (status, body[:200]))
        self.token = json.loads(body)['token']

    def _one(self, method, path):
        version = None
        begun = time.monotonic()
        try:
            status, body = self.call(method, path, {'title': 'load', 'body': 'x'} if method == 'POST' else None)
            outcome = status
            if path == '/version' and status == 200:
                version = json.loads(body).get('version')
        except (OSError, http.client.HTTPException, ValueError) as exc:
            outcome = type(exc).__name__
        failed = not (isinstance(outcome, int) and 200 <= outcome < 300)
        finished = time.monotonic()
        with self._lock:
            self.finish_times.append(finished)
            if finished - begun > self.slow:
                self.slow_times.append(finished)
            self.outcomes[outcome] += 1
            self.by_request['%s %s %s' % (method, path, outcome)] += 1
            if version:
                self.versions[version] += 1
            if failed:
                self.failure_times.append(finished)
                if len(self.errors) < 20:
                    self.errors.append((round(time.monotonic() - self.started, 2), '%s %s' % (method, path), outcome))

    def _schedule(self):
        sent = 0
        while not self._stop.is_set():
            due = self.started + sent / self.rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self._pool.submit(self._one, *next(self.requests))
            sent += 1

    def start(self):
        if self.token is None and any(method == 'POST' for method, _path in self.mix):
            self.login()
        self.started = time.monotonic()
        self.started_at = time.time()  # the wall clock, for a caller in another process
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join()
        self._pool.shutdown(wait=True)
        self.stopped = time.monotonic()
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def total(self):
        return sum(self.outcomes.values())

    @property
    def failed(self):
        return sum(n for outcome, n in self.outcomes.items() if not (isinstance(outcome, int) and 200 <= outcome < 300))

    def report(self):
        seconds = self.stopped - self.started
        return {
            'requests': self.total,
            'failed': self.failed,
            'seconds': round(seconds, 1),
            'rate': round(self.total / seconds, 1),
            'outcomes': {str(k): v for k, v in self.outcomes.items()},
            'by_request': dict(self.by_request),
            'versions': dict(self.versions),
            'first_errors': self.errors,
            'started_at': self.started_at,
            # Seconds after the start of the first and the last failed request's end, and of slow answers.
            'failed_between': self._window(self.failure_times),
            'slow': len(self.slow_times),
            'slow_between': self._window(self.slow_times),
        }

    def _window(self, times):
        return [round(min(times) - self.started, 2), round(max(times) - self.started, 2)] if times else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('url')
    parser.add_argument('--rate', type=float, default=150)
    parser.add_argument('--seconds', type=float, default=30)
    parser.add_argument('--mix', choices=sorted(MIXES), default='version')
    parser.add_argument('--cafile')
    options = parser.parse_args()
    # SIGTERM ends the run early and still reports (a test that runs the load in a
    # network namespace stops it when the operation under load is over).
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    load = Load(options.url, options.rate, options.mix, cafile=options.cafile).start()
    done.wait(options.seconds)
    print(json.dumps(load.stop().report(), indent=2))


if __name__ == '__main__':
    main()
