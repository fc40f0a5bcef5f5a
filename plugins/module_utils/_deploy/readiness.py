# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to the auraspeak.ops collection: its API may change
# without notice. The readiness gate: after the health gate, each new container
# must answer its readiness path (GET, 200) before it takes traffic. A health
# check says the process lives; readiness says it can serve - its database and
# cache answer, with the credentials it was given. Probed from the host, a new
# connection per request, at the container's own addresses.

from __future__ import annotations

import http.client
import time

PROBE_TIMEOUT = 3.0
POLL_INTERVAL = 1.0
BODY_LIMIT = 300


def probe(address, port, path, timeout=PROBE_TIMEOUT):
    """(status, body) of GET http://address:port/path; status None when no answer came."""
    connection = http.client.HTTPConnection(address, port, timeout=timeout)
    try:
        connection.request('GET', path, headers={'Connection': 'close', 'User-Agent': 'auraspeak.ops-readiness'})
        response = connection.getresponse()
        return response.status, response.read(BODY_LIMIT).decode('utf-8', 'replace').strip()
    except (OSError, http.client.HTTPException) as exc:
        return None, str(exc) or type(exc).__name__
    finally:
        connection.close()


def answer_of(container, port, path, probe=probe):
    """The first 200 from any of the container's addresses, else the last answer: (status, body)."""
    last = (None, 'no address on any network')
    for address in container.addresses:
        last = probe(address, port, path)
        if last[0] == 200:
            break
    return last


def wait_until_ready(containers, port, path, timeout, probe=probe, clock=time.monotonic, sleep=time.sleep):
    """Poll until every container answers 200 at path, or timeout seconds pass.

    Returns {} when all are ready, else {container name: 'answered <status>: <body>' or 'no answer: <why>'}.
    """
    deadline = clock() + timeout
    waiting = list(containers)
    answers = {}
    while True:
        for container in list(waiting):
            status, body = answer_of(container, port, path, probe)
            if status == 200:
                waiting.remove(container)
                answers.pop(container.name, None)
            else:
                answers[container.name] = ('answered %d: %s' % (status, body)) if status else 'no answer: ' + body
        if not waiting or clock() >= deadline:
            return answers
        sleep(POLL_INTERVAL)
