# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: cron_to_oncalendar
short_description: Turn a five-field cron schedule into a systemd OnCalendar expression
version_added: 0.4.0
description:
  - Lets one schedule variable drive both a cron file and a systemd timer.
  - Fields may be C(*), numbers, lists (V(1,3)), ranges (V(1-5)) and steps (V(*/15), V(0-30/10)).
    Day-of-week 0 and 7 are Sunday. Names (V(mon), V(jan)) and C(@daily) shortcuts are not accepted.
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


def _number(text, field, schedule):
    low, high = _LIMITS[field]
    if not text.isdigit() or not low <= int(text) <= high:
        raise AnsibleFilterError(
            'cron schedule %r: %s field %r is not a number from %d to %d' % (schedule, field, text, low, high)
        )
    return int(text)


def _part(part, field, schedule, width):
    """One comma-separated part of a numeric field, in OnCalendar syntax."""
    base, _sep, step = part.partition('/')
    if base == '*':
        low = _LIMITS[field][0]
        return '%0*d/%d' % (width, low, _number(step, field, schedule)) if step else '*'
    start, _dash, end = base.partition('-')
    text = '%0*d' % (width, _number(start, field, schedule))
    if end:
        text += '..%0*d' % (width, _number(end, field, schedule))
    if step:
        if end:
            raise AnsibleFilterError(
                'cron schedule %r: a step over a range (%s) has no OnCalendar form; list the values' % (schedule, part)
            )
        text += '/%d' % _number(step, field, schedule)
    return text


def _field(text, field, schedule, width):
    return ','.join(_part(part, field, schedule, width) for part in text.split(','))


def _weekdays(text, schedule):
    if text == '*':
        return ''
    parts = []
    for part in text.split(','):
        start, _dash, end = part.partition('-')
        if '/' in part:
            raise AnsibleFilterError('cron schedule %r: steps in the day-of-week field are not supported' % schedule)
        name = _DAYS[_number(start, 'weekday', schedule)]
        parts.append(name + ('..' + _DAYS[_number(end, 'weekday', schedule)] if end else ''))
    return ','.join(parts) + ' '


def cron_to_oncalendar(schedule):
    fields = str(schedule).split()
    if len(fields) != 5:
        raise AnsibleFilterError(
            'cron schedule %r must have five fields: minute hour day-of-month month day-of-week' % schedule
        )
    minute, hour, day, month, weekday = fields
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
