# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to the auraspeak.ops collection: its API may change
# without notice. The one time format of the collection's state files (the
# release ledger, the deploy lock): UTC to the second, 'YYYY-MM-DDTHH:MM:SSZ';
# and the one of names it gives files and directories: 'YYYYMMDDTHHMMSSZ'.

from __future__ import annotations

import datetime

_TIME_FORMAT = '%Y-%m-%dT%H:%M:%SZ'
_STAMP_FORMAT = '%Y%m%dT%H%M%SZ'


# datetime.timezone.utc, not datetime.UTC (Python 3.11+): this runs on managed hosts' Pythons.
def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime(_TIME_FORMAT)  # noqa: UP017


def utc_time(seconds):
    """The state files' time of a moment given in seconds since the epoch."""
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime(_TIME_FORMAT)  # noqa: UP017


def utc_stamp():
    """The time for a name (a dump's file, data set aside by a restore): UTC to the second, no separators."""
    return datetime.datetime.now(datetime.timezone.utc).strftime(_STAMP_FORMAT)  # noqa: UP017


def parse_time(value):
    """Seconds since the epoch of a 'YYYY-MM-DDTHH:MM:SSZ' string, or None when it is not one."""
    try:
        moment = datetime.datetime.strptime(value, _TIME_FORMAT)
    except (TypeError, ValueError):
        return None
    return moment.replace(tzinfo=datetime.timezone.utc).timestamp()  # noqa: UP017


def parse_stamp(value):
    """Seconds since the epoch of a 'YYYYMMDDTHHMMSSZ' name stamp (ValueError when it is not one)."""
    moment = datetime.datetime.strptime(value, _STAMP_FORMAT)
    return moment.replace(tzinfo=datetime.timezone.utc).timestamp()  # noqa: UP017
