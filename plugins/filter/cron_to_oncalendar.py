# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: cron_to_oncalendar
short_description: Turn a five-field cron schedule into a systemd OnCalendar expression
version_added: 0.1.0
description:
  - Lets one schedule variable drive both a cron file and a systemd timer.
  - Fields may be C(*), numbers, lists (V(1,3)), ranges (V(1-5)) and steps (V(*/15), V(0-30/10)).
    Day-of-week 0 and 7 are Sunday (no steps there). Names (V(mon), V(jan)) and C(@daily) shortcuts
    are not accepted.
  - A schedule that restricts both day-of-month and day-of-week is refused - cron runs when either
    matches, systemd only when both do - and so are steps of 0 and ranges that run backwards.
options:
  _input:
    description: The cron schedule, C(minute hour day-of-month month day-of-week).
    type: str
    required: true
author:
  - auraspeak.ops contributors (@auraspeak)
"""

EXAMPLES = r"""
- name: "'0 3 * * 1-6' becomes 'Mon..Sat *-*-* 03:00:00'"
  ansible.builtin.debug:
    msg: "{{ '0 3 * * 1-6' | auraspeak.ops.cron_to_oncalendar }}"
"""

RETURN = r"""
_value:
  description: The OnCalendar expression.
  type: str
"""

from ansible.errors import AnsibleFilterError

_DAYS = ('Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun')
_LIMITS = {'minute': (0, 59), 'hour': (0, 23), 'day': (1, 31), 'month': (1, 12), 'weekday': (0, 7)}


def _error(schedule, text):
    return AnsibleFilterError('cron schedule %r: %s' % (schedule, text))


def _number(text, field, schedule):
    low, high = _LIMITS[field]
    if not text.isdigit() or not low <= int(text) <= high:
        raise _error(schedule, '%s field %r is not a number from %d to %d' % (field, text, low, high))
    return int(text)


def _range(base, field, schedule):
    """(start, end) of a range or a single number; end is None for a number."""
    start, _dash, end = base.partition('-')
    first = _number(start, field, schedule)
    if not _dash:
        return first, None
    last = _number(end, field, schedule)
    if last < first:
        raise _error(schedule, '%s range %s runs backwards' % (field, base))
    return first, last


def _step(step, field, schedule):
    if not step.isdigit() or int(step) < 1:
        raise _error(schedule, '%s step %r must be a number of 1 or more' % (field, step))
    return int(step)


def _part(part, field, schedule, width):
    """One comma-separated part of a numeric field, in OnCalendar syntax."""
    base, slash, step = part.partition('/')
    every = _step(step, field, schedule) if slash else None
    if base == '*':
        low = _LIMITS[field][0]
        return '%0*d/%d' % (width, low, every) if every else '*'
    first, last = _range(base, field, schedule)
    text = '%0*d' % (width, first)
    if last is not None:
        text += '..%0*d' % (width, last)
    return text + ('/%d' % every if every else '')


def _field(text, field, schedule, width):
    return ','.join(_part(part, field, schedule, width) for part in text.split(','))


def _weekdays(text, schedule):
    """The weekday prefix ('' for every day). systemd's week starts on Monday, so ranges from Sunday are split."""
    if text == '*':
        return ''
    days = set()
    for part in text.split(','):
        if '/' in part:
            raise _error(schedule, 'steps in the day-of-week field are not supported; list the days')
        first, last = _range(part, 'weekday', schedule)
        days.update(d % 7 for d in range(first, (first if last is None else last) + 1))
    if len(days) == 7:
        return ''
    # Runs of days in systemd's order (Monday first) become ranges: Mon..Sat, Fri..Sun.
    runs = []
    for day in (1, 2, 3, 4, 5, 6, 0):
        if day not in days:
            continue
        if runs and runs[-1][-1] == (day - 1) % 7 and day != 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ','.join(_DAYS[r[0]] + ('..' + _DAYS[r[-1]] if len(r) > 1 else '') for r in runs) + ' '


def cron_to_oncalendar(schedule):
    fields = str(schedule).split()
    if len(fields) != 5:
        raise _error(schedule, 'it must have five fields: minute hour day-of-month month day-of-week')
    minute, hour, day, month, weekday = fields
    if day != '*' and weekday != '*':
        # cron runs when either matches; OnCalendar only when both do.
        raise _error(schedule, 'give day-of-month or day-of-week, not both: systemd would need both to match')
    return '%s*-%s-%s %s:%s:00' % (
        _weekdays(weekday, schedule),
        _field(month, 'month', schedule, 2),
        _field(day, 'day', schedule, 2),
        _field(hour, 'hour', schedule, 2),
        _field(minute, 'minute', schedule, 2),
    )


class FilterModule:
    def filters(self):
        return {'cron_to_oncalendar': cron_to_oncalendar}
