import re
import time

import pytest

from ansible_collections.auraspeak.ops.plugins.module_utils._common import clock


def test_utc_now_format():
    assert re.match(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$', clock.utc_now())
    assert clock.parse_time('1970-01-01T00:01:00Z') == 60
    assert clock.parse_time('yesterday') is None


def test_a_name_stamp_reads_back_as_the_second_it_was_made():
    stamp = clock.utc_stamp()
    assert re.fullmatch(r'\d{8}T\d{6}Z', stamp)
    assert abs(clock.parse_stamp(stamp) - time.time()) < 5
    assert clock.parse_stamp('20261205T214854Z') == clock.parse_time('2026-12-05T21:48:54Z')


def test_a_name_without_a_stamp_is_refused():
    with pytest.raises(ValueError):
        clock.parse_stamp('2026-12-05T21:48:54Z')
