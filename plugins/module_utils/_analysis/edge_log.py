# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to the auraspeak.ops collection: its API may change
# without notice. It reads what the edge served from its own JSON access log
# (the edge role's log_format "json": status, upstream address, status and
# response time of every attempt), so a release can be analysed on a host that
# runs no monitoring. Parsing is pure; EdgeLogSource follows `docker logs`.

from __future__ import annotations

import datetime
import json
import re
import threading

from ansible_collections.auraspeak.ops.plugins.module_utils._analysis.verdict import Figures
from ansible_collections.auraspeak.ops.plugins.module_utils._common.engine import EngineError

# nginx separates the attempts of one request with ", " and the upstream groups
# of an internal redirect with " : ".
_SEPARATOR = re.compile(r'\s*[,:]\s+')


def parse_timestamp(text):
    """Seconds since the epoch of an RFC 3339 time as `docker logs --timestamps` prints it."""
    match = re.match(r'^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$', text)
    if not match:
        return None
    base, fraction, zone = match.groups()
    moment = datetime.datetime.strptime(base, '%Y-%m-%dT%H:%M:%S')
    offset = 0 if zone == 'Z' else (1 if zone[0] == '+' else -1) * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    epoch = (moment - datetime.datetime(1970, 1, 1)).total_seconds() - offset
    return epoch + (float('0.' + fraction) if fraction else 0.0)


def parse_line(line):
    """(time, [(upstream address, status, seconds), ...]) of one log line, or None for other lines."""
    stamp, _space, text = line.strip().partition(' ')
    when = parse_timestamp(stamp)
    if when is None or not text.startswith('{'):
        return None
    try:
        entry = json.loads(text)
    except ValueError:
        return None
    if not isinstance(entry, dict) or not entry.get('upstream_addr'):
        return None
    return when, attempts(entry)


def attempts(entry):
    """One (address, status, seconds) per upstream server the request was sent to."""
    addresses = _SEPARATOR.split(str(entry.get('upstream_addr', '')).strip())
    statuses = _SEPARATOR.split(str(entry.get('upstream_status', '')).strip())
    times = _SEPARATOR.split(str(entry.get('upstream_response_time', '')).strip())
    result = []
    for index, address in enumerate(addresses):
        if not address or address == '-' or address.startswith('unix:'):
            continue
        status = _number(statuses[index] if index < len(statuses) else '', int)
        seconds = _number(times[index] if index < len(times) else '', float)
        # No status: nginx got no answer (connection refused or reset): the replica failed.
        result.append((address, status if status is not None else 502, seconds))
    return result


def _number(text, kind):
    try:
        return kind(text)
    except ValueError:
        return None


def figures(records, groups, since, until=None):
    """{group: Figures} of the attempts sent to each group's addresses between since and until."""
    owner = {address: name for name, addresses in groups.items() for address in addresses}
    result = {name: Figures() for name in groups}
    for when, tries in records:
        if when < since or (until is not None and when > until):
            continue
        for address, status, seconds in tries:
            name = owner.get(address)
            if name:
                result[name].add(status, seconds)
    return result


class EdgeLogSource:
    """Follows the edge container's log from a point in time and keeps the parsed requests."""

    name = 'edge_log'

    def __init__(self, engine, container, since):
        self.engine = engine
        self.container = container
        self.since = since
        self.records = []
        self._lock = threading.Lock()
        self._lines = None
        self._thread = None

    def start(self):
        self._lines = self.engine.follow_logs(self.container, self.since)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        return self

    def _read(self):
        try:
            for line in self._lines:
                record = parse_line(line)
                if record and record[1]:
                    with self._lock:
                        self.records.append(record)
        except Exception:  # pylint: disable=broad-exception-caught
            return  # the stream closed by stop(), or the edge gone: the figures say what was read

    def figures(self, groups, since, until=None):
        with self._lock:
            records = list(self.records)
        return figures(records, groups, since, until)

    def stop(self):
        if self._lines:
            self._lines.close()
        if self._thread:
            self._thread.join(5)


def read_window(engine, container, since):
    """The parsed requests the edge container logged since `since` (epoch seconds), in one read of its log."""
    out = engine.logs(container, since=since, timestamps=True)
    if out is None:
        raise EngineError('cannot read the log of the edge container %s: is it running?' % container)
    return [record for record in (parse_line(line) for line in out.splitlines()) if record and record[1]]
