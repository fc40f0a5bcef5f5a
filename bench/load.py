"""An open-loop HTTP load generator: requests start at a fixed rate whatever
the answers take, each on a new connection, so a server that stalls or drops
connections shows up as failures instead of a slower client.

    python bench/load.py http://127.0.0.1:8080/version --rate 150 --seconds 30
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import http.client
import json
import threading
import time
import urllib.parse


class Load:
    def __init__(self, url, rate=150.0, workers=64, timeout=10.0):
        parts = urllib.parse.urlsplit(url)
        self.host, self.port, self.path = parts.hostname, parts.port or 80, parts.path or '/'
        self.rate = rate
        self.timeout = timeout
        self.outcomes = collections.Counter()
        self.versions = collections.Counter()
        self.errors = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers)
        self._thread = threading.Thread(target=self._schedule, daemon=True)
        self.started = self.stopped = None

    def _one(self):
        try:
            connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            connection.request('GET', self.path, headers={'Connection': 'close'})
            response = connection.getresponse()
            body = response.read()
            connection.close()
            outcome = response.status
            version = json.loads(body).get('version') if response.status == 200 else None
        except (OSError, http.client.HTTPException, ValueError) as exc:
            outcome, version = type(exc).__name__, None
        with self._lock:
            self.outcomes[outcome] += 1
            if version:
                self.versions[version] += 1
            if outcome != 200 and len(self.errors) < 20:
                self.errors.append((round(time.monotonic() - self.started, 2), outcome))

    def _schedule(self):
        sent = 0
        while not self._stop.is_set():
            due = self.started + sent / self.rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self._pool.submit(self._one)
            sent += 1

    def start(self):
        self.started = time.monotonic()
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join()
        self._pool.shutdown(wait=True)
        self.stopped = time.monotonic()
        return self

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
            'versions': dict(self.versions),
            'first_errors': self.errors,
        }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('url')
    parser.add_argument('--rate', type=float, default=150)
    parser.add_argument('--seconds', type=float, default=30)
    options = parser.parse_args()
    load = Load(options.url, options.rate).start()
    time.sleep(options.seconds)
    print(json.dumps(load.stop().report(), indent=2))


if __name__ == '__main__':
    main()
