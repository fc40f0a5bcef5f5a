import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.auraspeak.ops.plugins.filter.cron_to_oncalendar import FilterModule, cron_to_oncalendar

# Every expected value below was checked by hand with `systemd-analyze calendar '<expr>'` (systemd 252).


@pytest.mark.parametrize(
    ('schedule', 'expected'),
    [
        ('0 3 * * 1-6', 'Mon..Sat *-*-* 03:00:00'),
        ('* * * * *', '*-*-* *:*:00'),
        ('*/15 * * * *', '*-*-* *:00/15:00'),
        ('0 */6 * * *', '*-*-* 00/6:00:00'),
        ('30 2 1 * *', '*-*-01 02:30:00'),
        ('0 0 1,15 * *', '*-*-01,15 00:00:00'),
        ('5 4 * * 0', 'Sun *-*-* 04:05:00'),
        ('5 4 * * 7', 'Sun *-*-* 04:05:00'),
        ('0 3 * * 5-7', 'Fri..Sun *-*-* 03:00:00'),
        ('0 22 * * 1-5', 'Mon..Fri *-*-* 22:00:00'),
        ('0 3 * * 0,6', 'Sat..Sun *-*-* 03:00:00'),
        ('0 3 * * 0-2', 'Mon..Tue,Sun *-*-* 03:00:00'),
        ('0 3 * * 1,3,5', 'Mon,Wed,Fri *-*-* 03:00:00'),
        ('0 3 * 1-3 *', '*-01..03-* 03:00:00'),
        ('5/20 * * * *', '*-*-* *:05/20:00'),
        ('0 0 */2 * *', '*-*-01/2 00:00:00'),
        ('0 0 * */3 *', '*-01/3-* 00:00:00'),
        ('15,45 8-17 * * 1,3,5', 'Mon,Wed,Fri *-*-* 08..17:15,45:00'),
        ('0 0 1 1 *', '*-01-01 00:00:00'),
        ('07 09 * * *', '*-*-* 09:07:00'),
        ('  0   3 * *   1-6 ', 'Mon..Sat *-*-* 03:00:00'),
    ],
)
def test_converts(schedule, expected):
    assert cron_to_oncalendar(schedule) == expected


@pytest.mark.parametrize(
    ('schedule', 'message'),
    [
        ('0 3 * *', 'must have five fields'),
        ('0 3 * * * *', 'must have five fields'),
        ('', 'must have five fields'),
        ('@daily', 'must have five fields'),
        ('60 3 * * *', "minute field '60' is not a number from 0 to 59"),
        ('0 24 * * *', "hour field '24' is not a number from 0 to 23"),
        ('0 3 0 * *', "day field '0' is not a number from 1 to 31"),
        ('0 3 32 * *', "day field '32' is not a number from 1 to 31"),
        ('0 3 * 0 *', "month field '0' is not a number from 1 to 12"),
        ('0 3 * 13 *', "month field '13' is not a number from 1 to 12"),
        ('0 3 * * 8', "weekday field '8' is not a number from 0 to 7"),
        ('0 3 * * mon', "weekday field 'mon' is not a number"),
        ('0 3 * jan *', "month field 'jan' is not a number"),
        ('0 3 * * */2', 'steps in the day-of-week field are not supported'),
        ('0 3 * * 1-5/2', 'steps in the day-of-week field are not supported'),
        ('-1 3 * * *', "minute field '' is not a number"),
        ('1,,2 3 * * *', "minute field '' is not a number"),
        ('0 */x * * *', "hour step 'x' must be a number of 1 or more"),
    ],
)
def test_rejects(schedule, message):
    with pytest.raises(AnsibleFilterError) as info:
        cron_to_oncalendar(schedule)
    assert message in str(info.value)


def test_error_names_the_schedule():
    with pytest.raises(AnsibleFilterError) as info:
        cron_to_oncalendar('0 25 * * *')
    assert str(info.value).startswith("cron schedule '0 25 * * *':")


def test_registered_as_filter():
    assert FilterModule().filters() == {'cron_to_oncalendar': cron_to_oncalendar}


# -- what systemd would reject or read differently is refused or rewritten ---------------


@pytest.mark.parametrize('schedule', ['0 3 * * 0-6', '0 3 * * 0-2'])
def test_weekday_range_from_sunday_is_valid_oncalendar(schedule):
    # systemd-analyze calendar 'Sun..Sat *-*-* 03:00:00' -> Invalid argument
    assert 'Sun..' not in cron_to_oncalendar(schedule)


def test_weekday_zero_to_seven_is_every_day():
    assert cron_to_oncalendar('0 3 * * 0-7') == '*-*-* 03:00:00'


@pytest.mark.parametrize(
    'schedule',
    [
        '*/0 * * * *',  # -> '*:00/0:00', systemd: Numerical result out of range
        '0 3 5-1 * *',  # -> '*-*-05..01', systemd: Invalid argument
        '*/ * * * *',  # empty step silently read as '*'
    ],
)
def test_rejects_invalid_cron_fields(schedule):
    with pytest.raises(AnsibleFilterError):
        cron_to_oncalendar(schedule)


def test_step_over_range_as_documented():
    assert cron_to_oncalendar('0-30/10 * * * *') == '*-*-* *:00..30/10:00'


def test_day_of_month_and_weekday_together_is_not_silently_narrowed():
    # cron: the 1st of every month and every Monday; 'Mon *-*-01' is only a Monday that is the 1st.
    with pytest.raises(AnsibleFilterError):
        cron_to_oncalendar('0 3 1 * 1')
